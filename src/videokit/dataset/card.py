"""What every dataset export writes besides its formats: the manifest and the dataset card.

* ``manifest.jsonl``: one JSON line per clip file, in path order: its path, SHA-256, key, span
  (planned and really cut), labels, split and origin (the stored video's content id, source URL
  and page). It holds nothing that changes from run to run, so the same command on the same
  library gives the same manifest.
* ``README.md``: the dataset card (Hugging Face dataset-card layout, YAML header first): counts
  per class and split, total duration, license breakdown, the command that built it, its options
  and formats, and two charts, ``class_balance.png`` and ``clip_lengths.png``.

Every file is written under a temporary name and renamed when whole.
"""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from videokit.dataset.formats.base import (
    DEFAULT_SPLIT,
    DatasetInfo,
    atomic_path,
    class_list,
    labels_of,
    require,
    split_of,
    write_text,
)
from videokit.dataset.model import Clip
from videokit.record import Record

MANIFEST = "manifest.jsonl"
CARD = "README.md"
CLASS_CHART = "class_balance.png"
LENGTH_CHART = "clip_lengths.png"
SPLIT_ORDER = ("train", "val", "validation", "test")
MAX_CHART_CLASSES = 60  # a larger dataset's class chart shows its largest classes
UNKNOWN_LICENSE = "unknown"


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def manifest_entry(clip: Clip, record: Record | None) -> dict[str, Any]:
    """One clip's manifest line: the file, its SHA-256 and where it came from."""
    plan = clip.plan
    source = record.sources[0] if record and record.sources else None
    return {
        "path": clip.path,
        "sha256": clip.sha256,
        "key": plan.key,
        "video_id": plan.video_id,
        "source": (source.url or source.input) if source else None,
        "page_url": source.webpage_url if source else None,
        "kind": plan.kind,
        "start": _round(plan.start),
        "end": _round(plan.end),
        "real_start": _round(clip.real_start),
        "real_end": _round(clip.real_end),
        "labels": list(plan.labels),
        "split": split_of(plan),
    }


def write_manifest(clips: Iterable[Clip], records: Mapping[str, Record], out: Path) -> str:
    """``OUT/manifest.jsonl``, one line per clip file in path order; returns its name."""
    lines = sorted(
        (clip.path, json.dumps(manifest_entry(clip, records.get(clip.plan.video_id)), ensure_ascii=False))
        for clip in clips
    )
    write_text(out / MANIFEST, "".join(line + "\n" for _, line in lines))
    return MANIFEST


# -- the card ------------------------------------------------------------------------------


class CardStats:
    """What the card counts, gathered in one pass over the clips."""

    def __init__(self, clips: Iterable[Clip], records: Mapping[str, Record]) -> None:
        self.per_class: dict[str, Counter[str]] = defaultdict(Counter)  # class -> split -> clips
        self.per_split: Counter[str] = Counter()
        self.lengths: list[float] = []
        self.videos: set[str] = set()
        self.license_clips: Counter[str] = Counter()
        self.license_seconds: Counter[str] = Counter()
        self.license_videos: dict[str, set[str]] = defaultdict(set)
        for clip in clips:
            plan = clip.plan
            split = split_of(plan)
            for label in labels_of(plan):
                self.per_class[label][split] += 1
            self.per_split[split] += 1
            seconds = max(0.0, clip.real_end - clip.real_start)
            self.lengths.append(seconds)
            self.videos.add(plan.video_id)
            lic = _license(records.get(plan.video_id))
            self.license_clips[lic] += 1
            self.license_seconds[lic] += seconds
            self.license_videos[lic].add(plan.video_id)

    @property
    def clips(self) -> int:
        return len(self.lengths)

    @property
    def seconds(self) -> float:
        return math.fsum(self.lengths)

    def splits(self) -> list[str]:
        known = [s for s in SPLIT_ORDER if s in self.per_split]
        return known + sorted(set(self.per_split) - set(known))


def _license(record: Record | None) -> str:
    if record is None:
        return UNKNOWN_LICENSE
    found = next((s.license for s in record.sources if s.license), None)
    return " ".join(found.split()) if found else UNKNOWN_LICENSE


def _cell(text: object) -> str:
    """Text for a Markdown table cell, shown as it is (no HTML, no column break)."""
    text = " ".join(str(text).split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _duration(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _size_category(n: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")]
    return next((name for bound, name in bounds if n < bound), "1M<n<10M" if n < 10_000_000 else "n>10M")


def card_text(stats: CardStats, info: DatasetInfo, title: str, formats: Sequence[str] = ()) -> str:
    """The dataset card's Markdown."""
    classes = class_list(info, []) + sorted(set(stats.per_class) - set(info.classes))  # empty classes too
    splits = stats.splits()
    out = [
        "---",
        "task_categories:",
        "- video-classification",
        "tags:",
        "- videokit",
        "size_categories:",
        f"- {_size_category(stats.clips)}",
        "---",
        "",
        f"# {title}",
        "",
        f"{stats.clips} clips from {len(stats.videos)} source videos, {len(classes)} classes, "
        f"total duration {_duration(stats.seconds)} ({stats.seconds:.1f} s).",
        "",
        "Built by videokit with:",
        "",
        "```",
        info.command,
        "```",
        "",
    ]
    if formats:
        out += [f"Formats: {', '.join(formats)}. Every clip's SHA-256 and origin: `{MANIFEST}`.", ""]
    else:
        out += [f"Every clip's SHA-256 and origin: `{MANIFEST}`.", ""]
    out += ["## Clips per class and split", ""]
    if not stats.clips:
        splits = [DEFAULT_SPLIT]
    out += ["| class | " + " | ".join(_cell(s) for s in splits) + " | total |"]
    out += ["|---|" + "---:|" * (len(splits) + 1)]
    for c in classes:
        counts = stats.per_class[c]
        out += [f"| {_cell(c)} | " + " | ".join(str(counts[s]) for s in splits) + f" | {sum(counts.values())} |"]
    out += ["| **clips** | " + " | ".join(str(stats.per_split[s]) for s in splits) + f" | {stats.clips} |", ""]
    out += ["A clip with several labels counts once in each of its classes; the last row counts clips.", ""]
    out += ["## Licenses", "", "| license | source videos | clips | duration |", "|---|---:|---:|---:|"]
    for lic in sorted(stats.license_clips, key=lambda k: (-stats.license_clips[k], k)):
        out += [
            f"| {_cell(lic)} | {len(stats.license_videos[lic])} | {stats.license_clips[lic]} | "
            f"{_duration(stats.license_seconds[lic])} |"
        ]
    out += ["", "## Charts", "", f"![Clips per class]({CLASS_CHART})", "", f"![Clip lengths]({LENGTH_CHART})", ""]
    if info.options:
        out += ["## Options", "", "| option | value |", "|---|---|"]
        for key in sorted(info.options):
            out += [f"| {_cell(key)} | {_cell(json.dumps(info.options[key], ensure_ascii=False, default=str))} |"]
        out += [""]
    return "\n".join(out)


def _chart_text(text: str, limit: int = 40) -> str:
    """A label as matplotlib shows it literally (``$`` would start mathtext)."""
    text = " ".join(text.split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("$", r"\$")


def _save(fig: Any, final: Path) -> None:
    with atomic_path(final) as tmp, open(tmp, "wb") as fh, warnings.catch_warnings():
        # a label in a script the bundled font lacks (CJK...) is drawn as boxes; the card's table has it
        warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
        fig.savefig(fh, format="png", dpi=100, metadata={"Software": None})


def class_chart(stats: CardStats, final: Path) -> None:
    """Horizontal bars, one per class (the largest :data:`MAX_CHART_CLASSES`), stacked by split."""
    figure = require("matplotlib.figure", "the dataset card's charts")
    ranked = sorted(stats.per_class, key=lambda c: (-sum(stats.per_class[c].values()), c))
    shown = ranked[:MAX_CHART_CLASSES][::-1]  # largest on top
    fig = figure.Figure(figsize=(8, max(2.5, 0.3 * len(shown) + 1.5)), layout="constrained")
    ax = fig.add_subplot()
    left = [0] * len(shown)
    for split in stats.splits():
        counts = [stats.per_class[c][split] for c in shown]
        ax.barh(range(len(shown)), counts, left=left, label=_chart_text(split))
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.set_yticks(range(len(shown)), [_chart_text(c) for c in shown])
    ax.set_xlabel("clips")
    ax.xaxis.set_major_locator(require("matplotlib.ticker", "the dataset card's charts").MaxNLocator(integer=True))
    title = (
        "Clips per class" if len(ranked) <= len(shown) else f"Clips per class ({len(shown)} largest of {len(ranked)})"
    )
    ax.set_title(title)
    if shown:
        ax.legend(title="split", loc="lower right")
    _save(fig, final)


def length_chart(stats: CardStats, final: Path) -> None:
    """A histogram of clip lengths in seconds."""
    figure = require("matplotlib.figure", "the dataset card's charts")
    fig = figure.Figure(figsize=(8, 4), layout="constrained")
    ax = fig.add_subplot()
    if stats.lengths:
        bins = min(40, max(5, int(math.sqrt(len(stats.lengths)))))
        ax.hist(stats.lengths, bins=bins, color="#4c72b0", edgecolor="white")
    ax.set_xlabel("clip length (s)")
    ax.set_ylabel("clips")
    ax.yaxis.set_major_locator(require("matplotlib.ticker", "the dataset card's charts").MaxNLocator(integer=True))
    ax.set_title(f"Clip lengths ({stats.clips} clips)")
    _save(fig, final)


def write_card(
    clips: Iterable[Clip],
    records: Mapping[str, Record],
    out: Path,
    info: DatasetInfo,
    formats: Sequence[str] = (),
) -> list[str]:
    """``OUT/README.md`` and its two charts; returns the files written, relative to ``out``."""
    stats = CardStats(clips, records)
    class_chart(stats, out / CLASS_CHART)
    length_chart(stats, out / LENGTH_CHART)
    write_text(out / CARD, card_text(stats, info, out.resolve().name or "dataset", formats))
    return [CARD, CLASS_CHART, LENGTH_CHART]
