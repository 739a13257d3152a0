"""Scenes, thumbnails, contact sheet and analysis frames from one decode pass.

``detect_scenes(path, options, out_dir=...)`` is the one-call API; :class:`ScenesStage`
(in :mod:`videokit.scenes.stage`) runs it in the pipeline. See ``docs/scenes.md``.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from videokit.errors import InputError
from videokit.record import Boundary, MediaInfo, Scene, SceneInfo
from videokit.scenes.decode import Decoder, VideoProbe, probe, probe_from_media
from videokit.scenes.detect import DetectOptions, Detector, Transition
from videokit.scenes.outputs import PictureSink
from videokit.tempfiles import temp_path

if TYPE_CHECKING:
    from videokit.config import Config

__all__ = ["SceneOptions", "detect_scenes", "DetectOptions", "Transition"]

DET_WIDTH = 64  # detection frames: this many pixels wide
PICTURE_RATE = 4.0  # candidate pictures per second for thumbnails and analysis frames


@dataclass(frozen=True, slots=True)
class SceneOptions:
    threshold: float = 27.0
    min_scene_len: float = 0.5
    mode: str = "adaptive"
    gradual: bool = True
    thumbnail_width: int = 320
    thumbnail_format: str = "jpeg"
    frame_budget: int = 16
    frame_width: int = 448
    fast: bool = False  # skip the decoder's deblocking filter (H.264/HEVC): faster, slightly less exact

    @classmethod
    def from_config(cls, cfg: Config) -> SceneOptions:
        g = lambda k: cfg.get("SceneDetection", k)  # noqa: E731
        return cls(
            threshold=float(g("DefaultThreshold")),
            min_scene_len=float(g("MinSceneLength")),
            mode=g("Mode"),
            gradual=bool(g("Gradual")),
            thumbnail_width=int(g("ThumbnailWidth")),
            thumbnail_format=g("ThumbnailFormat"),
            frame_budget=int(g("FrameBudget")),
            frame_width=int(g("FrameWidth")),
            fast=bool(g("Fast")),
        )

    @property
    def detect(self) -> DetectOptions:
        return DetectOptions(self.threshold, self.min_scene_len, self.mode, self.gradual)


def detect_scenes(
    path: str | Path,
    options: SceneOptions | None = None,
    *,
    out_dir: Path | None = None,
    relpath: Callable[[Path], str] = str,
    media: MediaInfo | None = None,
) -> SceneInfo:
    """Decode ``path`` once and return its scenes. With ``out_dir``, also write one thumbnail
    per scene, ``contact-sheet.<ext>`` and the sampled analysis frames there (the folder is
    replaced as a whole, never half-written); paths on the result go through ``relpath``. ``media``: the file's ffprobe facts when the
    caller has them (the pipeline's ``record.media``); the decode then starts without probing
    again (it probes itself when ``media`` lacks size or codec)."""
    path = Path(path)
    o = options or SceneOptions()
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    info = probe_from_media(media) or probe(path)
    fps = info.fps or 25.0
    min_frames = max(1, int(o.min_scene_len * fps))
    every = max(1, min(round(fps / PICTURE_RATE), (min_frames + 1) // 2))
    timeout = 120.0 + 4.0 * info.duration if info.duration else None
    decoder = Decoder(
        path,
        info,
        det_width=DET_WIDTH,
        picture_width=max(o.thumbnail_width, o.frame_width) if out_dir else None,
        picture_every=every,
        timeout=timeout,
        fast=o.fast,
    )
    detector = Detector(info.fps, o.detect)
    tmp = temp_path(out_dir) if out_dir else None  # named for this process: a killed run's is removed later
    sink = None
    if tmp is not None:
        tmp.mkdir(parents=True)
        sink = PictureSink(
            tmp,
            thumbnail_width=o.thumbnail_width,
            thumbnail_format=o.thumbnail_format,
            frame_width=o.frame_width,
            budget=o.frame_budget,
            duration=info.duration,
        )
    try:
        transitions, first_pts, last_pts = _run(decoder, detector, sink)
        end_time = last_pts + 1.0 / fps
        scene_info = _scene_info(transitions, first_pts, end_time, decoder.frames, info, o)
        scene_info.decode_errors = decoder.errors
        scene_info.decoded_duration = round(end_time, 3)  # with frames_decoded: what the file really holds
        if sink is not None and tmp is not None and out_dir is not None:
            sink.finish(end_time)
            _attach_pictures(scene_info, sink, tmp, out_dir, relpath)
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return scene_info


def _run(decoder: Decoder, detector: Detector, sink: PictureSink | None) -> tuple[list[Transition], float, float]:
    transitions: list[Transition] = []
    first_pts = last_pts = None
    for batch in decoder.batches():
        new = []
        if len(batch.pts):  # the last batch may carry only late pictures
            if first_pts is None:
                first_pts = float(batch.pts[0])
            last_pts = float(batch.pts[-1])
            new = detector.push(batch.det, batch.pts)
            transitions += new
        if sink is not None:
            for idx, t, pic in batch.pictures:
                sink.add(idx, t, pic)
            sink.advance(detector.frontier, [(t.first, t.last, t.start) for t in new])
    new = detector.finish()
    transitions += new
    if sink is not None:
        sink.advance(detector.frontier, [(t.first, t.last, t.start) for t in new])
    assert first_pts is not None and last_pts is not None  # the decoder raises on zero frames
    return transitions, first_pts, last_pts


def _scene_info(
    transitions: list[Transition], first_pts: float, end_time: float, frames: int, info: VideoProbe, o: SceneOptions
) -> SceneInfo:
    starts = [(first_pts, 0, None)] + [
        (t.start, t.first, Boundary(t.kind, round(t.start, 3), round(t.end, 3))) for t in transitions
    ]
    scenes = []
    for k, (start, first, boundary) in enumerate(starts):
        end, end_frame = (starts[k + 1][0], starts[k + 1][1]) if k + 1 < len(starts) else (end_time, frames)
        scenes.append(Scene(k, round(start, 3), round(end, 3), first, end_frame, boundary))
    minutes = max(end_time, info.duration or 0.0) / 60.0
    return SceneInfo(
        scenes=scenes,
        scene_count=len(scenes),
        cuts_per_minute=round(len(transitions) / minutes, 3) if minutes > 0 else None,
        frames_decoded=frames,
        mode=o.mode,
        threshold=o.threshold,
    )


def _attach_pictures(
    scene_info: SceneInfo, sink: PictureSink, tmp: Path, out_dir: Path, relpath: Callable[[Path], str]
) -> None:
    spans = [(s.start, s.end) for s in scene_info.scenes]
    final = lambda p: relpath(out_dir / p.name)  # noqa: E731 - where the file will be after the rename
    scene_info.frames = sink.select_frames(spans, final)
    labels = [f"{k + 1}  {_clock(s.start)}" for k, s in enumerate(scene_info.scenes)]
    sheet = sink.contact_sheet(labels, tmp / f"contact-sheet.{sink.ext}")
    for closed in sink.closed:
        if closed.thumbnail is not None and closed.index < len(scene_info.scenes):
            scene_info.scenes[closed.index].thumbnail = final(closed.thumbnail)
    scene_info.contact_sheet = final(sheet) if sheet else None
    _replace_dir(tmp, out_dir)


def _replace_dir(tmp: Path, out_dir: Path, attempts: int = 50) -> None:
    """Swap the finished folder in whole; an older one is moved aside first and removed after.

    Two workers may finish the same content at once (one video at two URLs): whoever renames
    last wins, and a folder the other put there in between is moved aside again, never merged."""
    olds = []
    try:
        for _ in range(attempts):
            try:
                os.replace(tmp, out_dir)
                return
            except OSError as e:
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EISDIR):
                    raise
            old = temp_path(out_dir, "old")
            try:
                os.replace(out_dir, old)
                olds.append(old)
            except FileNotFoundError:  # another worker moved it aside first
                pass
        raise OSError(f"{out_dir}: could not replace it: other processes kept writing it")
    finally:
        for old in olds:
            shutil.rmtree(old, ignore_errors=True)


def _clock(t: float) -> str:
    m, s = divmod(max(0.0, t), 60)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{s:05.2f}" if h else f"{m}:{s:05.2f}"
