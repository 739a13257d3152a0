"""Exporters: json (one file per video plus an index), jsonl, csv. Registered by name (entry points).

Every file is written under a temporary name owned by this process and renamed into place
when whole; a failure part-way (a damaged library, a full disk) removes it, and the leftovers
of a killed export are removed by the next export to the same place (:mod:`videokit.tempfiles`).
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from videokit.record import Record
from videokit.registry import Registry, registry
from videokit.tempfiles import remove_stale, temp_path

# An exporter is ``(records, out) -> count``; built-ins and plug-ins register as entry points
# (group ``videokit.exporters``) and are chosen by ``videokit export --format NAME``.
exporters: Registry[Callable[[Iterable[Record], Path], int]] = registry("exporters")

CSV_COLUMNS = [
    "id",
    "title",
    "sources",
    "file",
    "duration",
    "width",
    "height",
    "resolution",
    "fps",
    "video_codec",
    "audio_codec",
    "audio_channels",
    "bit_rate",
    "scene_count",
    "cuts_per_minute",
    "category",
    "category_confidence",
    "tags",
    "description",
    "sentiment",
    "user_fields",
    "added_at",
]


@contextmanager
def atomic_file(out: Path, newline: str | None = None, *, sweep: bool = True) -> Iterator[IO[str]]:
    """A text file that appears at ``out`` whole, or not at all (its temporary file is removed
    on any failure); with ``sweep``, stale temporary files of killed exports to ``out`` are
    removed first."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if sweep:
        remove_stale(out.parent, out.name)
    tmp = temp_path(out)
    try:
        with open(tmp, "w", encoding="utf-8", newline=newline) as fh:
            yield fh
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _slug(text: str, max_len: int = 60) -> str:
    s = re.sub(r"[^\w\-]+", "_", text, flags=re.UNICODE).strip("_.")
    return (s[:max_len] or "video").rstrip("_")


def export_json(records: Iterable[Record], out: Path) -> int:
    """One ``<title>_<id8>.json`` per video, as in the original design, plus ``index.json``."""
    out.mkdir(parents=True, exist_ok=True)
    remove_stale(out)  # every killed export's leftovers in the folder, once
    index = []
    for r in records:
        name = f"{_slug(r.title)}_{(r.id or '')[:8]}.json"
        with atomic_file(out / name, sweep=False) as fh:
            fh.write(r.to_json(indent=2))
        index.append(
            {
                "id": r.id,
                "title": r.title,
                "file": name,
                "tags": r.tag_names(),
                "category": r.classification.category if r.classification else None,
            }
        )
    with atomic_file(out / "index.json", sweep=False) as fh:
        fh.write(json.dumps(index, indent=2, ensure_ascii=False))
    return len(index)


def export_jsonl(records: Iterable[Record], out: Path) -> int:
    n = 0
    with atomic_file(out) as fh:
        for r in records:
            fh.write(r.to_json() + "\n")
            n += 1
    return n


def csv_row(r: Record) -> dict[str, object]:
    m, sc, a, c = r.media, r.scenes, r.analysis, r.classification
    return {
        "id": r.id,
        "title": r.title,
        "sources": " | ".join(s.url or s.path or s.input for s in r.sources),
        "file": r.file.path if r.file else None,
        "duration": m and m.duration,
        "width": m and m.width,
        "height": m and m.height,
        "resolution": m and m.resolution,
        "fps": m and m.fps,
        "video_codec": m and m.video_codec,
        "audio_codec": m and m.audio_codec,
        "audio_channels": m and m.audio_channels,
        "bit_rate": m and m.bit_rate,
        "scene_count": sc and sc.scene_count,
        "cuts_per_minute": sc and sc.cuts_per_minute,
        "category": c and c.category,
        "category_confidence": c and c.confidence,
        "tags": "; ".join(r.tag_names()),
        "description": a and a.description,
        "sentiment": a and a.sentiment and a.sentiment.label,
        "user_fields": json.dumps(r.user_fields, ensure_ascii=False) if r.user_fields else "",
        "added_at": r.added_at,
    }


def export_csv(records: Iterable[Record], out: Path) -> int:
    n = 0
    with atomic_file(out, newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for r in records:
            w.writerow({k: ("" if v is None else v) for k, v in csv_row(r).items()})
            n += 1
    return n
