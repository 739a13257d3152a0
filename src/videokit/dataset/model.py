"""The typed records a dataset build passes between its steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(slots=True)
class ClipPlan:
    """One clip to cut: which stored video, which span (seconds), why it exists."""

    video_id: str  # content id of the stored record
    source: Path  # the video file to cut from
    index: int  # position among this video's clips (0, 1, ...)
    start: float
    end: float
    kind: str  # "scene" | "window" | "segment"
    labels: list[str] = field(default_factory=list)  # filled by videokit.dataset.labels
    split: str | None = None  # filled by videokit.dataset.splits (or kept from the annotation list)

    @property
    def key(self) -> str:
        """Stable clip id: video id prefix + span in milliseconds."""
        return f"{self.video_id[:12]}_{round(self.start * 1000):09d}_{round(self.end * 1000):09d}"


@dataclass(slots=True)
class Clip:
    """A cut clip on disk (path relative to the dataset folder) and what was really cut."""

    plan: ClipPlan
    path: str  # relative to the dataset's output folder, POSIX separators
    real_start: float  # copy mode snaps to keyframes: the span really in the file
    real_end: float
    sha256: str
    frames: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # caption, tags with provenance, technical and source metadata
