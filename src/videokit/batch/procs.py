"""What runs inside a local worker process: the CPU stages (decode, scenes, analysis, tags).

The pipeline is built and set up once per process by :func:`init` (so a model loads once per
worker process); :func:`process` then handles one record at a time. Records cross the
process boundary as plain dataclasses that carry file paths, never video bytes.
"""

from __future__ import annotations

from collections.abc import Iterable

from videokit.config import Config
from videokit.pipeline import Context, Pipeline
from videokit.record import Record

_pipeline: Pipeline | None = None
_ctx: Context | None = None


def init(config: Config, skip: Iterable[str], names: list[str], log: bool = True) -> None:
    """Process initializer: build the CPU part of the pipeline for this process."""
    global _pipeline, _ctx
    from videokit.api import build_pipeline

    if log:
        from videokit.logs import setup_logging

        setup_logging(config)
    full = build_pipeline(config, skip)
    _pipeline = Pipeline(s for s in full.stages if s.name in names)
    _ctx = Context(config=config, store=None)


def process(record: Record) -> Record:
    """Run this process's stages on ``record`` (set up on first use)."""
    if _pipeline is None or _ctx is None:
        raise RuntimeError("worker process not initialised; call init() first")
    return _pipeline.process(record, _ctx)
