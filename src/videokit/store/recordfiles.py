"""``processed/<id>/record.json``: each stored record also kept as a file beside its pictures.

The SQLite store writes the file before every upsert and removes it on delete, so the files
always hold at least what the database holds; ``videokit rebuild`` recreates a damaged or
lost ``library.sqlite`` from them. Each file is written under a temporary name and renamed
into place (never half-written); the temporary name carries the writer's process id, so a
killed writer's leftover is removed by the next run (:mod:`videokit.tempfiles`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from videokit.record import Record
from videokit.tempfiles import temp_path

RECORD_FILE = "record.json"


def record_file(records_dir: Path, id: str) -> Path:
    return records_dir / id / RECORD_FILE


def write_record_file(records_dir: Path, record: Record) -> Path:
    """Write ``processed/<id>/record.json`` atomically (the temporary file sits in ``records_dir``,
    where the run-start clean-up looks for leftovers). OSError when it cannot be written."""
    if not record.id:
        raise ValueError("cannot keep a record without a content id")
    final = record_file(records_dir, record.id)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(records_dir / f"{record.id}.{RECORD_FILE}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(record.to_json(indent=2))
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def remove_record_file(records_dir: Path, id: str) -> None:
    record_file(records_dir, id).unlink(missing_ok=True)


@dataclass(slots=True)
class RecordFile:
    """One ``record.json``: its record, or why it cannot be read."""

    path: Path
    record: Record | None
    error: str | None = None


def iter_record_files(records_dir: Path) -> Iterator[RecordFile]:
    """Every ``<records_dir>/*/record.json``, in name order; unreadable ones say why."""
    try:
        folders = sorted(e.name for e in os.scandir(records_dir) if e.is_dir() and not e.name.startswith("."))
    except FileNotFoundError:
        return
    for name in folders:
        path = records_dir / name / RECORD_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as e:
            yield RecordFile(path, None, f"cannot read: {e}")
            continue
        try:
            record = Record.from_json(text)
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            yield RecordFile(path, None, f"not a record: {type(e).__name__}: {e}")
            continue
        if not record.id:
            yield RecordFile(path, None, "not a record: no content id")
            continue
        yield RecordFile(path, record)
