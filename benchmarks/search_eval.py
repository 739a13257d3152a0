"""Search quality on a spoken evaluation set: transcript word error rate, and recall@1, recall@5
and MRR of text, semantic and hybrid search, at video and at moment level.

The set (``benchmarks/evalset.py``): 24 clips on 10 topics, each four sentences synthesised with
espeak-ng over a generated picture, and queries whose right answers are known: 48 paraphrases (no
content word in common with the sentence), 15 exact keywords and 8 off-topic queries (the right
answer is no video). The clips go through the real pipeline (``videokit.api.run``: probe, scenes,
transcribe, analyze, tag, embed, store) into a new library, then every query is asked through the
library API in each mode (each query embedded once, its vector reused by every mode):

- video level: ``api.search`` ranks videos; a hit is the clip that holds the sentence;
- moment level: ``api.moments`` ranks moments; a hit is a moment of that clip whose time range
  contains the spoken sentence (0.5 s slack each side); "overlap" (in ``--json``) counts any moment
  of that clip overlapping the sentence.

Video-level search is also run at other similarity floors (``Query.min_score``) than the library
API's default, with the off-topic queries, to show what the floor trades.

    python benchmarks/search_eval.py [--work DIR] [--skip analyze] [--json OUT] [--verbose]

``--work DIR`` keeps the clips and the library there (a second run reuses both: only the queries
run again, and the pipeline time printed is then that of finding everything done). WER is computed
after lower-casing, dropping punctuation, writing numbers as words and British spellings as American.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))  # tests/speech.py: the espeak-ng clip maker the tests use

from evalset import CLIPS, OFF_TOPIC, QUERIES  # noqa: E402

from speech import make_speech_video  # noqa: E402

MODES = ("text", "semantic", "hybrid")
SLACK = 0.5  # seconds either side of a sentence a moment may miss and still contain it
LIMIT = 10
FLOORS = (0.3, 0.2, -1.0)  # flat similarity floors compared with the library API's default (video level); -1: none

# -- word error rate ----------------------------------------------------------------------------

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_BIG = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))
_AMERICAN = {
    "flavours": "flavors",
    "flavour": "flavor",
    "centimetres": "centimeters",
    "kilometres": "kilometers",
    "tyre": "tire",
    "tyres": "tires",
    "practise": "practice",
    "colour": "color",
    "coloured": "colored",
    "windscreen": "windshield",
    "metres": "meters",
}


def number_words(n: int) -> str:
    """``1250`` -> ``one thousand two hundred fifty`` (how the reference sentences say numbers)."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for size, name in _BIG:
        if n >= size:
            rest = n % size
            return f"{number_words(n // size)} {name}" + ("" if rest == 0 else " " + number_words(rest))
    raise AssertionError(n)


def normalise(text: str) -> list[str]:
    """The words of ``text`` as WER compares them."""
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text.lower()).replace("-", " ")
    out: list[str] = []
    for word in re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text):
        if word.isdigit():
            out += number_words(int(word)).split()
        else:
            out.append(_AMERICAN.get(word, word))
    return out


def word_errors(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance in words: substitutions + deletions + insertions."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


# -- ranking metrics ----------------------------------------------------------------------------


@dataclass(slots=True)
class Ranks:
    """The rank (1-based) of the first right answer of each query; None when it was not returned."""

    ranks: list[int | None] = field(default_factory=list)

    def recall(self, k: int) -> float:
        return sum(1 for r in self.ranks if r is not None and r <= k) / len(self.ranks) if self.ranks else 0.0

    @property
    def mrr(self) -> float:
        return sum(1 / r for r in self.ranks if r is not None) / len(self.ranks) if self.ranks else 0.0


def first_rank(items: Sequence[object], hit: Callable[[object], bool]) -> int | None:
    return next((i for i, item in enumerate(items, 1) if hit(item)), None)


def contains(moment: object, start: float, end: float) -> bool:
    m_start, m_end = getattr(moment, "start", None), getattr(moment, "end", None)
    return m_start is not None and m_end is not None and m_start - SLACK <= start and end <= m_end + SLACK


def overlaps(moment: object, start: float, end: float) -> bool:
    m_start, m_end = getattr(moment, "start", None), getattr(moment, "end", None)
    return m_start is not None and m_end is not None and m_start < end and start < m_end


# -- the run --------------------------------------------------------------------------------------


def build_clips(media: Path) -> dict[str, tuple[Path, list[tuple[float, float, str]]]]:
    out = {}
    for clip in CLIPS:
        path, spans = make_speech_video(media / f"{clip.id}.mp4", list(clip.sentences), cache=media / ".cache")
        out[clip.id] = (path, spans)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, help="keep clips and library here (reused by a later run)")
    ap.add_argument("--skip", action="append", default=[], help="a pipeline stage to skip (repeatable)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--json", type=Path, help="write every number and each query's ranks here")
    ap.add_argument("--verbose", action="store_true", help="print each query's misses")
    args = ap.parse_args(argv)

    from videokit import api
    from videokit.config import load_config
    from videokit.index.embedder import embed_query
    from videokit.store import Query

    work_ctx = tempfile.TemporaryDirectory(prefix="search-eval-") if args.work is None else None
    work = Path(work_ctx.name) if work_ctx else args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.ini").touch()
    cfg = load_config(work / "config.ini", env={}, overrides={("Library", "Location"): str(work / "library")})

    t0 = time.perf_counter()
    clips = build_clips(work / "media")
    t_media = time.perf_counter() - t0
    audio_s = sum(spans[-1][1] + 0.8 for _, spans in clips.values())

    t0 = time.perf_counter()
    result = api.run([str(p) for p, _ in clips.values()], cfg, skip=args.skip, workers=args.workers)
    t_run = time.perf_counter() - t0
    for item, error in result.failures:
        print(f"stage error: {item}: {error.stage}: {error.message}", file=sys.stderr)

    by_clip = {Path(r.file.name).stem: r for r in api.search(cfg, Query()) if r.file}
    missing = [c.id for c in CLIPS if c.id not in by_clip]
    if missing:
        print(f"not in the library: {missing}", file=sys.stderr)
        return 1

    # WER over the whole set (errors / reference words) and per clip.
    errors = ref_words = 0
    per_clip = {}
    for clip in CLIPS:
        transcript = by_clip[clip.id].transcript
        ref = normalise(" ".join(clip.sentences))
        hyp = normalise(transcript.text if transcript else "")
        e = word_errors(ref, hyp)
        errors, ref_words = errors + e, ref_words + len(ref)
        per_clip[clip.id] = e / len(ref)
    wer = errors / ref_words

    # Each query is embedded once (timed apart), then asked in every mode with that vector.
    t0 = time.perf_counter()
    vectors = {text: embed_query(cfg, text) for text in [q.text for q in QUERIES] + list(OFF_TOPIC)}
    t_embed = (time.perf_counter() - t0) / len(vectors)

    runs = {floor: Evaluation(cfg, clips, by_clip, vectors, floor) for floor in (None, *FLOORS)}
    main_run = runs[None]
    if args.verbose:
        for line in main_run.misses:
            print(line)

    first = next(iter(by_clip.values()))
    models = {
        "transcription": first.transcript.model if first.transcript else None,
        "embeddings": first.embeddings.model if first.embeddings else None,
    }
    print_report(main_run, runs, wer, per_clip, models, t_media, t_run, t_embed, audio_s)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "date": time.strftime("%Y-%m-%d"),
                    "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                    "models": models,
                    "wer": wer,
                    "wer_per_clip": per_clip,
                    "seconds": {"media": t_media, "pipeline": t_run, "audio": audio_s, "query_embedding": t_embed},
                    "metrics": {
                        str(floor): {
                            f"{m}/{lvl}/{k}": {"r1": r.recall(1), "r5": r.recall(5), "mrr": r.mrr}
                            for (m, lvl, k), r in run.results.items()
                        }
                        for floor, run in runs.items()
                    },
                    "off_topic_videos": {str(floor): run.off_topic for floor, run in runs.items()},
                    "queries": main_run.per_query,
                },
                indent=1,
            )
        )
    if work_ctx:
        work_ctx.cleanup()
    return 0


class Evaluation:
    """Every query in every mode at one similarity floor (``Query.min_score``: None is the library
    API's default; -1 keeps every video the vector index returns)."""

    def __init__(self, cfg: Any, clips: dict, by_clip: dict, vectors: dict, floor: float | None) -> None:
        from videokit import api
        from videokit.store import Query

        self.results: dict[tuple[str, str, str], Ranks] = {}  # (mode, level, kind)
        self.latency: dict[str, list[float]] = {m: [] for m in MODES}
        self.moment_len: dict[str, list[float]] = {m: [] for m in MODES}
        self.off_topic: dict[str, list[int]] = {m: [] for m in MODES}  # videos returned for each off-topic query
        self.per_query: list[dict] = []
        self.misses: list[str] = []
        names = {r.id: c for c, r in by_clip.items()}

        def query(text: str, mode: str) -> Query:
            vector, model = vectors[text] if mode != "text" else (None, None)
            return Query(text=text, mode=mode, limit=LIMIT, vector=vector, vector_model=model, min_score=floor)

        for mode in MODES:
            for text in OFF_TOPIC:
                self.off_topic[mode].append(len(api.search(cfg, query(text, mode))))
            for q in QUERIES:
                target = by_clip[q.clip].id
                start, end, _ = clips[q.clip][1][q.sentence]
                t = time.perf_counter()
                videos = api.search(cfg, query(q.text, mode))
                moments = api.moments(cfg, query(q.text, mode))
                self.latency[mode].append(time.perf_counter() - t)
                self.moment_len[mode] += [m.end - m.start for m in moments[:1] if m.start is not None]
                ranks = {
                    "video": first_rank(videos, lambda r, target=target: r.id == target),
                    "moment": first_rank(
                        moments, lambda m, target=target, s=start, e=end: m.video_id == target and contains(m, s, e)
                    ),
                    "overlap": first_rank(
                        moments, lambda m, target=target, s=start, e=end: m.video_id == target and overlaps(m, s, e)
                    ),
                }
                for level, rank in ranks.items():
                    self.results.setdefault((mode, level, q.kind), Ranks()).ranks.append(rank)
                self.per_query.append({"mode": mode, "query": q.text, "clip": q.clip, "kind": q.kind, **ranks})
                if ranks["moment"] != 1:
                    top = ", ".join(
                        f"{names.get(m.video_id, '?')}[{m.start or 0:.1f}-{m.end or 0:.1f}]" for m in moments[:3]
                    )
                    self.misses.append(f"{mode:8} {q.kind:10} {q.text!r} -> {q.clip}#{q.sentence}: {ranks}; {top}")


def print_report(
    run: Evaluation,
    runs: dict[float | None, Evaluation],
    wer: float,
    per_clip: dict[str, float],
    models: dict[str, str | None],
    t_media: float,
    t_run: float,
    t_embed: float,
    audio_s: float,
) -> None:
    n = {k: len(run.results[("text", "video", k)].ranks) for k in ("paraphrase", "keyword")}
    print(f"{len(CLIPS)} clips, {audio_s:.0f} s of speech; models: {models}")
    print(
        f"clips made in {t_media:.1f} s; pipeline {t_run:.1f} s ({t_run / len(CLIPS):.2f} s a clip); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    worst = max(per_clip, key=per_clip.__getitem__)
    print(f"WER {wer:.1%} (clips {min(per_clip.values()):.0%}-{per_clip[worst]:.0%}, worst {worst})\n")
    print(f"paraphrase n={n['paraphrase']}, keyword n={n['keyword']}, off-topic n={len(OFF_TOPIC)}")
    print("| mode | level | paraphrase R@1 | R@5 | MRR | keyword R@1 | R@5 | MRR | off-topic: no video |")
    print("|---|---|---|---|---|---|---|---|---|")
    for mode in MODES:
        for level in ("video", "moment"):  # "overlap" is in --json
            p, k = run.results[(mode, level, "paraphrase")], run.results[(mode, level, "keyword")]
            empty = f"{sum(1 for v in run.off_topic[mode] if v == 0)}/{len(OFF_TOPIC)}" if level == "video" else ""
            print(
                f"| {mode} | {level} | {p.recall(1):.2f} | {p.recall(5):.2f} | {p.mrr:.2f} "
                f"| {k.recall(1):.2f} | {k.recall(5):.2f} | {k.mrr:.2f} | {empty} |"
            )
    print("\nvideo level, by similarity floor (Query.min_score; default: the library API's):")
    print("| floor | mode | paraphrase R@1 | R@5 | MRR | off-topic: no video | off-topic: videos returned (mean) |")
    print("|---|---|---|---|---|---|---|")
    for floor, r in runs.items():
        for mode in ("semantic", "hybrid"):
            p, off = r.results[(mode, "video", "paraphrase")], r.off_topic[mode]
            print(
                f"| {'default' if floor is None else 'none' if floor < 0 else floor} | {mode} | {p.recall(1):.2f} | {p.recall(5):.2f} "
                f"| {p.mrr:.2f} | {sum(1 for v in off if v == 0)}/{len(off)} | {statistics.mean(off):.1f} |"
            )
    print(f"\nquery embedding {t_embed * 1000:.0f} ms a query (once per query, reused by every mode)")
    for mode in MODES:
        lat = sorted(run.latency[mode])
        lens = run.moment_len[mode]
        print(
            f"{mode:8}: search + moments {statistics.median(lat) * 1000:.0f} ms median, "
            f"{lat[int(0.95 * (len(lat) - 1))] * 1000:.0f} ms p95; "
            f"first moment {statistics.mean(lens) if lens else float('nan'):.1f} s long on average"
        )


if __name__ == "__main__":
    sys.exit(main())
