"""The submitting side: record each input in the ledger, then send it to the broker.

A submission is written to the job ledger (status ``pending``) before anything is sent, and
marked ``queued`` only once the broker accepted it; when the broker is down the submissions
stay pending and the next ``videokit submit`` sends them. :func:`sync` folds the state workers
wrote in Redis back into the ledger.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from videokit.batch.settings import portable_settings, settings_hash
from videokit.distributed.app import PRIORITIES, TASK_NAME, configure
from videokit.distributed.board import Board
from videokit.distributed.plan import stage_groups
from videokit.errors import UsageError
from videokit.net import redact_input, redact_text
from videokit.record import StageError
from videokit.stages import new_record

if TYPE_CHECKING:
    from videokit.config import Config
    from videokit.inputs import InputItem
    from videokit.ledger import Job, Ledger


@dataclass
class SubmitReport:
    """Inputs as they may be shown: credentials and tokens redacted."""

    sent: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (spec, why)
    failed: list[tuple[str, str]] = field(default_factory=list)  # unusable inputs: (spec, why)


def submit(
    items: list[InputItem],
    config: Config,
    ledger: Ledger,
    *,
    priority: str = "normal",
    skip: Iterable[str] = (),
) -> SubmitReport:
    """Record ``items`` in the ledger, then send them and any earlier unsent submissions.
    Raises :class:`~videokit.distributed.board.BrokerUnreachable` (submissions kept pending)."""
    if priority not in PRIORITIES:
        raise UsageError(f"priority {priority!r} is unknown; use one of {', '.join(PRIORITIES)} (--priority)")
    skip = sorted(set(skip))
    h = settings_hash(config, skip)
    report = SubmitReport()
    board = Board(config.get("Celery", "BrokerURL"))
    try:
        board.ping()
        sync(ledger, board)
    except Exception:
        board = None  # type: ignore[assignment]
    for item in items:
        job = ledger.get(item.spec)
        if item.error:
            ledger.add(item, h, via="celery", priority=priority)
            rec = new_record(item.spec, item.kind, item.user_fields, item.segments)
            rec.errors.append(StageError("input", item.error))
            ledger.finish(item.spec, rec)
            report.failed.append((redact_input(item.spec), redact_text(item.error)))
            continue
        if job and job.settings_hash == h and job.status in ("queued", "running") and job.via == "celery":
            report.skipped.append((job.shown, f"already {job.status}"))
            continue
        if job and job.settings_hash == h and job.status == "done":
            report.skipped.append((job.shown, "already done"))
            continue
        ledger.add(item, h, via="celery", priority=priority, status="pending")
    _check_store(config)
    pending = ledger.jobs("pending", via="celery")
    if board is None:
        board = Board(config.get("Celery", "BrokerURL"))
    board.ping(f"; {len(pending)} submission(s) kept in the ledger as pending: run 'videokit submit' again")
    report.sent = send(pending, config, ledger, board, skip=skip)
    return report


def send(jobs: list[Job], config: Config, ledger: Ledger, board: Board, *, skip: Iterable[str] = ()) -> list[str]:
    """Send ``jobs`` to the broker, each marked ``queued`` once accepted."""
    app = configure(config)
    groups = stage_groups(config, skip)
    settings = {f"{s}.{k}": v for (s, k), v in portable_settings(config).items()}
    sent = []
    for job in jobs:
        job_id = uuid.uuid4().hex
        message: dict[str, Any] = {
            "id": job_id,
            "spec": job.spec,
            "kind": job.kind,
            "user_fields": job.user_fields,
            "segments": [dataclasses.asdict(s) for s in job.segments],
            "settings": settings,
            "hash": job.settings_hash or settings_hash(config, skip),
            "skip": list(skip),
            "groups": groups,
            "priority": PRIORITIES.get(job.priority or "normal", PRIORITIES["normal"]),
            "max_attempts": int(config.get("Celery", "MaxAttempts")),
        }
        board.reset_job(job.spec, status="queued", stage=groups[0][1][0], attempts=0, task=job_id)
        try:
            app.send_task(
                TASK_NAME,
                args=(message, None, 0),
                queue=groups[0][0],
                priority=message["priority"],
                task_id=f"{job_id}:0",
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1.0},
            )
        except Exception:  # kombu raises OperationalError and friends
            board.ping(
                f"; {len(jobs) - len(sent)} submission(s) kept in the ledger as pending: run 'videokit submit' again"
            )
            raise
        ledger.update(job.spec, status="queued", task_id=job_id, stage=groups[0][1][0])
        sent.append(job.shown)
    return sent


def sync(ledger: Ledger, board: Board) -> int:
    """Copy what workers reported for queued/running jobs into the ledger; returns jobs updated."""
    n = 0
    for job in ledger.jobs(("queued", "running"), via="celery"):
        state = board.job(job.spec)
        if not state or (job.task_id and state.get("task") and state["task"] != job.task_id):
            continue
        status = state.get("status") or job.status
        fields: dict[str, Any] = {"status": status, "attempts": state["attempts"], "stage": state.get("stage") or None}
        if status in ("done", "failed"):
            fields.update(
                error=state.get("error") or None,
                error_kind=state.get("error_kind") or None,
                error_stage=state.get("error_stage") or None,
                record_id=state.get("record_id") or None,
            )
        if state.get("worker"):
            fields["worker"] = state["worker"]
        ledger.update(job.spec, stages=state.get("stages") or None, **fields)
        n += 1
    return n


def resubmit(jobs: list[Job], config: Config, ledger: Ledger, *, skip: Iterable[str] = ()) -> list[str]:
    """Send failed distributed jobs again (``videokit retry``)."""
    from videokit.inputs import InputItem

    skip = sorted(set(skip))
    h = settings_hash(config, skip)
    for job in jobs:
        ledger.add(
            InputItem(job.spec, job.kind, job.user_fields, segments=job.segments),
            h,
            via="celery",
            priority=job.priority,
            status="pending",
        )
    _check_store(config)
    board = Board(config.get("Celery", "BrokerURL"))
    pending = ledger.jobs("pending", via="celery")
    board.ping(f"; {len(pending)} submission(s) kept in the ledger as pending: run 'videokit submit' again")
    return send(pending, config, ledger, board, skip=skip)


def _check_store(config: Config) -> None:
    """The workers write to the store: say so now if it cannot be reached (raises StoreError)."""
    from videokit.store import open_store

    open_store(config).close()
