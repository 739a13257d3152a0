"""Pictures from the single pass: one thumbnail per scene, a contact sheet, and the analysis
frames chosen by a scene-aware sampling policy.

Memory stays bounded: the open scene keeps at most ``RESERVOIR`` pictures (thinned evenly as
it grows), pictures newer than the detector's final frontier wait in a short buffer, and a
closed scene's pictures go straight to disk. The folder is private until the caller swaps it in
as a whole, so files are written in place; a picture is converted to RGB only when written.

Sampling policy (``FrameBudget`` = B): every scene gets one frame (its middle) while there are
at most B scenes, and the rest of the budget goes to long scenes in proportion to their length;
with more than B scenes, the B longest scenes get one frame each. Frames are returned in time
order.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw

from videokit.record import Frame
from videokit.scenes.decode import Picture

RESERVOIR = 32  # pictures kept for the open scene
SHEET_MAX = 120  # most tiles on a contact sheet (evenly chosen when there are more scenes)
SHEET_COLUMNS = 6


@dataclass(slots=True)
class _OpenScene:
    first: int  # first frame index
    clean_from: int  # first frame after the opening transition
    pictures: list[tuple[int, float, Picture]] = field(default_factory=list)
    stride: int = 1
    seen: int = 0


@dataclass(slots=True)
class ClosedScene:
    index: int
    first: int
    thumbnail: Path | None
    candidates: list[tuple[float, Path]]  # analysis frame candidates written to disk
    start: float = 0.0
    end: float = 0.0


class PictureSink:
    """Receives pictures and final boundaries in order; writes files under ``folder``."""

    def __init__(
        self,
        folder: Path,
        *,
        thumbnail_width: int,
        thumbnail_format: str,
        frame_width: int,
        budget: int,
        duration: float | None,
    ) -> None:
        self.folder = folder
        self.thumb_width = thumbnail_width
        self.ext = "webp" if thumbnail_format == "webp" else "jpg"
        self.pil_format = "WEBP" if thumbnail_format == "webp" else "JPEG"
        self.frame_width = frame_width
        self.budget = budget
        self.duration = duration
        self._buffer: list[tuple[int, float, Picture]] = []
        self._open = _OpenScene(0, 0)
        self.closed: list[ClosedScene] = []
        self._usable = 0  # closed scenes with analysis frame candidates

    # -- streaming -----------------------------------------------------------------------
    def add(self, index: int, t: float, picture: Picture) -> None:
        self._buffer.append((index, t, picture))

    def advance(self, frontier: int, boundaries: list[tuple[int, int, float]]) -> None:
        """Everything before frame ``frontier`` is final; ``boundaries`` are new
        (first, last, start) of transitions, in order, all before the frontier."""
        pending = list(boundaries)
        keep: list[tuple[int, float, Picture]] = []
        for item in self._buffer:
            if item[0] >= frontier:
                keep.append(item)
                continue
            while pending and pending[0][0] <= item[0]:
                self._close(*pending.pop(0))
            self._take(item)
        for b in pending:
            self._close(*b)
        self._buffer = keep

    def finish(self, end_time: float) -> None:
        self.advance(1 << 62, [])
        self._close(None, None, end_time)

    def _take(self, item: tuple[int, float, Picture]) -> None:
        sc = self._open
        if sc.seen % sc.stride == 0:
            sc.pictures.append(item)
            if len(sc.pictures) > RESERVOIR:
                sc.pictures = sc.pictures[::2]
                sc.stride *= 2
        sc.seen += 1

    def _close(self, first: int | None, last: int | None, start: float) -> None:
        sc = self._open
        idx = len(self.closed)
        clean = [p for p in sc.pictures if p[0] >= sc.clean_from] or sc.pictures
        thumb = None
        cands: list[tuple[float, Path]] = []
        if clean:
            mid = clean[len(clean) // 2]
            thumb = self.folder / f"scene-{idx + 1:04d}.{self.ext}"
            _save(mid[2], self.thumb_width, thumb, self.pil_format)
            picks = _evenly(clean, self._cap(clean))
            if self._usable >= self.budget:  # one frame per scene at most from now on: its middle one
                picks = _evenly(picks, 1)
            for k, (_, t, pic) in enumerate(picks):
                path = self.folder / f".candidate-{idx + 1:04d}-{k:03d}.jpg"
                _save(pic, self.frame_width, path, "JPEG")
                cands.append((t, path))
        self.closed.append(ClosedScene(idx, sc.first, thumb, cands))
        if cands:
            self._usable += 1
            if self._usable == self.budget:
                self._thin_candidates()
        if first is not None:
            self._open = _OpenScene(first, (last or first) + 1)

    def _thin_candidates(self) -> None:
        """With ``budget`` scenes holding candidates, the policy gives no scene more than one
        frame (its middle candidate): delete the others now rather than at the end."""
        for sc in self.closed:
            if len(sc.candidates) > 1:
                (keep,) = _evenly_idx(len(sc.candidates), 1)
                for k, (_, path) in enumerate(sc.candidates):
                    if k != keep:
                        path.unlink(missing_ok=True)
                sc.candidates = [sc.candidates[keep]]

    def _cap(self, clean: list) -> int:
        """Candidates worth keeping for one scene: its fair share of the budget, plus one."""
        if not self.duration or len(clean) < 2:
            return min(len(clean), self.budget)
        span = clean[-1][1] - clean[0][1]
        return max(1, min(len(clean), self.budget, 1 + math.ceil(self.budget * span / self.duration)))

    # -- after the pass ----------------------------------------------------------------------
    def select_frames(self, scene_spans: list[tuple[float, float]], relpath) -> list[Frame]:  # noqa: ANN001
        """Apply the sampling policy, rename the chosen candidates, delete the others."""
        chosen = choose_frames([len(c.candidates) for c in self.closed], [e - s for s, e in scene_spans], self.budget)
        frames: list[Frame] = []
        n = 0
        for sc, want in zip(self.closed, chosen, strict=True):
            picks = set(_evenly_idx(len(sc.candidates), want))
            for k, (t, path) in enumerate(sc.candidates):
                if k in picks:
                    n += 1
                    final = self.folder / f"frame-{n:04d}.jpg"
                    os.replace(path, final)
                    frames.append(Frame(relpath(final), round(t, 3), sc.index))
                else:
                    path.unlink(missing_ok=True)
        return frames

    def contact_sheet(self, labels: list[str], path: Path) -> Path | None:
        tiles = [(c.thumbnail, labels[c.index]) for c in self.closed if c.thumbnail is not None]
        if not tiles:
            return None
        if len(tiles) > SHEET_MAX:
            tiles = [tiles[i] for i in _evenly_idx(len(tiles), SHEET_MAX)]
        with Image.open(tiles[0][0]) as first:
            tw, th = first.size
        cols = min(SHEET_COLUMNS, len(tiles))
        rows = math.ceil(len(tiles) / cols)
        pad, label_h = 4, 16
        sheet = Image.new("RGB", (cols * (tw + pad) + pad, rows * (th + label_h + pad) + pad), (24, 24, 24))
        draw = ImageDraw.Draw(sheet)
        for k, (tile, label) in enumerate(tiles):
            x = pad + (k % cols) * (tw + pad)
            y = pad + (k // cols) * (th + label_h + pad)
            with Image.open(tile) as im:
                sheet.paste(im.convert("RGB").resize((tw, th)), (x, y))
            draw.text((x + 2, y + th + 2), label, fill=(235, 235, 235))
        sheet.save(path, format=self.pil_format, quality=85)
        return path


def choose_frames(available: list[int], lengths: list[float], budget: int) -> list[int]:
    """How many frames each scene gets (see module docstring)."""
    n = len(available)
    out = [0] * n
    usable = [i for i in range(n) if available[i] > 0]
    if not usable or budget <= 0:
        return out
    if len(usable) >= budget:
        for i in sorted(sorted(usable, key=lambda i: -lengths[i])[:budget]):
            out[i] = 1
        return out
    for i in usable:
        out[i] = 1
    extra = budget - len(usable)
    total = sum(lengths[i] for i in usable) or 1.0
    while extra > 0:
        room = [i for i in usable if out[i] < available[i]]
        if not room:
            break
        # largest deficit against the proportional share gets the next frame
        i = max(room, key=lambda i: lengths[i] / total * budget - out[i])
        out[i] += 1
        extra -= 1
    return out


def _evenly_idx(n: int, k: int) -> list[int]:
    if k <= 0 or n <= 0:
        return []
    if k >= n:
        return list(range(n))
    return [min(n - 1, int((j + 0.5) * n / k)) for j in range(k)]


def _evenly(items: list, k: int) -> list:
    return [items[i] for i in _evenly_idx(len(items), k)]


def _save(picture: Picture, width: int, path: Path, fmt: str) -> None:
    im = picture.image()
    if im.width != width:
        im = im.resize((width, max(2, round(im.height * width / im.width))), Image.Resampling.BILINEAR)
    im.save(path, format=fmt, quality=85)
