"""Which stages run on which Celery queue, from what each stage declares it uses.

A stage using the GPU goes to ``gpu`` (only machines serving it load the model), one that is
network or disk bound (downloads) to ``io``, the rest to ``cpu``. Consecutive stages on the
same queue form one task.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from videokit.pipeline import Stage, build_pipeline

if TYPE_CHECKING:
    from videokit.config import Config


def queue_for(stage: Stage) -> str:
    if "gpu" in stage.resources:
        return "gpu"
    if "io" in stage.resources:
        return "io"
    return "cpu"


def stage_groups(config: Config, skip: Iterable[str] = ()) -> list[tuple[str, list[str]]]:
    """Consecutive stages on the same queue, in pipeline order: ``[(queue, [stage, ...]), ...]``."""
    groups: list[tuple[str, list[str]]] = []
    for stage in build_pipeline(config, skip).stages:
        queue = queue_for(stage)
        if groups and groups[-1][0] == queue:
            groups[-1][1].append(stage.name)
        else:
            groups.append((queue, [stage.name]))
    return groups
