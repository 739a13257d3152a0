"""What runs inside a local worker process: the compute stages (decode, scenes, analysis, tags).

The pipeline is built and set up once per process by :func:`init` (so a model loads once per
worker process); :func:`process` then runs one part of it on a batch of records. Records cross
the process boundary as plain dataclasses that carry file paths, never video bytes.
"""

from __future__ import annotations

from collections.abc import Iterable

from videokit.config import Config
from videokit.pipeline import Context, Pipeline, build_pipeline
from videokit.record import Record

_pipeline: Pipeline | None = None
_ctx: Context | None = None
_parts: dict[tuple[str, ...], Pipeline] = {}


def init(config: Config, skip: Iterable[str], log: bool = True) -> None:
    """Process initializer: build the pipeline for this process (stages set up on first use)."""
    global _pipeline, _ctx
    if log:
        from videokit.logs import setup_logging

        setup_logging(config)
    _pipeline = build_pipeline(config, skip)
    _ctx = Context(config=config, store=None, pipeline=_pipeline)


def process(records: list[Record], names: list[str]) -> list[Record]:
    """Run the stages ``names`` of this process's pipeline on ``records`` (one batch)."""
    if _pipeline is None or _ctx is None:
        raise RuntimeError("worker process not initialised; call init() first")
    key = tuple(names)
    if key not in _parts:
        _parts[key] = _pipeline.part(names)
    return _parts[key].process_batch(records, _ctx)
