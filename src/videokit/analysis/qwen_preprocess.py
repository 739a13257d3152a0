"""Qwen2-VL / Qwen2.5-VL video preprocessing without torchvision.

transformers' Qwen-VL processor cannot be built without torchvision, while the model
classes work without it. This module produces the same model inputs from a list of frame
images: ``pixel_values_videos`` in the exact patch layout of transformers'
``Qwen2VLVideoProcessor.patchify``, ``video_grid_thw``, and the text side
(``<|video_pad|>`` expanded to grid_t*grid_h*grid_w / merge^2 tokens, ``input_ids``,
``attention_mask`` and ``mm_token_type_ids``, left padded for batched generation).

Per frame: RGB, bicubic resize (PIL) to :func:`smart_resize`'s size, rescale by 1/255,
normalise with the CLIP mean/std, like ``Qwen2VLImageProcessorPil``. Frames are padded to a
multiple of ``temporal_patch_size`` by repeating the last one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from videokit.errors import InputError

T = TypeVar("T")

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# Token types understood by transformers 5.x Qwen-VL models (M-RoPE positions).
TEXT_TYPE, IMAGE_TYPE, VIDEO_TYPE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class VisionSpec:
    """The vision tower's input geometry and pixel normalisation."""

    patch_size: int = 14
    merge_size: int = 2
    temporal_patch_size: int = 2
    image_mean: tuple[float, ...] = CLIP_MEAN
    image_std: tuple[float, ...] = CLIP_STD
    rescale_factor: float = 1 / 255

    @property
    def factor(self) -> int:
        """Frame sides are rounded to multiples of this (patch x merge, 28 for Qwen-VL)."""
        return self.patch_size * self.merge_size

    @classmethod
    def from_configs(cls, preprocessor: Mapping[str, Any] | None, vision_config: Any = None) -> VisionSpec:
        """From ``preprocessor_config.json`` (preferred) and the model's ``vision_config``."""
        pre = dict(preprocessor or {})

        def pick(key: str, vision_key: str, default: Any) -> Any:
            if key in pre and pre[key] is not None:
                return pre[key]
            return getattr(vision_config, vision_key, default) if vision_config is not None else default

        return cls(
            patch_size=int(pick("patch_size", "patch_size", 14)),
            merge_size=int(pick("merge_size", "spatial_merge_size", 2)),
            temporal_patch_size=int(pick("temporal_patch_size", "temporal_patch_size", 2)),
            image_mean=tuple(float(x) for x in pre.get("image_mean") or CLIP_MEAN),
            image_std=tuple(float(x) for x in pre.get("image_std") or CLIP_STD),
            rescale_factor=float(pre.get("rescale_factor") or 1 / 255),
        )


@dataclass(slots=True)
class VideoPatches:
    """One video's vision input: flat patches ``(grid_t*grid_h*grid_w, C*T*P*P)`` and its grid."""

    pixel_values: np.ndarray
    grid_thw: tuple[int, int, int]
    frame_size: tuple[int, int]  # (height, width) after resizing
    num_frames: int  # frames given, before temporal padding

    def num_tokens(self, merge_size: int) -> int:
        t, h, w = self.grid_thw
        return t * h * w // (merge_size * merge_size)


def smart_resize(
    height: int, width: int, factor: int = 28, min_pixels: int = 56 * 56, max_pixels: int = 28 * 28 * 1280
) -> tuple[int, int]:
    """Qwen-VL's resize rule: sides divisible by ``factor``, area within [min, max], aspect kept."""
    if min(height, width) <= 0:
        raise ValueError(f"frame has no pixels ({width}x{height})")
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"frame aspect ratio must be smaller than 200, got {width}x{height}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def select_evenly(items: Sequence[T], k: int) -> list[T]:
    """Up to ``k`` items spread evenly over ``items``, first and last included."""
    n = len(items)
    if k <= 0 or n == 0:
        return []
    if n <= k:
        return list(items)
    if k == 1:
        return [items[n // 2]]
    return [items[round(i * (n - 1) / (k - 1))] for i in range(k)]


def load_frames(paths: Sequence[Path]) -> list[Image.Image]:
    """Open frame images as RGB; a missing or unreadable one raises InputError naming it."""
    frames: list[Image.Image] = []
    for p in paths:
        try:
            with Image.open(p) as im:
                frames.append(im.convert("RGB"))
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read sampled frame {p}: {e}; re-run the scenes stage") from e
    return frames


def normalize_frame(image: Image.Image, size: tuple[int, int], spec: VisionSpec) -> np.ndarray:
    """Resize to ``size`` (height, width) bicubically and normalise: float32 ``(C, H, W)``."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    height, width = size
    if rgb.size != (width, height):
        rgb = rgb.resize((width, height), resample=Image.Resampling.BICUBIC)
    arr = (np.asarray(rgb).astype(np.float64) * spec.rescale_factor).astype(np.float32)
    mean = np.asarray(spec.image_mean, dtype=np.float32)
    std = np.asarray(spec.image_std, dtype=np.float32)
    arr = (arr - mean) / std
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def patchify(frames: np.ndarray, spec: VisionSpec) -> tuple[np.ndarray, tuple[int, int, int]]:
    """``(T, C, H, W)`` frames -> flat patches in transformers' Qwen2-VL video layout.

    Rows run over (t, h-block, w-block, merge-row, merge-col); each row holds
    (channel, temporal, patch-row, patch-col) values.
    """
    tp, p, m = spec.temporal_patch_size, spec.patch_size, spec.merge_size
    if pad := -frames.shape[0] % tp:
        frames = np.concatenate([frames, np.repeat(frames[-1:], pad, axis=0)], axis=0)
    num_frames, channels, height, width = frames.shape
    gt, gh, gw = num_frames // tp, height // p, width // p
    patches = frames.reshape(gt, tp, channels, gh // m, m, p, gw // m, m, p)
    patches = patches.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return np.ascontiguousarray(patches.reshape(gt * gh * gw, channels * tp * p * p)), (gt, gh, gw)


def preprocess_video(
    frames: Sequence[Image.Image], spec: VisionSpec, *, min_pixels: int, max_pixels: int
) -> VideoPatches:
    """Frames of one video (or scene) -> :class:`VideoPatches`. All frames take the first one's size."""
    if not frames:
        raise InputError("no frames to analyse; run the scenes stage first")
    width, height = frames[0].size
    size = smart_resize(height, width, spec.factor, min_pixels, max_pixels)
    stack = np.stack([normalize_frame(f, size, spec) for f in frames])
    pixel_values, grid = patchify(stack, spec)
    return VideoPatches(pixel_values=pixel_values, grid_thw=grid, frame_size=size, num_frames=len(frames))


def seconds_per_grid(times: Sequence[float], temporal_patch_size: int, default_fps: float = 2.0) -> float:
    """Qwen2.5-VL's ``second_per_grid_ts``: temporal_patch_size / real sampling fps."""
    ts = sorted(times)
    if len(ts) >= 2 and ts[-1] > ts[0]:
        fps = (len(ts) - 1) / (ts[-1] - ts[0])
    else:
        fps = default_fps
    return temporal_patch_size / fps


def expand_video_tokens(text: str, counts: Sequence[int], video_token: str = "<|video_pad|>") -> str:
    """Replace the i-th ``video_token`` in ``text`` by ``counts[i]`` copies of it."""
    parts = text.split(video_token)
    if len(parts) - 1 != len(counts):
        raise ValueError(f"prompt has {len(parts) - 1} {video_token} placeholders for {len(counts)} videos")
    out = [parts[0]]
    for count, rest in zip(counts, parts[1:], strict=True):
        out.append(video_token * count)
        out.append(rest)
    return "".join(out)


def token_types(ids: Sequence[int], *, image_token_id: int | None, video_token_id: int | None) -> list[int]:
    """``mm_token_type_ids`` for one sequence: 0 text, 1 image placeholder, 2 video placeholder."""
    out = []
    for i in ids:
        if video_token_id is not None and i == video_token_id:
            out.append(VIDEO_TYPE)
        elif image_token_id is not None and i == image_token_id:
            out.append(IMAGE_TYPE)
        else:
            out.append(TEXT_TYPE)
    return out


def pad_left(sequences: Sequence[Sequence[int]], pad_value: int) -> tuple[np.ndarray, np.ndarray]:
    """Left-pad to a rectangle: ``(values, attention_mask)`` as int64 arrays."""
    longest = max((len(s) for s in sequences), default=0)
    values = np.full((len(sequences), longest), pad_value, dtype=np.int64)
    mask = np.zeros((len(sequences), longest), dtype=np.int64)
    for row, seq in enumerate(sequences):
        if seq:
            values[row, longest - len(seq) :] = np.asarray(seq, dtype=np.int64)
            mask[row, longest - len(seq) :] = 1
    return values, mask
