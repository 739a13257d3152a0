"""Storing a record when other runs may have stored the same content meanwhile.

Two inputs with the same bytes (one video at two URLs) can be processed at the same time by
different workers; each identified itself before the other was stored. Just before the upsert
the sources of the stored record are merged back in, so no source is lost and no record is
duplicated (the store is keyed by content id). Tags a user put on the stored copy are kept too.
"""

from __future__ import annotations

from collections.abc import Callable

from videokit.record import Record
from videokit.store.base import Store
from videokit.tagging.user import carry_user_tags


def merge_stored(record: Record, store: Store, retag: Callable[[Record], None] | None = None) -> Record:
    """Fold the sources, first-seen time and user tags of the stored record with ``record.id``
    into ``record``; ``retag`` (tags and category again) runs when user tags were carried over."""
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
    if carry_user_tags(record, existing) and retag is not None:
        retag(record)
    return record
