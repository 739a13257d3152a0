"""The ``analyze`` pipeline stage and the one-call helpers behind ``videokit ask``.

The analyzer named by ``[Analysis] Backend`` is built and set up once per process; each video
becomes one :class:`AnalysisRequest` (frames from the scene stage, or sampled here with one
ffmpeg call when the record has none), answered from the cache when an identical request
was analysed before. The stage takes videos in batches of the analyzer's ``batch_size``
(``[QwenVL] BatchSize`` for qwen, ``MaxConcurrentRequests`` for api): the cache misses of a
batch go to the analyzer together, and each video gets its own result or its own error.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videokit.analysis import analyzers, create_analyzer
from videokit.analysis.base import DEFAULT_CATEGORIES, AnalysisOptions, AnalysisRequest, Analyzer, FrameRef
from videokit.analysis.cache import AnalysisCache, cache_key
from videokit.analysis.frames import extract_stills, sample_times
from videokit.errors import ConfigError, InputError
from videokit.pipeline import Context, Stage
from videokit.record import Analysis, Record

if TYPE_CHECKING:
    from videokit.config import Config
    from videokit.dataset.dedup import AnalysedDuplicates

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
    options: AnalysisOptions | None = None,
) -> AnalysisRequest:
    """The request for ``record``; frames are sampled into ``scratch`` when the record has none.

    ``video`` is the file to analyse when the caller knows better than the record (a video
    the user says has moved); by default the record's own file. ``options``: the settings
    read once by the caller (by default read from ``ctx.config``)."""
    opts = AnalysisOptions.from_config(ctx.config) if options is None else options
    video = video_path(record, ctx) if video is None else video
    max_frames, width = opts.max_frames, opts.frame_width
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
        instruction=opts.instruction,
        questions=list(opts.questions if questions is None else questions),
        priority_keywords=list(priority_keywords or []),
        categories=list(categories or DEFAULT_CATEGORIES),
        per_scene=opts.per_scene,
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
    (result,) = analyze_all(analyzer, [request], cache, refresh=refresh)
    if isinstance(result, Exception):
        raise result
    return result


def analyze_all(
    analyzer: Analyzer, requests: Sequence[AnalysisRequest], cache: AnalysisCache | None, *, refresh: bool = False
) -> list[Analysis | Exception]:
    """One entry per request, in order: its analysis or the exception analysing it raised.

    Cache hits are answered from the cache (unless ``refresh``); the misses go to the backend
    together in one :meth:`Analyzer.analyze_many` call, and each new result is cached."""
    results: list[Analysis | Exception | None] = [None] * len(requests)
    keys = [cache_key(analyzer, r) for r in requests]
    misses: list[int] = []
    for i, (request, key) in enumerate(zip(requests, keys, strict=True)):
        hit = cache.get(key) if cache is not None and not refresh else None
        if hit is not None:
            log.debug("%s: analysis cache hit %s", request.video, key[:12])
            results[i] = hit
        else:
            misses.append(i)
    if misses:
        answers = analyzer.analyze_many([requests[i] for i in misses])
        if len(answers) != len(misses):
            raise RuntimeError(f"analyzer {analyzer.name!r} returned {len(answers)} results for {len(misses)} requests")
        for i, answer in zip(misses, answers, strict=True):
            if isinstance(answer, Analysis):
                answer.cache_key = keys[i]
                if answer.instruction is None:
                    answer.instruction = requests[i].prompt
                if cache is not None:
                    _cache_put(cache, keys[i], answer, requests[i])
            results[i] = answer
    done: list[Analysis | Exception] = []
    for result in results:
        assert result is not None  # every request is a hit or a miss
        done.append(result)
    return done


def _cache_put(cache: AnalysisCache, key: str, analysis: Analysis, request: AnalysisRequest) -> None:
    """Cache ``analysis``; a cache that cannot be written costs a model call next time, not the result."""
    try:
        cache.put(key, analysis)
    except OSError as e:
        log.warning("%s: cannot write the analysis cache in %s (%s)", request.video, cache.directory, e)


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
    """Describe, answer, tag and suggest a category for each video (not required).

    Videos come in batches (:attr:`batch_size`, the analyzer's): :meth:`process_batch` builds
    one request per video, answers cache hits from the cache and sends the misses to the
    analyzer together. :attr:`resources` says where the stage runs (``gpu`` when the
    analyzer needs one)."""

    name = "analyze"
    required = False
    optional = True
    after = "transcribe"  # the transcript is context for the analyzer
    needs = frozenset({"file", "media"})
    provides = frozenset({"analysis"})

    @classmethod
    def from_config(cls, config: Config) -> AnalyzeStage | None:
        """The stage for a run; None when ``[Analysis] Backend = none``."""
        if AnalysisOptions.from_config(config).backend == NO_ANALYZER:
            return None
        return cls(config=config)

    def __init__(
        self,
        backend: str | None = None,
        *,
        analyzer: Analyzer | None = None,
        priority_keywords: list[str] | None = None,
        categories: list[str] | None = None,
        refresh: bool | None = None,
        config: Config | None = None,
    ) -> None:
        """``backend`` overrides ``[Analysis] Backend``; ``analyzer`` is an analyzer already
        built; ``config`` lets :attr:`resources` name the analyzer before :meth:`setup`."""
        self.backend = backend
        self.analyzer = analyzer
        self.priority_keywords = priority_keywords
        self.categories = categories
        self.refresh = refresh
        self.config = config
        self.options: AnalysisOptions | None = None
        self.cache: AnalysisCache | None = None
        self._lock = threading.Lock()
        self._ready = False
        self._analysed: AnalysedDuplicates | None = None

    # -- what the runner and the planner read -----------------------------------------
    def backend_name(self, config: Config | None = None) -> str | None:
        """The analyzer's registered name (``none``: no analysis), or None when unknown yet."""
        if self.backend:
            return self.backend.strip().lower()
        if self.options is not None:
            return self.options.backend
        config = config or self.config
        return AnalysisOptions.from_config(config).backend if config is not None else None

    @property
    def resources(self) -> frozenset[str]:
        """``{"gpu"}`` when the analyzer needs a GPU (``needs_gpu``), else ``{"cpu"}``."""
        if self.analyzer is not None:
            cls: Any = type(self.analyzer)
        else:
            name = self.backend_name()
            cls = analyzers.get(name) if name and name != NO_ANALYZER else None
        return frozenset({"gpu"}) if getattr(cls, "needs_gpu", False) else frozenset({"cpu"})

    @property
    def batch_size(self) -> int:
        """Videos worth analysing together: the analyzer's ``batch_size``. Before :meth:`setup`
        the analyzer is built from the stage's config (not set up: no model is loaded), so a
        runner can size batches in a process that never runs the stage; 1 when unknown."""
        with self._lock:
            if self.analyzer is None:
                name = self.backend_name()
                if name is None or name == NO_ANALYZER or self.config is None:
                    return 1
                self.analyzer = create_analyzer(name, self.config)
            return max(1, int(self.analyzer.batch_size))

    # -- lifecycle ----------------------------------------------------------------------
    def setup(self, ctx: Context) -> None:
        with self._lock:
            if self._ready:
                return
            cfg = ctx.config
            self.config = cfg
            self.options = AnalysisOptions.from_config(cfg)
            name = self.backend_name()
            if self.analyzer is None and name != NO_ANALYZER:
                self.analyzer = create_analyzer(str(name), cfg)
            if self.analyzer is not None:
                self.analyzer.setup()
                if self.priority_keywords is None or self.categories is None:
                    kws, cats = load_focus(cfg)
                    self.priority_keywords = kws if self.priority_keywords is None else self.priority_keywords
                    self.categories = cats if self.categories is None else self.categories
                self.cache = AnalysisCache(cache_dir(cfg))
            self._ready = True

    def process(self, record: Record, ctx: Context) -> None:
        (error,) = self.process_batch([record], ctx)
        if error is not None:
            raise error

    def process_batch(self, records: list[Record], ctx: Context) -> list[BaseException | None]:
        """Analyse ``records`` together; one entry per record: None, or the exception it failed with."""
        self.setup(ctx)
        errors: list[BaseException | None] = [None] * len(records)
        if self.analyzer is None or not records:
            return errors
        refresh = bool(ctx.extras.get("refresh")) if self.refresh is None else self.refresh
        analysed = None if refresh else self._analysed_videos(ctx)
        with tempfile.TemporaryDirectory(prefix="videokit-analyze-") as scratch:
            requests: list[AnalysisRequest] = []
            owners: list[int] = []
            for i, record in enumerate(records):
                if analysed is not None and self._copy_from_duplicate(record, analysed):
                    continue
                try:
                    request = build_request(
                        record,
                        ctx,
                        Path(scratch) / str(i),
                        priority_keywords=self.priority_keywords,
                        categories=self.categories,
                        options=self.options,
                    )
                except Exception as e:  # this video's own failure (missing file, undecodable...)
                    errors[i] = e
                    continue
                requests.append(request)
                owners.append(i)
            if requests:
                results = analyze_all(self.analyzer, requests, self.cache, refresh=refresh)
                for i, result in zip(owners, results, strict=True):
                    if isinstance(result, Exception):
                        errors[i] = result
                    else:
                        apply_analysis(records[i], result)
                        if analysed is not None:
                            analysed.add(records[i])
        return errors

    def _analysed_videos(self, ctx: Context) -> AnalysedDuplicates | None:
        """The library's analysed videos by thumbnail hashes (None without a store in this
        process, or without the dataset extra's imagehash)."""
        if ctx.store is None:
            return None
        if self._analysed is None or self._analysed.store is not ctx.store:
            from videokit.dataset.dedup import AnalysedDuplicates

            try:
                self._analysed = AnalysedDuplicates(ctx.store, ctx.library)
            except ConfigError as e:
                log.debug("near-duplicates are analysed again: %s", e)
                return None
        return self._analysed

    def _copy_from_duplicate(self, record: Record, analysed: AnalysedDuplicates) -> bool:
        """Give ``record`` the analysis of a stored near-duplicate made by this analyzer, saying
        so (the model is not asked again); False when there is none."""
        from videokit.dataset.dedup import copy_analysis

        assert self.analyzer is not None and self.options is not None
        found = analysed.find(
            record, backend=self.analyzer.name, model=self.analyzer.model, questions=self.options.questions
        )
        if found is None:
            return False
        source, pair = found
        apply_analysis(record, copy_analysis(source, pair))
        log.info("%s: analysis copied from near-duplicate %s (similarity %.2f)", record.id, source.id, pair.similarity)
        return True

    def close(self) -> None:
        if self.analyzer is not None:
            self.analyzer.close()
