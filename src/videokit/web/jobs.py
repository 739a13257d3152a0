"""``/api/v1/jobs``: submit URLs for processing, follow them, retry failures.

Everything goes through the job ledger. With a Celery broker configured (``[Celery]
BrokerURL`` set), inputs are queued for the distributed workers (:func:`videokit.api.submit`,
with priority). Otherwise the server processes them itself: the POST records each input in the
ledger, ``pending``, carried by the job (``task_id`` ``server:<job id>``), before it answers; a
background thread then runs the jobs one at a time, high priority first, through
:func:`videokit.api.run`, so requests are never kept waiting. A server stopped before it ran a
job (or while it ran one) finds it in the ledger when it starts again and runs it then: nothing
accepted is lost, nothing finished runs twice. Of several server processes of one library,
one at a time runs jobs (a lock file, ``server-jobs.lock``), whichever process took them in;
each reads a job's status from the ledger.

Only http(s) URLs are accepted (never a path on the server's disk), and each is checked by the
URL guard (:mod:`videokit.download.guard`) unless ``[Server] AllowPrivateURLs``; the downloads
then check every redirect and page request too (``[Download] RefusePrivateAddresses``).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import fcntl
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from videokit import api
from videokit.config import Config
from videokit.errors import InputError, VideokitError, one_line
from videokit.ledger import LEDGER_NAME, Job, Ledger
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
KEEP_FINISHED = 200  # jobs listed by GET /jobs
SERVER_TASK = "server:"  # the ledger's task_id of an input submitted to a server: server:<job id>
LOCK_NAME = "server-jobs.lock"  # held by the one server process of a library running jobs
POLL = 2.0  # seconds between looks at the ledger for jobs another server process took in
FINISHED = ("done", "failed")


@dataclass
class LocalJob:
    """One submission run by the server (not by Celery workers)."""

    id: str
    kind: str  # run | retry
    inputs: list[str]  # redacted
    priority: str
    status: str = "queued"  # queued | running | done | failed
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    records: list[dict[str, Any]] = field(default_factory=list)  # per finished input: id, title, ok, errors
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class JobRunner:
    """Runs submitted jobs: through Celery when a broker is configured, else from the ledger in
    a background thread of the one server process holding the library's job lock."""

    def __init__(self, config: Config, options: ServerOptions) -> None:
        self.options = options
        self.config = (
            config
            if options.allow_private_urls
            else config.with_overrides({("Download", "RefusePrivateAddresses"): True})
        )
        self.celery = config.origins.get(("Celery", "BrokerURL")) != "default"
        self._retries: dict[str, LocalJob] = {}  # retry jobs taken in by this process
        self._current: str | None = None  # the job the thread runs now
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

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
        """Queue ``inputs``: sent to Celery, or recorded in the ledger for this server's thread."""
        if self.celery:
            report = api.submit(self.config, inputs, priority=priority)
            return {
                "via": "celery",
                "sent": [redact_input(s) for s in report.sent],
                "skipped": [{"input": redact_input(i), "why": w} for i, w in report.skipped],
                "failed": [{"input": redact_input(i), "why": redact_text(w)} for i, w in report.failed],
            }
        from videokit.batch.settings import settings_hash
        from videokit.inputs import classify

        self._refuse_when_closed()
        job_id = _new_id()
        task = SERVER_TASK + job_id
        settings = settings_hash(self.config)
        with Ledger.open(self.config) as ledger:
            for item in (classify(spec) for spec in inputs):
                known = ledger.get(item.spec)
                if not (known and known.status == "done" and known.settings_hash == settings):
                    ledger.add(item, settings, priority=priority, status="pending")
                # else: done with these settings; the run would only skip it, so it is not queued again
                ledger.update(item.spec, task_id=task)
        self.start()
        job = self.job(job_id)
        assert job is not None  # just written
        return {"via": "local", "job": job.to_dict()}

    def retry(self, transient_only: bool) -> dict[str, Any]:
        if self.celery:
            report = api.retry(self.config, transient_only=transient_only)
            return {"via": "celery", "resubmitted": [redact_input(s) for s in report.resubmitted]}
        self._refuse_when_closed()
        job = LocalJob(_new_id(), "retry", [], "normal")
        job._transient_only = transient_only  # type: ignore[attr-defined]
        with self._lock:
            self._retries[job.id] = job
            done = [j for j in self._retries.values() if j.finished is not None]
            for old in sorted(done, key=lambda j: j.finished or 0)[: max(0, len(done) - KEEP_FINISHED)]:
                del self._retries[old.id]
        self.start()
        return {"via": "local", "job": job.to_dict()}

    def _refuse_when_closed(self) -> None:
        if self._stop.is_set():
            raise ApiError(503, "unavailable", "the server is shutting down", {"Retry-After": "5"})

    # -- running ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread running jobs (once; nothing with Celery): it runs at once the jobs a
        stopped server left in the ledger, then each job submitted."""
        if self.celery:
            return
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._work, name="videokit-jobs", daemon=True)
                self._thread.start()
        self._wake.set()

    def _work(self) -> None:
        lock = _JobLock(self.config.library / LOCK_NAME)
        try:
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    if lock.acquire():  # else another server process of this library runs jobs now
                        try:
                            while not self._stop.is_set() and self._run_next():
                                pass
                        finally:
                            lock.release()
                except (VideokitError, OSError) as e:  # the ledger or the lock file: the jobs wait there
                    log.warning("jobs: %s; trying again in %s s", one_line(redact_text(str(e))), POLL)
                except Exception as e:  # a bug: logged; the jobs wait in the ledger
                    log.error("the job runner failed: %s", one_line(e), exc_info=e)
                self._wake.wait(POLL)
        finally:
            lock.close()

    def _run_next(self) -> bool:
        """Run the next job: a retry taken in here, else the most urgent job in the ledger (one a
        stopped server was running first). False when there is none."""
        with self._lock:
            retry = next((j for j in self._retries.values() if j.status == "queued"), None)
        if retry is not None:
            self._run_retry(retry)
            return True
        if not (self.config.library / LEDGER_NAME).exists():
            return False
        with Ledger.open(self.config) as ledger:
            groups = _groups(ledger.jobs(("pending", "running"), task_prefix=SERVER_TASK))
            if not groups:
                return False
            # This process alone runs server jobs now: a "running" one was left by a stopped server.
            task = min(groups, key=lambda t: _urgency(t, groups[t]))
            rows = groups[task]
            for lost in (r for r in rows if r.input_lost):
                why = f"{lost.shown}: its credentials are no longer kept in the ledger; submit it again"
                ledger.update(lost.spec, status="failed", error=why, error_kind="permanent")
            specs = [r.spec for r in rows if not r.input_lost]
        self._current = task.removeprefix(SERVER_TASK)
        why = "not processed"
        try:
            if specs:
                api.run(specs, self.config)
        except VideokitError as e:
            why = one_line(redact_text(str(e)))
        except Exception as e:  # a bug: logged, the runner goes on with the next job
            log.error("job %s failed: %s", self._current, one_line(e), exc_info=e)
            why = "internal error; the server log has the details"
        finally:
            self._current = None
        with Ledger.open(self.config) as ledger:  # an input the run left unfinished is not picked again
            for r in ledger.jobs(("pending", "running"), task_prefix=task):
                if r.task_id == task:
                    ledger.update(r.spec, status="failed", error=why, error_kind="transient")
        return True

    def _run_retry(self, job: LocalJob) -> None:
        job.status, job.started = "running", time.time()
        try:
            result = api.retry(self.config, transient_only=job._transient_only)  # type: ignore[attr-defined]
            job.records = [_outcome(r) for r in result.records]
            job.status = "done" if result.ok else "failed"
        except VideokitError as e:
            job.status, job.error = "failed", one_line(redact_text(str(e)))
        except Exception as e:  # a bug: logged, the runner goes on with the next job
            log.error("job %s failed: %s", job.id, one_line(e), exc_info=e)
            job.status, job.error = "failed", "internal error; the server log has the details"
        finally:
            job.finished = time.time()

    # -- reading ---------------------------------------------------------------------------------
    def job(self, job_id: str) -> LocalJob | None:
        """A job submitted to a server of this library (from the ledger), or a retry taken in here."""
        with self._lock:
            retry = self._retries.get(job_id)
        if retry is not None:
            return retry
        if not job_id or not (self.config.library / LEDGER_NAME).exists():
            return None
        task = SERVER_TASK + job_id
        with Ledger.open(self.config) as ledger:
            rows = [r for r in ledger.jobs(task_prefix=task) if r.task_id == task]
        return self._view(job_id, rows) if rows else None

    def local_jobs(self) -> list[LocalJob]:
        """The most recent jobs submitted to the servers of this library and the retries taken
        in here, newest first."""
        with self._lock:
            jobs = list(self._retries.values())
        if (self.config.library / LEDGER_NAME).exists():
            with Ledger.open(self.config) as ledger:
                groups = _groups(ledger.jobs(task_prefix=SERVER_TASK))
            jobs += [self._view(task.removeprefix(SERVER_TASK), rows) for task, rows in groups.items()]
        return sorted(jobs, key=lambda j: j.submitted, reverse=True)[:KEEP_FINISHED]

    def _view(self, job_id: str, rows: list[Job]) -> LocalJob:
        statuses = {r.status for r in rows}
        job = LocalJob(
            job_id,
            "run",
            [r.shown for r in rows],
            next((r.priority for r in rows if r.priority), "normal"),
            submitted=_submitted(job_id),
        )
        if statuses <= set(FINISHED):
            job.status = "failed" if "failed" in statuses else "done"
            job.finished = max(_timestamp(r.updated_at) for r in rows)
        elif self._current == job_id or statuses - {"pending"}:
            job.status = "running"
        job.records = [_row_outcome(r) for r in rows if r.status in FINISHED]
        return job

    def idle(self) -> bool:
        """No job queued or running."""
        return self._current is None and all(j.finished is not None for j in self.local_jobs())

    def close(self, wait: float = 5.0) -> None:
        """Stop taking jobs; wait up to ``wait`` seconds for the one running (a job still
        running then is run again by the next server, from where the ledger says it was)."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(wait)


class _JobLock:
    """An exclusive lock file (``flock``): the server process holding it runs the jobs. The
    system releases it when the process ends, however it ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _new_id() -> str:
    """A job id: the time in milliseconds and 16 random bits, in hex (sorts by submission)."""
    return f"{int(time.time() * 1000):x}{secrets.randbits(16):04x}"


def _submitted(job_id: str) -> float:
    try:
        return int(job_id[:-4], 16) / 1000
    except ValueError:
        return 0.0


def _timestamp(iso: str | None) -> float:
    try:
        return _dt.datetime.fromisoformat(iso).timestamp() if iso else time.time()
    except ValueError:
        return time.time()


def _groups(rows: list[Job]) -> dict[str, list[Job]]:
    """The ledger's rows of server jobs by job (``task_id``)."""
    out: dict[str, list[Job]] = {}
    for r in rows:
        if r.task_id:
            out.setdefault(r.task_id, []).append(r)
    return out


def _urgency(task: str, rows: list[Job]) -> tuple[int, int, float]:
    """Sort key: jobs a stopped server was running, then by priority, then oldest first."""
    interrupted = any(r.status == "running" for r in rows)
    priority = next((r.priority for r in rows if r.priority), "normal")
    return (0 if interrupted else 1, PRIORITY_ORDER.get(priority, 1), _submitted(task.removeprefix(SERVER_TASK)))


def _row_outcome(row: Job) -> dict[str, Any]:
    errors = [{"stage": row.error_stage, "kind": row.error_kind, "message": row.error}] if row.error else []
    return {"id": row.record_id, "title": None, "input": row.shown, "ok": row.status == "done", "errors": errors}


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
