"""Robust parsing of a model's reply into an :class:`~videokit.record.Analysis`.

Models wrap JSON in code fences, prefix it with prose, leave trailing commas, use single
quotes or Python literals. :func:`parse_analysis` tolerates all of that; when no JSON object
can be recovered the whole reply becomes the description and a warning is recorded. It
never raises on model output.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from videokit.record import Analysis, Sentiment, Tag

if TYPE_CHECKING:
    from videokit.analysis.base import AnalysisRequest

MAX_TAGS = 30
MAX_TAG_LEN = 60
DEFAULT_TAG_CONFIDENCE = 0.7

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.S)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_SMART = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


def parse_analysis(
    text: str,
    request: AnalysisRequest,
    *,
    backend: str,
    model: str | None,
    origin: str,
) -> Analysis:
    """Build an Analysis from raw model output for ``request``."""
    analysis = Analysis(backend=backend, model=model, instruction=request.prompt)
    obj = extract_json(text)
    if obj is None:
        cleaned = _strip_fences(text).strip()
        analysis.description = cleaned or None
        analysis.warnings.append(
            "model output was not valid JSON; the whole reply was kept as the description"
            if cleaned
            else "model returned an empty reply"
        )
        return analysis
    fill_analysis(analysis, obj, request.questions, request.categories, origin)
    return analysis


def fill_analysis(
    analysis: Analysis,
    obj: dict[str, Any],
    questions: Sequence[str],
    categories: Sequence[str],
    origin: str,
) -> None:
    """Copy the known keys of a parsed reply onto ``analysis``, recording warnings."""
    warn = analysis.warnings.append
    desc = _first(obj, "description", "summary", "caption")
    analysis.description = _text(desc)
    if analysis.description is None:
        warn("model reply has no description")

    analysis.answers = _answers(obj.get("answers"), list(questions), warn)
    analysis.sentiment = _sentiment(obj.get("sentiment"), warn)
    analysis.tags = _tags(obj.get("tags"), origin)
    cat = _text(obj.get("category"))
    if cat is not None:
        analysis.category = match_category(cat, categories)
        if analysis.category is None:
            warn(f"model suggested category {cat!r}, which is not in the taxonomy")
    scenes = obj.get("scenes")
    if scenes is not None:
        analysis.scene_descriptions = _scenes(scenes)


# -- JSON recovery -------------------------------------------------------------------------


def extract_json(text: str) -> dict[str, Any] | None:
    """The first JSON object found in ``text``, repaired when possible, else None."""
    if not isinstance(text, str) or not text.strip():
        return None
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for cand in candidates:
        block = _balanced_object(cand.translate(_SMART))
        if block is None:
            continue
        obj = _loads(block)
        if isinstance(obj, dict):
            return obj
    return None


def _strip_fences(text: str) -> str:
    return _FENCE.sub(lambda m: m.group(1), text) if isinstance(text, str) else ""


def _balanced_object(text: str) -> str | None:
    """The substring from the first '{' to its matching '}' (or to the end if unclosed)."""
    start = text.find("{")
    if start < 0:
        return None
    depth = 0
    quote: str | None = None
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
            continue
        if ch in "\"'":
            # an apostrophe inside a word ("it's") is not a quote
            if ch == "'" and i > 0 and text[i - 1].isalnum():
                continue
            quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return None


def _loads(block: str) -> Any:
    attempts = [block, _TRAILING_COMMA.sub(r"\1", block)]
    for a in attempts:
        try:
            return json.loads(a, strict=False)
        except ValueError:
            pass
    # Python-literal style: single quotes, True/False/None, trailing commas.
    py = re.sub(r"\btrue\b", "True", attempts[1])
    py = re.sub(r"\bfalse\b", "False", py)
    py = re.sub(r"\bnull\b", "None", py)
    try:
        return ast.literal_eval(py)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        pass
    try:  # single-quoted strings holding bare apostrophes: {'a': 'it's'}
        return json.loads(_TRAILING_COMMA.sub(r"\1", _requote(block)), strict=False)
    except ValueError:
        return None


def _requote(block: str) -> str:
    """Turn single quotes that delimit keys/values (next to ``{[,:]}``) into double quotes."""
    out: list[str] = []
    inside = False
    n = len(block)
    for i, ch in enumerate(block):
        if ch == "'":
            before = block[:i].rstrip()[-1:]
            after = block[i + 1 :].lstrip()[:1]
            if not inside and before in ("{", "[", ",", ":"):
                inside = True
                out.append('"')
                continue
            if inside and (after in ("}", "]", ",", ":") or i == n - 1):
                inside = False
                out.append('"')
                continue
        if ch == '"' and inside:
            out.append('\\"')
            continue
        out.append(ch)
    return "".join(out)


# -- field normalisation -------------------------------------------------------------------


def _first(obj: dict[str, Any], *keys: str) -> Any:
    lower = {str(k).lower(): v for k, v in obj.items()}
    for k in keys:
        if k in lower and lower[k] not in (None, ""):
            return lower[k]
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value if v is not None)
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False)
    s = " ".join(str(value).split())
    return s or None


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", s.lower().replace("&", " and ")).strip()


def _answers(raw: Any, questions: list[str], warn: Any) -> dict[str, str]:
    got: dict[str, str] = {}
    if isinstance(raw, dict):
        by_norm = {_norm(q): q for q in questions}
        for i, (k, v) in enumerate(raw.items()):
            key = str(k)
            q = by_norm.get(_norm(key))
            if q is None:
                m = re.fullmatch(r"\s*q?(\d+)\s*", key, re.I)
                if m and 1 <= int(m.group(1)) <= len(questions):
                    q = questions[int(m.group(1)) - 1]
                elif i < len(questions) and len(raw) == len(questions):
                    q = questions[i]
                else:
                    q = key
            text = _text(v)
            if text is not None:
                got[q] = text
    elif isinstance(raw, list):
        for i, item in enumerate(raw):
            if isinstance(item, dict):
                q = _text(item.get("question")) or (questions[i] if i < len(questions) else f"question {i + 1}")
                a = _text(item.get("answer"))
            else:
                q = questions[i] if i < len(questions) else f"question {i + 1}"
                a = _text(item)
            if a is not None:
                got[q] = a
    elif raw is not None and questions:
        a = _text(raw)
        if a is not None and len(questions) == 1:
            got[questions[0]] = a
    missing = [q for q in questions if q not in got]
    if missing:
        warn("model gave no answer to: " + "; ".join(missing))
    return got


_LABELS = {
    "positive": "positive",
    "pos": "positive",
    "negative": "negative",
    "neg": "negative",
    "neutral": "neutral",
    "mixed": "neutral",
}
_LABEL_SCORE = {"positive": 0.5, "neutral": 0.0, "negative": -0.5}


def _sentiment(raw: Any, warn: Any) -> Sentiment | None:
    if raw is None:
        return None
    label_raw: Any = raw
    score_raw: Any = None
    reason: str | None = None
    if isinstance(raw, dict):
        label_raw = raw.get("label")
        score_raw = raw.get("score")
        reason = _text(raw.get("reason"))
    label = _LABELS.get(_norm(str(label_raw or "")).split(" ")[0]) if label_raw is not None else None
    score = _float(score_raw)
    if label is None and score is None:
        warn(f"unreadable sentiment in model reply: {_text(raw)!r}")
        return None
    if score is not None and score > 1 and score <= 10:  # some models answer on 0-10 or 0-5
        score = score / 10 * 2 - 1
    if score is not None:
        score = max(-1.0, min(1.0, score))
    if label is None:
        label = "positive" if score > 0.05 else "negative" if score < -0.05 else "neutral"  # type: ignore[operator]
    if score is None:
        score = _LABEL_SCORE[label]
    return Sentiment(label=label, score=round(score, 3), reason=reason, source="model")


def _float(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if x == x else None  # NaN


def _tags(raw: Any, origin: str) -> list[Tag]:
    items: list[tuple[Any, Any]] = []
    if isinstance(raw, str):
        items = [(t, None) for t in re.split(r"[,;\n]", raw)]
    elif isinstance(raw, dict):
        items = list(raw.items())
    elif isinstance(raw, list):
        for t in raw:
            if isinstance(t, dict):
                items.append((t.get("name") or t.get("tag"), t.get("confidence")))
            else:
                items.append((t, None))
    tags: list[Tag] = []
    seen: set[str] = set()
    for name, conf in items:
        text = _text(name)
        if not text:
            continue
        text = text.strip(" .#\"'")[:MAX_TAG_LEN].strip()
        if not text or text.lower() in seen:
            continue
        seen.add(text.lower())
        c = _float(conf)
        c = DEFAULT_TAG_CONFIDENCE if c is None else max(0.0, min(1.0, c))
        tags.append(Tag(name=text, origin=origin, confidence=c))
        if len(tags) >= MAX_TAGS:
            break
    return tags


def match_category(value: str, categories: Sequence[str]) -> str | None:
    """The taxonomy category ``value`` names (case and punctuation insensitive), else None."""
    want = _norm(value)
    for c in categories:
        if _norm(c) == want:
            return c
    for c in categories:  # "Nature documentary" -> first category named inside
        if re.search(rf"\b{re.escape(_norm(c))}\b", want):
            return c
    return None


def _scenes(raw: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(raw, dict):
        for k, v in raw.items():
            m = re.search(r"\d+", str(k))
            text = _text(v)
            if m and text:
                out[str(int(m.group()))] = text
    elif isinstance(raw, list):
        for i, item in enumerate(raw):
            if isinstance(item, dict):
                idx = item.get("index", item.get("scene", i))
                text = _text(item.get("description"))
            else:
                idx, text = i, _text(item)
            m = re.search(r"\d+", str(idx))
            if m and text:
                out[str(int(m.group()))] = text
    return out
