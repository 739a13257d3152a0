"""The ``qwen`` analyzer: Qwen2-VL and Qwen2.5-VL run locally through transformers.

The model is loaded once per process (a per-process cache keyed by model, device and cache
folder, so several analyzer instances share it) and reused for every video. Each video is
one request built from the scene stage's sampled frames (up to ``[QwenVL] MaxFrames``,
chosen evenly); with ``per_scene`` each scene is also one request on that scene's frames.
Requests are batched (``[QwenVL] BatchSize`` per ``generate`` call, left padded, halved on
GPU out-of-memory). Inputs come from ``AutoProcessor`` when torchvision is installed and
from :mod:`videokit.analysis.qwen_preprocess` otherwise; both give the same
``input_ids``/``mm_token_type_ids``/``video_grid_thw``. Qwen2.5-VL also gets
``second_per_grid_ts`` from the real sampling fps.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
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
from videokit.errors import ConfigError, InputError
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
        raise ConfigError(f"{where}: cannot load it ({_one_line(e)}); give a hub id or a local model folder") from e
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
        raise ConfigError(f"{where}: cannot load the weights or tokenizer ({_one_line(e)})") from e
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
        log.info("%s: no AutoProcessor (%s); using videokit's Qwen-VL preprocessing", model_id, _one_line(e))
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
        raise ConfigError(f"[QwenVL] Model = {model_id}: unreadable preprocessor_config.json ({_one_line(e)})") from e


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

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        get = config.get
        self.model_id: str = str(get("QwenVL", "Model")).strip()
        if not self.model_id:
            raise ConfigError(
                "[QwenVL] Model is empty; set a hub id such as Qwen/Qwen2-VL-2B-Instruct or a local folder"
            )
        if os.path.isdir(os.path.expanduser(self.model_id)):
            self.model_id = str(Path(self.model_id).expanduser().resolve())
        self.cache_dir: str | None = str(get("QwenVL", "ModelDir") or "") or None
        self.device_setting: str = str(get("QwenVL", "Device"))
        self.max_frames: int = int(get("QwenVL", "MaxFrames"))
        self.min_pixels: int = int(get("QwenVL", "MinPixels"))
        self.max_pixels: int = int(get("QwenVL", "MaxPixels"))
        self.max_new_tokens: int = int(get("QwenVL", "MaxNewTokens"))
        self.batch_size: int = int(get("QwenVL", "BatchSize"))
        if self.min_pixels > self.max_pixels:
            raise ConfigError(f"[QwenVL] MinPixels ({self.min_pixels}) is larger than MaxPixels ({self.max_pixels})")
        self._loaded: LoadedModel | None = None

    @property
    def model(self) -> str:
        """Hub id as given, or the folder name of a local checkpoint."""
        return Path(self.model_id).name if os.path.isabs(self.model_id) else self.model_id

    def cache_params(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "max_frames": self.max_frames,
            "min_pixels": self.min_pixels,
            "max_pixels": self.max_pixels,
            "max_new_tokens": self.max_new_tokens,
        }

    def setup(self) -> None:
        if self._loaded is None:
            self._loaded = load_model(self.model_id, resolve_device(self.device_setting), self.cache_dir)

    def analyze(self, request: AnalysisRequest) -> Analysis:
        return self.analyze_many([request])[0]

    def analyze_many(self, requests: Sequence[AnalysisRequest]) -> list[Analysis]:
        """All requests (and their scenes) batched through ``generate``.

        Every request's frames are read before any model call: an unreadable one raises
        InputError naming it, so a caller can retry the others one by one at no cost.
        """
        self.setup()
        assert self._loaded is not None
        jobs = [job for i, r in enumerate(requests) for job in self._jobs(r, i)]
        for job in jobs:
            self._prepare(job)
        self._run(jobs)
        return [self._result(r, [j for j in jobs if j.owner == i]) for i, r in enumerate(requests)]

    def close(self) -> None:
        self._loaded = None  # the per-process cache keeps the weights for other instances

    # -- building jobs ---------------------------------------------------------------------
    def _jobs(self, request: AnalysisRequest, owner: int) -> list[_Job]:
        frames = sorted(request.frames, key=lambda f: f.time)
        if not frames:
            raise InputError(f"{request.video}: no sampled frames to analyse; run the scenes stage first")
        jobs = [_Job(request, owner, None, select_evenly(frames, self.max_frames))]
        scenes = sorted({f.scene for f in frames})
        if request.per_scene and len(scenes) > 1:
            for s in scenes:
                mine = [f for f in frames if f.scene == s]
                sub = replace(request, frames=mine, per_scene=False)
                jobs.append(_Job(sub, owner, s, select_evenly(mine, self.max_frames)))
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
        videos = [
            preprocess_video(j.images, lm.spec, min_pixels=self.min_pixels, max_pixels=self.max_pixels) for j in jobs
        ]
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
            size={"shortest_edge": self.min_pixels, "longest_edge": self.max_pixels},
            padding=True,
            return_tensors="pt",
        )
        return dict(out)

    # -- generation ------------------------------------------------------------------------
    def _run(self, jobs: list[_Job]) -> None:
        order = sorted(range(len(jobs)), key=lambda i: len(jobs[i].frames))
        todo = [jobs[i] for i in order]
        size = self.batch_size
        while todo:
            chunk = todo[:size]
            try:
                self._generate(chunk)
            except Exception as e:
                if not _is_oom(e):
                    raise
                _free_cuda()
                if size == 1:
                    raise InputError(
                        f"{chunk[0].request.video}: out of GPU memory for one request; "
                        "lower [QwenVL] MaxFrames or MaxPixels"
                    ) from e
                size = max(1, size // 2)
                log.warning("qwen: out of GPU memory with %d requests per batch; retrying with %d", len(chunk), size)
                continue
            todo = todo[len(chunk) :]

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
            out = lm.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False, pad_token_id=pad_id)
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


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:300] or type(e).__name__
