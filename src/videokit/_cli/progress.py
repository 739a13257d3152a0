"""Progress bars for `videokit run`: one per download plus an overall bar.

Quiet when stderr is not a terminal or with --quiet.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from videokit.record import Record


class RunProgress:
    def __init__(self, quiet: bool = False) -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self._lock = threading.Lock()
        self._tasks: dict[str, Any] = {}
        self._progress = None
        self._overall = None

    def __enter__(self) -> RunProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._progress.start()
            self._overall = self._progress.add_task("videos", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def set_total(self, n: int) -> None:
        if self._progress is not None:
            # the overall bar counts videos, not bytes
            self._progress.update(self._overall, total=n, description=f"{n} input(s)")

    def download(self, url: str, done: int, total: int | None) -> None:
        if self._progress is None:
            return
        with self._lock:
            task = self._tasks.get(url)
            if task is None:
                from videokit.net import redact_url

                shown = redact_url(url).split("?", 1)[0]
                name = shown.rstrip("/").rsplit("/", 1)[-1][:40] or shown[:40]
                task = self._tasks[url] = self._progress.add_task(f"  {name}", total=total)
            self._progress.update(task, completed=done, total=total)

    def record_done(self, record: Record) -> None:
        if self._progress is not None:
            self._progress.advance(self._overall)
