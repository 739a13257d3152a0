"""``parquet``: one row per clip in ``OUT/clips.parquet``, clips at ``OUT/<split>/<key>.mp4``.

A row holds the clip's path (relative to ``OUT``) and SHA-256, its labels and split, the
planned and real span, caption, tags with their provenance, technical metadata, and for
dataset compliance the source URL, page URL, uploader, license and upload date
(:func:`~videokit.dataset.formats.base.clip_metadata`). Rows are written in key order, in row
groups of :data:`ROW_GROUP` clips, so memory stays flat in the number of clips.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from videokit.dataset.formats.base import (
    DatasetFormat,
    DatasetInfo,
    atomic_path,
    clip_metadata,
    require,
    safe_name,
    sorted_clips,
    split_of,
)
from videokit.dataset.model import Clip, ClipPlan
from videokit.record import Record

FILE = "clips.parquet"
ROW_GROUP = 1000


def schema(pa: Any) -> Any:
    """The Parquet schema (explicit, so a column that is empty in one build has the same type)."""
    tag = pa.struct(
        [
            ("name", pa.string()),
            ("origin", pa.string()),
            ("confidence", pa.float64()),
            ("condition", pa.string()),
        ]
    )
    return pa.schema(
        [
            ("key", pa.string()),
            ("path", pa.string()),
            ("sha256", pa.string()),
            ("video_id", pa.string()),
            ("kind", pa.string()),
            ("index", pa.int32()),
            ("label", pa.string()),
            ("labels", pa.list_(pa.string())),
            ("split", pa.string()),
            ("start", pa.float64()),
            ("end", pa.float64()),
            ("real_start", pa.float64()),
            ("real_end", pa.float64()),
            ("duration", pa.float64()),
            ("frames", pa.int64()),
            ("size", pa.int64()),
            ("caption", pa.string()),
            ("tags", pa.list_(tag)),
            ("category", pa.string()),
            ("width", pa.int32()),
            ("height", pa.int32()),
            ("fps", pa.float64()),
            ("video_codec", pa.string()),
            ("audio_codec", pa.string()),
            ("container", pa.string()),
            ("bit_rate", pa.int64()),
            ("source_url", pa.string()),
            ("page_url", pa.string()),
            ("title", pa.string()),
            ("uploader", pa.string()),
            ("license", pa.string()),
            ("upload_date", pa.string()),
            ("youtube_id", pa.string()),
        ]
    )


class ParquetFormat(DatasetFormat):
    """A Parquet table of the clips and everything known about them."""

    name = "parquet"

    def layout(self, plan: ClipPlan, record: Record | None = None) -> str:
        return f"{safe_name(split_of(plan))}/{plan.key}.mp4"

    def write(self, clips: list[Clip], records: Mapping[str, Record], out: Path, info: DatasetInfo) -> list[str]:
        pa = require("pyarrow", "the parquet format")
        pq = require("pyarrow.parquet", "the parquet format")
        table_schema = schema(pa)
        names = table_schema.names
        with atomic_path(out / FILE) as tmp:
            writer = pq.ParquetWriter(str(tmp), table_schema)
            try:
                rows: list[dict[str, Any]] = []
                for clip in sorted_clips(clips):
                    row = clip_metadata(clip, records.get(clip.plan.video_id), out)
                    rows.append({k: row[k] for k in names})
                    if len(rows) >= ROW_GROUP:
                        writer.write_table(pa.Table.from_pylist(rows, schema=table_schema))
                        rows = []
                if rows or not clips:
                    writer.write_table(pa.Table.from_pylist(rows, schema=table_schema))
            finally:
                writer.close()
        return [FILE]
