"""The local batch runner: every input through the pipeline, via the job ledger.

The pipeline is cut into segments by what the stages declare (see :mod:`videokit.pipeline`):
``io`` stages (downloads) run in a thread pool of this process, ``writer`` stages (identify,
store) run in this process, the only writer of the store and the ledger, and the other
(``compute``) stages run in a pool of ``workers`` processes, each with the pipeline set up once
(a model loads once per process), on batches of up to the pipeline's ``batch_size`` records.
With one worker everything runs here, in order, batch by batch. After each ``io`` and
``compute`` segment the record is saved in the ledger, so a killed run resumes there; an input
already done with the same settings is not processed again.

A full disk or a damaged library (:func:`videokit.errors.stops_batch`) stops the batch: what is
stored stays stored, the inputs not finished are left ``pending`` in the ledger, and the error
(one line naming the path) is raised; the same command resumes. Each run starts by removing
what killed runs left behind (:mod:`videokit.tempfiles`).

SQLite allows one writer at a time anyway; a single writer needs no retry-on-lock logic, and it
merges sources of the same content found by two workers at once (the store stage does it,
:mod:`videokit.store.merge`) without a race.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from videokit.batch import procs
from videokit.batch.settings import settings_hash
from videokit.config import Config
from videokit.errors import StoreError
from videokit.inputs import InputItem
from videokit.ledger import Ledger
from videokit.net import redact_input
from videokit.pipeline import Context, Pipeline, Stage, build_pipeline
from videokit.record import Record, Source, StageError
from videokit.stages import new_record
from videokit.store import open_store
from videokit.tempfiles import remove_library_leftovers

log = logging.getLogger(__name__)


def placement(stage: Stage) -> str:
    """Where a local run places ``stage``: ``writer``, ``io`` (threads) or ``compute`` (processes)."""
    if stage.writer:
        return "writer"
    if "io" in stage.resources:
        return "io"
    return "compute"


def segments(pipeline: Pipeline) -> list[tuple[str, Pipeline]]:
    """Consecutive stages with the same placement, in pipeline order."""
    out: list[tuple[str, list[Stage]]] = []
    for stage in pipeline.stages:
        kind = placement(stage)
        if out and out[-1][0] == kind:
            out[-1][1].append(stage)
        else:
            out.append((kind, [stage]))
    return [(kind, Pipeline(group)) for kind, group in out]


@dataclass
class _Task:
    index: int
    item: InputItem
    partial: Record | None  # where a killed run left this input
    crashes: int = 0
    record: Record | None = None
    seg: int = 0  # the next segment to run


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
        self.config = config
        self.skip = set(skip)
        self.on_record = on_record
        self.full = build_pipeline(config, self.skip)
        self.segments = segments(self.full)
        self.hash = settings_hash(config, self.skip)
        self.refresh = bool((extras or {}).get("refresh"))
        self.max_attempts = int(config.get("Celery", "MaxAttempts"))
        self.ledger = Ledger.open(config)
        self.store = open_store(config)
        self.ctx = Context(
            config=config, store=self.store, on_progress=on_progress, extras=dict(extras or {}), pipeline=self.full
        )
        self.results: list[Record | None] = []

    # -- entry -------------------------------------------------------------------------
    def run(self, items: list[InputItem], workers: int = 1) -> list[Record]:
        self.results = [None] * len(items)
        remove_library_leftovers(self.config)
        todo: list[_Task] = []
        try:
            for i, item in enumerate(items):
                task = self._plan(i, item)
                if task is not None:
                    todo.append(task)
            if workers <= 1 or len(todo) <= 1:
                self._sequential(todo)
            else:
                self._parallel(todo, workers)
        except StoreError as e:  # a full disk, a damaged library or ledger: stop cleanly
            self._leave_pending(todo, e)
            raise
        finally:
            self.full.close()
            self.store.close()
            self.ledger.close()
        return [r for r in self.results if r is not None]

    def _leave_pending(self, todo: list[_Task], why: StoreError) -> None:
        """The batch stopped: the inputs not finished wait, ``pending``, for the same command again."""
        left = [t for t in todo if self.results[t.index] is None]
        log.info("batch stopped with %d input(s) left pending: %s", len(left), why)
        for task in left:
            try:
                self.ledger.update(task.item.spec, status="pending", stage=None)
            except StoreError:
                return  # the ledger cannot be written either; a re-run resumes them all the same

    def _plan(self, index: int, item: InputItem) -> _Task | None:
        """None when the input needs no work (done before with the same settings, or unusable)."""
        if item.error:
            rec = new_record(item.spec, item.kind, item.user_fields, item.segments)
            rec.errors.append(StageError("input", item.error))
            self.ledger.add(item, self.hash)
            self.ledger.finish(item.spec, rec)
            self._emit(index, rec)
            return None
        job = self.ledger.get(item.spec)
        if job and job.status == "done" and job.settings_hash == self.hash and job.record_id and not self.refresh:
            rec = self.store.get(job.record_id)
            if rec is not None and any(_same_input(s, item) for s in rec.sources):
                self._emit(index, rec)
                return None
        job = self.ledger.add(item, self.hash)
        return _Task(index, item, job.partial)

    # -- moving a task along its segments ------------------------------------------------
    def _begin(self, task: _Task) -> None:
        """Start (or resume from where a killed run left it) one input."""
        self.ledger.start(task.item.spec)
        rec = task.partial
        first = self.segments[0][1] if self.segments else None
        if rec is None or first is None or not first.done(rec):
            rec = new_record(task.item.spec, task.item.kind, task.item.user_fields, task.item.segments)
        task.record = rec
        task.seg = 0

    def _next(self, task: _Task) -> str | None:
        """Run writer segments here and skip segments a killed run finished; then the kind of
        the segment the task waits for (``io`` / ``compute``), or None when it is finished."""
        rec = task.record
        assert rec is not None
        while True:
            if self.full.blocked(rec) or task.seg >= len(self.segments):
                self._finish(task)
                return None
            kind, part = self.segments[task.seg]
            if kind == "writer":
                part.process(rec, self.ctx)
                task.seg += 1
                continue
            if part.done(rec):
                task.seg += 1
                continue
            return kind

    def _ran(self, task: _Task) -> None:
        """A task finished its io or compute segment: save progress for a resumed run."""
        assert task.record is not None
        task.seg += 1
        if not self.full.blocked(task.record):
            self.ledger.save_partial(task.item.spec, task.record)

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
        """Everything in this process, ``batch_size`` inputs at a time: each segment runs over
        the batch before the next, so a batching stage (analysis) gets several records."""
        self.full.setup(self.ctx)
        size = max(1, self.full.batch_size)
        for start in range(0, len(todo), size):
            batch = todo[start : start + size]
            for task in batch:
                self._begin(task)
            waiting = {id(t): self._next(t) for t in batch}
            for seg in range(len(self.segments)):
                here = [t for t in batch if waiting.get(id(t)) and t.seg == seg]
                if not here:
                    continue
                self.segments[seg][1].process_batch([t.record for t in here], self.ctx)  # type: ignore[misc]
                for t in here:
                    self._ran(t)
                    waiting[id(t)] = self._next(t)

    # -- parallel ----------------------------------------------------------------------
    def _new_pool(self, workers: int) -> ProcessPoolExecutor:
        # spawn, not fork: the parent runs download threads, and forking a threaded process
        # can copy a held lock into the child.
        return ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=procs.init,
            initargs=(self.config, sorted(self.skip)),
        )

    def _run_io(self, task: _Task) -> None:
        self.segments[task.seg][1].process(task.record, self.ctx)  # type: ignore[arg-type]

    def _parallel(self, todo: list[_Task], workers: int) -> None:
        for kind, part in self.segments:
            if kind != "compute":
                part.setup(self.ctx)
        size = max(1, self.full.batch_size)
        waiting: deque[_Task] = deque(todo)  # not started
        io_queue: deque[_Task] = deque()  # waiting for an io segment (download threads)
        ready: deque[_Task] = deque()  # waiting for a compute segment (worker processes)
        fetching: dict[Future, _Task] = {}
        computing: dict[Future, list[_Task]] = {}
        io = ThreadPoolExecutor(workers, thread_name_prefix="videokit-io")
        pool = self._new_pool(workers)

        def route(task: _Task) -> None:
            kind = self._next(task)
            if kind == "io":
                io_queue.append(task)
            elif kind == "compute":
                ready.append(task)

        try:
            while waiting or io_queue or ready or fetching or computing:
                # Downloads run ahead of the workers, but not by more than one record each.
                while len(fetching) < workers and len(fetching) + len(ready) < 2 * workers and (io_queue or waiting):
                    if not io_queue:
                        task = waiting.popleft()
                        self._begin(task)
                        route(task)
                        continue
                    task = io_queue.popleft()
                    fetching[io.submit(self._run_io, task)] = task
                while ready and len(computing) < workers:
                    # one batch per worker process; never wait to fill a batch while a worker idles
                    n = min(size, max(1, -(-len(ready) // (workers - len(computing)))))
                    batch = [ready.popleft() for _ in range(min(n, len(ready)))]
                    names = self.segments[batch[0].seg][1].names
                    same = [t for t in batch if t.seg == batch[0].seg]
                    for t in reversed([t for t in batch if t.seg != batch[0].seg]):
                        ready.appendleft(t)
                    fut = pool.submit(procs.process, [t.record for t in same], names)
                    computing[fut] = same
                if not fetching and not computing:
                    continue
                done, _ = wait([*fetching, *computing], return_when=FIRST_COMPLETED)
                broken: list[_Task] = []
                for fut in done:
                    if fut in fetching:
                        task = fetching.pop(fut)
                        fut.result()  # stage errors are on the record; anything else is a bug
                        self._ran(task)
                        route(task)
                        continue
                    tasks = computing.pop(fut)
                    try:
                        records = fut.result()
                    except BrokenProcessPool:
                        broken += tasks
                        continue
                    for task, rec in zip(tasks, records, strict=True):
                        task.record = rec
                        self._ran(task)
                        route(task)
                if broken:
                    for tasks in computing.values():
                        broken += tasks
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


def _same_input(source: Source, item: InputItem) -> bool:
    """``source`` is ``item`` as stored: the same input and, when the item's list gives user
    fields or labelled segments, the same ones (a corrected annotation list is taken in again)."""
    if source.input != redact_input(item.spec):
        return False
    if not (item.user_fields or item.segments):
        return True
    return source.user_fields == item.user_fields and source.segments == item.segments
