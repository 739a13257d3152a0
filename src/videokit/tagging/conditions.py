"""The condition language shared by tag rules and category signals.

A condition object is a JSON object whose keys are condition kinds, all of which must hold:

- ``metadata_conditions``: ``{"<field>[_op]": value}`` over :data:`~videokit.tagging.facts.FIELDS`;
  ops are ``_gt _gte _lt _lte _eq _ne _in _regex`` (no suffix = equals);
- ``description_keywords``: words or phrases found on word boundaries in the AI description,
  scene descriptions, answers, OCR text, the transcript, and the source's title and description;
- ``ai_generated_tags``: tag names the analyzer gave; ``has_tags`` (category signals only): tags on
  the record;
- ``filename_patterns``: globs or ``re:`` regexes on the file name;
- ``source_domains``: ``youtube.com`` also matches ``www.youtube.com``;
- ``user_fields``: ``{"<column>[_op]": value}`` over the CSV columns kept on the record;
- ``all`` / ``any``: lists of condition objects; ``not``: one condition object.

Parsing raises :class:`SpecError` with the JSON path of the bad part; callers add the file and
rule. A value that is unknown on a record (no audio analysis, no scene detection) never fires.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Protocol

from videokit.store.base import RESOLUTION_ORDER, matches_domain
from videokit.tagging.facts import FIELDS, RecordView, tag_key
from videokit.tagging.keywords import KeywordMatcher

OPS = ("gt", "gte", "lt", "lte", "eq", "ne", "in", "regex")
ORDERED_OPS = {"gt", "gte", "lt", "lte"}
KINDS = (
    "metadata_conditions",
    "description_keywords",
    "ai_generated_tags",
    "has_tags",
    "filename_patterns",
    "source_domains",
    "user_fields",
    "all",
    "any",
    "not",
)
_LABELS = {label.casefold(): i for i, label in enumerate(RESOLUTION_ORDER)}
_LABELS.update({"2160p": 5, "uhd": 5, "qhd": 4, "fhd": 3, "full hd": 3, "hd": 2})


class SpecError(ValueError):
    """A bad part of a condition; ``path`` is where it is, e.g. ``metadata_conditions.fps_gt``."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    detail: str  # why: what was compared with what


class Condition(Protocol):
    def evaluate(self, view: RecordView, full: bool = False) -> Outcome:
        """``full`` evaluates every part (for explanations) instead of stopping early."""
        ...


def _show(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _label_index(v: Any) -> int | None:
    return _LABELS.get(str(v).strip().casefold()) if v is not None else None


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "gt":
        return actual > expected
    if op == "gte":
        return actual >= expected
    if op == "lt":
        return actual < expected
    if op == "lte":
        return actual <= expected
    if isinstance(actual, float) or isinstance(expected, float):
        same = math.isclose(actual, expected, rel_tol=1e-3, abs_tol=1e-9)
    else:
        same = actual == expected
    return same if op == "eq" else not same


# -- comparisons on one value ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Test:
    """One ``<name>[_op]: value`` comparison of a value of ``kind``."""

    key: str  # as written, for explanations
    kind: str  # number | text | label | flag | list
    op: str
    value: Any
    regex: re.Pattern[str] | None = None
    want: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "want", f"{self.key} {_show(self.value)}")

    def check(self, actual: Any) -> Outcome:
        want = self.want
        if actual is None or (self.kind == "number" and not _is_number(actual)):
            return Outcome(False, f"{want} (unknown)")
        shown = ", ".join(actual) if isinstance(actual, list) else actual
        return Outcome(self._holds(actual), f"{want} (is {shown})")

    def _holds(self, actual: Any) -> bool:
        if self.regex is not None:
            items = actual if isinstance(actual, list) else [actual]
            return any(self.regex.search(str(a)) for a in items)
        expected = self.value if self.op == "in" else [self.value]
        if self.kind == "number":
            op = "eq" if self.op == "in" else self.op
            results = [_compare(op, actual, e) for e in expected]
            return all(results) if op == "ne" else any(results)
        if self.kind == "label":
            have = _label_index(actual)
            if have is None:
                return False
            op = "eq" if self.op == "in" else self.op
            results = [_compare(op, have, _label_index(e)) for e in expected]
            return all(results) if op == "ne" else any(results)
        if self.kind == "flag":
            return (actual == self.value) == (self.op == "eq")
        have = {str(a).casefold() for a in actual} if isinstance(actual, list) else {str(actual).casefold()}
        hit = any(str(e).casefold() in have for e in expected)
        return not hit if self.op == "ne" else hit


def _split_key(key: str, known: dict[str, str] | None) -> tuple[str, str]:
    """``duration_gte`` -> (``duration``, ``gte``); a key without a known op suffix is equals."""
    if known is not None and key in known:
        return key, "eq"
    base, _, suffix = key.rpartition("_")
    if base and suffix in OPS and (known is None or base in known):
        return base, suffix
    if known is None:
        return key, "eq"
    candidates = list(known) + [f"{f}_{op}" for f in known for op in OPS]
    close = difflib.get_close_matches(key, candidates, n=1)
    hint = (
        f" (did you mean {close[0]!r}?)"
        if close
        else f"; fields are {', '.join(known)} with optional _{', _'.join(OPS)}"
    )
    raise SpecError(key, f"unknown condition {key!r}{hint}")


def parse_test(key: str, value: Any, kind: str, op: str, path: str) -> Test:
    """Validate one comparison's value against the kind of what it compares."""
    if op == "regex":
        if not isinstance(value, str):
            raise SpecError(path, f"expected a regular expression string, got {_show(value)}")
        try:
            return Test(key, kind, op, value, re.compile(value, re.IGNORECASE))
        except re.error as e:
            raise SpecError(path, f"bad regular expression {value!r}: {e}") from None
    if kind == "flag" and op not in ("eq", "ne"):
        raise SpecError(path, f"{key.rsplit('_', 1)[0]!r} is true/false; use it bare or with _eq/_ne")
    if kind in ("text", "list") and op in ORDERED_OPS:
        raise SpecError(path, f"text cannot be compared with _{op}; use _eq, _ne, _in or _regex")
    values = value if op == "in" else [value]
    if op == "in" and (not isinstance(value, list) or not value):
        raise SpecError(path, f"expected a non-empty list, got {_show(value)}")
    for v in values:
        if kind == "number" and not _is_number(v):
            raise SpecError(path, f"expected a number, got {_show(v)}")
        if kind == "flag" and not isinstance(v, bool):
            raise SpecError(path, f"expected true or false, got {_show(v)}")
        if kind in ("text", "list") and not isinstance(v, str):
            raise SpecError(path, f"expected a string, got {_show(v)}")
        if kind == "label" and _label_index(v) is None:
            raise SpecError(path, f"unknown resolution {_show(v)}; use one of {', '.join(RESOLUTION_ORDER)}")
    return Test(key, kind, op, value)


# -- condition kinds -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FieldCondition:
    field: str
    test: Test

    def evaluate(self, view: RecordView, full: bool = False) -> Outcome:
        return self.test.check(view.field(self.field))


@dataclass(frozen=True, slots=True)
class UserFieldCondition:
    column: str
    test: Test

    def evaluate(self, view: RecordView, full: bool = False) -> Outcome:
        raw = view.user_fields().get(self.column.casefold())
        actual: Any = raw
        if raw is not None and self.test.kind == "number":
            try:
                actual = float(raw)
            except ValueError:
                return Outcome(False, f"user field {self.test.want} (is {raw!r}, not a number)")
        out = self.test.check(actual)
        return Outcome(out.ok, "user field " + out.detail)


@dataclass(frozen=True)
class KeywordCondition:
    matcher: KeywordMatcher

    def evaluate(self, view: RecordView, full: bool = False) -> Outcome:
        texts = view.texts()
        if texts and self.matcher.find_folded(view.joined_text()) is not None:
            for label, text in texts:  # which text: only once there is a match
                found = self.matcher.find_folded(text)
                if found is not None:
                    return Outcome(True, f"description_keywords: {found!r} in {label}")
        where = f"{len(texts)} text field(s)" if texts else "no text to search"
        return Outcome(False, f"description_keywords: none of {self._shown} ({where})")

    @functools.cached_property
    def _shown(self) -> str:
        return _show(self.matcher.keywords)


@dataclass(frozen=True, slots=True)
class TagCondition:
    kind: str  # ai_generated_tags | has_tags
    names: tuple[str, ...]
    keys: tuple[str, ...] = ()

    shown: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", tuple(tag_key(n) for n in self.names))
        object.__setattr__(self, "shown", _show(list(self.names)))

    def evaluate(self, view: RecordView, full: bool = False) -> Outcome:
        have = view.ai_tags() if self.kind == "ai_generated_tags" else view.tags()
        for key in self.keys:
            hit = have.get(key)
            if hit is not None:
                return Outcome(True, f"{self.kind}: {hit!r}")
        return Outcome(False, f"{self.kind}: none of {self.shown} (has {len(have)} tag(s))")


@dataclass(frozen=True, slots=True)
class FilenameCondition:
    patterns: tuple[tuple[str, re.Pattern[str]], ...]

    def evaluate(self, view: RecordView, full: bool = False) -> Outcome:
        names = view.file_names()
        for written, rx in self.patterns:
            for name in names:
                if rx.search(name):
                    return Outcome(True, f"filename_patterns: {written!r} matches {name!r}")
        shown = ", ".join(names) or "no file name"
        return Outcome(False, f"filename_patterns: none of {_show([p for p, _ in self.patterns])} ({shown})")


@dataclass(frozen=True, slots=True)
class DomainCondition:
    domains: tuple[str, ...]

    def evaluate(self, view: RecordView, full: bool = False) -> Outcome:
        have = view.domains()
        for want in self.domains:
            for d in have:
                if matches_domain(d, want):
                    return Outcome(True, f"source_domains: {d} is {want}")
        return Outcome(False, f"source_domains: none of {_show(list(self.domains))} ({', '.join(have) or 'no domain'})")


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Condition, ...]

    def evaluate(self, view: RecordView, full: bool = False) -> Outcome:
        details, ok = [], True
        for p in self.parts:
            out = p.evaluate(view, full)
            if not out.ok:
                if not full:
                    return Outcome(False, out.detail)
                ok = False
            mark = "FAILED " if full and not out.ok and len(self.parts) > 1 else ""
            details.append(mark + _nested(p, out.detail))
        return Outcome(ok, " and ".join(details))


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Condition, ...]

    def evaluate(self, view: RecordView, full: bool = False) -> Outcome:
        details = []
        for p in self.parts:
            out = p.evaluate(view, full)
            if out.ok:
                return Outcome(True, out.detail)
            details.append(_nested(p, out.detail))
        return Outcome(False, " or ".join(details))


@dataclass(frozen=True, slots=True)
class NotOf:
    part: Condition

    def evaluate(self, view: RecordView, full: bool = False) -> Outcome:
        out = self.part.evaluate(view, full)
        return Outcome(not out.ok, f"not ({out.detail})")


def _nested(part: Condition, detail: str) -> str:
    """Parenthesise a group inside a group so "a and (b or c)" reads right."""
    return f"({detail})" if isinstance(part, AllOf | AnyOf) and len(part.parts) > 1 else detail


# -- parsing ---------------------------------------------------------------------------------
def parse_condition(obj: Any, path: str = "", kinds: tuple[str, ...] = KINDS) -> Condition:
    """Parse a condition object; every key must be one of ``kinds``."""
    if not isinstance(obj, dict):
        raise SpecError(path, f"expected an object of conditions, got {_show(obj)}")
    if not obj:
        raise SpecError(path, f"no condition; use one of {', '.join(kinds)}")
    parts: list[Condition] = []
    for key, value in obj.items():
        sub = f"{path}.{key}" if path else key
        if key not in kinds:
            close = difflib.get_close_matches(key, kinds, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(kinds)}"
            raise SpecError(sub, f"unknown condition kind {key!r}{hint}")
        parts.append(_parse_kind(key, value, sub, kinds))
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _parse_kind(key: str, value: Any, path: str, kinds: tuple[str, ...]) -> Condition:
    if key == "metadata_conditions":
        return AllOf(tuple(_parse_fields(value, path, FIELDS)))
    if key == "user_fields":
        return AllOf(tuple(_parse_fields(value, path, None)))
    if key in ("all", "any"):
        if not isinstance(value, list) or not value:
            raise SpecError(path, f"expected a non-empty list of condition objects, got {_show(value)}")
        subs = tuple(parse_condition(v, f"{path}[{i}]", kinds) for i, v in enumerate(value))
        return AllOf(subs) if key == "all" else AnyOf(subs)
    if key == "not":
        return NotOf(parse_condition(value, path, kinds))
    items = _strings(value, path)
    if key == "description_keywords":
        return KeywordCondition(KeywordMatcher(items))
    if key in ("ai_generated_tags", "has_tags"):
        return TagCondition(key, tuple(items))
    if key == "filename_patterns":
        return FilenameCondition(tuple((p, _filename_regex(p, path)) for p in items))
    return DomainCondition(tuple(items))  # source_domains


def _strings(value: Any, path: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise SpecError(path, f"expected a non-empty list of strings, got {_show(value)}")
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v.strip():
            raise SpecError(f"{path}[{i}]", f"expected a non-empty string, got {_show(v)}")
    return list(value)


def _filename_regex(pattern: str, path: str) -> re.Pattern[str]:
    if pattern.startswith("re:"):
        try:
            return re.compile(pattern[3:], re.IGNORECASE)
        except re.error as e:
            raise SpecError(path, f"bad regular expression {pattern[3:]!r}: {e}") from None
    return re.compile(fnmatch.translate(pattern), re.IGNORECASE)


def _parse_fields(value: Any, path: str, known: dict[str, str] | None) -> list[Condition]:
    if not isinstance(value, dict) or not value:
        raise SpecError(path, f"expected a non-empty object of conditions, got {_show(value)}")
    out: list[Condition] = []
    for key, v in value.items():
        sub = f"{path}.{key}"
        try:
            name, op = _split_key(key, known)
        except SpecError as e:
            raise SpecError(sub, e.message) from None
        if known is None:
            kind = "number" if op in ORDERED_OPS else "user"
            test = _parse_user_test(key, v, op, sub) if kind == "user" else parse_test(key, v, kind, op, sub)
            out.append(UserFieldCondition(name, test))
        else:
            out.append(FieldCondition(name, parse_test(key, v, known[name], op, sub)))
    return out


def _parse_user_test(key: str, value: Any, op: str, path: str) -> Test:
    """User fields are text; numbers and true/false given as values compare as their text."""
    values = value if op == "in" and isinstance(value, list) else [value]
    if op != "regex":
        for v in values:
            if not isinstance(v, str | int | float):
                raise SpecError(path, f"expected a string or number, got {_show(v)}")
    if op == "in" and isinstance(value, list):
        value = [_as_text(v) for v in value]
    elif op != "regex" and isinstance(value, bool | int | float):
        value = _as_text(value)
    return parse_test(key, value, "text", op, path)


def _as_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
