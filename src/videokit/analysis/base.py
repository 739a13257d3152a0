"""The analyzer contract shared by every backend (builtin, api, qwen, third-party).

A backend is a class registered by name in :data:`videokit.analysis.analyzers`. It is
built once per process with the resolved :class:`~videokit.config.Config`, ``setup()`` runs
once (load a model, open a client), then ``analyze_many(requests)`` answers a batch of
requests (up to :attr:`Analyzer.batch_size`, gathered from several videos by the analyze
stage) and ``analyze(request)`` one. Backends raise :class:`~videokit.errors.InputError` for
a bad video and :class:`~videokit.errors.TransientError` when a retry later may work;
``analyze_many`` returns such an exception in the failing request's place, so one bad video
never fails the others.

A backend declares whether it needs a GPU (:attr:`Analyzer.needs_gpu`: the distributed
planner sends its stage to the ``gpu`` queue) and, for a plug-in, its own settings section
(:attr:`Analyzer.settings_section` and :attr:`Analyzer.settings`, validated by the
configuration loader like a built-in section). Each component reads its settings once, in a
``from_config`` classmethod, into a frozen options object such as :class:`AnalysisOptions`.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from videokit.record import Analysis, Record

if TYPE_CHECKING:
    from videokit.config import Config, Option

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
class AnalysisOptions:
    """The analyze stage's settings, read once: ``[Analysis] Backend, Questions, PerScene,
    MaxFrames``, ``[QwenVL] DefaultInstruction`` and ``[SceneDetection] FrameWidth``."""

    backend: str
    questions: tuple[str, ...]
    per_scene: bool
    max_frames: int
    instruction: str
    frame_width: int

    @classmethod
    def from_config(cls, config: Config) -> AnalysisOptions:
        get = config.get
        return cls(
            backend=str(get("Analysis", "Backend")).strip().lower(),
            questions=tuple(str(q) for q in get("Analysis", "Questions")),
            per_scene=bool(get("Analysis", "PerScene")),
            max_frames=int(get("Analysis", "MaxFrames")),
            instruction=str(get("QwenVL", "DefaultInstruction")),
            frame_width=int(get("SceneDetection", "FrameWidth")),
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

    Subclasses set :attr:`name`, may set :attr:`needs_gpu`, :attr:`settings_section` and
    :attr:`settings`, may override :attr:`model`, :attr:`batch_size`, :meth:`setup`,
    :meth:`cache_params`, :meth:`analyze_many` and :meth:`close`, and must implement
    :meth:`analyze`.
    """

    name: ClassVar[str] = "analyzer"
    version: ClassVar[str] = "1"
    #: True when the backend runs a model on a GPU (its stage goes to the ``gpu`` queue).
    needs_gpu: ClassVar[bool] = False
    #: A plug-in's own config.ini section (None: the backend has none or uses a built-in one).
    settings_section: ClassVar[str | None] = None
    #: The keys of :attr:`settings_section`, validated by the configuration loader.
    settings: ClassVar[dict[str, Option]] = {}

    def __init__(self, config: Config) -> None:
        self.config = config

    @property
    def model(self) -> str | None:
        """The model identifier recorded on results (None for model-free backends)."""
        return None

    @property
    def batch_size(self) -> int:
        """How many requests are worth sending to :meth:`analyze_many` at once (1: no batching)."""
        return 1

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

    def analyze_many(self, requests: Sequence[AnalysisRequest]) -> list[Analysis | Exception]:
        """One entry per request, in order: its analysis, or the exception analysing it raised.

        A failing request never fails the others. Backends that batch or send requests
        concurrently override this; the default analyses one request after the other."""
        results: list[Analysis | Exception] = []
        for request in requests:
            try:
                results.append(self.analyze(request))
            except Exception as e:  # that request's own failure, reported in its place
                results.append(e)
        return results

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources at the end of a run."""
