"""The passages of a record: the pieces of its text that search can land on.

``passages(record)`` is pure and cheap (no model): the embed stage embeds what it returns, and
every store indexes the same list for full-text moments, so both see one and the same text.

- ``title``: the title and every source's title and description (ref ``""``);
- ``analysis``: the analysis description and the answers to the configured questions (ref ``""``);
- ``scene``: one per scene that has a description, with the scene's start and end (ref: its index);
- ``transcript``: what is said, in chunks of a few sentences (ref: the chunk's number), each from
  the start of its first segment to the end of its last: a chunk closes after
  :data:`CHUNK_SENTENCES` sentences, and before it would pass :data:`CHUNK_SECONDS` seconds or
  :data:`CHUNK_WORDS` words, at the last sentence end (a sentence is split only when one sentence
  alone is longer than that; a transcript without punctuation is cut between segments);
- ``ocr``: the text read on screen (ref ``""``).

Whitespace is collapsed; empty texts give no passage. ``digest(passages, model)`` is a stable hash
of the passages and the model id: a changed text, or another model, means embedding again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence

from videokit.record import Passage, Record, TranscriptSegment

CHUNK_SENTENCES = 3  # a transcript chunk closes at the end of its third sentence...
CHUNK_SECONDS = 30.0  # ...or before it would last longer than this
CHUNK_WORDS = 80  # ...or hold more words than this

# a sentence ends at . ! ? or … (possibly followed by closing quotes or brackets) before a space or the end
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s|$)")
_LAST_END = re.compile(r"[.!?…]+[\"'”’)\]]*$")


def passages(record: Record) -> list[Passage]:
    """The record's passages, in a fixed order: title, analysis, scenes, transcript chunks, OCR."""
    out: list[Passage] = []
    title = _join([record.title, *(s.title for s in record.sources), *(s.description for s in record.sources)])
    if title:
        out.append(Passage("title", "", title))
    analysis = record.analysis
    if analysis is not None:
        text = _join([analysis.description, *analysis.answers.values()])
        if text:
            out.append(Passage("analysis", "", text))
    out.extend(_scene_passages(record))
    if record.transcript is not None:
        for i, chunk in enumerate(transcript_chunks(record.transcript.segments)):
            text = " ".join(_clean(s.text) for s in chunk)
            out.append(Passage("transcript", str(i), text, chunk[0].start, chunk[-1].end))
    if analysis is not None:
        ocr = _clean(analysis.ocr_text)
        if ocr:
            out.append(Passage("ocr", "", ocr))
    return out


def digest(items: Sequence[Passage], model: str) -> str:
    """A stable hash of ``items`` (kind, ref, text, times) and the ``model`` id; vectors are not part of it."""
    rows = [[p.kind, p.ref, p.text, _time(p.start), _time(p.end)] for p in items]
    blob = json.dumps({"model": model, "passages": rows}, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def transcript_chunks(segments: Iterable[TranscriptSegment]) -> list[list[TranscriptSegment]]:
    """Consecutive non-empty segments grouped into chunks of a few sentences (see the module docstring)."""
    segs = [s for s in segments if s.text and s.text.strip()]
    punctuated = any(_SENTENCE_END.search(s.text.strip()) for s in segs)

    def ends(seg: TranscriptSegment) -> bool:
        return not punctuated or _ends_sentence(seg.text)

    def sentences(group: list[TranscriptSegment]) -> int:
        if not punctuated:
            return len(group)
        return len(_SENTENCE_END.findall(" ".join(s.text.strip() for s in group)))

    chunks: list[list[TranscriptSegment]] = []
    cur: list[TranscriptSegment] = []
    for seg in segs:
        while cur and _too_long([*cur, seg]):
            cut = next((i for i in range(len(cur) - 1, -1, -1) if ends(cur[i])), len(cur) - 1)
            chunks.append(cur[: cut + 1])
            cur = cur[cut + 1 :]
        cur.append(seg)
        if ends(seg) and sentences(cur) >= CHUNK_SENTENCES:
            chunks.append(cur)
            cur = []
    if cur:
        chunks.append(cur)
    return chunks


def _too_long(group: list[TranscriptSegment]) -> bool:
    words = sum(len(s.text.split()) for s in group)
    return words > CHUNK_WORDS or group[-1].end - group[0].start > CHUNK_SECONDS


def _ends_sentence(text: str) -> bool:
    return _LAST_END.search(text.strip()) is not None


def _scene_passages(record: Record) -> list[Passage]:
    if record.scenes is None:
        return []
    described = record.analysis.scene_descriptions if record.analysis is not None else {}
    out = []
    for scene in record.scenes.scenes:
        text = _clean(scene.description or described.get(str(scene.index)))
        if text:
            out.append(Passage("scene", str(scene.index), text, scene.start, scene.end))
    return out


def _clean(text: str | None) -> str:
    return " ".join(str(text).split()) if text else ""


def _join(parts: Iterable[str | None]) -> str:
    """The non-empty parts, each once (case-insensitively), one per line."""
    seen: set[str] = set()
    kept = []
    for part in parts:
        text = _clean(part)
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            kept.append(text)
    return "\n".join(kept)


def _time(t: float | None) -> float | None:
    return None if t is None else round(float(t), 3)
