"""Transcription speed: real-time factor with the bundled model, and the stage against a direct call.

    .venv/bin/python benchmarks/transcribe.py [--sentences 24] [--repeat 3]

One run, one file, one loaded model (``[Transcription]`` defaults: bundled tiny.en, int8, beam 5,
VAD on), methods interleaved, each timing repeated ``--repeat`` times and the minimum kept (the
machine is shared):

* ``direct``: ``WhisperModel.transcribe(path, beam_size=5, vad_filter=True)``, segments consumed:
  faster-whisper called directly on the file (it decodes the audio with PyAV);
* ``stage``: the ``transcribe`` pipeline stage on a record of the same file (subtitle-stream check
  with ffprobe, audio decode, the model, ``transcript.srt``/``.vtt`` written atomically);
* ``decode:pyav`` / ``decode:ffmpeg``: the audio decode alone, faster-whisper's PyAV decoder vs an
  ``ffmpeg`` subprocess writing 16 kHz mono float32 to a pipe (which one the stage should use).

RTF is wall seconds over audio seconds (lower is faster); ``cpu s`` is user + system CPU seconds,
steadier than wall time on a loaded machine. WER compares the stage's words with the
sentences espeak-ng spoke. The speech file is made with ``tests/speech.py`` and cached under
``benchmarks/out/transcribe/``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from speech import make_speech_video  # noqa: E402
from videokit.config import load_config  # noqa: E402
from videokit.pipeline import Context  # noqa: E402
from videokit.probe import media_info  # noqa: E402
from videokit.record import FileInfo, Record  # noqa: E402
from videokit.transcribe import TranscribeOptions, TranscribeStage  # noqa: E402
from videokit.transcribe.model import load_model  # noqa: E402

SENTENCES = [
    "The harbour master checks every boat before the storm arrives.",
    "A small team of volunteers plants trees along the river bank.",
    "Our recipe today is a simple tomato soup with fresh basil.",
    "The museum opens a new exhibition about ancient Egyptian tombs.",
    "Engineers test the bridge with heavy trucks on a cold morning.",
    "The football match ended in a draw after extra time.",
    "Children learn to read with picture books in the library.",
    "The mountain trail is closed because of falling rocks.",
]


def words(text: str) -> list[str]:
    return "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower()).split()


def wer(reference: list[str], hypothesis: list[str]) -> float:
    """Word error rate: word-level edit distance over the reference length."""
    prev = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        cur = [i] + [0] * len(hypothesis)
        for j, h in enumerate(hypothesis, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1] / max(1, len(reference))


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn: Callable[[], object], times: list[float], cpu: list[float]) -> None:
    c0, t0 = cpu_seconds(), time.perf_counter()
    fn()
    times.append(time.perf_counter() - t0)
    cpu.append(cpu_seconds() - c0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sentences", type=int, default=24, help="sentences spoken in the file (about 3 s each)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    said = [SENTENCES[i % len(SENTENCES)] for i in range(args.sentences)]
    out = HERE / "out" / "transcribe"
    path, spoken = make_speech_video(out / f"speech-{args.sentences}.mp4", said, cache=out / "cache")
    cfg = load_config(env={})
    options = TranscribeOptions.from_config(cfg)
    t0 = time.perf_counter()
    model = load_model(options)
    load_s = time.perf_counter() - t0

    media = media_info(path)
    audio_s = float(media.duration or 0)
    stat = path.stat()

    def direct() -> object:
        segments, _ = model.transcribe(str(path), beam_size=options.beam_size, vad_filter=options.vad)
        return list(segments)

    with tempfile.TemporaryDirectory(prefix="vk-bench-transcribe-") as lib:
        run_cfg = load_config(env={}, overrides={("Library", "Location"): lib})
        ctx = Context(run_cfg)
        stage = TranscribeStage(options)
        stage.setup(ctx)
        record = Record(id="bench", file=FileInfo(str(path), path.name, stat.st_size, "-"), media=media)

        def staged() -> object:
            stage.process(record, ctx)
            return record.transcript

        def pyav() -> object:
            from faster_whisper.audio import decode_audio

            return decode_audio(str(path), sampling_rate=16000)

        def ffmpeg_pipe() -> object:
            cmd = ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", "16000"]
            return subprocess.run([*cmd, "-f", "f32le", "-"], capture_output=True, check=True).stdout

        methods = {"direct": direct, "stage": staged, "decode:pyav": pyav, "decode:ffmpeg": ffmpeg_pipe}
        times: dict[str, list[float]] = {name: [] for name in methods}
        cpu: dict[str, list[float]] = {name: [] for name in methods}
        direct()  # warm-up: first-call allocations are nobody's cost
        for _ in range(args.repeat):
            for name, fn in methods.items():
                timed(fn, times[name], cpu[name])
        transcript = record.transcript

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; python {platform.python_version()}")
    print(f"file: {path.name}, {audio_s:.1f} s of audio, {len(spoken)} sentences; model {options.model_name}, "
          f"{options.resolved_compute_type}, beam {options.beam_size}, VAD {options.vad}; load {load_s:.2f} s")  # fmt: skip
    print(f"{'method':<15}{'best s':>9}{'RTF':>8}{'cpu s':>9}")
    for name, ts in times.items():
        print(f"{name:<15}{min(ts):>9.3f}{min(ts) / audio_s:>8.3f}{min(cpu[name]):>9.3f}")
    ratio = min(times["stage"]) / min(times["direct"])
    cpu_ratio = min(cpu["stage"]) / min(cpu["direct"])
    print(f"stage / direct: {ratio:.3f}x wall, {cpu_ratio:.3f}x CPU")
    if transcript is not None:
        print(f"WER of the stage's transcript: {wer(words(' '.join(said)), words(transcript.text)):.3f}")


if __name__ == "__main__":
    main()
