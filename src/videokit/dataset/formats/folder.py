"""``folder``: ``OUT/<split>/<label>/<clip>.mp4`` plus ``OUT/<split>/metadata.csv``.

The layout of torchvision's ``Kinetics``/``DatasetFolder`` (one folder per class) and of the
Hugging Face ``videofolder`` builder, whose ``metadata.csv`` per split folder links each video
by its ``file_name`` (relative to that folder) to its metadata. A clip with several labels lies
in its first label's folder; ``labels`` lists them all (a JSON array). Folder names are
:func:`~videokit.dataset.formats.base.safe_name` of the label; the ``label`` column keeps the
label as it was given.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path

from videokit.dataset.formats.base import (
    DatasetFormat,
    DatasetInfo,
    atomic_path,
    clip_metadata,
    clips_by_split,
    labels_of,
    relative,
    safe_name,
    split_of,
)
from videokit.dataset.model import Clip, ClipPlan
from videokit.record import Record

COLUMNS = [
    "file_name",
    "label",
    "labels",
    "split",
    "key",
    "video_id",
    "start",
    "end",
    "real_start",
    "real_end",
    "duration",
    "frames",
    "sha256",
    "caption",
    "source_url",
    "page_url",
    "uploader",
    "license",
    "upload_date",
]


class FolderFormat(DatasetFormat):
    """One folder per split and class, and a ``metadata.csv`` per split."""

    name = "folder"

    def layout(self, plan: ClipPlan, record: Record | None = None) -> str:
        return f"{safe_name(split_of(plan))}/{safe_name(labels_of(plan)[0])}/{plan.key}.mp4"

    def write(self, clips: list[Clip], records: Mapping[str, Record], out: Path, info: DatasetInfo) -> list[str]:
        by_split = clips_by_split(clips)
        written = []
        for split in sorted(by_split):
            folder = safe_name(split)
            target = out / folder / "metadata.csv"
            with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
                w.writeheader()
                for clip in by_split[split]:
                    row = clip_metadata(clip, records.get(clip.plan.video_id))
                    row["file_name"] = relative(clip.path, folder)
                    row["labels"] = json.dumps(row["labels"], ensure_ascii=False)
                    w.writerow({k: "" if row[k] is None else row[k] for k in COLUMNS})
            written.append(f"{folder}/metadata.csv")
        return written
