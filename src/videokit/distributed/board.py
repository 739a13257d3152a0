"""Shared job state in the broker's Redis: what every worker, on any machine, did with a job.

Workers write here (status, attempts, last error, record id, per-worker progress); the machine
that submitted the batch folds it into its job ledger (:func:`videokit.distributed.submit.sync`).
Delivery attempts are counted per task id, so a poison input that kills worker after worker
is recognised on its next delivery and marked failed. Inputs and errors are written redacted
(the task message alone carries the whole input, for the worker that downloads it).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any

import redis

from videokit.distributed.app import PRIORITY_STEPS, QUEUES
from videokit.errors import StoreError, one_line
from videokit.net import hold_url_secrets, redact_input, redact_text, redact_url

PREFIX = "videokit:"
ATTEMPTS_TTL = 7 * 24 * 3600
WORKER_TTL = 24 * 3600


class BrokerUnreachable(StoreError):
    """The Redis broker cannot be reached."""


class Board:
    def __init__(self, url: str, timeout: float = 3.0) -> None:
        self.url = url
        hold_url_secrets(url)  # the broker's password: scrubbed from any message
        self.r = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=max(timeout, 5.0), decode_responses=True
        )

    def ping(self, what: str = "") -> None:
        """Raise :class:`BrokerUnreachable` with one clear line when the broker is down."""
        try:
            self.r.ping()
        except (redis.RedisError, OSError) as e:
            reason = one_line(e)
            raise BrokerUnreachable(
                f"cannot reach the broker at {redact_url(self.url)} ({reason}){what}; start redis-server there or fix "
                "[Celery] BrokerURL / VIDEOKIT_CELERY_BROKERURL"
            ) from None

    # -- jobs --------------------------------------------------------------------------
    @staticmethod
    def job_key(spec: str) -> str:
        return PREFIX + "job:" + hashlib.sha1(spec.encode("utf-8")).hexdigest()

    def reset_job(self, spec: str, **fields: Any) -> None:
        key = self.job_key(spec)
        pipe = self.r.pipeline()
        pipe.delete(key)
        pipe.hset(key, mapping=_flat(_shown(spec, fields)))
        pipe.execute()

    def set_job(self, spec: str, **fields: Any) -> None:
        self.r.hset(self.job_key(spec), mapping=_flat(_shown(spec, fields)))

    def job(self, spec: str) -> dict[str, Any] | None:
        raw = self.r.hgetall(self.job_key(spec))
        if not raw:
            return None
        out: dict[str, Any] = dict(raw)
        out["stages"] = json.loads(raw.get("stages") or "{}")
        out["attempts"] = int(raw.get("attempts") or 0)
        return out

    def attempt(self, task_id: str) -> int:
        """Count one more delivery of ``task_id``; returns the count."""
        key = PREFIX + "attempt:" + task_id
        pipe = self.r.pipeline()
        pipe.incr(key)
        pipe.expire(key, ATTEMPTS_TTL)
        return int(pipe.execute()[0])

    # -- workers -----------------------------------------------------------------------
    def worker_seen(self, name: str, *, current: str | None = None, done: int = 0, failed: int = 0) -> None:
        key = PREFIX + "worker:" + name
        pipe = self.r.pipeline()
        shown = redact_input(current) if current else ""
        pipe.hset(key, mapping={"name": name, "current": shown, "seen": time.time(), "pid": os.getpid()})
        if done:
            pipe.hincrby(key, "done", done)
        if failed:
            pipe.hincrby(key, "failed", failed)
        pipe.expire(key, WORKER_TTL)
        pipe.execute()

    def workers(self) -> list[dict[str, Any]]:
        out = []
        for key in sorted(self.r.scan_iter(PREFIX + "worker:*")):
            h = self.r.hgetall(key)
            if h:
                out.append(
                    {
                        "name": h.get("name", key),
                        "current": h.get("current") or None,
                        "done": int(h.get("done") or 0),
                        "failed": int(h.get("failed") or 0),
                        "seen_ago": round(time.time() - float(h.get("seen") or 0), 1),
                    }
                )
        return out

    def queue_depth(self) -> dict[str, int]:
        """Messages waiting in each queue (all priorities)."""
        depth = {}
        for q in QUEUES:
            keys = [q] + [f"{q}:{p}" for p in PRIORITY_STEPS if p]
            pipe = self.r.pipeline()
            for k in keys:
                pipe.llen(k)
            depth[q] = sum(int(n) for n in pipe.execute())
        return depth


def _shown(spec: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A job's state as written to Redis: the input and the error redacted."""
    out = {"spec": redact_input(spec), **fields, "updated_at": time.time()}
    if out.get("error"):
        out["error"] = redact_text(str(out["error"]))
    return out


def _flat(fields: dict[str, Any]) -> dict[str, str | int | float]:
    out: dict[str, str | int | float] = {}
    for k, v in fields.items():
        if v is None:
            out[k] = ""
        elif isinstance(v, dict | list):
            out[k] = json.dumps(v)
        elif isinstance(v, bool):
            out[k] = int(v)
        else:
            out[k] = v
    return out
