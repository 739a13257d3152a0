"""Tag rules: load and validate rule files, apply them to records, explain them.

A rules file is ``{"rules": [rule, ...]}``; a rule is a condition object (see
:mod:`videokit.tagging.conditions`) plus ``tags`` and the optional ``id``, ``description``,
``confidence`` (0-1, default 1) and ``category`` (a signal for classification). Rules are
numbered from 1 in messages; a rule without ``id`` is ``custom-<number>``. Tags carry the
origin ``rule:<id>`` (the user's file) or ``builtin:<id>`` (the shipped defaults).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videokit.errors import ConfigError
from videokit.record import Record, Tag
from videokit.tagging.conditions import KINDS, Condition, SpecError, parse_condition
from videokit.tagging.facts import RecordView
from videokit.tagging.jsonfile import check_top_level, packaged, read_json

if TYPE_CHECKING:
    from videokit.config import Config

RULE_KINDS = tuple(k for k in KINDS if k != "has_tags")
_META_KEYS = ("id", "description", "confidence", "category", "tags")
_ID = re.compile(r"^[\w.\-]+$")


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    origin: str  # rule:<id> | builtin:<id>
    tags: tuple[str, ...]
    condition: Condition
    confidence: float = 1.0
    category: str | None = None
    description: str | None = None
    source: str = ""  # the file it came from
    number: int = 0  # 1-based position in that file


@dataclass(frozen=True, slots=True)
class RuleResult:
    rule: Rule
    fired: bool
    detail: str


class RuleSet:
    """Rules in order: the built-in defaults (when enabled) then the user's."""

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self.rules = list(rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def evaluate(self, record: Record | RecordView, *, full: bool = False) -> list[RuleResult]:
        view = record if isinstance(record, RecordView) else RecordView(record)
        out = []
        for rule in self.rules:
            o = rule.condition.evaluate(view, full)
            out.append(RuleResult(rule, o.ok, o.detail))
        return out

    def apply(self, record: Record | RecordView) -> list[Tag]:
        """The tags of every rule that fires, each with its origin, confidence and condition."""
        return [
            Tag(name, r.rule.origin, r.rule.confidence, r.detail)
            for r in self.evaluate(record)
            if r.fired
            for name in r.rule.tags
        ]

    def explain(self, record: Record) -> list[RuleResult]:
        """Every rule, fired or not, with every part of its condition evaluated."""
        return self.evaluate(record, full=True)


def parse_rules(data: Any, name: str, prefix: str = "rule") -> list[Rule]:
    """Validate a parsed rules document; :class:`ConfigError` names file, rule and field."""
    check_top_level(data, name, "rules", {"description", "version"})
    items = data["rules"]
    if not isinstance(items, list):
        raise ConfigError(f"{name}: 'rules' must be a list of rule objects")
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for number, item in enumerate(items, 1):
        rule = _parse_rule(item, number, name, prefix)
        if rule.id in seen:
            raise ConfigError(f"{name}: rule {number} (id {rule.id!r}): id: same id as rule {seen[rule.id]}")
        seen[rule.id] = number
        rules.append(rule)
    return rules


def _parse_rule(item: Any, number: int, name: str, prefix: str) -> Rule:
    where = f"{name}: rule {number}"
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: expected an object with 'tags' and conditions")
    rid = item.get("id")
    if rid is not None:
        if not isinstance(rid, str) or not _ID.match(rid):
            raise ConfigError(f"{where}: id: expected letters, digits, '-', '_' or '.', got {rid!r}")
        where += f" (id {rid!r})"
    try:
        tags = _tags(item.get("tags"))
        confidence = _confidence(item.get("confidence", 1.0))
        category = _optional_text(item, "category")
        description = _optional_text(item, "description")
        conditions = {k: v for k, v in item.items() if k not in _META_KEYS}
        if not conditions:
            raise SpecError("", f"no condition; use one or more of {', '.join(RULE_KINDS)}")
        condition = parse_condition(conditions, "", RULE_KINDS)
    except SpecError as e:
        raise ConfigError(f"{where}: {e}") from None
    rid = rid or (f"custom-{number}" if prefix == "rule" else f"{prefix}-{number}")
    return Rule(rid, f"{prefix}:{rid}", tags, condition, confidence, category, description, name, number)


def _tags(value: Any) -> tuple[str, ...]:
    if value is None:
        raise SpecError("tags", 'missing; give the tags this rule adds, e.g. "tags": ["Drone Footage"]')
    if not isinstance(value, list) or not value:
        raise SpecError("tags", f"expected a non-empty list of tag names, got {value!r}")
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v.strip():
            raise SpecError(f"tags[{i}]", f"expected a non-empty tag name, got {v!r}")
    return tuple(v.strip() for v in value)


def _confidence(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise SpecError("confidence", f"expected a number from 0 to 1, got {value!r}")
    return float(value)


def _optional_text(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise SpecError(key, f"expected a non-empty string, got {value!r}")
    return value.strip() if value else None


def load_rules_file(path: Path | str, prefix: str = "rule") -> list[Rule]:
    return parse_rules(read_json(path), str(path), prefix)


@functools.cache
def builtin_rules() -> tuple[Rule, ...]:
    name, data = packaged("builtin_rules.json")
    return tuple(parse_rules(data, name, "builtin"))


def load_rules(config: Config, rules_file: Path | str | None = None) -> RuleSet:
    """The built-in rules (unless ``[Rules] UseDefaults`` is off) then the user's rules file
    (``rules_file`` or ``[Rules] CustomTagRules``), all validated now."""
    rules: list[Rule] = list(builtin_rules()) if config.get("Rules", "UseDefaults") else []
    path = rules_file or config.path_setting("Rules", "CustomTagRules")
    if path:
        rules += load_rules_file(path)
    return RuleSet(rules)
