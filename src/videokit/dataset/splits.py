"""Train/val/test splits without leaks, stratified by label, the same for the same seed.

The unit of assignment is a *unit*: every clip of one source video, merged with every clip of
the videos near-duplicate to it (:mod:`videokit.dataset.dedup`), so no footage is in two
splits. A split the annotation list already gives a clip is kept; the other clips of its unit
follow it. The remaining units are assigned per label (a unit's label: the most common first
label of its clips): largest first (units of one size in an order drawn from the seed), each to
the split furthest below its share of that label's clips.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from videokit.dataset.dedup import DupGroup
from videokit.dataset.model import ClipPlan
from videokit.errors import UsageError

SPLITS = ("train", "val", "test")
_ALIASES = {
    "training": "train",
    "valid": "val",
    "validate": "val",
    "validation": "val",
    "dev": "val",
    "testing": "test",
}
TOLERANCE = 1e-6


@dataclass(slots=True)
class SplitReport:
    """What :func:`split_plans` did: clips per split, units assigned, splits kept from the list."""

    clips: dict[str, int] = field(default_factory=dict)  # split -> clips
    units: int = 0  # videos with their near-duplicates: each wholly in one split
    kept: int = 0  # clips whose split the annotation list gave
    conflicts: list[list[str]] = field(default_factory=list)  # units the list itself puts in several splits


def _ratio_text(ratios: Iterable[float]) -> str:
    return ",".join(f"{r:g}" for r in ratios)


def check_ratios(ratios: Iterable[float]) -> tuple[float, float, float]:
    """``ratios`` as (train, val, test), or UsageError (one line) unless three ratios, none
    negative, that sum to 1."""
    values = tuple(float(r) for r in ratios)
    text = _ratio_text(values)
    if len(values) != 3:
        raise UsageError(f"--split {text}: give three ratios for train,val,test, e.g. 0.8,0.1,0.1")
    if any(r < 0 or math.isnan(r) for r in values):
        raise UsageError(f"--split {text}: ratios cannot be negative; e.g. 0.8,0.1,0.1")
    total = sum(values)
    if abs(total - 1.0) > TOLERANCE:
        raise UsageError(
            f"--split {text}: the ratios sum to {total:g}, not 1; give train,val,test ratios that sum to 1, "
            "e.g. 0.8,0.1,0.1"
        )
    return values[0], values[1], values[2]


def parse_split(text: str) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` as (train, val, test) ratios; UsageError (one line) otherwise."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(
            f"--split {text}: give three numbers for train,val,test separated by commas, e.g. 0.8,0.1,0.1"
        ) from None
    return check_ratios(values)


def normalise_split(name: str | None) -> str | None:
    """An annotation list's split name as train/val/test (``validation`` -> ``val``...);
    other names are kept as given, empty ones are None."""
    if name is None or not name.strip():
        return None
    key = name.strip().lower()
    return key if key in SPLITS else _ALIASES.get(key, name.strip())


class _Units:
    """Union-find over video ids: a video and its near-duplicates form one unit."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def root(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def join(self, ids: Iterable[str]) -> None:
        roots = sorted({self.root(x) for x in ids})
        for r in roots[1:]:
            self.parent[r] = roots[0]


def split_plans(
    plans: list[ClipPlan], ratios: tuple[float, float, float], seed: int, groups: list[DupGroup]
) -> SplitReport:
    """Set ``plan.split`` of every plan to train, val or test (see the module docstring).

    UsageError (one line) when ``ratios`` do not sum to 1. Deterministic: the same plans,
    ratios, seed and groups give the same splits, whatever the order of ``plans``."""
    ratios = check_ratios(ratios)
    units = _Units()
    for plan in plans:
        units.root(plan.video_id)
    for group in groups:
        units.join(group.ids)
    members: dict[str, list[ClipPlan]] = {}
    for plan in plans:
        plan.split = normalise_split(plan.split)
        members.setdefault(units.root(plan.video_id), []).append(plan)

    report = SplitReport(units=len(members))
    totals: Counter[str] = Counter()  # label -> clips
    done: dict[str, Counter[str]] = {}  # label -> split -> clips assigned
    todo: dict[str, list[tuple[str, list[ClipPlan]]]] = {}
    for root in sorted(members):
        unit = members[root]
        label = _unit_label(unit)
        totals[label] += len(unit)
        given = Counter(p.split for p in unit if p.split)
        report.kept += sum(given.values())
        if given:
            if len(given) > 1:
                report.conflicts.append(sorted({p.video_id for p in unit}))
            chosen = max(sorted(given), key=lambda s: given[s])
            for plan in unit:
                plan.split = plan.split or chosen
                done.setdefault(label, Counter())[plan.split] += 1
        else:
            todo.setdefault(label, []).append((root, unit))

    rng = random.Random(seed)
    for label in sorted(todo):
        queue = todo[label]
        rng.shuffle(queue)
        queue.sort(key=lambda item: -len(item[1]))  # stable: units of one size keep the seeded order
        counts = done.setdefault(label, Counter())
        targets = {s: r * totals[label] for s, r in zip(SPLITS, ratios, strict=True) if r > 0}
        for _, unit in queue:
            split = max(targets, key=lambda s: (targets[s] - counts[s], -SPLITS.index(s)))
            for plan in unit:
                plan.split = split
            counts[split] += len(unit)

    report.clips = dict(sorted(Counter(p.split or "" for p in plans).items()))
    return report


def _unit_label(unit: list[ClipPlan]) -> str:
    """The most common first label of the unit's clips ("" when none has a label)."""
    firsts = Counter(p.labels[0] if p.labels else "" for p in unit)
    return max(sorted(firsts), key=lambda label: firsts[label])
