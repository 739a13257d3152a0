"""Test videos with real speech: sentences synthesised with espeak-ng, muxed with a lavfi picture.

``make_speech_video`` returns the file and where each sentence is spoken in it, so tests can check a
transcript's words and times against what was said. Results are cached by content in ``cache`` (default:
the folder of ``path``), so a test (or a session fixture) asking twice for the same speech pays once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

_VERSION = "1"  # bump when the recipe changes, so old cached files are not reused
_RATE = 22050  # espeak-ng's own output rate: no resampling before the final AAC encode
_THRESHOLD = 300  # |sample| above this (of 32767) counts as voice when trimming espeak's own silence


def _say(text: str, voice: str, folder: Path, index: int) -> np.ndarray:
    """One sentence as 16-bit mono samples at ``_RATE``, trimmed to where the voice is."""
    wav = folder / f"s{index}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), "--", text], check=True, capture_output=True)
    with wave.open(str(wav), "rb") as w:
        if w.getframerate() != _RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise RuntimeError(f"espeak-ng wrote an unexpected WAV format for {text!r}")
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > _THRESHOLD)
    if loud.size == 0:
        raise RuntimeError(f"espeak-ng produced silence for {text!r}")
    return samples[loud[0] : loud[-1] + 1]


def _key(sentences: list[str], gap: float, voice: str, size: str, video: bool, music: bool) -> str:
    blob = json.dumps([_VERSION, sentences, gap, voice, size, video, music], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def make_speech_video(
    path: Path,
    sentences: list[str],
    *,
    gap: float = 0.8,
    voice: str = "en",
    size: str = "320x240",
    video: bool = True,
    music: bool = False,
    cache: Path | None = None,
) -> tuple[Path, list[tuple[float, float, str]]]:
    """An H.264+AAC mp4 (or an audio-only .m4a-in-mp4 when ``video`` is False) where each sentence is
    spoken by espeak-ng ``voice``, with ``gap`` seconds of silence before, between and after them.

    ``music`` mixes a quiet two-tone signal under the whole track. Returns ``(path, [(start, end,
    sentence), ...])`` with the seconds where each sentence is heard in the file.
    """
    if not sentences:
        raise ValueError("make_speech_video needs at least one sentence")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cache_dir = Path(cache) if cache is not None else path.parent / ".speech-cache"
    key = _key(sentences, gap, voice, size, video, music)
    cached, timings_file = cache_dir / f"{key}.mp4", cache_dir / f"{key}.json"
    if cached.exists() and timings_file.exists():
        timings = [(float(s), float(e), str(t)) for s, e, t in json.loads(timings_file.read_text())]
        if cached.resolve() != path.resolve():
            shutil.copyfile(cached, path)
        return path, timings

    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        work = Path(tmp)
        silence = np.zeros(int(round(gap * _RATE)), dtype="<i2")
        parts: list[np.ndarray] = [silence]
        timings = []
        at = len(silence)
        for i, text in enumerate(sentences):
            voiced = _say(text, voice, work, i)
            timings.append((at / _RATE, (at + len(voiced)) / _RATE, text))
            parts += [voiced, silence]
            at += len(voiced) + len(silence)
        track = work / "speech.wav"
        with wave.open(str(track), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(_RATE)
            w.writeframes(np.concatenate(parts).tobytes())
        total = at / _RATE

        args = ["ffmpeg", "-v", "error", "-y", "-nostdin"]
        if video:
            args += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={total:.3f}"]
        args += ["-i", str(track)]
        audio_in = 1 if video else 0
        if music:
            args += ["-f", "lavfi", "-i", f"sine=frequency=220:duration={total:.3f}:sample_rate={_RATE}"]
            args += ["-f", "lavfi", "-i", f"sine=frequency=330:duration={total:.3f}:sample_rate={_RATE}"]
            m = audio_in + 1
            args += [
                "-filter_complex",
                f"[{m}:a]volume=0.05[m1];[{m + 1}:a]volume=0.04[m2];"
                f"[{audio_in}:a][m1][m2]amix=inputs=3:duration=first:normalize=0[a]",
                "-map",
                "[a]",
            ]
        else:
            args += ["-map", f"{audio_in}:a"]
        if video:
            args += ["-map", "0:v", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
        args += ["-c:a", "aac", "-b:a", "96k", "-t", f"{total:.3f}", "-f", "mp4"]
        out = work / "out.mp4"
        subprocess.run([*args, str(out)], check=True)
        timings_tmp = work / "timings.json"
        timings_tmp.write_text(json.dumps(timings))
        os.replace(out, cached)
        os.replace(timings_tmp, timings_file)
    if cached.resolve() != path.resolve():
        shutil.copyfile(cached, path)
    return path, timings
