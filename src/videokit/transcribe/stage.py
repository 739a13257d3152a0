"""The ``transcribe`` pipeline stage, and :func:`transcribe_file`, what it does for one file.

For each video: a usable subtitle stream of the file is read (``[Transcription] Subtitles =
prefer``: instead of the model; ``beside``: the model runs too and its transcript is kept in
``record.extra["transcribe"]["model"]``); otherwise the model transcribes the first audio stream.
A video without an audio stream (and without usable subtitles) gets no transcript, and no error.
``processed/<id>/transcript.srt`` and ``.vtt`` are written atomically beside the other processed
files; the record names them relative to the library.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from videokit.errors import ConfigError, InputError
from videokit.pipeline import Context, Stage
from videokit.record import Record, Transcript
from videokit.transcribe.captions import write_captions
from videokit.transcribe.model import audio_stream_count, decode_audio, load_model, run_model
from videokit.transcribe.options import EXTRA_HINT, SECTION, TranscribeOptions, search_extra_missing
from videokit.transcribe.subtitles import pick_stream, read_subtitles, subtitle_streams

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

    from videokit.config import Config

log = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class TranscribeResult:
    """What :func:`transcribe_file` found: the transcript to keep (None: no audio, no usable
    subtitles), and with ``Subtitles = beside`` the model's own transcript as well."""

    transcript: Transcript | None
    model_transcript: Transcript | None = None


def transcribe_file(
    path: Path,
    options: TranscribeOptions,
    *,
    model: WhisperModel | Callable[[], WhisperModel] | None = None,
    has_audio: bool | None = None,
    has_subtitles: bool | None = None,
) -> TranscribeResult:
    """What is said in ``path``: from a usable subtitle stream or the speech model (see the module
    docstring). ``model``: a loaded model, or a function that loads it when it is needed (default:
    the per-process model of ``options``); ``has_audio``/``has_subtitles``: what a probe already
    knows about the file (None: look)."""
    path = Path(path)
    if has_audio is None:
        has_audio = audio_stream_count(path) > 0
    subtitles: Transcript | None = None
    if options.subtitles != "ignore" and has_subtitles is not False:
        stream = pick_stream(subtitle_streams(path), _wanted_languages(options, model))
        if stream is not None:
            subtitles = read_subtitles(path, stream)
            if options.subtitles == "prefer" or not has_audio:
                return TranscribeResult(subtitles)
    if not has_audio:
        return TranscribeResult(None)
    whisper = _model(options, model)
    spoken = run_model(whisper, decode_audio(path), options, path)
    if subtitles is not None:  # beside: the subtitles are the transcript, the model's is kept too
        return TranscribeResult(subtitles, spoken)
    if not spoken.segments:
        spoken.warnings.append("no speech found")
    return TranscribeResult(spoken)


def _model(options: TranscribeOptions, model: WhisperModel | Callable[[], WhisperModel] | None) -> WhisperModel:
    if model is None:
        return load_model(options)
    if callable(model) and not hasattr(model, "transcribe"):
        return model()
    return model  # type: ignore[return-value]


def _wanted_languages(
    options: TranscribeOptions, model: WhisperModel | Callable[[], WhisperModel] | None
) -> frozenset[str]:
    """The subtitle languages usable for ``options``: the set Language, else what the model covers."""
    if options.language is not None:
        return frozenset({options.language})
    return frozenset(_model(options, model).supported_languages)


class TranscribeStage(Stage):
    """Transcripts with time-stamped segments, from subtitles or faster-whisper (not required:
    a failure is a recorded error and the video is still stored)."""

    name = "transcribe"
    required = False
    optional = True
    after = "scenes"
    needs = frozenset({"file", "media"})
    provides = frozenset({"transcript"})

    def __init__(self, options: TranscribeOptions | None = None) -> None:
        self.options = options
        self.model: WhisperModel | None = None

    @classmethod
    def from_config(cls, config: Config) -> TranscribeStage | None:
        """None when ``[Transcription] Enabled = false``, or when the search extra is missing and
        transcription was not asked for explicitly (a warning with the hint; explicitly: ConfigError)."""
        options = TranscribeOptions.from_config(config)
        if not options.enabled:
            return None
        missing = search_extra_missing()
        if missing is not None:
            hint = f"transcription needs the {missing} package of the search extra: {EXTRA_HINT}"
            if config.origins.get((SECTION, "Enabled"), "default") != "default":
                raise ConfigError(f"[{SECTION}] Enabled = true: {hint}")
            log.warning("%s (videos are stored without transcripts)", hint)
            return None
        return cls(options)

    @property
    def resources(self) -> frozenset[str]:  # type: ignore[override]
        """``{"gpu"}`` when the model runs on CUDA, else ``{"cpu"}``."""
        on_gpu = self.options is not None and self.options.resolved_device == "cuda"
        return frozenset({"gpu"}) if on_gpu else frozenset({"cpu"})

    def setup(self, ctx: Context) -> None:
        if self.options is None:
            self.options = TranscribeOptions.from_config(ctx.config)
        if self.model is None:
            self.model = load_model(self.options)

    def process(self, record: Record, ctx: Context) -> None:
        if self.options is None or self.model is None:
            self.setup(ctx)
        assert self.options is not None and self.model is not None
        if record.file is None:
            raise InputError(f"{record.id or '?'}: no video file to transcribe")
        path = ctx.abspath(record.file.path)
        media = record.media
        found = transcribe_file(
            path,
            self.options,
            model=self.model,
            has_audio=media.has_audio if media is not None else None,
            has_subtitles=media.has_subtitles if media is not None else None,
        )
        record.extra.pop(self.name, None)
        record.transcript = found.transcript
        if found.transcript is None:
            return
        folder = ctx.config.processed_dir / (record.id or path.stem)
        srt, vtt = write_captions(found.transcript.segments, folder)
        found.transcript.srt, found.transcript.vtt = ctx.relpath(srt), ctx.relpath(vtt)
        if found.model_transcript is not None:
            record.extra[self.name] = {"model": dataclasses.asdict(found.model_transcript)}

    def done(self, record: Record) -> bool:
        """Done by an earlier (killed) run: transcribed, by this model when a model was used."""
        if self.name not in record.timings:
            return False
        t = record.transcript
        return t is None or t.model is None or self.options is None or t.model == self.options.model_name
