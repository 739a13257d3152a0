"""AI analysis: descriptions, answers, sentiment, tags and a category for each video.

Backends register by name in :data:`analyzers` (third-party ones through the
``videokit.analyzers`` entry-point group) and implement :class:`Analyzer`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from videokit.analysis.base import DEFAULT_CATEGORIES, AnalysisRequest, Analyzer, FrameRef
from videokit.registry import Registry, registry

if TYPE_CHECKING:
    from videokit.config import Config

analyzers: Registry[Callable[[Config], Analyzer]] = registry("analyzers")


def create_analyzer(name: str, config: Config) -> Analyzer:
    """Build (but do not set up) the backend registered as ``name``."""
    return analyzers.get(name)(config)


__all__ = ["DEFAULT_CATEGORIES", "AnalysisRequest", "Analyzer", "FrameRef", "analyzers", "create_analyzer"]
