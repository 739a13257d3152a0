"""The ``qwen`` analyzer: Qwen2-VL and Qwen2.5-VL run locally through transformers.

The model is loaded once per process (a per-process cache keyed by model, device and cache
folder, so several analyzer instances share it) and reused for every video. Each video is
one request built from the scene stage's sampled frames (up to ``[Analysis] MaxFrames``,
chosen evenly); with ``per_scene`` each scene is also one request on that scene's frames.
The analyze stage gathers ``[QwenVL] BatchSize`` videos and sends them together; their
requests (scenes included) are batched ``BatchSize`` per ``generate`` call (left padded,
halved on GPU out-of-memory). A video whose frames cannot be read, or whose request fails,
gets its own error; the others are analysed. Inputs come from ``AutoProcessor`` when torchvision is installed and
from :mod:`videokit.analysis.qwen_preprocess` otherwise; both give the same
``input_ids``/``mm_token_type_ids``/``video_grid_thw``. Qwen2.5-VL also gets
``second_per_grid_ts`` from the real sampling fps.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videokit.analysis.base import AnalysisRequest, Analyzer, FrameRef
from videokit.analysis.parse import parse_analysis
from videokit.analysis.qwen_preprocess import (
    VisionSpec,
    expand_video_tokens,
    load_frames,
    pad_left,
    preprocess_video,
    seconds_per_grid,
    select_evenly,
    token_types,
)
from videokit.errors import ConfigError, InputError, one_line
from videokit.record import Analysis

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from videokit.config import Config

log = logging.getLogger(__name__)

SUPPORTED = {"qwen2_vl": "Qwen2-VL", "qwen2_5_vl": "Qwen2.5-VL"}
VIDEO_TOKEN = "<|video_pad|>"
IMAGE_TOKEN = "<|image_pad|>"
# Qwen's ChatML, used only when a checkpoint ships no chat template.
_FALLBACK_CHAT = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>{text}<|im_end|>\n"
    "<|im_start|>assistant\n"
)


@dataclass(slots=True)
class LoadedModel:
    """A loaded checkpoint and what is needed to feed it."""

    model: Any
    tokenizer: Any
    processor: Any | None  # transformers AutoProcessor when torchvision imports
    spec: VisionSpec
    kind: str  # qwen2_vl | qwen2_5_vl
    device: str
    lock: threading.Lock = field(default_factory=threading.Lock)


_MODELS: dict[tuple[str, str, str], LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


def clear_model_cache() -> None:
    """Forget loaded models (tests; freeing GPU memory between runs)."""
    with _MODELS_LOCK:
        _MODELS.clear()


def have_torchvision() -> bool:
    if importlib.util.find_spec("torchvision") is None:
        return False
    try:
        import torchvision  # noqa: F401
    except Exception:  # a broken install (e.g. CUDA/CPU mismatch) is as good as none
        return False
    return True


_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


@dataclass(frozen=True, slots=True)
class QwenOptions:
    """The qwen backend's settings, read and checked once (``[QwenVL]`` and ``[Analysis] MaxFrames``)."""

    model_id: str  # hub id, or the absolute path of a local checkpoint folder
    cache_dir: str | None
    device: str
    max_frames: int
    min_pixels: int
    max_pixels: int
    max_new_tokens: int
    batch_size: int

    @classmethod
    def from_config(cls, config: Config) -> QwenOptions:
        get = config.get
        model_id = str(get("QwenVL", "Model")).strip()
        if not model_id:
            raise ConfigError(
                "[QwenVL] Model is empty; set a hub id such as Qwen/Qwen2-VL-2B-Instruct or a local folder"
            )
        if os.path.isdir(os.path.expanduser(model_id)):
            model_id = str(Path(model_id).expanduser().resolve())
        device = str(get("QwenVL", "Device")).strip().lower() or "auto"
        if not _DEVICE.fullmatch(device):
            raise ConfigError(f"[QwenVL] Device = {device!r} is not valid; use auto, cpu, cuda or cuda:N")
        options = cls(
            model_id=model_id,
            cache_dir=str(get("QwenVL", "ModelDir") or "") or None,
            device=device,
            max_frames=int(get("Analysis", "MaxFrames")),
            min_pixels=int(get("QwenVL", "MinPixels")),
            max_pixels=int(get("QwenVL", "MaxPixels")),
            max_new_tokens=int(get("QwenVL", "MaxNewTokens")),
            batch_size=int(get("QwenVL", "BatchSize")),
        )
        if options.min_pixels > options.max_pixels:
            raise ConfigError(
                f"[QwenVL] MinPixels ({options.min_pixels}) is larger than MaxPixels ({options.max_pixels}); "
                "lower MinPixels or raise MaxPixels"
            )
        return options


def resolve_device(setting: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; CUDA asked for but absent -> ConfigError."""
    import torch

    s = (setting or "auto").strip().lower()
    if s == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if s.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"[QwenVL] Device = {setting} but no CUDA GPU is visible; use Device = cpu or auto")
        return s
    if s == "cpu":
        return s
    raise ConfigError(f"[QwenVL] Device = {setting!r} is not valid; use auto, cpu, cuda or cuda:N")


def load_model(model_id: str, device: str, cache_dir: str | None = None) -> LoadedModel:
    """Load (once per process) a Qwen-VL checkpoint: bf16 + ``device_map="auto"`` on GPU, fp32 on CPU."""
    key = (model_id, device, cache_dir or "")
    with _MODELS_LOCK:
        loaded = _MODELS.get(key)
        if loaded is None:
            loaded = _MODELS[key] = _load(model_id, device, cache_dir)
        return loaded


def _load(model_id: str, device: str, cache_dir: str | None) -> LoadedModel:
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText, AutoTokenizer

    where = f"[QwenVL] Model = {model_id}"
    try:
        config = AutoConfig.from_pretrained(model_id, cache_dir=cache_dir)
    except (OSError, ValueError) as e:
        raise ConfigError(f"{where}: cannot load it ({one_line(e, 300)}); give a hub id or a local model folder") from e
    if config.model_type not in SUPPORTED:
        raise ConfigError(f"{where} is a {config.model_type!r} model; the qwen backend runs Qwen2-VL and Qwen2.5-VL")
    kwargs: dict[str, Any] = {"cache_dir": cache_dir}
    if device.startswith("cuda"):
        kwargs["dtype"] = torch.bfloat16
        kwargs["device_map"] = "auto" if device == "cuda" else {"": device}
    else:
        kwargs["dtype"] = torch.float32
    try:
        model = AutoModelForImageTextToText.from_pretrained(model_id, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(model_id, cache_dir=cache_dir)
    except (OSError, ValueError) as e:
        raise ConfigError(f"{where}: cannot load the weights or tokenizer ({one_line(e, 300)})") from e
    if not device.startswith("cuda"):
        model.to(device)
    model.eval()
    processor = _auto_processor(model_id, cache_dir) if have_torchvision() else None
    spec = VisionSpec.from_configs(_preprocessor_config(model_id, cache_dir), getattr(config, "vision_config", None))
    log.info("loaded %s (%s) on %s", model_id, SUPPORTED[config.model_type], device)
    return LoadedModel(model, tokenizer, processor, spec, config.model_type, device)


def _auto_processor(model_id: str, cache_dir: str | None) -> Any | None:
    """transformers' own processor, or None when the checkpoint has no usable video processor."""
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(model_id, cache_dir=cache_dir)
    except (OSError, ValueError, ImportError) as e:
        log.info("%s: no AutoProcessor (%s); using videokit's Qwen-VL preprocessing", model_id, one_line(e, 300))
        return None
    if getattr(processor, "video_processor", None) is None or getattr(processor, "tokenizer", None) is None:
        return None
    processor.tokenizer.padding_side = "left"
    return processor


def _preprocessor_config(model_id: str, cache_dir: str | None) -> dict[str, Any] | None:
    from transformers.utils import cached_file

    path = cached_file(
        model_id, "preprocessor_config.json", cache_dir=cache_dir, _raise_exceptions_for_missing_entries=False
    )
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(
            f"[QwenVL] Model = {model_id}: unreadable preprocessor_config.json ({one_line(e, 300)})"
        ) from e


@dataclass(slots=True)
class _Job:
    """One generate row: a whole video or one of its scenes."""

    request: AnalysisRequest
    owner: int  # index of the request in the batch
    scene: int | None  # None: the whole video
    frames: list[FrameRef]
    images: list[Image.Image] = field(default_factory=list)
    reply: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    grid: tuple[int, int, int] = (0, 0, 0)
    second_per_grid: float = 1.0


class QwenAnalyzer(Analyzer):
    """Qwen2-VL / Qwen2.5-VL through transformers (``[QwenVL] Model``: hub id or local folder)."""

    name = "qwen"
    version = "1"
    needs_gpu = True

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.options = QwenOptions.from_config(config)
        self._loaded: LoadedModel | None = None

    @property
    def model(self) -> str:
        """Hub id as given, or the folder name of a local checkpoint."""
        model_id = self.options.model_id
        return Path(model_id).name if os.path.isabs(model_id) else model_id

    @property
    def batch_size(self) -> int:
        """``[QwenVL] BatchSize``: requests per ``generate`` call, so videos worth gathering."""
        return self.options.batch_size

    def cache_params(self) -> dict[str, Any]:
        o = self.options
        return {
            "model": o.model_id,
            "max_frames": o.max_frames,
            "min_pixels": o.min_pixels,
            "max_pixels": o.max_pixels,
            "max_new_tokens": o.max_new_tokens,
        }

    def setup(self) -> None:
        if self._loaded is None:
            o = self.options
            self._loaded = load_model(o.model_id, resolve_device(o.device), o.cache_dir)

    def analyze(self, request: AnalysisRequest) -> Analysis:
        (result,) = self.analyze_many([request])
        if isinstance(result, Exception):
            raise result
        return result

    def analyze_many(self, requests: Sequence[AnalysisRequest]) -> list[Analysis | Exception]:
        """All requests (and their scenes) batched through ``generate``, ``BatchSize`` per call.

        Every request's frames are read before any model call; a request whose frames cannot be
        read (InputError naming the file) or whose generation fails gets that exception in its
        place, and the other requests are analysed.
        """
        self.setup()
        assert self._loaded is not None
        failed: dict[int, Exception] = {}
        jobs: list[_Job] = []
        for i, request in enumerate(requests):
            try:
                mine = self._jobs(request, i)
                for job in mine:
                    self._prepare(job)
            except Exception as e:  # this request's own failure (unreadable frame, no frames...)
                failed[i] = e
                continue
            jobs += mine
        self._run(jobs, failed)
        results: list[Analysis | Exception] = []
        for i, request in enumerate(requests):
            if i in failed:
                results.append(failed[i])
                continue
            try:
                results.append(self._result(request, [j for j in jobs if j.owner == i]))
            except Exception as e:
                results.append(e)
        return results

    def close(self) -> None:
        self._loaded = None  # the per-process cache keeps the weights for other instances

    # -- building jobs ---------------------------------------------------------------------
    def _jobs(self, request: AnalysisRequest, owner: int) -> list[_Job]:
        frames = sorted(request.frames, key=lambda f: f.time)
        if not frames:
            raise InputError(f"{request.video}: no sampled frames to analyse; run the scenes stage first")
        limit = self.options.max_frames
        jobs = [_Job(request, owner, None, select_evenly(frames, limit))]
        scenes = sorted({f.scene for f in frames})
        if request.per_scene and len(scenes) > 1:
            for s in scenes:
                mine = [f for f in frames if f.scene == s]
                sub = replace(request, frames=mine, per_scene=False)
                jobs.append(_Job(sub, owner, s, select_evenly(mine, limit)))
        return jobs

    def _prepare(self, job: _Job) -> None:
        images = load_frames([f.path for f in job.frames])
        size = images[0].size
        job.images = [im if im.size == size else im.resize(size) for im in images]
        assert self._loaded is not None
        job.second_per_grid = seconds_per_grid([f.time for f in job.frames], self._loaded.spec.temporal_patch_size)

    def _chat_text(self, prompt: str) -> str:
        assert self._loaded is not None
        messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": prompt}]}]
        for owner in (self._loaded.processor, self._loaded.tokenizer):
            if owner is not None and getattr(owner, "chat_template", None):
                return owner.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return _FALLBACK_CHAT.format(text=prompt)

    # -- model inputs ----------------------------------------------------------------------
    def build_inputs(self, jobs: Sequence[_Job]) -> dict[str, torch.Tensor]:
        """The ``generate`` inputs for a batch of prepared jobs (one video per row, left padded)."""
        assert self._loaded is not None
        texts = [self._chat_text(j.request.prompt) for j in jobs]
        if self._loaded.processor is not None:
            inputs = self._processor_inputs(texts, jobs)
        else:
            inputs = self._own_inputs(texts, jobs)
        for job, grid in zip(jobs, inputs["video_grid_thw"].tolist(), strict=True):
            job.grid = (int(grid[0]), int(grid[1]), int(grid[2]))
        if self._loaded.kind == "qwen2_5_vl":
            import torch

            inputs["second_per_grid_ts"] = torch.tensor([j.second_per_grid for j in jobs], dtype=torch.float32)
        else:
            inputs.pop("second_per_grid_ts", None)
        return inputs

    def _own_inputs(self, texts: list[str], jobs: Sequence[_Job]) -> dict[str, torch.Tensor]:
        import numpy as np
        import torch

        lm = self._loaded
        assert lm is not None
        tok = lm.tokenizer
        o = self.options
        videos = [preprocess_video(j.images, lm.spec, min_pixels=o.min_pixels, max_pixels=o.max_pixels) for j in jobs]
        video_id = tok.convert_tokens_to_ids(VIDEO_TOKEN)
        image_id = tok.convert_tokens_to_ids(IMAGE_TOKEN)
        ids: list[list[int]] = []
        for text, video in zip(texts, videos, strict=True):
            expanded = expand_video_tokens(text, [video.num_tokens(lm.spec.merge_size)], VIDEO_TOKEN)
            ids.append(list(tok(expanded)["input_ids"]))
        types = [token_types(seq, image_token_id=image_id, video_token_id=video_id) for seq in ids]
        pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        input_ids, mask = pad_left(ids, pad_id)
        mm_types, _ = pad_left(types, 0)
        return {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(mask),
            "mm_token_type_ids": torch.from_numpy(mm_types),
            "pixel_values_videos": torch.from_numpy(np.concatenate([v.pixel_values for v in videos])),
            "video_grid_thw": torch.tensor([v.grid_thw for v in videos], dtype=torch.long),
        }

    def _processor_inputs(self, texts: list[str], jobs: Sequence[_Job]) -> dict[str, torch.Tensor]:
        from transformers.video_utils import VideoMetadata

        lm = self._loaded
        assert lm is not None and lm.processor is not None
        metadata = [
            VideoMetadata(
                total_num_frames=len(j.images),
                fps=lm.spec.temporal_patch_size / j.second_per_grid,
                frames_indices=list(range(len(j.images))),
            )
            for j in jobs
        ]
        out = lm.processor(
            text=texts,
            videos=[list(j.images) for j in jobs],
            video_metadata=metadata,
            do_sample_frames=False,
            size={"shortest_edge": self.options.min_pixels, "longest_edge": self.options.max_pixels},
            padding=True,
            return_tensors="pt",
        )
        return dict(out)

    # -- generation ------------------------------------------------------------------------
    def _run(self, jobs: list[_Job], failed: dict[int, Exception]) -> None:
        """Generate every job, ``BatchSize`` per call; a failure is recorded in ``failed`` under
        the index of the request it belongs to (a failed batch is retried one job at a time to
        find which), and that request's remaining jobs are skipped."""
        order = sorted(range(len(jobs)), key=lambda i: len(jobs[i].frames))
        todo = [jobs[i] for i in order]
        size = self.options.batch_size
        while todo:
            todo = [j for j in todo if j.owner not in failed]
            chunk = todo[:size]
            if not chunk:
                break
            try:
                self._generate(chunk)
            except Exception as e:
                if _is_oom(e) and size > 1:
                    _free_cuda()
                    size = max(1, size // 2)
                    log.warning(
                        "qwen: out of GPU memory with %d requests per batch; retrying with %d", len(chunk), size
                    )
                    continue
                if len(chunk) == 1:
                    failed[chunk[0].owner] = self._failure(chunk[0], e)
                else:
                    log.warning("qwen: a batch of %d requests failed (%s); retrying one by one", len(chunk), e)
                    self._one_by_one(chunk, failed)
            todo = todo[len(chunk) :]

    def _one_by_one(self, chunk: list[_Job], failed: dict[int, Exception]) -> None:
        for job in chunk:
            if job.owner in failed:
                continue
            try:
                self._generate([job])
            except Exception as e:
                failed[job.owner] = self._failure(job, e)

    def _failure(self, job: _Job, e: Exception) -> Exception:
        """The error reported for ``job``'s video when generating it alone failed."""
        if not _is_oom(e):
            return e
        _free_cuda()
        error = InputError(
            f"{job.request.video}: out of GPU memory for one request; lower [Analysis] MaxFrames or [QwenVL] MaxPixels"
        )
        error.__cause__ = e
        return error

    def _generate(self, chunk: list[_Job]) -> None:
        import torch

        lm = self._loaded
        assert lm is not None
        inputs = self.build_inputs(chunk)
        device = lm.model.device
        inputs = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
        tok = lm.tokenizer
        pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        with lm.lock, torch.inference_mode():
            out = lm.model.generate(
                **inputs, max_new_tokens=self.options.max_new_tokens, do_sample=False, pad_token_id=pad_id
            )
        prompt_len = inputs["input_ids"].shape[1]
        new = out[:, prompt_len:].cpu()
        eos = _eos_ids(lm.model, tok)
        for row, job in enumerate(chunk):
            tokens = new[row].tolist()
            end = next((i + 1 for i, t in enumerate(tokens) if t in eos), len(tokens))
            job.reply = tok.decode(tokens[:end], skip_special_tokens=True)
            job.prompt_tokens = int(inputs["attention_mask"][row].sum())
            job.completion_tokens = end

    # -- results ---------------------------------------------------------------------------
    def _result(self, request: AnalysisRequest, jobs: list[_Job]) -> Analysis:
        whole = next(j for j in jobs if j.scene is None)
        analysis = parse_analysis(whole.reply, request, backend=self.name, model=self.model, origin=self.origin)
        if analysis.warnings:
            log.warning("qwen: %s: %s", request.video, analysis.warnings[0])
        for job in jobs:
            if job.scene is None:
                continue
            sub = parse_analysis(job.reply, job.request, backend=self.name, model=self.model, origin=self.origin)
            if sub.description:
                analysis.scene_descriptions[str(job.scene)] = sub.description
            analysis.warnings += [f"scene {job.scene}: {w}" for w in sub.warnings]
        analysis.usage = {
            "prompt_tokens": sum(j.prompt_tokens for j in jobs),
            "completion_tokens": sum(j.completion_tokens for j in jobs),
            "requests": len(jobs),
        }
        t, h, w = whole.grid
        merge = self._loaded.spec.merge_size if self._loaded else 2
        analysis.facts.update(
            {
                "frames": len(whole.frames),
                "frame_times": [round(f.time, 3) for f in whole.frames],
                "video_grid_thw": [t, h, w],
                "video_tokens": t * h * w // (merge * merge),
            }
        )
        return analysis


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids: set[int] = set()
    for source in (getattr(model, "generation_config", None), getattr(model, "config", None)):
        value = getattr(source, "eos_token_id", None) if source is not None else None
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return ids


def _is_oom(e: BaseException) -> bool:
    import torch

    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(e, oom)) or "out of memory" in str(e).lower()


def _free_cuda() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
