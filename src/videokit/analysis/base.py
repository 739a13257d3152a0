"""The analyzer contract shared by every backend (builtin, api, qwen, third-party).

A backend is a class registered by name in :data:`videokit.analysis.analyzers`. It is
built once per process with the resolved :class:`~videokit.config.Config`, ``setup()`` runs
once (load a model, open a client), then ``analyze(request)`` runs per video and returns an
:class:`~videokit.record.Analysis`. Backends raise :class:`~videokit.errors.InputError` for
a bad video and :class:`~videokit.errors.TransientError` when a retry later may work.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from videokit.record import Analysis, Record

if TYPE_CHECKING:
    from videokit.config import Config

DEFAULT_CATEGORIES: tuple[str, ...] = (
    "Action",
    "Sports",
    "Music",
    "Documentary",
    "Educational",
    "News",
    "Cinematic",
    "People & Vlogs",
    "Nature",
    "Animation",
    "Gaming",
    "Unclassified",
)


@dataclass(frozen=True, slots=True)
class FrameRef:
    """One sampled frame image on disk (absolute path), its time in seconds and its scene."""

    path: Path
    time: float
    scene: int = 0


@dataclass(slots=True)
class AnalysisRequest:
    """Everything a backend needs to analyse one video.

    ``instruction`` is ``[QwenVL] DefaultInstruction``; :attr:`prompt` is the full text sent
    to a model (instruction + priority keywords + questions + JSON schema request).
    ``sampling`` describes how ``frames`` were chosen; it is part of the cache key.
    """

    video: Path
    record: Record
    frames: list[FrameRef]
    instruction: str
    questions: list[str] = field(default_factory=list)
    priority_keywords: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=lambda: list(DEFAULT_CATEGORIES))
    per_scene: bool = False
    sampling: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        from videokit.analysis.prompt import build_prompt

        return build_prompt(self)

    @property
    def duration(self) -> float | None:
        return self.record.media.duration if self.record.media else None

    @property
    def sample_fps(self) -> float | None:
        """Frames per second of the sampling (for models that use real time, e.g. Qwen2.5-VL)."""
        times = sorted(f.time for f in self.frames)
        if len(times) < 2 or times[-1] <= times[0]:
            return None
        return (len(times) - 1) / (times[-1] - times[0])


class Analyzer(abc.ABC):
    """Base class of analysis backends.

    Subclasses set :attr:`name`, may override :attr:`model`, :meth:`setup`,
    :meth:`cache_params`, :meth:`analyze_many` and :meth:`close`, and must implement
    :meth:`analyze`.
    """

    name: ClassVar[str] = "analyzer"
    version: ClassVar[str] = "1"

    def __init__(self, config: Config) -> None:
        self.config = config

    @property
    def model(self) -> str | None:
        """The model identifier recorded on results (None for model-free backends)."""
        return None

    @property
    def origin(self) -> str:
        """Tag provenance: ``analyzer:<backend>/<model or version>``."""
        return f"analyzer:{self.name}/{self.model or self.version}"

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Once per process, before the first video (load weights, open clients)."""

    def cache_params(self) -> dict[str, Any]:
        """Backend settings that change the result (pixels, token limits...); part of the cache key."""
        return {}

    @abc.abstractmethod
    def analyze(self, request: AnalysisRequest) -> Analysis:
        """Analyse one video. Never returns None; raise InputError/TransientError on failure."""

    def analyze_many(self, requests: Sequence[AnalysisRequest]) -> list[Analysis]:
        """Analyse several videos; backends that batch override this."""
        return [self.analyze(r) for r in requests]

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources at the end of a run."""
