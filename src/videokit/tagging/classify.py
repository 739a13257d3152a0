"""Classification into a configurable taxonomy by scored signals.

A taxonomy file::

    {"categories": [...], "default": "Unclassified", "min_score": 1.0, "smoothing": 1.0,
     "analyzer_weight": 1.5, "rule_weight": 1.0,
     "signals": [{"category": "Action", "weight": 2.0, "when": {<condition object>}}, ...]}

A category's score is the sum of the weights of its signals whose ``when`` holds (the same
condition language as tag rules, plus ``has_tags`` over the record's tags), plus
``analyzer_weight`` when the analyzer suggested it, plus ``rule_weight`` x confidence for each
fired tag rule naming it as its ``category``. The best score wins if it reaches ``min_score``
(ties: the category listed first); otherwise ``default``. Confidence is the winner's share of
all scores plus ``smoothing`` (so one weak signal is not certainty); for the default it is the
share left over when some signal fired but too weakly, and 0 when no signal fired at all
(nothing supports any label, so the default is not a finding).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videokit.errors import ConfigError
from videokit.record import Classification, Record
from videokit.tagging.conditions import KINDS, Condition, SpecError, parse_condition
from videokit.tagging.facts import RecordView
from videokit.tagging.jsonfile import check_top_level, packaged, read_json

if TYPE_CHECKING:
    from videokit.config import Config
    from videokit.tagging.rules import Rule

_NUMBERS = {"min_score": 1.0, "smoothing": 1.0, "analyzer_weight": 1.0, "rule_weight": 1.0}


@dataclass(frozen=True, slots=True)
class Signal:
    category: str
    weight: float
    when: Condition
    number: int  # 1-based, for messages


@dataclass(frozen=True, slots=True)
class SignalResult:
    label: str  # "signal 3", "analyzer", "rule:<id>"
    category: str
    points: float
    fired: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Taxonomy:
    categories: tuple[str, ...]
    default: str
    signals: tuple[Signal, ...]
    min_score: float = 1.0
    smoothing: float = 1.0
    analyzer_weight: float = 1.0
    rule_weight: float = 1.0
    source: str = ""

    def canonical(self, name: str | None) -> str | None:
        """The taxonomy's spelling of a category name (case-insensitive), or None."""
        if not name:
            return None
        folded = name.strip().casefold()
        return next((c for c in self.categories if c.casefold() == folded), None)

    def score(self, record: Record | RecordView, fired_rules: Iterable[Rule] = ()) -> list[SignalResult]:
        """Every signal with whether it fired and why."""
        view = record if isinstance(record, RecordView) else RecordView(record)
        out = []
        for s in self.signals:
            o = s.when.evaluate(view)
            out.append(SignalResult(f"signal {s.number}", s.category, s.weight if o.ok else 0.0, o.ok, o.detail))
        analysis = view.record.analysis
        if analysis is not None and analysis.category:
            cat = self.canonical(analysis.category)
            detail = f"analyzer suggested {analysis.category!r}" + ("" if cat else " (not in the taxonomy)")
            out.append(
                SignalResult(
                    "analyzer", cat or analysis.category, self.analyzer_weight if cat else 0.0, bool(cat), detail
                )
            )
        for rule in fired_rules:
            cat = self.canonical(rule.category)
            if cat:
                points = self.rule_weight * rule.confidence
                out.append(SignalResult(rule.origin, cat, points, True, f"rule {rule.id!r} fired"))
        return out

    def classify(self, record: Record | RecordView, fired_rules: Iterable[Rule] = ()) -> Classification:
        return self.decide(self.score(record, fired_rules))

    def decide(self, results: list[SignalResult]) -> Classification:
        scores = {c: 0.0 for c in self.categories if c != self.default}
        for r in results:
            if r.fired and r.category in scores:
                scores[r.category] += r.points
        total = sum(scores.values())
        best = max(scores, key=lambda c: scores[c], default=self.default)  # first listed wins ties
        rounded = {c: round(v, 4) for c, v in scores.items()}
        if best == self.default or scores[best] < self.min_score or scores[best] <= 0:
            if total <= 0:  # no signal at all: no evidence for the default either
                return Classification(self.default, 0.0, rounded)
            left = self.smoothing / (total + self.smoothing)
            return Classification(self.default, round(left, 4), rounded)
        return Classification(best, round(scores[best] / (total + self.smoothing), 4), rounded)


def parse_taxonomy(data: Any, name: str) -> Taxonomy:
    """Validate a parsed taxonomy document; :class:`ConfigError` names file, signal and field."""
    check_top_level(data, name, "categories", {"default", "signals", "description", *_NUMBERS})
    cats = data["categories"]
    if not isinstance(cats, list) or not cats or not all(isinstance(c, str) and c.strip() for c in cats):
        raise ConfigError(f"{name}: categories: expected a non-empty list of category names")
    cats = [c.strip() for c in cats]
    dupes = {c for c in cats if [x.casefold() for x in cats].count(c.casefold()) > 1}
    if dupes:
        raise ConfigError(f"{name}: categories: {sorted(dupes)[0]!r} is listed twice")
    default = data.get("default", "Unclassified")
    if not isinstance(default, str) or not default.strip():
        raise ConfigError(f"{name}: default: expected a category name, got {default!r}")
    if default not in cats:
        cats.append(default)
    numbers = dict(_NUMBERS)
    for key in _NUMBERS:
        if key in data:
            v = data[key]
            if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
                raise ConfigError(f"{name}: {key}: expected a number >= 0, got {v!r}")
            numbers[key] = float(v)
    signals_raw = data.get("signals", [])
    if not isinstance(signals_raw, list):
        raise ConfigError(f"{name}: signals: expected a list of signal objects")
    signals = tuple(_parse_signal(s, i, name, cats, default) for i, s in enumerate(signals_raw, 1))
    return Taxonomy(tuple(cats), default, signals, source=name, **numbers)


def _parse_signal(item: Any, number: int, name: str, cats: list[str], default: str) -> Signal:
    where = f"{name}: signal {number}"
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: expected an object with category, weight and when")
    unknown = set(item) - {"category", "weight", "when", "description"}
    if unknown:
        raise ConfigError(f"{where}: {sorted(unknown)[0]}: unknown field; expected category, weight, when")
    cat = item.get("category")
    canon = next((c for c in cats if isinstance(cat, str) and c.casefold() == cat.strip().casefold()), None)
    if canon is None or canon == default:
        raise ConfigError(
            f"{where}: category: {cat!r} is not one of the categories ({', '.join(c for c in cats if c != default)})"
        )
    weight = item.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
        raise ConfigError(f"{where}: weight: expected a number >= 0, got {weight!r}")
    if "when" not in item:
        raise ConfigError(f"{where}: when: missing; give the condition object that earns the weight")
    try:
        when = parse_condition(item["when"], "when", KINDS)
    except SpecError as e:
        raise ConfigError(f"{where} ({canon}): {e}") from None
    return Signal(canon, float(weight), when, number)


@functools.cache
def builtin_taxonomy() -> Taxonomy:
    name, data = packaged("taxonomy.json")
    return parse_taxonomy(data, name)


def load_taxonomy_file(path: Path | str) -> Taxonomy:
    return parse_taxonomy(read_json(path), str(path))


def load_taxonomy(config: Config) -> Taxonomy:
    """``[Rules] Taxonomy`` when set, else the built-in default, validated now."""
    path = config.path_setting("Rules", "Taxonomy")
    return load_taxonomy_file(path) if path else builtin_taxonomy()
