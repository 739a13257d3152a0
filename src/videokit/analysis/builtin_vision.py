"""Classic vision measurements: brightness, colour, camera motion. No model weights.

Stills are the analysis frames (colour); bursts are a few consecutive low-resolution grey
frames per sample point, for optical flow.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

DARK_LUMA = 50  # mean luma (0-255) under which a shot reads as dark / night
DIM_LUMA = 85
BRIGHT_LUMA = 170
STATIC_SPEED = 0.02  # mean flow under this (frame widths / s) is static
PAN_SPEED = 0.04  # global translation above this (frame widths / s) is a pan / tilt
ZOOM_RATE = 0.04  # relative scale change per second above this is a zoom
COHERENT = 0.5  # share of flow vectors the global model must explain

# name -> RGB; coarse on purpose (what a person would call the colour)
PALETTE: dict[str, tuple[int, int, int]] = {
    "black": (10, 10, 10),
    "dark gray": (70, 70, 70),
    "gray": (128, 128, 128),
    "light gray": (190, 190, 190),
    "white": (245, 245, 245),
    "red": (200, 30, 30),
    "dark red": (110, 20, 20),
    "orange": (235, 130, 30),
    "brown": (120, 75, 40),
    "beige": (215, 195, 160),
    "yellow": (235, 220, 40),
    "olive": (120, 120, 30),
    "green": (40, 160, 50),
    "dark green": (20, 80, 30),
    "teal": (30, 130, 130),
    "cyan": (40, 210, 220),
    "sky blue": (120, 180, 235),
    "blue": (30, 60, 200),
    "navy": (20, 30, 90),
    "purple": (120, 50, 160),
    "magenta": (220, 40, 200),
    "pink": (240, 150, 180),
}
_PALETTE_LAB = cv2.cvtColor(np.array([list(PALETTE.values())], np.uint8), cv2.COLOR_RGB2LAB)[0].astype(np.float32)
_PALETTE_NAMES = list(PALETTE)


def load_stills(paths: Sequence[Path], width: int = 160) -> list[np.ndarray]:
    """RGB arrays, resized to ``width``; unreadable files are skipped."""
    return [s for s in (load_still(p, width) for p in paths) if s is not None]


def load_still(path: Path, width: int = 160) -> np.ndarray | None:
    """One RGB array resized to ``width``, or None when the file cannot be read."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        return None
    h = max(1, round(img.shape[0] * width / img.shape[1]))
    return cv2.cvtColor(cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def brightness_facts(stills: Sequence[np.ndarray]) -> dict[str, Any]:
    lumas = [float(cv2.cvtColor(s, cv2.COLOR_RGB2GRAY).mean()) for s in stills]
    if not lumas:
        return {"mean_luma": None, "level": None}
    mean = float(np.mean(lumas))
    level = "dark" if mean < DARK_LUMA else "dim" if mean < DIM_LUMA else "bright" if mean > BRIGHT_LUMA else "normal"
    return {
        "mean_luma": round(mean, 1),
        "min_luma": round(min(lumas), 1),
        "max_luma": round(max(lumas), 1),
        "dark_frames": sum(v < DARK_LUMA for v in lumas),
        "frames": len(lumas),
        "level": level,
    }


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colourfulness metric (0 = grey; > 60 very colourful)."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def color_facts(stills: Sequence[np.ndarray], k: int = 5) -> dict[str, Any]:
    if not stills:
        return {"colorfulness": None, "dominant": []}
    score = float(np.mean([colorfulness(s) for s in stills]))
    word = (
        "grayscale"
        if score < 8
        else "muted"
        if score < 33
        else "moderately colourful"
        if score < 59
        else "very colourful"
    )
    pixels = np.concatenate([s.reshape(-1, 3) for s in stills]).astype(np.float32)
    k = min(k, len(pixels))
    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    _, labels, centers = cv2.kmeans(pixels, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    shares = np.bincount(labels.ravel(), minlength=k) / len(labels)
    merged: dict[str, float] = {}
    hexes: dict[str, str] = {}
    for c, share in sorted(zip(centers, shares, strict=True), key=lambda cs: -cs[1]):
        name = color_name(c)
        merged[name] = merged.get(name, 0.0) + float(share)
        hexes.setdefault(name, "#" + "".join(f"{int(round(v)):02x}" for v in np.clip(c, 0, 255)))
    dominant = [
        {"name": n, "hex": hexes[n], "share": round(s, 3)}
        for n, s in sorted(merged.items(), key=lambda kv: -kv[1])
        if s >= 0.05
    ]
    return {"colorfulness": round(score, 1), "level": word, "dominant": dominant}


def color_name(rgb: Sequence[float]) -> str:
    lab = cv2.cvtColor(np.array([[np.clip(rgb, 0, 255)]], np.uint8), cv2.COLOR_RGB2LAB)[0, 0].astype(np.float32)
    return _PALETTE_NAMES[int(np.argmin(((_PALETTE_LAB - lab) ** 2).sum(axis=1)))]


# -- motion --------------------------------------------------------------------------------


def motion_facts(bursts: Sequence[Sequence[np.ndarray]], fps: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """(motion, camera_motion) facts from bursts of consecutive grey frames at ``fps``."""
    per_burst = [m for m in (_burst_motion(b, fps) for b in bursts) if m is not None]
    if not per_burst:
        return {"intensity": None, "level": None}, {"label": None, "confidence": 0.0, "samples": 0}
    speeds = [m["speed"] for m in per_burst]
    intensity = float(np.median(speeds))
    level = "low" if intensity < STATIC_SPEED * 2 else "high" if intensity > 0.15 else "moderate"
    labels = Counter(m["label"] for m in per_burst)
    label, count = labels.most_common(1)[0]
    camera: dict[str, Any] = {
        "label": label,
        "confidence": round(count / len(per_burst), 2),
        "samples": len(per_burst),
        "counts": dict(labels),
    }
    if label in ("pan", "tilt", "zoom"):
        dirs = Counter(m["direction"] for m in per_burst if m["label"] == label)
        camera["direction"] = dirs.most_common(1)[0][0]
    motion = {
        "intensity": round(intensity, 4),
        "unit": "frame widths per second (median optical-flow speed)",
        "level": level,
        "max_intensity": round(max(speeds), 4),
    }
    return motion, camera


def _burst_motion(frames: Sequence[np.ndarray], fps: float) -> dict[str, Any] | None:
    """Speed and camera label for one burst: Lucas-Kanade tracks of corners between
    consecutive frames (forward-backward checked), then a robust similarity fit
    (translation + zoom) of those tracks. Textureless frames read as static."""
    if len(frames) < 2 or fps <= 0:
        return None
    w = frames[0].shape[1]
    speeds, txs, tys, zooms, coherent = [], [], [], [], []
    for a, b in zip(frames[:-1], frames[1:], strict=True):
        if a.shape != b.shape:
            continue
        pair = _track(a, b)
        if pair is None:
            speeds.append(0.0)
            continue
        p0, p1 = pair
        vec = p1 - p0
        speeds.append(float(np.mean(np.hypot(vec[:, 0], vec[:, 1]))) / w * fps)
        if len(p0) < 6:
            continue
        model, inliers = cv2.estimateAffinePartial2D(p0, p1, method=cv2.RANSAC, ransacReprojThreshold=0.5)
        if model is None:
            continue
        h = a.shape[0]
        scale = float(np.hypot(model[0, 0], model[1, 0]))
        cx, cy = w / 2, h / 2
        # translation of the frame centre under the similarity model
        tx = model[0, 0] * cx + model[0, 1] * cy + model[0, 2] - cx
        ty = model[1, 0] * cx + model[1, 1] * cy + model[1, 2] - cy
        txs.append(tx / w * fps)
        tys.append(ty / w * fps)
        zooms.append((scale - 1.0) * fps)
        coherent.append(float(inliers.mean()) if inliers is not None else 0.0)
    if not speeds:
        return None
    speed = float(np.median(speeds))
    out: dict[str, Any] = {"speed": speed, "label": "static", "direction": None}
    if speed < STATIC_SPEED:
        return out
    if not txs:
        return {**out, "label": "handheld or mixed"}
    tx, ty, zoom = float(np.median(txs)), float(np.median(tys)), float(np.median(zooms))
    coh = float(np.median(coherent))
    if coh >= COHERENT and abs(zoom) > ZOOM_RATE and abs(zoom) * 0.5 > max(abs(tx), abs(ty)):
        out.update(label="zoom", direction="in" if zoom > 0 else "out")
    elif coh >= COHERENT and max(abs(tx), abs(ty)) > PAN_SPEED:
        # content moving left means the camera turns right
        if abs(tx) >= abs(ty):
            out.update(label="pan", direction="right" if tx < 0 else "left")
        else:
            out.update(label="tilt", direction="down" if ty < 0 else "up")
    else:
        out["label"] = "moving subject" if coh >= COHERENT else "handheld or mixed"
    return out


def _track(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Corner positions in ``a`` and where they went in ``b`` (only forward-backward consistent tracks)."""
    pts = cv2.goodFeaturesToTrack(a, maxCorners=300, qualityLevel=0.01, minDistance=4, blockSize=5)
    if pts is None or len(pts) < 4:
        return None
    lk = {"winSize": (15, 15), "maxLevel": 3, "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}
    p1, st1, _ = cv2.calcOpticalFlowPyrLK(a, b, pts, None, **lk)
    if p1 is None:
        return None
    back, st2, _ = cv2.calcOpticalFlowPyrLK(b, a, p1, None, **lk)
    ok = (st1.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm((back - pts).reshape(-1, 2), axis=1) < 0.5)
    if ok.sum() < 4:
        return None
    return pts.reshape(-1, 2)[ok], p1.reshape(-1, 2)[ok]


# -- change between the sampled stills of one scene ------------------------------------------

STILL_CHANGE = 0.02  # mean absolute grey difference (share of full scale) under this: a still picture
LARGE_CHANGE = 0.12  # ... above this: the picture changes a lot (fast movement or changing content)


def frame_change(stills: Sequence[np.ndarray]) -> dict[str, Any]:
    """How much the picture changes between consecutive stills (same size, time order): the
    mean absolute grey-level difference as a share of full scale, after a light blur so that
    compression noise does not count. Needs two stills; with fewer, ``level`` is None."""
    greys = [cv2.GaussianBlur(cv2.cvtColor(s, cv2.COLOR_RGB2GRAY), (5, 5), 0).astype(np.float32) for s in stills]
    diffs = [
        float(np.mean(np.abs(a - b))) / 255 for a, b in zip(greys[:-1], greys[1:], strict=True) if a.shape == b.shape
    ]
    if not diffs:
        return {"pairs": 0, "mean_change": None, "level": None}
    mean = float(np.mean(diffs))
    level = "still" if mean < STILL_CHANGE else "large" if mean > LARGE_CHANGE else "some"
    return {"pairs": len(diffs), "mean_change": round(mean, 4), "max_change": round(max(diffs), 4), "level": level}
