"""Labels for dataset clips: from the annotation list, the tags, the category or a stored answer.

:func:`assign_labels` sets each :class:`~videokit.dataset.model.ClipPlan`'s ``labels`` from one
source (:class:`LabelOptions`): ``csv`` (the ``label`` of the annotation list's segment the clip
was cut from, or of the segments covering most of a scene or window clip, else the video's
``label`` column), ``tags``, ``category`` or ``answer`` (the stored answer to one analysis
question). A class mapping (:func:`parse_classes`) says which of those values become which
classes; with one, values it does not list give no label. Single-label keeps the first class
(tags: the most confident; answers: the first named), multi-label keeps them all. Clips left
without a label are skipped or go to the ``unlabeled`` class, and every outcome is counted
(:class:`LabelReport`).

:func:`check_labels`, one pass over the selected videos before any clip is cut, makes a
mapping entry that matches nothing on them (most often a typo) a
:class:`~videokit.errors.ConfigError` naming it, and settles which stored question ``answer`` reads.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import io
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from videokit.analysis.builtin_questions import NOT_ANSWERABLE
from videokit.dataset.model import ClipPlan
from videokit.errors import ConfigError, UsageError, one_line
from videokit.record import Record, Segment

UNLABELED = "unlabeled"  # the class of clips without a label, with ``unlabeled="keep"``
LABEL_SOURCES = ("csv", "tags", "category", "answer")
UNLABELED_CHOICES = ("skip", "keep")
_NO_CATEGORY = "Unclassified"  # what the classifier says when no category fits
_SAME_SPAN = 0.001  # seconds: a segment clip's span is its segment's


@dataclass(frozen=True)
class LabelOptions:
    """Where clip labels come from. ``classes``: value -> class (see :func:`parse_classes`);
    ``question``: for ``answer``, the analysis question whose stored answer is the label (None:
    the one question the selected videos were asked)."""

    source: str = "csv"  # csv | tags | category | answer
    classes: dict[str, str] | None = None
    question: str | None = None
    multi_label: bool = False
    unlabeled: str = "skip"  # skip | keep

    def __post_init__(self) -> None:
        if self.source not in LABEL_SOURCES:
            raise UsageError(f"--label-from {self.source!r} is unknown; choose one of {', '.join(LABEL_SOURCES)}")
        if self.unlabeled not in UNLABELED_CHOICES:
            raise UsageError(f"--unlabeled {self.unlabeled!r} is unknown; choose one of {', '.join(UNLABELED_CHOICES)}")
        if self.source == "tags" and not self.classes:
            raise UsageError(
                "--label-from tags needs --classes: which tags become which classes (e.g. 'Sports=sport,Music=music')"
            )


@dataclass
class LabelReport:
    """What labelling did: clips labelled, clips without a label skipped or kept as
    ``unlabeled``, clips per class, and the classes in index order (the mapping's order when one
    was given, else sorted; ``unlabeled`` last)."""

    labelled: int = 0
    unlabeled_skipped: int = 0
    unlabeled_kept: int = 0
    per_class: dict[str, int] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the user: the counts and the clips per class."""
        parts = [f"{self.labelled} clip(s) labelled"]
        if self.unlabeled_skipped:
            parts.append(f"{self.unlabeled_skipped} without a label skipped")
        if self.unlabeled_kept:
            parts.append(f"{self.unlabeled_kept} without a label kept as '{UNLABELED}'")
        shown = ", ".join(f"{c} {self.per_class.get(c, 0)}" for c in self.classes)
        return "; ".join(parts) + (f"; classes: {shown}" if shown else "")


def parse_classes(text_or_path: str | Path) -> dict[str, str]:
    """A class mapping (value -> class, in priority order) from a ``.json`` file (an object of
    value -> class, or of class -> list of values, or a list of values that are their own
    class), a ``.csv`` file (value, class; a header row naming a ``class`` column is skipped; a
    row of one cell is its own class) or a list ``"Tag=class,Tag2=class2"`` (an entry without
    ``=`` is its own class). ConfigError, one line naming the problem, for anything else."""
    text = str(text_or_path).strip()
    path = Path(text)
    if path.suffix.lower() in (".json", ".csv") or isinstance(text_or_path, Path) or path.is_file():
        if path.suffix.lower() not in (".json", ".csv"):
            raise ConfigError(f"--classes {text}: give a .json or .csv file, or a list 'Tag=class,Tag2=class2'")
        if not path.is_file():
            raise ConfigError(f"--classes {text}: file not found; give a .json or .csv file, or 'Tag=class,...'")
        try:
            content = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"--classes {text}: cannot read: {one_line(e)}") from None
        pairs = _json_pairs(text, content) if path.suffix.lower() == ".json" else _csv_pairs(text, content)
    else:
        entries = [e for e in text.split(",") if e.strip()]
        pairs = [(k, v) if eq else (k, k) for k, eq, v in (e.partition("=") for e in entries)]
    mapping: dict[str, str] = {}
    seen: dict[str, str] = {}  # casefolded value -> as first written
    for raw_key, raw_class in pairs:
        key, cls = raw_key.strip(), raw_class.strip()
        if not key or not cls:
            raise ConfigError(f"--classes {text}: entry {raw_key}={raw_class} has an empty side; write value=class")
        first = seen.setdefault(key.casefold(), key)
        if first in mapping and mapping[first] != cls:
            raise ConfigError(
                f"--classes {text}: {key!r} is mapped to both {mapping[first]!r} and {cls!r}; keep one of them"
            )
        mapping.setdefault(first, cls)
    if not mapping:
        raise ConfigError(f"--classes {text}: no class given; write value=class entries")
    return mapping


def _json_pairs(name: str, content: str) -> list[tuple[str, str]]:
    try:
        data = json.loads(content)
    except ValueError as e:
        raise ConfigError(f"--classes {name}: not valid JSON: {one_line(e)}") from None
    if isinstance(data, list) and all(isinstance(v, str) for v in data):
        return [(v, v) for v in data]
    if isinstance(data, dict):
        pairs: list[tuple[str, str]] = []
        for k, v in data.items():
            if isinstance(v, str):
                pairs.append((k, v))
            elif isinstance(v, list) and all(isinstance(x, str) for x in v):
                pairs += [(x, k) for x in v]  # class -> its values
            else:
                break
        else:
            return pairs
    raise ConfigError(
        f"--classes {name}: expected an object of value -> class (or class -> [values]), or a list of classes"
    )


def _csv_pairs(name: str, content: str) -> list[tuple[str, str]]:
    rows = [[c.strip() for c in row] for row in csv.reader(io.StringIO(content, newline="")) if any(row)]
    if rows and len(rows[0]) > 1 and rows[0][1].casefold() == "class":
        rows = rows[1:]
    pairs = []
    for row in rows:
        if len(row) > 2 and any(row[2:]):
            raise ConfigError(f"--classes {name}: row {','.join(row)!r} has more than two cells; write value,class")
        pairs.append((row[0], row[1] if len(row) > 1 and row[1] else row[0]))
    return pairs


def check_labels(options: LabelOptions, records: Iterable[Record]) -> LabelOptions:
    """Check ``options`` against the selected videos (one pass, holding only the distinct
    values): ConfigError, one line, for a mapping entry that none of them has (naming it, with
    the closest value when there is one), and for ``answer``, a question none was asked or no
    question when they were asked several. Returns the options with the question as stored."""
    mapping = _Mapping(options.classes) if options.classes else None
    values: dict[str, None] = {}  # ordered set
    answers: dict[str, dict[str, None]] = {}  # question as stored -> its answers
    seen = False
    for r in records:
        seen = True
        if options.source == "answer":
            for q, text in (r.analysis.answers if r.analysis else {}).items():
                answer = _answer(text)
                answers.setdefault(q, {}).update({answer: None} if answer else {})
        elif mapping is not None:
            values.update(dict.fromkeys(_vocabulary(options.source, r)))
    if not seen:
        return options
    question = options.question
    if options.source == "answer":
        question = _question(options.question, list(answers))
        values = answers[question]
    if mapping is not None:
        mapping.check(options.source, list(values))
    return dataclasses.replace(options, question=question)


def assign_labels(plans: list[ClipPlan], records: dict[str, Record], options: LabelOptions) -> LabelReport:
    """Set every plan's ``labels`` from ``options.source``; plans left without a label are
    removed from ``plans`` (``unlabeled="skip"``) or labelled ``unlabeled`` (``"keep"``).
    ``records``: the videos of the plans by id. Call :func:`check_labels` once over all the
    selected videos first: this labels what it is given, and checks nothing across videos."""
    mapping = _Mapping(options.classes) if options.classes else None
    report = LabelReport()
    per_class: Counter[str] = Counter()
    kept: list[ClipPlan] = []
    for plan in plans:
        values = _values(plan, records.get(plan.video_id), options)
        classes = mapping.classes(values, by_position=options.source == "answer") if mapping else _unique(values)
        if not options.multi_label:
            classes = classes[:1]
        if classes:
            report.labelled += 1
        elif options.unlabeled == "skip":
            report.unlabeled_skipped += 1
            continue
        else:
            classes = [UNLABELED]
            report.unlabeled_kept += 1
        plan.labels = classes
        per_class.update(classes)
        kept.append(plan)
    plans[:] = kept
    order = _unique(mapping.order()) if mapping else sorted(c for c in per_class if c != UNLABELED)
    report.classes = [c for c in order if c != UNLABELED] + ([UNLABELED] if UNLABELED in per_class else [])
    report.per_class = {c: per_class[c] for c in report.classes}
    return report


class _Mapping:
    """A class mapping, matched case-insensitively."""

    def __init__(self, classes: dict[str, str]) -> None:
        self.by_key = {k.casefold(): v for k, v in classes.items()}
        self.written = {k.casefold(): k for k in classes}

    def order(self) -> list[str]:
        return list(self.by_key.values())

    def classes(self, values: list[str], *, by_position: bool = False) -> list[str]:
        """The classes of ``values`` in their order; ``by_position`` (free-text answers): a value
        that is no key gives the classes of the keys it names, as whole words, in reading order."""
        out: list[str] = []
        for value in values:
            hit = self.by_key.get(value.casefold())
            if hit is not None:
                out.append(hit)
            elif by_position:
                found = sorted((pos, self.by_key[k]) for k in self.by_key if (pos := _find(k, value)) >= 0)
                out += [cls for _, cls in found]
        return _unique(out)

    def check(self, source: str, vocabulary: list[str]) -> None:
        """ConfigError naming every key that matches no value of the selected videos."""
        known = {v.casefold() for v in vocabulary}
        if source == "answer":
            unknown = [k for k in self.by_key if k not in known and not any(_find(k, v) >= 0 for v in vocabulary)]
        else:
            unknown = [k for k in self.by_key if k not in known]
        if not unknown:
            return
        what = {"csv": "label", "tags": "tag", "category": "category", "answer": "answer"}[source]
        names = []
        for key in unknown:
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
            hint = f" (did you mean {_written(close[0], vocabulary)!r}?)" if close else ""
            names.append(f"{self.written[key]!r}{hint}")
        raise ConfigError(
            f"--classes: {what}{'s' if len(names) > 1 else ''} {', '.join(names)} "
            f"{'are' if len(names) > 1 else 'is'} on none of the selected videos; fix the mapping or leave it out"
        )


def _written(folded: str, vocabulary: list[str]) -> str:
    return next((v for v in vocabulary if v.casefold() == folded), folded)


def _find(key: str, text: str) -> int:
    """Where ``key`` appears in ``text`` as whole words (case-insensitive), or -1."""
    m = re.search(rf"(?<!\w){re.escape(key)}(?!\w)", text, re.IGNORECASE)
    return m.start() if m else -1


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _question(wanted: str | None, asked: list[str]) -> str:
    """The stored question ``wanted`` names (case, spacing and a closing '?' aside), or the one
    question the videos were asked when ``wanted`` is None."""
    if wanted is None:
        if len(asked) == 1:
            return asked[0]
        which = "no question" if not asked else f"{len(asked)} questions ({'; '.join(asked[:5])})"
        raise ConfigError(
            f"--label-from answer: the videos have answers to {which}; give --question with the one to use"
        )
    for q in asked:
        if _norm_question(q) == _norm_question(wanted):
            return q
    stored = f"; stored questions: {'; '.join(asked[:5])}" if asked else "; none was asked (see [Analysis] Questions)"
    raise ConfigError(f"--question {wanted!r}: no selected video has an answer to it{stored}")


def _norm_question(q: str) -> str:
    return " ".join(q.casefold().split()).rstrip(" ?")


def _answer(text: str | None) -> str | None:
    """A stored answer as a class name: trimmed, without closing punctuation or quotes, lower
    case; None for no answer."""
    if not text or text == NOT_ANSWERABLE:
        return None
    out = " ".join(text.split()).strip(" \"'.!?").casefold()
    return out or None


def _segments(record: Record) -> list[Segment]:
    return [s for src in record.sources for s in src.segments]


def _video_label(record: Record) -> list[str]:
    fields = {k.casefold(): v for k, v in record.user_fields.items()}
    return [fields["label"]] if fields.get("label") else []


def _csv_values(plan: ClipPlan, record: Record) -> list[str]:
    spans = [(s.start, s.end, s.label) for s in _segments(record) if s.label]
    if plan.kind == "segment":
        same = [label for a, b, label in spans if abs(a - plan.start) <= _SAME_SPAN and abs(b - plan.end) <= _SAME_SPAN]
        found = same or list(plan.labels)  # the planner's label when the span moved
    else:  # a scene or window clip: the segments covering more than half of it, most first
        half = (plan.end - plan.start) / 2
        cover = [(max(a, plan.start) - min(b, plan.end), i, label) for i, (a, b, label) in enumerate(spans)]
        found = [label for minus_overlap, _, label in sorted(cover) if -minus_overlap > half]
    return _unique(found) or _video_label(record)


def _values(plan: ClipPlan, record: Record | None, options: LabelOptions) -> list[str]:
    """The raw label values of one clip, first the strongest."""
    if record is None:
        return list(plan.labels) if options.source == "csv" else []
    if options.source == "csv":
        return _csv_values(plan, record)
    if options.source == "tags":
        ranked = sorted(enumerate(record.tags), key=lambda t: (-t[1].confidence, t[0]))
        return [t.name for _, t in ranked]
    if options.source == "category":
        category = record.classification.category if record.classification else None
        return [category] if category and category != _NO_CATEGORY else []
    stored = record.analysis.answers if record.analysis else {}
    if options.question is None:  # the one question asked (ConfigError when several were)
        question: str | None = _question(None, list(stored)) if stored else None
    else:
        question = next((q for q in stored if _norm_question(q) == _norm_question(options.question)), None)
    answer = _answer(stored.get(question)) if question else None
    return [answer] if answer else []


def _vocabulary(source: str, r: Record) -> list[str]:
    """Every value ``source`` gives on record ``r``: what a mapping key may name."""
    if source == "csv":
        return [s.label for s in _segments(r) if s.label] + _video_label(r)
    if source == "tags":
        return [t.name for t in r.tags]
    if source == "category" and r.classification:
        return [r.classification.category, *r.classification.scores]
    return []
