"""The Celery application: Redis broker from ``[Celery] BrokerURL``, late acknowledgement.

A task is acknowledged only after it finished (``acks_late``) and is put back when the worker
process running it dies (``reject_on_worker_lost``); a task held by a worker that vanished
altogether goes back to the queue after ``[Celery] VisibilityTimeout`` seconds. Tasks are
idempotent (keyed by input spec and content id), so running one twice is harmless.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from celery import Celery

if TYPE_CHECKING:
    from videokit.config import Config

QUEUES = ("io", "cpu", "gpu")
# Redis serves lower numbers first.
PRIORITIES = {"high": 0, "normal": 5, "low": 9}
PRIORITY_STEPS = sorted(PRIORITIES.values())
TASK_NAME = "videokit.run_group"

app = Celery("videokit")


def configure(config: Config) -> Celery:
    """Point the application at the configured broker."""
    url = config.get("Celery", "BrokerURL")
    vt = int(config.get("Celery", "VisibilityTimeout"))
    app.conf.update(
        broker_url=url,
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="cpu",
        task_create_missing_queues=True,
        task_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": vt,
            "unacked_restore_interval": max(1, min(10, vt // 3)),
            "unacked_restore_throttle": 1,
            "unacked_mutex_expire": max(5, min(300, vt)),
            "priority_steps": PRIORITY_STEPS,
            "sep": ":",
            "queue_order_strategy": "priority",
        },
    )
    return app
