"""Stages and the pipeline that composes them.

A stage has one job: ``process(record, ctx)`` mutates the record. ``setup(ctx)`` runs once
per process before the first record (load a model there, never per video). A stage that
raises gets a :class:`StageError` on the record; when the stage is ``required`` the later
stages are skipped for that record, and the batch always goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videokit.errors import VideokitError
from videokit.record import Record, StageError, utcnow

if TYPE_CHECKING:
    from videokit.config import Config
    from videokit.store.base import Store

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Context:
    """What stages share for a run: settings, the store, and where files go."""

    config: Config
    store: Store | None = None
    quiet: bool = True
    # progress hook for downloads: (input, bytes_done, bytes_total|None)
    on_progress: Callable[[str, int, int | None], None] | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # per-run options (e.g. refresh=True)

    @property
    def library(self) -> Path:
        return self.config.library

    def relpath(self, path: Path) -> str:
        """Paths stored on records are relative to the library folder when inside it."""
        try:
            return str(Path(path).resolve().relative_to(self.library))
        except ValueError:
            return str(Path(path).resolve())

    def abspath(self, stored: str) -> Path:
        p = Path(stored)
        return p if p.is_absolute() else self.library / p


class Stage:
    name: str = "stage"
    required: bool = True  # a failure skips the remaining stages for that record

    def setup(self, ctx: Context) -> None:
        """Once per process, before the first record."""

    def process(self, record: Record, ctx: Context) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release resources at the end of a run."""


class Pipeline:
    def __init__(self, stages: Iterable[Stage]) -> None:
        self.stages = list(stages)
        self._ready = False

    def setup(self, ctx: Context) -> None:
        if not self._ready:
            for s in self.stages:
                s.setup(ctx)
            self._ready = True

    def process(self, record: Record, ctx: Context, *, only: set[str] | None = None) -> Record:
        self.setup(ctx)
        for stage in self.stages:
            if only is not None and stage.name not in only:
                continue
            # A re-run replaces the stage's earlier error.
            record.errors = [e for e in record.errors if e.stage != stage.name]
            t0 = time.perf_counter()
            try:
                stage.process(record, ctx)
            except VideokitError as e:
                record.errors.append(StageError(stage.name, _one_line(e), e.kind))
                log.warning("%s: %s failed: %s", _label(record), stage.name, _one_line(e))
            except Exception as e:  # a bug or an unexpected library failure: keep the batch going
                log.warning("%s: %s crashed: %s", _label(record), stage.name, e, exc_info=True)
                record.errors.append(StageError(stage.name, f"{type(e).__name__}: {_one_line(e)}"))
            finally:
                record.timings[stage.name] = round(time.perf_counter() - t0, 4)
            if stage.required and any(e.stage == stage.name for e in record.errors):
                break
        record.updated_at = utcnow()
        return record

    def close(self) -> None:
        for s in self.stages:
            s.close()


def _one_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return " ".join(text.split())


def _label(record: Record) -> str:
    return record.sources[0].input if record.sources else (record.id or "?")
