"""The ``builtin`` analyzer: CPU only, no model weights.

What classic vision and audio analysis can honestly tell: brightness, colour, camera motion
and motion intensity (optical flow on short low-resolution bursts), pace (from the scene
stage), frontal faces (OpenCV's bundled Haar cascades), on-screen text (Tesseract) and
audio loudness / silence / a speech-like vs music-like guess. One ffmpeg process decodes the
bursts (fast seeks) and the audio track. Per scene (``per_scene``), the same measurements are
made on the sampled frames of that scene alone. A question is answered only from these
measurements; any other gets "not answerable without a vision-language model".
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from videokit.analysis.base import AnalysisRequest, Analyzer
from videokit.analysis.builtin_audio import RATE, audio_facts
from videokit.analysis.builtin_faces import FaceDetector, frame_faces, summarize_faces
from videokit.analysis.builtin_ocr import ocr_facts
from videokit.analysis.builtin_report import FrameMeasure, Report, TextSentiment
from videokit.analysis.builtin_vision import brightness_facts, color_facts, load_still, motion_facts
from videokit.analysis.frames import ffmpeg_exe, run_ffmpeg, sample_times, seek_inputs
from videokit.record import Analysis, MediaInfo

BURSTS = 6  # sample points for optical flow
BURST_FRAMES = 5  # consecutive frames per point
BURST_WIDTH = 160  # pixels
REPORT_VERSION = 2  # 2: per-scene measurements, "not answerable" answers (cached results of 1 are redone)


class BuiltinAnalyzer(Analyzer):
    """Measurements, a plain description and tags with confidences; never a hallucination."""

    name = "builtin"
    version = "1"

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self._sentiment: TextSentiment | None = None
        self._faces: FaceDetector | None = None

    def setup(self) -> None:
        ffmpeg_exe()  # ConfigError now rather than per video
        self._faces = FaceDetector()
        self._sentiment = TextSentiment()

    def cache_params(self) -> dict[str, Any]:
        return {
            "bursts": BURSTS,
            "burst_frames": BURST_FRAMES,
            "burst_width": BURST_WIDTH,
            "ocr": "eng",
            "faces": FaceDetector.params,
            "report": REPORT_VERSION,
        }

    def analyze(self, request: AnalysisRequest) -> Analysis:
        if self._sentiment is None or self._faces is None:
            self.setup()
        assert self._sentiment is not None and self._faces is not None
        media = request.record.media or _probe(request.video)
        fps = media.fps or 25.0
        with tempfile.TemporaryDirectory(prefix="videokit-builtin-") as tmp:
            scratch = Path(tmp)
            bursts, pcm = decode(request.video, media, scratch)
            paths = [f.path for f in request.frames]
            stills = [load_still(p) for p in paths]
            readable = [s for s in stills if s is not None]
            faces = frame_faces([(f.path, f.time) for f in request.frames], self._faces)
            motion, camera = motion_facts(bursts, fps)
            facts: dict[str, Any] = {
                "brightness": brightness_facts(readable),
                "colors": color_facts(readable),
                "motion": motion,
                "camera_motion": camera,
                "pace": _pace(request),
                "faces": summarize_faces(faces),
                "audio": audio_facts(pcm, media.has_audio),
            }
            ocr = ocr_facts(paths, scratch)
        facts["ocr"] = {k: v for k, v in ocr.items() if k not in ("text", "per_frame")}
        frames = [
            FrameMeasure(f.time, f.scene, still, len(found[1]) if found else None, list(lines))
            for f, still, found, lines in zip(request.frames, stills, faces, ocr["per_frame"], strict=True)
        ]
        report = Report(request, facts, ocr.get("text") or "", self.origin, self._sentiment, frames)
        analysis = Analysis(backend=self.name, model=self.model, instruction=request.prompt)
        analysis.facts = facts
        analysis.ocr_text = ocr.get("text") or None
        analysis.description = report.description()
        analysis.tags = report.tags()
        analysis.category = report.category()
        analysis.sentiment = report.sentiment()
        analysis.answers, unanswered = report.answers()
        if unanswered:
            analysis.warnings.append(
                "the builtin analyzer cannot answer: " + "; ".join(unanswered) + " (use --analyzer qwen or api)"
            )
        if request.per_scene:
            facts["scenes"] = report.scene_facts()
            analysis.scene_descriptions = report.scene_descriptions(facts["scenes"])
        return analysis


def decode(video: Path, media: MediaInfo, scratch: Path) -> tuple[list[list[np.ndarray]], Path | None]:
    """One ffmpeg call: ``BURSTS`` grey bursts (fast seeks) and the audio as 8 kHz mono PCM."""
    fps = media.fps or 25.0
    times = sample_times(media.duration, BURSTS)
    span = (BURST_FRAMES + 1) / fps
    if media.duration:  # keep the last burst inside the video
        times = [min(t, max(0.0, media.duration - span - 0.05)) for t in times]
    args = seek_inputs(video, times, span=span)
    pcm: Path | None = None
    if media.has_audio:
        args += ["-vn", "-sn", "-dn", "-i", str(video)]
    for i in range(len(times)):
        args += ["-map", f"{i}:v:0", "-vf", f"scale={BURST_WIDTH}:-2,format=gray", "-frames:v", str(BURST_FRAMES)]
        args += ["-f", "image2", str(scratch / f"burst{i}_%02d.pgm")]
    if media.has_audio:
        pcm = scratch / "audio.pcm"
        args += ["-map", f"{len(times)}:a:0", "-ac", "1", "-ar", str(RATE), "-f", "s16le", str(pcm)]
    run_ffmpeg(args, video, timeout=120 + (media.duration or 0) / 10)
    bursts = []
    for i in range(len(times)):
        frames = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(scratch.glob(f"burst{i}_*.pgm"))]
        bursts.append([f for f in frames if f is not None])
    return bursts, pcm


def _probe(video: Path) -> MediaInfo:
    from videokit.probe import media_info

    return media_info(video)


def _pace(request: AnalysisRequest) -> dict[str, Any]:
    scenes = request.record.scenes
    if scenes is None or scenes.cuts_per_minute is None:
        return {"scene_count": None, "cuts_per_minute": None, "level": None}
    cpm = scenes.cuts_per_minute
    level = "slow" if cpm < 6 else "fast" if cpm > 20 else "moderate"
    return {"scene_count": scenes.scene_count, "cuts_per_minute": round(cpm, 2), "level": level}
