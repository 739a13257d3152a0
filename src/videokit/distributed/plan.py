"""Which stages run on which queue: downloads on ``io``, GPU analysis on ``gpu``, the rest on ``cpu``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from videokit.config import Config

GPU_BACKENDS = {"qwen"}


def queue_for(stage: str, config: Config) -> str:
    if stage == "fetch":
        return "io"
    if stage == "analyze" and config.get("QwenVL", "Backend") in GPU_BACKENDS:
        return "gpu"
    return "cpu"


def stage_groups(config: Config, skip: Iterable[str] = ()) -> list[tuple[str, list[str]]]:
    """Consecutive stages on the same queue, in pipeline order: ``[(queue, [stage, ...]), ...]``."""
    from videokit.api import build_pipeline

    groups: list[tuple[str, list[str]]] = []
    for stage in build_pipeline(config, skip).stages:
        queue = queue_for(stage.name, config)
        if groups and groups[-1][0] == queue:
            groups[-1][1].append(stage.name)
        else:
            groups.append((queue, [stage.name]))
    return groups
