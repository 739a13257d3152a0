"""The library API the CLI (and Celery workers, and users' scripts) call.

cfg = load_config()
result = run(["https://example.com/v.mp4", "clips/"], cfg)
for rec in result.records: ...
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from videokit.config import Config
from videokit.errors import InputError
from videokit.inputs import InputItem, expand
from videokit.pipeline import Context, Pipeline, Stage
from videokit.record import Record, StageError, utcnow
from videokit.registry import Registry
from videokit.stages import new_record

log = logging.getLogger(__name__)

# Every stage by name, in pipeline order. Third-party stages register under "videokit.stages".
stages: Registry[Callable[[], Stage]] = Registry(
    "stages",
    {
        "fetch": "videokit.stages:FetchStage",
        "identify": "videokit.stages:IdentifyStage",
        "probe": "videokit.stages:ProbeStage",
        "scenes": "videokit.scenes.stage:ScenesStage",
        "analyze": "videokit.analysis.stage:AnalyzeStage",
        "tag": "videokit.tagging.stage:TagStage",
        "classify": "videokit.tagging.stage:ClassifyStage",
        "store": "videokit.stages:StoreStage",
    },
)
DEFAULT_STAGES = ["fetch", "identify", "probe", "scenes", "analyze", "tag", "classify", "store"]
OPTIONAL_STAGES = {"scenes", "analyze", "tag", "classify"}


def build_pipeline(config: Config, skip: Iterable[str] = ()) -> Pipeline:
    skip = set(skip)
    unknown = skip - OPTIONAL_STAGES
    if unknown:
        from videokit.errors import UsageError

        raise UsageError(
            f"cannot skip stage(s) {', '.join(sorted(unknown))}; optional stages: {', '.join(sorted(OPTIONAL_STAGES))}"
        )
    if config.get("QwenVL", "Backend") == "none":
        skip.add("analyze")
    return Pipeline(stages.get(name)() for name in DEFAULT_STAGES if name not in skip)


def validate(config: Config) -> None:
    """Check every user-supplied data file before any work (raises ConfigError)."""
    from videokit.tagging import check_config

    check_config(config)


@dataclass
class RunResult:
    records: list[Record] = field(default_factory=list)

    @property
    def failures(self) -> list[tuple[str, StageError]]:
        out = []
        for r in self.records:
            for e in r.errors:
                out.append((r.sources[-1].input if r.sources else r.id or "?", e))
        return out

    @property
    def ok(self) -> bool:
        return not self.failures


def process_item(item: InputItem, pipeline: Pipeline, ctx: Context) -> Record:
    record = new_record(item.spec, item.kind, item.user_fields)
    if item.error:
        record.errors.append(StageError("input", item.error))
        return record
    return pipeline.process(record, ctx)


def run(
    inputs: list[str],
    config: Config,
    *,
    from_files: list[Path] | None = None,
    skip: Iterable[str] = (),
    on_record: Callable[[Record], None] | None = None,
    on_progress: Callable[[str, int, int | None], None] | None = None,
    on_items: Callable[[int], None] | None = None,
    extras: dict | None = None,
    workers: int | None = None,
) -> RunResult:
    """Process every input into the library; one bad input never stops the batch.

    Goes through the job ledger (``<library>/ledger.sqlite``): an input already done with the
    same settings is not processed again, and one a killed run left half-way resumes where it
    stopped. ``workers`` (default ``[Concurrency] MaxWorkers``) inputs are processed at a time;
    with more than one, worker processes are spawned, so a script must call this under
    ``if __name__ == "__main__":``."""
    from videokit.batch import run_items

    validate(config)
    items = expand(inputs, from_files)
    if on_items:
        on_items(len(items))
    records = run_items(
        items, config, skip=skip, workers=workers, on_record=on_record, on_progress=on_progress, extras=extras
    )
    return RunResult(records)


def edit_tags(config: Config, id: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> TagEdit:
    """Add or remove ``user`` tags on stored video ``id`` (or a unique id prefix), then tag and
    classify it again so its category reflects them. Raises InputError for an unknown id, a
    bad name, or a name only a rule or an analyzer put there."""
    from videokit.store import open_store
    from videokit.tagging import check_config
    from videokit.tagging.user import edit_user_tags

    tagger = check_config(config)
    with open_store(config) as store:
        rec = store.get(id)
        if rec is None:
            raise InputError(f"no video with id {id!r} in {config.library}; see 'videokit search'")
        added, removed = edit_user_tags(rec, add, remove)
        before = rec.classification.category if rec.classification else None
        tagger.apply(rec)
        rec.updated_at = utcnow()
        store.upsert(rec)
    return TagEdit(rec, added, removed, before)


@dataclass(slots=True)
class TagEdit:
    record: Record
    added: list[str]
    removed: list[str]
    category_before: str | None
