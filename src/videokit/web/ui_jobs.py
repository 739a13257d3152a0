"""What the jobs page shows: the ledger's counts and failures (:func:`videokit.api.status`) and
the jobs this server runs itself (:class:`videokit.web.jobs.JobRunner`), as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from videokit.api import Failure, StatusReport
from videokit.web.ui_views import video_href

if TYPE_CHECKING:
    from videokit.web.jobs import LocalJob

SHOWN_JOBS = 20  # most recent local jobs listed
MAX_LINES = 1000  # inputs taken from the text box at once


@dataclass(frozen=True, slots=True)
class JobRow:
    input: str
    status: str  # queued | running | done | failed
    stage: str | None = None  # where it is (running) or where it failed
    error: str | None = None
    href: str | None = None  # the video, once stored
    title: str | None = None


@dataclass
class JobsView:
    counts: list[tuple[str, int]] = field(default_factory=list)
    total: int = 0
    finished: int = 0
    running: list[str] = field(default_factory=list)  # stages working now
    rows: list[JobRow] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    active: bool = False  # something is queued or running: the page keeps polling fast


def parse_inputs(text: str) -> list[str]:
    """The lines of the text box that are inputs: blank lines and ``#`` comments left out,
    each line once."""
    lines = (line.strip() for line in text.splitlines())
    return list(dict.fromkeys(line for line in lines if line and not line.startswith("#")))


def jobs_view(report: StatusReport, local: list[LocalJob]) -> JobsView:
    view = JobsView()
    view.counts = [(status, n) for status, n in report.jobs.items() if n]
    view.total = report.inputs
    view.finished = report.jobs.get("done", 0) + report.jobs.get("failed", 0)
    view.running = [stage for stage, counts in report.stages.items() if counts.get("running")]
    view.failures = report.failures
    for job in local[:SHOWN_JOBS]:
        view.rows += _rows(job, ", ".join(view.running) or "starting")
    busy = report.jobs.get("running", 0) + report.jobs.get("pending", 0) + report.jobs.get("queued", 0)
    view.active = bool(busy) or any(j.finished is None for j in local)
    return view


def _rows(job: LocalJob, running: str) -> list[JobRow]:
    if job.finished is None or not job.records:
        stage = running if job.status == "running" else None
        if job.kind == "retry":
            return [JobRow("retry of the failed inputs", job.status, stage, job.error)]
        return [JobRow(i, job.status, stage, job.error) for i in job.inputs]
    rows = []
    for r in job.records:
        errors = r.get("errors") or []
        first = errors[0] if errors else None
        rows.append(
            JobRow(
                r.get("input") or r.get("title") or "",
                "done" if r.get("ok") else "failed",
                first["stage"] if first else None,
                first["message"] if first else None,
                video_href(r["id"]) if r.get("id") else None,
                r.get("title"),
            )
        )
    return rows
