"""The speech model: loaded once per process, and run on one file's decoded audio.

faster-whisper decodes the audio with PyAV (its own ``decode_audio``: 16 kHz mono float32), the
same way a direct ``WhisperModel.transcribe(path)`` call does, so the stage's transcript is the
one faster-whisper gives for the file. A stream that decodes to nothing is a damaged stream.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videokit.errors import ConfigError, InputError, one_line
from videokit.record import Transcript, TranscriptSegment
from videokit.transcribe.options import EXTRA_HINT, TranscribeOptions

if TYPE_CHECKING:
    import numpy as np
    from faster_whisper import WhisperModel

SAMPLE_RATE = 16000
_MODELS: dict[tuple[str, str, str, int], WhisperModel] = {}  # a per-process cache, not configuration
_LOCK = threading.Lock()


def load_model(options: TranscribeOptions) -> WhisperModel:
    """The model for ``options``, loaded once per process (later calls return the same object)."""
    source = options.model_source
    key = (source, options.resolved_device, options.resolved_compute_type, options.threads)
    with _LOCK:
        model = _MODELS.get(key)
        if model is not None:
            return model
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise ConfigError(f"transcription needs faster-whisper: {EXTRA_HINT}") from None
        try:
            model = WhisperModel(
                source,
                device=options.resolved_device,
                compute_type=options.resolved_compute_type,
                cpu_threads=options.threads,
            )
        except Exception as e:  # a name the hub does not know, no network, a broken folder, no CUDA...
            raise ConfigError(f"[Transcription] Model = {options.model}: cannot load it ({one_line(e, 200)})") from e
        _MODELS[key] = model
        return model


@dataclass(slots=True)
class Audio:
    """A file's first audio stream, decoded: ``samples`` at 16 kHz mono; ``expected`` is the
    stream's duration as the file declares it (seconds; None when unknown)."""

    samples: np.ndarray
    expected: float | None
    warnings: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return float(len(self.samples)) / SAMPLE_RATE


def audio_stream_count(path: Path) -> int:
    """How many audio streams ``path`` holds (0 for a file PyAV cannot open as media)."""
    import av

    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            return len(container.streams.audio)
    except (av.error.FFmpegError, OSError):
        return 0


def decode_audio(path: Path) -> Audio:
    """The first audio stream of ``path`` as faster-whisper decodes it; InputError when it is
    damaged beyond use (nothing decodes), with a warning when part of it did not decode."""
    import av
    from faster_whisper.audio import decode_audio as fw_decode

    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            stream = container.streams.audio[0]
            expected = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
            if expected is None and container.duration:
                expected = container.duration / 1_000_000
        samples = fw_decode(str(path), sampling_rate=SAMPLE_RATE)
    except (av.error.FFmpegError, OSError, IndexError) as e:
        raise InputError(f"{path}: the audio stream cannot be decoded ({one_line(e, 160)})") from e
    audio = Audio(samples, expected)
    if expected and expected > 0.5:
        if audio.seconds < 0.05:
            raise InputError(f"{path}: the audio stream is damaged: none of its {expected:.1f} s could be decoded")
        if audio.seconds < 0.9 * expected:
            audio.warnings.append(
                f"audio partly damaged: {audio.seconds:.1f} s of {expected:.1f} s decoded; "
                "times after the damage may be early"
            )
    return audio


def transcribe_kwargs(options: TranscribeOptions) -> dict[str, Any]:
    """The settings given to ``WhisperModel.transcribe`` (everything else stays faster-whisper's default)."""
    return {"language": options.language, "beam_size": options.beam_size, "vad_filter": options.vad}


def confidence(avg_logprob: float) -> float:
    """exp(mean token log-probability), clipped to 0..1."""
    return min(1.0, max(0.0, math.exp(avg_logprob)))


def run_model(model: WhisperModel, audio: Audio, options: TranscribeOptions, path: Path) -> Transcript:
    """Transcribe decoded audio; InputError when ``[Transcription] Language`` is one the model does not cover."""
    name = options.model_name
    if options.language is not None and options.language not in model.supported_languages:
        covered = ", ".join(model.supported_languages) if len(model.supported_languages) < 5 else "others"
        raise InputError(
            f"{path}: [Transcription] Language = {options.language} is not covered by model {name} "
            f"(it covers {covered}); set Language = auto or a multilingual Model (small, large-v3)"
        )
    segments, info = model.transcribe(audio.samples, **transcribe_kwargs(options))
    found = [
        TranscriptSegment(float(s.start), float(s.end), s.text.strip(), confidence(s.avg_logprob))
        for s in segments
        if s.text.strip()
    ]
    detected = options.language is None and model.model.is_multilingual
    return Transcript(
        origin=f"model:faster-whisper/{name}",
        language=info.language,
        language_probability=round(float(info.language_probability), 4) if detected else None,
        segments=found,
        model=name,
        warnings=list(audio.warnings),
    )
