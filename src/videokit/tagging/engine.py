"""Putting tags and a category on a record: rules + analyzer tags + user tags, then the taxonomy.

One tag per name (case-insensitive). ``user`` tags always win and survive re-tagging; among
the others the highest confidence wins, ties going to the user's rules, then the built-in
rules, then the analyzer. The losing provenances are not stored on the record;
``videokit rules explain`` shows every rule that fired.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from videokit.errors import ConfigError
from videokit.record import Classification, Record, Tag
from videokit.tagging.classify import SignalResult, Taxonomy
from videokit.tagging.facts import RecordView
from videokit.tagging.rules import RuleResult, RuleSet

_RANK = {"user": 0, "rule": 1, "builtin": 2, "analyzer": 3}


def _rank(tag: Tag) -> int:
    return _RANK.get(tag.origin.split(":", 1)[0], 4)


def merge_tags(tags: Iterable[Tag]) -> list[Tag]:
    """De-duplicate case-insensitively by name, keeping the first-seen order of names."""
    best: dict[str, Tag] = {}
    for t in tags:
        key = t.name.casefold()
        cur = best.get(key)
        if cur is None or _better(t, cur):
            best[key] = t
    return list(best.values())


def _better(a: Tag, b: Tag) -> bool:
    return (a.origin == "user", a.confidence, -_rank(a)) > (b.origin == "user", b.confidence, -_rank(b))


def analyzer_tags(record: Record) -> list[Tag]:
    """The analyzer's tags with an ``analyzer:<backend>/<model>`` origin."""
    a = record.analysis
    if a is None:
        return []
    origin = f"analyzer:{a.backend}/{a.model or a.backend}"
    return [
        Tag(t.name.strip(), t.origin if t.origin.startswith("analyzer:") else origin, t.confidence, t.condition)
        for t in a.tags
        if t.name and t.name.strip()
    ]


@dataclass(frozen=True, slots=True)
class TagChange:
    added: int
    removed: int
    changed: bool  # tags (names, provenance, confidence) or classification differ


class Tagger:
    """Rules and taxonomy loaded once; applied to any number of records."""

    def __init__(self, rules: RuleSet, taxonomy: Taxonomy) -> None:
        self.rules = rules
        self.taxonomy = taxonomy
        self._category_rules = RuleSet(r for r in rules if r.category)
        for r in self._category_rules:
            if taxonomy.canonical(r.category) is None:
                raise ConfigError(
                    f"{r.source}: rule {r.number} (id {r.id!r}): category: {r.category!r} is not in the taxonomy "
                    f"({', '.join(taxonomy.categories)})"
                )

    def tag(self, record: Record) -> None:
        user = [t for t in record.tags if t.origin == "user"]
        record.tags = merge_tags([*user, *analyzer_tags(record), *self.rules.apply(record)])

    def classify(self, record: Record) -> None:
        fired = [r.rule for r in self._category_rules.evaluate(record) if r.fired]
        record.classification = self.taxonomy.classify(RecordView(record), fired)

    def apply(self, record: Record) -> TagChange:
        """Re-tag and re-classify; report what changed."""
        before_tags = [(t.name, t.origin, t.confidence, t.condition) for t in record.tags]
        before_names = {t.name.casefold() for t in record.tags}
        before_cls = record.classification
        self.tag(record)
        self.classify(record)
        after_names = {t.name.casefold() for t in record.tags}
        changed = before_tags != [(t.name, t.origin, t.confidence, t.condition) for t in record.tags] or not _same(
            before_cls, record.classification
        )
        return TagChange(len(after_names - before_names), len(before_names - after_names), changed)

    def explain(self, record: Record) -> tuple[list[RuleResult], list[SignalResult], Classification]:
        """Every rule and every category signal, fired or not, and the resulting category."""
        rule_results = self.rules.explain(record)
        fired = [r.rule for r in rule_results if r.fired and r.rule.category]
        signals = self.taxonomy.score(RecordView(record), fired)
        return rule_results, signals, self.taxonomy.decide(signals)


def _same(a: Classification | None, b: Classification | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.category, a.confidence, a.scores) == (b.category, b.confidence, b.scores)
