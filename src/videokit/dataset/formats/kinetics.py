"""``kinetics``: the Kinetics release layout.

One CSV per split, ``OUT/<split>.csv``, with the columns ``label,youtube_id,time_start,time_end,split``
(one row per clip), and the clips at ``OUT/<split>/<label>/<id>_<start>_<end>.mp4``,
``<start>``/``<end>`` whole seconds written ``%06d`` (the start rounded down, the end up) and
``<id>`` the YouTube id when the video has one, else the first 12 characters of its content
id. The CSV's id and times are read back from each clip's file name, so a reader building the
name from a row finds the file; the exact spans are in the other formats and the manifest.
Kinetics is single-label: a clip with several labels is listed, and lies, under its first
(the folder format's ``metadata.csv``, ``mmaction`` and ``parquet`` keep them all).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from videokit.dataset.formats.base import (
    DatasetFormat,
    DatasetInfo,
    atomic_path,
    clips_by_split,
    labels_of,
    safe_name,
    split_of,
    youtube_id,
)
from videokit.dataset.model import Clip, ClipPlan
from videokit.record import Record

COLUMNS = ["label", "youtube_id", "time_start", "time_end", "split"]
_NAME = re.compile(r"^(?P<id>.+)_(?P<start>\d{6,})_(?P<end>\d{6,})(?:-\d+)?\.mp4$")


def span(plan: ClipPlan) -> tuple[int, int]:
    """Whole seconds covering the clip: start rounded down, end rounded up."""
    start = math.floor(plan.start + 1e-6)
    return start, max(math.ceil(plan.end - 1e-6), start + 1)


class KineticsFormat(DatasetFormat):
    """Per-split ``label,youtube_id,time_start,time_end,split`` CSV files."""

    name = "kinetics"

    def layout(self, plan: ClipPlan, record: Record | None = None) -> str:
        start, end = span(plan)
        vid = youtube_id(record) or plan.video_id[:12]
        return f"{safe_name(split_of(plan))}/{safe_name(labels_of(plan)[0])}/{safe_name(vid)}_{start:06d}_{end:06d}.mp4"

    def write(self, clips: list[Clip], records: Mapping[str, Record], out: Path, info: DatasetInfo) -> list[str]:
        by_split = clips_by_split(clips)
        written = []
        for split in sorted(by_split):
            name = f"{safe_name(split)}.csv"
            with atomic_path(out / name) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(COLUMNS)
                for clip in by_split[split]:
                    vid, start, end = self._name_parts(clip, records.get(clip.plan.video_id))
                    w.writerow([labels_of(clip.plan)[0], vid, start, end, split])
            written.append(name)
        return written

    def _name_parts(self, clip: Clip, record: Record | None) -> tuple[str, int, int]:
        m = _NAME.match(PurePosixPath(clip.path).name)
        if m:
            return m["id"], int(m["start"]), int(m["end"])
        start, end = span(clip.plan)
        return youtube_id(record) or clip.plan.video_id[:12], start, end
