"""Stages, the registry that finds them, and the pipeline that composes them.

A stage has one job: ``process(record, ctx)`` mutates the record (``process_batch`` does it for
several records at once, for stages that batch model calls). ``setup(ctx)`` runs once per
process before the first record (load a model there, never per video). A stage that raises
gets a :class:`StageError` on the record; when the stage is ``required`` the later stages are
skipped for that record, and the batch always goes on.

Every stage declares, as class attributes, what the orchestrators need to place it; no
orchestrator names a stage:

- ``needs`` / ``provides``: what it reads from and adds to the record (checked when the
  pipeline is built: a stage placed before what it needs is a configuration error);
- ``resources``: ``io`` (network or disk bound: runs in download threads, on the Celery ``io``
  queue), ``cpu``, ``gpu`` (the Celery ``gpu`` queue);
- ``writer``: it must run in the single process that writes the library (local runs);
- ``after``: the stage it follows (a plug-in stage with ``after = "probe"`` runs right after
  probe); ``optional``: ``--skip`` may leave it out; ``rerun_on_merge``: run again when a
  record is merged with its stored copy (tags a user added there count again).

Stages are registered by name in the entry-point group ``videokit.stages``; videokit's own
stages are declared in its ``pyproject.toml`` the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from videokit.errors import ConfigError, UsageError, VideokitError, one_line, stops_batch
from videokit.record import Record, StageError, utcnow
from videokit.registry import Registry, registry

if TYPE_CHECKING:
    from videokit.config import Config
    from videokit.store.base import Store

log = logging.getLogger(__name__)

RESOURCES = frozenset({"io", "cpu", "gpu"})
# Errors recorded outside any stage that also end a record's run.
BLOCKING = frozenset({"input", "worker"})


@dataclass(slots=True)
class Context:
    """What stages share for a run: settings, the store, and where files go.

    ``pipeline`` is the whole pipeline of the run (a process may run only part of it): the
    store stage uses it to re-run the ``rerun_on_merge`` stages after merging a stored copy."""

    config: Config
    store: Store | None = None
    quiet: bool = True
    # progress hook for downloads: (input, bytes_done, bytes_total|None)
    on_progress: Callable[[str, int, int | None], None] | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # per-run options (e.g. refresh=True)
    pipeline: Pipeline | None = None

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

    def rerun(self, record: Record) -> None:
        """Run the stages that derive from user edits (tags, category) on ``record`` again."""
        if self.pipeline is not None:
            again = [s for s in self.pipeline.stages if s.rerun_on_merge]
            if again:
                Pipeline(again).process(record, self)


class Stage:
    """Base class of pipeline stages (see the module docstring for the declarations)."""

    name: ClassVar[str] = "stage"
    required: ClassVar[bool] = True  # a failure skips the remaining stages for that record
    optional: ClassVar[bool] = False  # may be left out with --skip
    needs: ClassVar[frozenset[str]] = frozenset()
    provides: ClassVar[frozenset[str]] = frozenset()
    writer: ClassVar[bool] = False
    after: ClassVar[str | None] = None
    rerun_on_merge: ClassVar[bool] = False
    resources: frozenset[str] = frozenset({"cpu"})  # instances may narrow it from settings
    batch_size: int = 1  # records the stage wants per process_batch call

    @classmethod
    def from_config(cls, config: Config) -> Stage | None:
        """Build the stage for a run; None when the settings turn it off."""
        return cls()

    def setup(self, ctx: Context) -> None:
        """Once per process, before the first record."""

    def process(self, record: Record, ctx: Context) -> None:
        raise NotImplementedError

    def process_batch(self, records: list[Record], ctx: Context) -> list[BaseException | None]:
        """Process several records; one entry per record: None, or the exception it raised."""
        out: list[BaseException | None] = []
        for record in records:
            try:
                self.process(record, ctx)
                out.append(None)
            except Exception as e:
                out.append(e)
        return out

    def done(self, record: Record) -> bool:
        """Whether an earlier (killed) run already did this stage's work on ``record``."""
        return self.name in record.timings

    def close(self) -> None:
        """Release resources at the end of a run."""


class Pipeline:
    def __init__(self, stages: Iterable[Stage]) -> None:
        self.stages = list(stages)
        self._ready = False

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    @property
    def batch_size(self) -> int:
        return max((s.batch_size for s in self.stages), default=1)

    def part(self, names: Iterable[str]) -> Pipeline:
        """The stages named in ``names``, in pipeline order (same instances)."""
        wanted = set(names)
        return Pipeline(s for s in self.stages if s.name in wanted)

    def setup(self, ctx: Context) -> None:
        if not self._ready:
            for s in self.stages:
                s.setup(ctx)
            self._ready = True

    def blocked(self, record: Record) -> bool:
        """Whether a required stage (or the input itself) failed: nothing more runs on it."""
        required = {s.name for s in self.stages if s.required} | BLOCKING
        return any(e.stage in required for e in record.errors)

    def done(self, record: Record) -> bool:
        return all(s.done(record) for s in self.stages)

    def process(self, record: Record, ctx: Context) -> Record:
        self.process_batch([record], ctx)
        return record

    def process_batch(self, records: list[Record], ctx: Context) -> list[Record]:
        """Run every stage over the records; a record whose required stage failed drops out."""
        self.setup(ctx)
        live = [r for r in records if not self.blocked(r)]
        for stage in self.stages:
            if not live:
                break
            for record in live:  # a re-run replaces the stage's earlier error
                record.errors = [e for e in record.errors if e.stage != stage.name]
            t0 = time.perf_counter()
            try:
                results = stage.process_batch(live, ctx)
            except Exception as e:  # the whole batch call failed: every record gets the error
                results = [e] * len(live)
            share = round((time.perf_counter() - t0) / len(live), 4)
            for err in results:  # a full disk or a damaged library is no record's fault: the batch stops
                stop = stops_batch(err, ctx.library) if err is not None else None
                if stop is not None:
                    raise stop from None
            for record, err in zip(live, results, strict=True):
                record.timings[stage.name] = share
                if err is not None:
                    _record_error(record, stage.name, err)
            if stage.required:
                live = [r for r in live if not any(e.stage == stage.name for e in r.errors)]
        now = utcnow()
        for record in records:
            record.updated_at = now
        return records

    def close(self) -> None:
        for s in self.stages:
            s.close()


def _record_error(record: Record, stage: str, err: BaseException) -> None:
    if isinstance(err, VideokitError):
        record.errors.append(StageError(stage, one_line(err), err.kind))
        log.warning("%s: %s failed: %s", _label(record), stage, one_line(err))
    else:  # a bug or an unexpected library failure: loud in the log, the batch goes on
        log.error("%s: %s crashed: %s", _label(record), stage, err, exc_info=err)
        record.errors.append(StageError(stage, f"{type(err).__name__}: {one_line(err)}"))


def _label(record: Record) -> str:
    return record.sources[0].input if record.sources else (record.id or "?")


# -- the stage registry and building a pipeline ----------------------------------------------

stages: Registry[type[Stage]] = registry("stages")


def stage_classes() -> list[type[Stage]]:
    """Every registered stage class, in pipeline order (from their ``after`` declarations)."""
    classes = {name: cls for name, cls in stages.items()}
    for name, cls in classes.items():
        if not (isinstance(cls, type) and issubclass(cls, Stage)):
            raise ConfigError(f"stage {name!r} ({cls!r}) is not a videokit.pipeline.Stage subclass")
        if cls.name != name:
            raise ConfigError(f"stage registered as {name!r} declares name = {cls.name!r}; they must match")
        bad = set(_resources(cls)) - RESOURCES
        if bad:
            raise ConfigError(f"stage {name!r}: unknown resource(s) {', '.join(sorted(bad))}; use io, cpu, gpu")
    order: list[str] = []
    # videokit's own stages are placed first, so a plug-in "after probe" lands right after
    # probe (between probe and what followed it), not at the end of probe's chain.
    third = set(stages.third_party())
    for group in (sorted(set(classes) - third), sorted(set(classes) & third)):
        pending = list(group)
        while pending:
            placed = 0
            for name in list(pending):
                anchor = classes[name].after
                if anchor is None:
                    order.append(name)
                elif anchor in order:
                    order.insert(order.index(anchor) + 1, name)
                elif anchor not in classes:
                    raise ConfigError(f"stage {name!r} wants to run after {anchor!r}, which is not a registered stage")
                else:
                    continue
                pending.remove(name)
                placed += 1
            if not placed:
                raise ConfigError(f"stages {', '.join(pending)} declare a cycle in their 'after' positions")
    return [classes[n] for n in order]


def _resources(cls: type[Stage]) -> frozenset[str]:
    res = cls.__dict__.get("resources", Stage.resources)
    return res if isinstance(res, frozenset) else frozenset()


def stage_names() -> list[str]:
    return [c.name for c in stage_classes()]


def optional_stages() -> list[str]:
    """Stages ``--skip`` may leave out."""
    return sorted(c.name for c in stage_classes() if c.optional)


def build_pipeline(config: Config, skip: Iterable[str] = ()) -> Pipeline:
    """Every registered stage, in order, built from ``config``; ``skip`` leaves optional ones out."""
    skip = set(skip)
    classes = stage_classes()
    optional = {c.name for c in classes if c.optional}
    unknown = skip - optional
    if unknown:
        raise UsageError(
            f"cannot skip stage(s) {', '.join(sorted(unknown))}; optional stages: {', '.join(sorted(optional))}"
        )
    built: list[Stage] = []
    have: set[str] = set()
    for cls in classes:
        if cls.name in skip:
            continue
        stage = cls.from_config(config)
        if stage is None:
            continue
        missing = set(cls.needs) - have
        if missing:
            raise ConfigError(
                f"stage {cls.name!r} needs {', '.join(sorted(missing))}, which no stage before it provides; "
                f"order: {', '.join(s.name for s in built)}"
            )
        have |= set(cls.provides)
        built.append(stage)
    return Pipeline(built)


def validate(config: Config) -> None:
    """Check every user-supplied data file before any work (raises ConfigError)."""
    from videokit.tagging import check_config

    check_config(config)
