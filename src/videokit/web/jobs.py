"""``/api/v1/jobs``: submit URLs for processing, follow them, retry failures.

Everything goes through the job ledger. With a Celery broker configured (``[Celery]
BrokerURL`` set), inputs are queued for the distributed workers (:func:`videokit.api.submit`,
with priority); otherwise this server process runs them itself, one job at a time, in a
background thread (:func:`videokit.api.run`), so requests are never kept waiting. Status comes
from the ledger (:func:`videokit.api.status`) plus, for the local runner, the jobs still queued.

Only http(s) URLs are accepted (never a path on the server's disk), and each is checked by the
URL guard (:mod:`videokit.download.guard`) unless ``[Server] AllowPrivateURLs``; the downloads
then check every redirect and page request too (``[Download] RefusePrivateAddresses``).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from videokit import api
from videokit.config import Config
from videokit.errors import InputError, VideokitError, one_line
from videokit.net import redact_input, redact_text
from videokit.web.auth import api_user
from videokit.web.errors import ApiError, from_videokit
from videokit.web.keys import KeyInfo
from videokit.web.options import ServerOptions
from videokit.web.service import service

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["jobs"])

MAX_INPUTS = 1000
PRIORITY_ORDER = {"high": 0, "normal": 1, "low": 2}
KEEP_FINISHED = 200  # finished local jobs remembered for GET /jobs/{id}


@dataclass
class LocalJob:
    """One submission run by this server process."""

    id: str
    kind: str  # run | retry
    inputs: list[str]  # redacted
    priority: str
    status: str = "queued"  # queued | running | done | failed
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    records: list[dict[str, Any]] = field(default_factory=list)  # per input: id, title, ok, errors
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class JobRunner:
    """Runs submitted jobs: through Celery when a broker is configured, else one at a time in
    a background thread of this process (started at the first job)."""

    def __init__(self, config: Config, options: ServerOptions) -> None:
        self.options = options
        self.config = (
            config
            if options.allow_private_urls
            else config.with_overrides({("Download", "RefusePrivateAddresses"): True})
        )
        self.celery = config.origins.get(("Celery", "BrokerURL")) != "default"
        self._queue: queue.PriorityQueue[tuple[int, int, LocalJob | None]] = queue.PriorityQueue()
        self._jobs: dict[str, LocalJob] = {}
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- submitting ------------------------------------------------------------------------------
    def check_inputs(self, inputs: list[str]) -> tuple[list[str], list[dict[str, str]]]:
        """(accepted URLs, refused ones with why): only public http(s) URLs pass."""
        from videokit.download import check_url as check_form
        from videokit.download import is_url
        from videokit.download.guard import check_url as check_address

        accepted: list[str] = []
        refused: list[dict[str, str]] = []
        for spec in inputs:
            spec = spec.strip()
            try:
                if not is_url(spec):
                    raise InputError(f"{spec}: not a URL; the server takes http(s) URLs only")
                check_form(spec)
                if not self.options.allow_private_urls:
                    check_address(spec)
            except InputError as e:
                refused.append({"input": redact_input(spec), "code": _refusal_code(e), "message": one_line(e)})
                continue
            accepted.append(spec)
        return accepted, refused

    def submit(self, inputs: list[str], priority: str) -> dict[str, Any]:
        if self.celery:
            report = api.submit(self.config, inputs, priority=priority)
            return {
                "via": "celery",
                "sent": [redact_input(s) for s in report.sent],
                "skipped": [{"input": redact_input(i), "why": w} for i, w in report.skipped],
                "failed": [{"input": redact_input(i), "why": redact_text(w)} for i, w in report.failed],
            }
        job = self._enqueue("run", inputs, priority)
        return {"via": "local", "job": job.to_dict()}

    def retry(self, transient_only: bool) -> dict[str, Any]:
        if self.celery:
            report = api.retry(self.config, transient_only=transient_only)
            return {"via": "celery", "resubmitted": [redact_input(s) for s in report.resubmitted]}
        job = self._enqueue("retry", [], "normal", transient_only=transient_only)
        return {"via": "local", "job": job.to_dict()}

    def _enqueue(self, kind: str, inputs: list[str], priority: str, **kw: Any) -> LocalJob:
        job = LocalJob(
            f"{int(time.time() * 1000):x}{next(self._order):04x}", kind, [redact_input(i) for i in inputs], priority
        )
        job._secret_inputs = list(inputs)  # type: ignore[attr-defined]  # the whole URLs, in memory only
        job._options = kw  # type: ignore[attr-defined]
        with self._lock:
            if self._closed:
                raise ApiError(503, "unavailable", "the server is shutting down")
            self._jobs[job.id] = job
            self._prune()
            self._queue.put((PRIORITY_ORDER.get(priority, 1), next(self._order), job))
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="videokit-jobs", daemon=True)
                self._thread.start()
        return job

    def _prune(self) -> None:
        done = [j for j in self._jobs.values() if j.finished is not None]
        for old in sorted(done, key=lambda j: j.finished or 0)[: max(0, len(done) - KEEP_FINISHED)]:
            del self._jobs[old.id]

    # -- running ---------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            _, _, job = self._queue.get()
            if job is None:
                return
            job.status, job.started = "running", time.time()
            try:
                if job.kind == "retry":
                    result: api.RunResult = api.retry(self.config, **job._options)  # type: ignore[attr-defined]
                else:
                    result = api.run(job._secret_inputs, self.config)  # type: ignore[attr-defined]
                job.records = [_outcome(r) for r in result.records]
                job.status = "done" if result.ok else "failed"
            except VideokitError as e:
                job.status, job.error = "failed", one_line(redact_text(str(e)))
            except Exception as e:  # a bug: logged, the runner goes on with the next job
                log.error("job %s failed: %s", job.id, one_line(e), exc_info=e)
                job.status, job.error = "failed", "internal error; the server log has the details"
            finally:
                job.finished = time.time()
                job._secret_inputs = []  # type: ignore[attr-defined]

    # -- reading ---------------------------------------------------------------------------------
    def job(self, job_id: str) -> LocalJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def local_jobs(self) -> list[LocalJob]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.submitted, reverse=True)

    def idle(self) -> bool:
        """No local job queued or running."""
        return all(j.finished is not None for j in self.local_jobs())

    def close(self, wait: float = 5.0) -> None:
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put((-1, -1, None))
            thread.join(wait)


def _outcome(record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "title": record.title,
        "input": record.sources[-1].input if record.sources else None,
        "ok": not record.errors,
        "errors": [{"stage": e.stage, "kind": e.kind, "message": e.message} for e in record.errors],
    }


def _refusal_code(e: InputError) -> str:
    return "url_refused" if "refused:" in str(e) else "bad_input"


# -- routes ----------------------------------------------------------------------------------------


class JobRequest(BaseModel):
    """URLs to process."""

    model_config = ConfigDict(extra="forbid")
    inputs: list[str] = Field(min_length=1, max_length=MAX_INPUTS, description="http(s) URLs: files or pages")
    priority: str = Field("normal", description="high | normal | low")


class RetryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transient_only: bool = False


@router.post("/jobs", status_code=202, summary="Submit URLs for processing")
def submit(request: Request, who: Annotated[KeyInfo, Depends(api_user("write"))], body: JobRequest) -> JSONResponse:
    """Queue ``inputs`` (http(s) URLs) for processing, through the job ledger: Celery workers
    when a broker is configured, else this server in the background. URLs that are not http(s)
    or resolve to private addresses are refused, each with its reason; the others go on."""
    if body.priority not in api.PRIORITIES:
        raise ApiError(400, "bad_request", f"priority {body.priority!r}: choose one of {', '.join(api.PRIORITIES)}")
    runner = service(request).jobs
    accepted, refused = runner.check_inputs(body.inputs)
    if not accepted:
        code = "url_refused" if any(r["code"] == "url_refused" for r in refused) else "bad_input"
        first = refused[0]["message"]
        raise ApiError(400, code, first if len(refused) == 1 else f"{len(refused)} inputs refused; first: {first}")
    try:
        out = runner.submit(accepted, body.priority)
    except VideokitError as e:
        raise from_videokit(e) from None
    return JSONResponse({**out, "accepted": [redact_input(a) for a in accepted], "refused": refused}, status_code=202)


@router.get("/jobs", summary="Where the batches stand")
def status(request: Request, who: Annotated[KeyInfo, Depends(api_user("read"))]) -> dict[str, Any]:
    """Counts of inputs by status and by stage, failures with their reasons (the ledger), the
    broker when distributed mode is in use, and this server's queued and recent jobs."""
    svc = service(request)
    report = api.status(svc.config)
    out = dataclasses.asdict(report)
    out["ledger"] = str(report.ledger.name)
    out["inputs"] = report.inputs
    out["local_jobs"] = [j.to_dict() for j in svc.jobs.local_jobs()]
    return out


@router.get("/jobs/{job_id}", summary="One job submitted to this server")
def job(request: Request, who: Annotated[KeyInfo, Depends(api_user("read"))], job_id: str) -> dict[str, Any]:
    found = service(request).jobs.job(job_id)
    if found is None:
        raise ApiError(404, "not_found", f"no job {job_id!r} on this server (Celery jobs: GET /api/v1/jobs)")
    return found.to_dict()


@router.post("/jobs/retry", status_code=202, summary="Retry failed inputs")
def retry(
    request: Request, who: Annotated[KeyInfo, Depends(api_user("write"))], body: RetryRequest | None = None
) -> JSONResponse:
    """Run the inputs the ledger lists as failed again (``transient_only``: network trouble only)."""
    try:
        out = service(request).jobs.retry(bool(body and body.transient_only))
    except VideokitError as e:
        raise from_videokit(e) from None
    return JSONResponse(out, status_code=202)
