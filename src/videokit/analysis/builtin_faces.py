"""Face presence for the builtin analyzer: OpenCV's bundled Haar frontal-face cascade.

Run on the analysis frames (the scene stage's samples), each scaled to :data:`DETECT_WIDTH`
so the minimum face size is the same share of the picture whatever the sampling width.
Settings favour precision over recall: a frontal face must be at least :data:`MIN_FACE` of
the frame's shorter side, confirmed by :data:`MIN_NEIGHBORS` overlapping detections, and
then found again by a second, differently trained cascade (``frontalface_alt2``) in an
enlarged crop around it. On the project's reference footage the second check rejected every
false positive of the first (a glass bowl, tree bark, cartoon hair, a rotated screen) and
kept every real or drawn frontal face. Profiles, faces turned away and faces smaller than
that are not counted, so "no face" is not "no people".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from videokit.errors import ConfigError

CASCADE = "haarcascade_frontalface_default.xml"
VERIFIER = "haarcascade_frontalface_alt2.xml"
DETECT_WIDTH = 640  # frames are scaled to this width before detection
MIN_FACE = 0.07  # smallest face side, as a share of the frame's shorter side (>= 24 px)
SCALE_FACTOR = 1.1
MIN_NEIGHBORS = 8  # high: a lone window is not a face
CROP_MARGIN = 0.2  # the verifier looks at the box grown by this share on each side
CROP_WIDTH = 128  # ... scaled to this width
VERIFY_MIN = 50  # smallest face the verifier accepts in the crop (pixels)


def load_cascade(name: str) -> cv2.CascadeClassifier:
    """A cascade bundled with OpenCV, or ConfigError saying how to get it."""
    data = getattr(cv2, "data", None)
    path = Path(data.haarcascades) / name if data is not None else None
    if path is None or not path.is_file():
        raise ConfigError(
            f"OpenCV {cv2.__version__} has no bundled {name}; "
            "install opencv-python-headless>=4.8,<5 (pip install 'videokit[builtin]')"
        )
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise ConfigError(f"{path}: OpenCV could not load this face cascade; reinstall opencv-python-headless")
    return cascade


class FaceDetector:
    """The two Haar cascades, loaded once per analyzer."""

    params: dict[str, Any] = {
        "cascade": CASCADE,
        "verifier": VERIFIER,
        "crop": [CROP_MARGIN, CROP_WIDTH, VERIFY_MIN],
        "width": DETECT_WIDTH,
        "min_face": MIN_FACE,
        "scale_factor": SCALE_FACTOR,
        "min_neighbors": MIN_NEIGHBORS,
    }

    def __init__(self) -> None:
        self._cascade = load_cascade(CASCADE)
        self._verifier = load_cascade(VERIFIER)

    def detect(self, bgr: np.ndarray) -> list[tuple[float, float, float, float]]:
        """Confirmed faces in one frame as (x, y, w, h), each a share of the frame's width / height."""
        return [b for b, ok in self.candidates(bgr) if ok]

    def candidates(self, bgr: np.ndarray) -> list[tuple[tuple[float, float, float, float], bool]]:
        """Every first-cascade box and whether the second cascade confirmed it."""
        h, w = bgr.shape[:2]
        height = max(1, round(h * DETECT_WIDTH / w))
        interp = cv2.INTER_AREA if w > DETECT_WIDTH else cv2.INTER_LINEAR
        gray = cv2.cvtColor(cv2.resize(bgr, (DETECT_WIDTH, height), interpolation=interp), cv2.COLOR_BGR2GRAY)
        equalized = cv2.equalizeHist(gray)
        side = max(24, round(MIN_FACE * min(DETECT_WIDTH, height)))
        found = self._cascade.detectMultiScale(
            equalized, scaleFactor=SCALE_FACTOR, minNeighbors=MIN_NEIGHBORS, minSize=(side, side)
        )
        return [
            ((x / DETECT_WIDTH, y / height, fw / DETECT_WIDTH, fh / height), self._confirmed(gray, (x, y, fw, fh)))
            for x, y, fw, fh in found
        ]

    def _confirmed(self, gray: np.ndarray, box: tuple[int, int, int, int]) -> bool:
        x, y, w, h = box
        mx, my = round(CROP_MARGIN * w), round(CROP_MARGIN * h)
        crop = gray[max(0, y - my) : y + h + my, max(0, x - mx) : x + w + mx]
        if crop.size == 0:
            return False
        size = (CROP_WIDTH, max(1, round(crop.shape[0] * CROP_WIDTH / crop.shape[1])))
        crop = cv2.equalizeHist(cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC))
        found = self._verifier.detectMultiScale(
            crop, scaleFactor=SCALE_FACTOR, minNeighbors=MIN_NEIGHBORS, minSize=(VERIFY_MIN, VERIFY_MIN)
        )
        return len(found) > 0


def face_facts(frames: Sequence[tuple[Path, float]], detector: FaceDetector) -> dict[str, Any]:
    """Face presence over (image, time) frames; unreadable images are skipped."""
    return summarize_faces(frame_faces(frames, detector))


FrameFaces = tuple[float, list[tuple[float, float, float, float]], int]  # time, confirmed boxes, rejected


def frame_faces(frames: Sequence[tuple[Path, float]], detector: FaceDetector) -> list[FrameFaces | None]:
    """Per (image, time) frame, in order: (time, confirmed boxes, rejected candidates), or None
    for an image that cannot be read."""
    out: list[FrameFaces | None] = []
    for path, t in frames:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            out.append(None)
            continue
        found = detector.candidates(img)
        boxes = [b for b, ok in found if ok]
        out.append((t, boxes, len(found) - len(boxes)))
    return out


def summarize_faces(per_frame: Sequence[FrameFaces | None]) -> dict[str, Any]:
    """The ``faces`` facts of a video from :func:`frame_faces`' result."""
    read = [f for f in per_frame if f is not None]
    counts = [len(boxes) for _, boxes, _ in read]
    times = [round(t, 3) for t, boxes, _ in read if boxes]
    largest = max((b[3] for _, boxes, _ in read for b in boxes), default=0.0)
    n = len(counts)
    with_faces = sum(c > 0 for c in counts)
    return {
        "available": True,
        "detector": "OpenCV Haar cascades (default, confirmed by alt2), frontal faces only",
        "frames": n,
        "frames_with_faces": with_faces,
        "max_faces": max(counts, default=0),
        "fraction": round(with_faces / n, 3) if n else 0.0,
        "times": times,
        "largest_face_height": round(float(largest), 3),
        "rejected_candidates": sum(r for _, _, r in read),
    }


def face_confidence(faces: dict[str, Any]) -> float:
    """How sure the ``Faces`` tag is; 0 means no tag.

    Both cascades can still agree on a "face" in random texture (measured on Game-of-Life
    frames: about one frame in a thousand), so a face found in one sampled frame and in
    none of the others is not tagged. A video with a single sampled frame gets a low
    confidence for its one hit; the same finding in several frames rarely is a mistake."""
    hits = int(faces.get("frames_with_faces") or 0)
    frames = int(faces.get("frames") or 0)
    if hits == 0 or (hits == 1 and frames > 1):
        return 0.0
    if hits == 1:
        return 0.45
    return round(min(0.9, 0.6 + 0.3 * float(faces.get("fraction") or 0.0) + 0.05 * min(hits - 2, 2)), 2)
