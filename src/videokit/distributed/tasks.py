"""The worker side: one task runs one group of stages on one input, then sends the next group.

A job message carries the input, the result-changing settings of the submitter, the stage
groups and their queues. The task is idempotent: it rebuilds its work from the message, the
store upsert is keyed by content id and merges sources (no duplicate record), and the job
state in Redis is overwritten, not appended. Each delivery is counted per task id; past
``[Celery] MaxAttempts`` deliveries (workers killed mid-task) the input is marked failed and
the batch goes on.

Pipelines, stores and Redis clients are built once per worker process and reused, so a model
loads once per worker process.

Workers need no shared folder when ``[Storage] LibraryFiles`` is object storage: before a group
runs, what its stages read is pulled into the worker's bounded cache; after it, what they wrote
is pushed and the working copies removed (:mod:`videokit.storage.sync`). A worker killed
mid-group leaves no half-visible object (uploads are whole or invisible); the group runs again
elsewhere.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from celery import Task

from videokit.config import Config
from videokit.distributed.app import TASK_NAME, app
from videokit.distributed.board import Board
from videokit.errors import VideokitError, one_line
from videokit.net import hold_config_secrets, redact_input
from videokit.pipeline import Context, Pipeline, build_pipeline
from videokit.record import Record, Segment, StageError
from videokit.stages import new_record
from videokit.storage.sync import LibrarySync, library_sync
from videokit.store.base import Store

log = logging.getLogger(__name__)

_base_config: Config | None = None  # set by the worker command before it starts
_pipelines: dict[tuple[str, tuple[str, ...]], tuple[Pipeline, Context]] = {}
_stores: dict[str, Store] = {}
_boards: dict[str, Board] = {}


def set_base_config(config: Config) -> None:
    global _base_config
    hold_config_secrets(config)
    _base_config = config


def _config_for(job: dict[str, Any]) -> Config:
    if _base_config is None:
        from videokit.config import load_config

        set_base_config(load_config())
    assert _base_config is not None
    overrides = {tuple(k.split(".", 1)): v for k, v in job.get("settings", {}).items()}
    return _base_config.with_overrides(overrides)  # type: ignore[arg-type]


def _pipeline(job: dict[str, Any], stages: list[str]) -> tuple[Pipeline, Context]:
    """This worker process's part of the job's pipeline (built once per settings and group)."""
    key = (job["hash"], tuple(stages))
    if key not in _pipelines:
        from videokit.store import open_store

        config = _config_for(job)
        store_key = job["hash"]
        if store_key not in _stores:
            _stores[store_key] = open_store(config)
        full = build_pipeline(config, job.get("skip", []))
        _pipelines[key] = (full.part(stages), Context(config=config, store=_stores[store_key], pipeline=full))
    return _pipelines[key]


def _board() -> Board:
    url = app.conf.broker_url
    if url not in _boards:
        _boards[url] = Board(url)
    return _boards[url]


def worker_name(task: Task) -> str:
    return f"{task.request.hostname or socket.gethostname()}"


@app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_group(self: Task, job: dict[str, Any], record: dict[str, Any] | None, index: int) -> None:
    spec = job["spec"]  # the whole input, for the fetch stage; messages show ``shown``
    shown = redact_input(spec)
    _queue, stages = job["groups"][index]
    board = _board()
    me = worker_name(self)
    attempt = board.attempt(self.request.id or f"{job['id']}:{index}")
    if attempt > int(job["max_attempts"]):
        msg = (
            f"{shown}: a worker was lost {attempt - 1} times while running {', '.join(stages)}; "
            f"marked failed after {job['max_attempts']} attempts"
        )
        log.warning(msg)
        board.set_job(
            spec,
            status="failed",
            stage=stages[0],
            error=msg,
            error_kind="permanent",
            error_stage=stages[0],
            attempts=attempt - 1,
        )
        board.worker_seen(me, failed=1)
        return
    # the job's attempts: the most deliveries any of its tasks needed
    attempt = max(attempt, int((board.job(spec) or {}).get("attempts") or 0)) if index else attempt
    board.set_job(spec, status="running", stage=stages[0], attempts=attempt, worker=f"{me} pid {os.getpid()}")
    board.worker_seen(me, current=spec)

    pipeline, ctx = _pipeline(job, stages)
    segments = [Segment(**s) for s in job.get("segments") or []]
    rec = Record.from_dict(record) if record else new_record(spec, job["kind"], job.get("user_fields"), segments)
    files = library_sync(ctx.config)
    try:
        _run_here(rec, pipeline, ctx, files, shown, stages)
    finally:
        if files is not None:
            files.release(rec)  # in object storage now: this machine keeps only its bounded cache

    last = index + 1 >= len(job["groups"])
    if _blocked(rec, ctx) or last:
        err = next(iter(rec.errors), None)
        board.set_job(
            spec,
            status="failed" if err else "done",
            stage=err.stage if err else None,
            error=err.message if err else None,
            error_kind=err.kind if err else None,
            error_stage=err.stage if err else None,
            record_id=rec.id,
            stages=_stage_status(rec),
            attempts=attempt,
        )
        board.worker_seen(me, done=0 if err else 1, failed=1 if err else 0)
        return
    next_queue = job["groups"][index + 1][0]
    board.set_job(spec, status="queued", stage=job["groups"][index + 1][1][0], stages=_stage_status(rec))
    run_group.apply_async(
        (job, rec.to_dict(), index + 1),
        queue=next_queue,
        priority=job.get("priority", 5),
        task_id=f"{job['id']}:{index + 1}",
    )
    board.worker_seen(me)


def _run_here(
    rec: Record, pipeline: Pipeline, ctx: Context, files: LibrarySync | None, shown: str, stages: list[str]
) -> None:
    """The group on ``rec``; with the library's files in object storage, what its stages read is
    pulled first and what they wrote pushed after, for whichever machine runs the next group."""
    try:
        if files is not None:
            files.pull(rec, pipeline.stages)
    except (VideokitError, OSError) as e:  # the object is gone, the storage refuses...: the job fails
        log.warning("%s: %s", shown, one_line(e))
        why = f"cannot fetch its files from object storage: {one_line(e)}"
        rec.errors.append(StageError(stages[0], why, getattr(e, "kind", "permanent")))
        return
    try:
        pipeline.process(rec, ctx)
    except Exception as e:  # setup failed (a model that will not load...): the job fails, the worker lives
        log.warning("%s: %s", shown, e, exc_info=True)
        rec.errors.append(StageError(stages[0], f"{type(e).__name__}: {one_line(e)}"))
        return
    if files is None or _blocked(rec, ctx):
        return
    try:
        files.push(rec)
    except (VideokitError, OSError) as e:
        log.warning("%s: %s", shown, one_line(e))
        why = f"cannot put its files in object storage: {one_line(e)}"
        rec.errors.append(StageError("worker", why, getattr(e, "kind", "permanent")))


def _blocked(rec: Record, ctx: Context) -> bool:
    assert ctx.pipeline is not None
    return ctx.pipeline.blocked(rec)


def _stage_status(rec: Record) -> dict[str, str]:
    failed = {e.stage for e in rec.errors}
    return {s: ("failed" if s in failed else "done") for s in [*rec.timings, *failed]}
