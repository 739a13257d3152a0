"""``mmaction``: MMAction2's video annotation lists.

``OUT/<split>_list_videos.txt`` holds one line per clip, ``<path> <label index>...`` (the path
relative to ``OUT``, the ``data_prefix``; several indices for a multi-label clip, to be read
with ``multi_class=True``), and ``OUT/label_map.txt`` the class names, one per line, the line
number being the index. Clips lie at ``OUT/<split>/<key>.mp4``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from videokit.dataset.formats.base import (
    DatasetFormat,
    DatasetInfo,
    class_list,
    labels_of,
    safe_name,
    sorted_clips,
    split_of,
    write_text,
)
from videokit.dataset.model import Clip, ClipPlan
from videokit.record import Record

LABEL_MAP = "label_map.txt"


def list_name(split: str) -> str:
    """The annotation list of ``split``."""
    return f"{_token(split)}_list_videos.txt"


def _token(text: str) -> str:
    """A name without whitespace (list lines are split on whitespace)."""
    return "_".join(safe_name(text).split())


class MMActionFormat(DatasetFormat):
    """Per-split ``path index...`` lists plus the class index file."""

    name = "mmaction"

    def layout(self, plan: ClipPlan, record: Record | None = None) -> str:
        return f"{_token(split_of(plan))}/{plan.key}.mp4"

    def write(self, clips: list[Clip], records: Mapping[str, Record], out: Path, info: DatasetInfo) -> list[str]:
        classes = class_list(info, clips)
        index = {c: i for i, c in enumerate(classes)}
        by_split: dict[str, list[str]] = defaultdict(list)
        for clip in sorted_clips(clips):
            if any(ch.isspace() for ch in clip.path):
                raise ValueError(f"mmaction list paths cannot hold whitespace: {clip.path!r}")
            indices = sorted({index[label] for label in labels_of(clip.plan)})
            by_split[split_of(clip.plan)].append(" ".join([clip.path, *map(str, indices)]))
        write_text(out / LABEL_MAP, "".join(" ".join(c.split()) + "\n" for c in classes))
        written = [LABEL_MAP]
        for split in sorted(by_split):
            name = list_name(split)
            write_text(out / name, "".join(line + "\n" for line in by_split[split]))
            written.append(name)
        return written
