"""Storing a record when other runs may have stored the same content meanwhile.

Two inputs with the same bytes (one video at two URLs) can be processed at the same time by
different workers; each identified itself before the other was stored. Just before the upsert
the sources of the stored record are merged back in, so no source is lost and no record is
duplicated (the store is keyed by content id).
"""

from __future__ import annotations

from videokit.record import Record
from videokit.store.base import Store


def merge_stored(record: Record, store: Store) -> Record:
    """Fold the sources (and first-seen time) of the stored record with ``record.id`` into ``record``."""
    if not record.id:
        return record
    existing = store.get(record.id)
    if existing is None:
        return record
    mine = {s.input: s for s in record.sources}
    merged = [mine.pop(s.input, s) for s in existing.sources]
    merged += [s for s in record.sources if s.input in mine]
    record.sources = merged
    record.added_at = min(existing.added_at, record.added_at)
    return record
