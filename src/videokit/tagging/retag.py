"""Re-applying rules and classification to stored records, without re-downloading or re-analysing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from videokit.record import utcnow
from videokit.store.base import Query, Store
from videokit.tagging.engine import Tagger


@dataclass(slots=True)
class RetagReport:
    """How many records a retag checked and changed, and the tags it added and removed."""

    records: int = 0  # looked at
    changed: int = 0  # written back
    tags_added: int = 0
    tags_removed: int = 0

    def summary(self) -> str:
        return (
            f"retagged {self.changed} records: {self.tags_added} tags added, {self.tags_removed} removed "
            f"({self.records} checked)"
        )


def retag(
    store: Store,
    tagger: Tagger,
    query: Query | None = None,
    *,
    dry_run: bool = False,
    batch: int = 200,
    on_record: Callable[[int], None] | None = None,
) -> RetagReport:
    """Apply ``tagger`` to every record matching ``query``; upsert the ones that changed.

    The matching ids are collected first, so records whose tags change (and so move in or out
    of a tag filter, or up in an ``updated`` ordering) are neither skipped nor seen twice.
    """
    q = query or Query()
    ids = [r.id for r in store.iter_records(q) if r.id]
    report = RetagReport()
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        for record in store.search(Query(ids=chunk, limit=len(chunk))):
            change = tagger.apply(record)
            report.records += 1
            report.tags_added += change.added
            report.tags_removed += change.removed
            if change.changed:
                report.changed += 1
                if not dry_run:
                    record.updated_at = utcnow()
                    store.upsert(record)
            if on_record is not None:
                on_record(report.records)
    return report
