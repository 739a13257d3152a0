"""``videokit worker``: a Celery worker serving some of the queues ``io``, ``cpu``, ``gpu``.

With ``[Storage] LibraryFiles`` in object storage the worker needs no shared folder: its
``[Library] Location`` is its own working folder (:mod:`videokit.storage.sync`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from videokit.distributed.app import QUEUES, configure
from videokit.distributed.board import Board
from videokit.errors import UsageError

if TYPE_CHECKING:
    from videokit.config import Config


def parse_queues(text: str | Iterable[str]) -> list[str]:
    names = [q.strip().lower() for q in (text.split(",") if isinstance(text, str) else text) if q.strip()]
    bad = [q for q in names if q not in QUEUES]
    if bad or not names:
        raise UsageError(f"unknown queue(s) {', '.join(bad) or '(none)'}; choose from {', '.join(QUEUES)}")
    return list(dict.fromkeys(names))


def start_worker(config: Config, queues: list[str], concurrency: int, log_level: str = "warning") -> None:
    """Run a worker in this process until it is stopped (blocks)."""
    from videokit.distributed import tasks
    from videokit.storage.sync import library_sync
    from videokit.store import open_store

    library_sync(config)  # a working folder that cannot be synced with [Storage] LibraryFiles: said first
    Board(config.get("Celery", "BrokerURL")).ping()
    open_store(config).close()  # a store the worker cannot reach is better reported now
    tasks.set_base_config(config)
    app = configure(config)
    app.worker_main(
        [
            "worker",
            "--queues",
            ",".join(queues),
            "--concurrency",
            str(concurrency),
            "--hostname",
            f"videokit{os.getpid()}@%h",
            "--loglevel",
            log_level.upper(),
            "--without-gossip",
            "--without-mingle",
            "--prefetch-multiplier",
            "1",
        ]
    )
