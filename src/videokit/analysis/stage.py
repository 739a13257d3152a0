"""The ``analyze`` pipeline stage and the one-call helpers behind ``videokit ask``.

The analyzer named by ``[QwenVL] Backend`` is built and set up once per process; each video
becomes one :class:`AnalysisRequest` (frames from the scene stage, or sampled here with one
ffmpeg call when the record has none), answered from the cache when an identical request
was analysed before.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videokit.analysis import create_analyzer
from videokit.analysis.base import DEFAULT_CATEGORIES, AnalysisRequest, Analyzer, FrameRef
from videokit.analysis.cache import AnalysisCache, cache_key
from videokit.analysis.frames import extract_stills, sample_times
from videokit.errors import InputError
from videokit.pipeline import Context, Stage
from videokit.record import Analysis, Record

if TYPE_CHECKING:
    from videokit.config import Config

log = logging.getLogger(__name__)

NO_ANALYZER = "none"


def cache_dir(config: Config) -> Path:
    return config.library / "cache" / "analysis"


def stored_video(record: Record, ctx: Context) -> Path | None:
    """Where the record says its video file is (it may no longer be there)."""
    stored = record.file.path if record.file else next((s.path for s in record.sources if s.path), None)
    return ctx.abspath(stored) if stored else None


def video_path(record: Record, ctx: Context) -> Path:
    """Where the record's video file is, or InputError naming the record."""
    path = stored_video(record, ctx)
    if path is None:
        raise InputError(f"{record.id or '?'}: record has no video file to analyse")
    if not path.is_file():
        raise InputError(
            f"{path}: video file is missing (moved or deleted); run 'videokit run NEW_PATH' to add it again"
        )
    return path


def pick_frames(frames: list[FrameRef], limit: int) -> list[FrameRef]:
    """At most ``limit`` frames spread evenly over ``frames`` (in time order)."""
    frames = sorted(frames, key=lambda f: f.time)
    if len(frames) <= limit:
        return frames
    if limit == 1:
        return [frames[len(frames) // 2]]
    idx = sorted({round(i * (len(frames) - 1) / (limit - 1)) for i in range(limit)})
    return [frames[i] for i in idx]


def build_request(
    record: Record,
    ctx: Context,
    scratch: Path,
    *,
    questions: list[str] | None = None,
    priority_keywords: list[str] | None = None,
    categories: list[str] | None = None,
    video: Path | None = None,
) -> AnalysisRequest:
    """The request for ``record``; frames are sampled into ``scratch`` when the record has none.

    ``video`` is the file to analyse when the caller knows better than the record (a video
    the user says has moved); by default the record's own file."""
    cfg = ctx.config
    video = video_path(record, ctx) if video is None else video
    max_frames = int(cfg.get("QwenVL", "MaxFrames"))
    width = int(cfg.get("SceneDetection", "FrameWidth"))
    stored = record.scenes.frames if record.scenes else []
    frames = [FrameRef(ctx.abspath(f.path), f.time, f.scene) for f in stored]
    frames = [f for f in frames if f.path.is_file()]
    if frames:
        sampling: dict[str, Any] = {"source": "scenes", "max_frames": max_frames, "width": width}
        frames = pick_frames(frames, max_frames)
    else:
        duration = record.media.duration if record.media else None
        times = sample_times(duration, max_frames)
        paths = extract_stills(video, times, scratch, width)
        if not paths:
            raise InputError(f"{video}: no frame could be decoded for analysis")
        frames = [FrameRef(p, t, _scene_at(record, t)) for p, t in paths]
        sampling = {"source": "uniform", "max_frames": max_frames, "width": width}
    return AnalysisRequest(
        video=video,
        record=record,
        frames=frames,
        instruction=str(cfg.get("QwenVL", "DefaultInstruction")),
        questions=list(cfg.get("QwenVL", "Questions") if questions is None else questions),
        priority_keywords=list(priority_keywords or []),
        categories=list(categories or DEFAULT_CATEGORIES),
        per_scene=bool(cfg.get("QwenVL", "PerScene")),
        sampling=sampling,
    )


def _scene_at(record: Record, t: float) -> int:
    for s in record.scenes.scenes if record.scenes else []:
        if s.start <= t < s.end:
            return s.index
    return 0


def analyze_cached(
    analyzer: Analyzer, request: AnalysisRequest, cache: AnalysisCache | None, *, refresh: bool = False
) -> Analysis:
    """The analysis of ``request``: from the cache unless ``refresh``, else from the backend."""
    key = cache_key(analyzer, request)
    if cache is not None and not refresh:
        hit = cache.get(key)
        if hit is not None:
            log.debug("%s: analysis cache hit %s", request.video, key[:12])
            return hit
    analysis = analyzer.analyze(request)
    analysis.cache_key = key
    if analysis.instruction is None:
        analysis.instruction = request.prompt
    if cache is not None:
        cache.put(key, analysis)
    return analysis


def apply_analysis(record: Record, analysis: Analysis) -> None:
    """Store ``analysis`` on the record (and per-scene descriptions on its scenes)."""
    record.analysis = analysis
    if record.scenes is not None:
        for scene in record.scenes.scenes:
            text = analysis.scene_descriptions.get(str(scene.index))
            if text:
                scene.description = text


def load_focus(config: Config) -> tuple[list[str], list[str]]:
    """(priority keywords, taxonomy categories) from ``[Rules] PriorityKeywords`` and ``Taxonomy``."""
    from videokit.tagging import load_priority_keywords, load_taxonomy

    return list(load_priority_keywords(config)), list(load_taxonomy(config).categories)


class AnalyzeStage(Stage):
    """Describe, answer, tag and suggest a category for each video (not required)."""

    name = "analyze"
    required = False

    def __init__(
        self,
        backend: str | None = None,
        *,
        analyzer: Analyzer | None = None,
        priority_keywords: list[str] | None = None,
        categories: list[str] | None = None,
        refresh: bool | None = None,
    ) -> None:
        self.backend = backend
        self.analyzer = analyzer
        self.priority_keywords = priority_keywords
        self.categories = categories
        self.refresh = refresh
        self.cache: AnalysisCache | None = None
        self._lock = threading.Lock()
        self._ready = False

    def setup(self, ctx: Context) -> None:
        with self._lock:
            if self._ready:
                return
            cfg = ctx.config
            name = (self.backend or str(cfg.get("QwenVL", "Backend"))).strip().lower()
            if self.analyzer is None and name != NO_ANALYZER:
                self.analyzer = create_analyzer(name, cfg)
            if self.analyzer is not None:
                self.analyzer.setup()
                if self.priority_keywords is None or self.categories is None:
                    kws, cats = load_focus(cfg)
                    self.priority_keywords = kws if self.priority_keywords is None else self.priority_keywords
                    self.categories = cats if self.categories is None else self.categories
                self.cache = AnalysisCache(cache_dir(cfg))
            self._ready = True

    def process(self, record: Record, ctx: Context) -> None:
        self.setup(ctx)
        if self.analyzer is None:
            return
        refresh = bool(ctx.extras.get("refresh")) if self.refresh is None else self.refresh
        with tempfile.TemporaryDirectory(prefix="videokit-analyze-") as scratch:
            request = build_request(
                record,
                ctx,
                Path(scratch),
                priority_keywords=self.priority_keywords,
                categories=self.categories,
            )
            analysis = analyze_cached(self.analyzer, request, self.cache, refresh=refresh)
        apply_analysis(record, analysis)

    def close(self) -> None:
        if self.analyzer is not None:
            self.analyzer.close()
