"""``videokit reindex``: transcripts and embeddings for the videos already in a library.

The stages are those a run would use, found in the stage registry by name (``transcribe``,
``embed``) and built from the settings, so whatever transcription stage is registered runs here.
Records are read in batches; a record already up to date (its transcript made with the configured
model and settings, its embeddings made with the configured model from its passages as they are
now) is skipped, so a killed reindex resumes where it stopped: each record is saved through the
store's upsert as soon as its batch is done. ``force`` redoes everything. Changing ``[Embeddings]
Model`` changes the model id, so every record is embedded again.

A record whose video file is missing (moved, deleted) cannot be transcribed: the report says so
in one line and the record keeps what it had (its embeddings are still brought up to date).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from videokit.errors import UsageError
from videokit.pipeline import Context, Pipeline, Stage, stages
from videokit.record import Record
from videokit.store.base import Query, Store

if TYPE_CHECKING:
    from videokit.config import Config

log = logging.getLogger(__name__)

TRANSCRIBE = "transcribe"
EMBED = "embed"


@dataclass(slots=True)
class ReindexReport:
    """What a reindex did. ``failures``: one line per failed stage of a record (``id: stage: why``);
    ``notes``: the parts that did not run and why (a stage turned off in the settings)."""

    records: int = 0  # looked at
    transcribed: int = 0
    embedded: int = 0
    skipped: int = 0  # already up to date
    failed: int = 0  # records with at least one failure
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"reindexed {self.records} videos: {self.transcribed} transcribed, {self.embedded} embedded, "
            f"{self.skipped} already up to date, {self.failed} failed"
        )


@dataclass(slots=True)
class ReindexPlan:
    """The stages a reindex runs (None: that part does not run) and why a part was left out."""

    transcribe: Stage | None = None
    embed: Stage | None = None
    notes: list[str] = field(default_factory=list)
    _pipelines: dict[str, Pipeline] = field(default_factory=dict, repr=False)

    def pipeline(self, stage: Stage) -> Pipeline:
        """A one-stage pipeline of ``stage`` (set up once)."""
        if stage.name not in self._pipelines:
            self._pipelines[stage.name] = Pipeline([stage])
        return self._pipelines[stage.name]

    def close(self) -> None:
        for pipe in self._pipelines.values():
            pipe.close()


def plan(config: Config, *, transcripts: bool = True, embeddings: bool = True) -> ReindexPlan:
    """Build the stages (ConfigError for bad settings, before any work). A part asked for alone
    that the settings turn off is a UsageError; asked for with the other, it is left out with a note."""
    if not transcripts and not embeddings:
        raise UsageError("nothing to reindex: ask for transcripts, embeddings or both")
    out = ReindexPlan()
    wanted = [(TRANSCRIBE, transcripts, "Transcription"), (EMBED, embeddings, "Embeddings")]
    for name, asked, section in wanted:
        if not asked:
            continue
        stage = _build(config, name)
        if stage is None:
            if name not in stages.names():
                why = f"{name}: no '{name}' stage is registered"
            elif not config.get(section, "Enabled"):
                why = f"{name}: turned off ([{section}] Enabled = false)"
            else:
                why = f"{name}: the search extra is missing: pip install 'videokit[search]'"
            out.notes.append(why)
        setattr(out, name, stage)
    if out.transcribe is None and out.embed is None:
        raise UsageError(f"nothing to reindex: {'; '.join(out.notes)}")
    return out


def _build(config: Config, name: str) -> Stage | None:
    if name not in stages.names():
        return None
    return stages.get(name).from_config(config)


def reindex(
    store: Store,
    config: Config,
    query: Query | None = None,
    *,
    transcripts: bool = True,
    embeddings: bool = True,
    force: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    batch: int = 16,
    work: ReindexPlan | None = None,
) -> ReindexReport:
    """Bring the transcripts and embeddings of the records matching ``query`` up to date.

    ``on_progress(done, total)`` is called after each record. ``work``: stages built beforehand
    by :func:`plan` (default: built here from ``config``)."""
    work = work or plan(config, transcripts=transcripts, embeddings=embeddings)
    q = query or Query()
    if q.text and q.mode is None:
        q = replace(q, mode="text")  # a word filter: no query vector needed to choose the videos
    ids = [r.id for r in store.iter_records(q) if r.id]  # collected first: saved records do not move
    report = ReindexReport(notes=list(work.notes))
    ctx = Context(config=config, store=store)
    size = max(1, batch)
    try:
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            records = store.search(Query(ids=chunk, limit=len(chunk)))
            changed = _reindex_batch(records, work, ctx, force, report)
            for record in records:
                if record.id in changed:
                    store.upsert(record)
                report.records += 1
                if on_progress is not None:
                    on_progress(report.records, len(ids))
    finally:
        work.close()
    return report


def _reindex_batch(
    records: list[Record], work: ReindexPlan, ctx: Context, force: bool, report: ReindexReport
) -> set[str | None]:
    """Run the stages on the records that need them; the ids of the records that changed."""
    changed: set[str | None] = set()
    failed: set[str | None] = set()

    def fail(record: Record, stage: str, why: str) -> None:
        report.failures.append(f"{(record.id or '?')[:12]} ({record.title}): {stage}: {why}")
        failed.add(record.id)

    if work.transcribe is not None:
        todo = []
        for record in records:
            if not force and (work.transcribe.done(record) or _nothing_to_hear(record)):
                continue
            missing = _missing_file(record, ctx)
            if missing is not None:
                fail(record, TRANSCRIBE, missing)
            else:
                todo.append(record)
        for record, err in _run(work, work.transcribe, todo, ctx, force, "transcript"):
            if err is None:
                report.transcribed += 1
            else:
                fail(record, TRANSCRIBE, err)
            changed.add(record.id)
    if work.embed is not None:
        todo = [r for r in records if force or not work.embed.done(r)]
        for record, err in _run(work, work.embed, todo, ctx, force, "embeddings"):
            if err is None:
                report.embedded += 1
            else:
                fail(record, EMBED, err)
            changed.add(record.id)
    report.failed += len(failed)
    report.skipped += sum(1 for r in records if r.id not in changed and r.id not in failed)
    return changed


def _run(
    work: ReindexPlan, stage: Stage, records: list[Record], ctx: Context, force: bool, attr: str
) -> list[tuple[Record, str | None]]:
    """Run ``stage`` on ``records`` as a run would (its errors recorded on the record, a full disk
    stops everything); with ``force`` the stage's earlier result is cleared first and put back
    when the stage fails. (record, one-line error or None) for each."""
    pipe = work.pipeline(stage)
    records = [r for r in records if not pipe.blocked(r)]  # an input that never was a video
    if not records:
        return []
    before = {id(r): getattr(r, attr) for r in records}
    if force:
        for r in records:
            setattr(r, attr, None)
    pipe.process_batch(records, ctx)
    out = []
    for r in records:
        err = next((e.message for e in r.errors if e.stage == stage.name), None)
        if err is not None and getattr(r, attr) is None:
            setattr(r, attr, before[id(r)])
        out.append((r, err))
    return out


def _nothing_to_hear(record: Record) -> bool:
    """A video known to have no audio stream has no transcript to make."""
    return record.media is not None and not record.media.has_audio


def _missing_file(record: Record, ctx: Context) -> str | None:
    stored = record.file.path if record.file else next((s.path for s in record.sources if s.path), None)
    if not stored:
        return "the record has no video file to transcribe"
    path = ctx.abspath(stored)
    if not Path(path).is_file():
        return f"{path}: video file is missing (moved or deleted); add it again with 'videokit run NEW_PATH'"
    return None
