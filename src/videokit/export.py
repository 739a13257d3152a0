"""Exporters: json (one file per video plus an index), jsonl, csv. Registered by name (entry points)."""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from videokit.record import Record
from videokit.registry import Registry, registry

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


def _slug(text: str, max_len: int = 60) -> str:
    s = re.sub(r"[^\w\-]+", "_", text, flags=re.UNICODE).strip("_.")
    return (s[:max_len] or "video").rstrip("_")


def export_json(records: Iterable[Record], out: Path) -> int:
    """One ``<title>_<id8>.json`` per video, as in the original design, plus ``index.json``."""
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for r in records:
        name = f"{_slug(r.title)}_{(r.id or '')[:8]}.json"
        tmp = out / f".{name}.tmp"
        tmp.write_text(r.to_json(indent=2), encoding="utf-8")
        os.replace(tmp, out / name)
        index.append(
            {
                "id": r.id,
                "title": r.title,
                "file": name,
                "tags": r.tag_names(),
                "category": r.classification.category if r.classification else None,
            }
        )
    tmp = out / ".index.json.tmp"
    tmp.write_text(json.dumps(index, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, out / "index.json")
    return len(index)


def export_jsonl(records: Iterable[Record], out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    n = 0
    with open(tmp, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(r.to_json() + "\n")
            n += 1
    os.replace(tmp, out)
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
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    n = 0
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for r in records:
            w.writerow({k: ("" if v is None else v) for k, v in csv_row(r).items()})
            n += 1
    os.replace(tmp, out)
    return n
