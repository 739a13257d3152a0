"""What is said in a video: faster-whisper transcripts, or the file's own subtitle streams.

``transcribe_file(path, options)`` does it for one file; :class:`TranscribeStage` is the pipeline
stage (``[Transcription]`` settings, read once into :class:`TranscribeOptions`). faster-whisper and
the bundled tiny.en model come with the ``search`` extra.
"""

from videokit.transcribe.captions import parse_srt, to_srt, to_vtt
from videokit.transcribe.options import TranscribeOptions
from videokit.transcribe.stage import TranscribeResult, TranscribeStage, transcribe_file

__all__ = [
    "TranscribeOptions",
    "TranscribeResult",
    "TranscribeStage",
    "parse_srt",
    "to_srt",
    "to_vtt",
    "transcribe_file",
]
