"""The local batch runner: every input through the pipeline, via the job ledger.

Each input goes through four phases: **fetch** (download or hash: I/O), **identify** (look the
content up in the store), **compute** (probe, scenes, analysis, tags: CPU), **store**. After
fetch and after compute the record is saved in the ledger, so a killed run resumes there; an
input already done with the same settings is not processed again.

With ``workers > 1`` downloads run in a thread pool and the compute phase in a pool of
``workers`` processes, each with the pipeline set up once (a model loads once per process),
so downloads overlap with decoding. The parent process is the only writer of the store and the
ledger: SQLite allows one writer at a time anyway, a single writer needs no retry-on-lock
logic, and it merges sources of the same content found by two workers at once (see
:mod:`videokit.batch.merge`) without a race.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videokit.batch import procs
from videokit.batch.merge import merge_stored
from videokit.batch.settings import settings_hash
from videokit.config import Config
from videokit.inputs import InputItem
from videokit.ledger import Ledger
from videokit.pipeline import Context, Pipeline
from videokit.record import Record, StageError
from videokit.stages import new_record
from videokit.store import open_store

log = logging.getLogger(__name__)

PARENT_STAGES = {"fetch", "identify", "store"}


@dataclass
class _Task:
    index: int
    item: InputItem
    partial: Record | None  # where a killed run left this input
    crashes: int = 0
    record: Record | None = None


class BatchRunner:
    """Runs input items into the library through the ledger. Use :func:`run_items`."""

    def __init__(
        self,
        config: Config,
        *,
        skip: Iterable[str] = (),
        on_record: Callable[[Record], None] | None = None,
        on_progress: Callable[[str, int, int | None], None] | None = None,
        extras: dict[str, Any] | None = None,
    ) -> None:
        from videokit.api import build_pipeline

        self.config = config
        self.skip = set(skip)
        self.on_record = on_record
        self.full = build_pipeline(config, self.skip)
        self.cpu_names = [s.name for s in self.full.stages if s.name not in PARENT_STAGES]
        self.parent = Pipeline(s for s in self.full.stages if s.name in PARENT_STAGES)
        self.required = {s.name for s in self.full.stages if s.required} | {"input", "worker"}
        self.hash = settings_hash(config, self.skip)
        self.refresh = bool((extras or {}).get("refresh"))
        self.max_attempts = int(config.get("Celery", "MaxAttempts"))
        self.ledger = Ledger.open(config)
        self.store = open_store(config)
        self.ctx = Context(config=config, store=self.store, on_progress=on_progress, extras=dict(extras or {}))
        self.results: list[Record | None] = []

    # -- entry -------------------------------------------------------------------------
    def run(self, items: list[InputItem], workers: int = 1) -> list[Record]:
        self.results = [None] * len(items)
        todo = [t for t in (self._plan(i, item) for i, item in enumerate(items)) if t is not None]
        try:
            if workers <= 1 or len(todo) <= 1:
                self._sequential(todo)
            else:
                self._parallel(todo, workers)
        finally:
            self.full.close()
            self.store.close()
            self.ledger.close()
        return [r for r in self.results if r is not None]

    def _plan(self, index: int, item: InputItem) -> _Task | None:
        """None when the input needs no work (done before with the same settings, or unusable)."""
        if item.error:
            rec = new_record(item.spec, item.kind, item.user_fields)
            rec.errors.append(StageError("input", item.error))
            self.ledger.add(item, self.hash)
            self.ledger.finish(item.spec, rec)
            self._emit(index, rec)
            return None
        job = self.ledger.get(item.spec)
        if job and job.status == "done" and job.settings_hash == self.hash and job.record_id and not self.refresh:
            rec = self.store.get(job.record_id)
            if rec is not None and any(s.input == item.spec for s in rec.sources):
                self._emit(index, rec)
                return None
        job = self.ledger.add(item, self.hash)
        return _Task(index, item, job.partial)

    # -- phases ------------------------------------------------------------------------
    def _begin(self, task: _Task) -> Record:
        self.ledger.start(task.item.spec)
        rec = task.partial
        if rec is None or not self._fetched(rec):
            rec = new_record(task.item.spec, task.item.kind, task.item.user_fields)
        task.record = rec
        return rec

    def _fetched(self, rec: Record) -> bool:
        """The record was fetched by an earlier run and its file is still there."""
        f = rec.file
        return (
            "fetch" in rec.timings
            and f is not None
            and Path(f.path).is_file()
            and Path(f.path).stat().st_size == f.size
        )

    def _computed(self, rec: Record) -> bool:
        return all(name in rec.timings for name in self.cpu_names)

    def _blocked(self, rec: Record) -> bool:
        return any(e.stage in self.required for e in rec.errors)

    def _fetch(self, rec: Record) -> Record:
        if not self._fetched(rec):
            self.parent.process(rec, self.ctx, only={"fetch"})
        return rec

    def _after_fetch(self, task: _Task) -> bool:
        """Save progress and identify; False when the input is finished (failed)."""
        rec = task.record
        assert rec is not None
        if self._blocked(rec):
            self._finish(task)
            return False
        self.ledger.save_partial(task.item.spec, rec)
        self.parent.process(rec, self.ctx, only={"identify"})
        if self._blocked(rec):
            self._finish(task)
            return False
        return True

    def _after_compute(self, task: _Task) -> None:
        rec = task.record
        assert rec is not None
        if not self._blocked(rec):
            self.ledger.save_partial(task.item.spec, rec)
            merge_stored(rec, self.store, self._retag)
            self.parent.process(rec, self.ctx, only={"store"})
        self._finish(task)

    def _retag(self, rec: Record) -> None:
        """Tags and category again, after user tags were carried over from the stored copy."""
        Pipeline(s for s in self.full.stages if s.name in ("tag", "classify")).process(rec, self.ctx)

    def _finish(self, task: _Task) -> None:
        assert task.record is not None
        self.ledger.finish(task.item.spec, task.record)
        self._emit(task.index, task.record)

    def _emit(self, index: int, rec: Record) -> None:
        self.results[index] = rec
        if self.on_record:
            self.on_record(rec)

    # -- sequential --------------------------------------------------------------------
    def _sequential(self, todo: list[_Task]) -> None:
        self.parent = self.full  # one process: every stage runs here, set up once
        self.full.setup(self.ctx)
        for task in todo:
            rec = self._begin(task)
            self._fetch(rec)
            if not self._after_fetch(task):
                continue
            if not self._computed(rec):
                self.full.process(rec, self.ctx, only=set(self.cpu_names))
            self._after_compute(task)

    # -- parallel ----------------------------------------------------------------------
    def _new_pool(self, workers: int) -> ProcessPoolExecutor:
        # spawn, not fork: the parent runs download threads, and forking a threaded process
        # can copy a held lock into the child.
        return ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=procs.init,
            initargs=(self.config, sorted(self.skip), self.cpu_names),
        )

    def _parallel(self, todo: list[_Task], workers: int) -> None:
        self.parent.setup(self.ctx)
        waiting: deque[_Task] = deque(todo)
        ready: deque[_Task] = deque()  # fetched and identified, waiting for a worker process
        fetching: dict[Future, _Task] = {}
        computing: dict[Future, _Task] = {}
        io = ThreadPoolExecutor(workers, thread_name_prefix="videokit-io")
        pool = self._new_pool(workers)
        try:
            while waiting or ready or fetching or computing:
                # Downloads run ahead of the workers, but not by more than one record each.
                while waiting and len(fetching) < workers and len(fetching) + len(ready) < 2 * workers:
                    task = waiting.popleft()
                    fetching[io.submit(self._fetch, self._begin(task))] = task
                while ready and len(computing) < workers:
                    task = ready.popleft()
                    if self._computed(task.record):  # type: ignore[arg-type]
                        self._after_compute(task)
                        continue
                    computing[pool.submit(procs.process, task.record)] = task
                if not fetching and not computing:
                    continue
                done, _ = wait([*fetching, *computing], return_when=FIRST_COMPLETED)
                broken: list[_Task] = []
                for fut in done:
                    if fut in fetching:
                        task = fetching.pop(fut)
                        fut.result()  # fetch errors are on the record; anything else is a bug
                        if self._after_fetch(task):
                            ready.append(task)
                        continue
                    task = computing.pop(fut)
                    try:
                        task.record = fut.result()
                    except BrokenProcessPool:
                        broken.append(task)
                        continue
                    self._after_compute(task)
                if broken:
                    broken += list(computing.values())
                    computing.clear()
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = self._new_pool(workers)
                    for task in broken:
                        self._crashed(task, ready)
        finally:
            io.shutdown(wait=True, cancel_futures=True)
            pool.shutdown(wait=True, cancel_futures=True)

    def _crashed(self, task: _Task, ready: deque[_Task]) -> None:
        """A worker process died with this input in hand: retry it, up to MaxAttempts."""
        task.crashes += 1
        if task.crashes < self.max_attempts:
            log.warning(
                "%s: worker process died; retrying (%d of %d)", task.item.spec, task.crashes + 1, self.max_attempts
            )
            ready.appendleft(task)
            return
        assert task.record is not None
        task.record.errors.append(
            StageError(
                "worker",
                f"{task.item.spec}: a worker process died {task.crashes} times while processing this input "
                "(a decoder crash or out of memory?); it is marked failed",
            )
        )
        self._finish(task)


def run_items(
    items: list[InputItem],
    config: Config,
    *,
    skip: Iterable[str] = (),
    workers: int | None = None,
    on_record: Callable[[Record], None] | None = None,
    on_progress: Callable[[str, int, int | None], None] | None = None,
    extras: dict[str, Any] | None = None,
) -> list[Record]:
    """Process ``items`` through the ledger, ``workers`` at a time (default ``[Concurrency] MaxWorkers``).
    Returns one record per item, in input order."""
    runner = BatchRunner(config, skip=skip, on_record=on_record, on_progress=on_progress, extras=extras)
    n = workers if workers is not None else int(config.get("Concurrency", "MaxWorkers"))
    return runner.run(items, n)
