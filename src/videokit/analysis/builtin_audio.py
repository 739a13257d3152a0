"""Loudness, silence and a speech-like / music-like guess from decoded mono PCM.

The PCM comes from the builtin analyzer's single ffmpeg call (16-bit, mono, ``RATE`` Hz).
The character guess is a heuristic over energy modulation and spectral flatness, not a
classifier: its confidence is capped low on purpose.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

RATE = 8000
WINDOW = RATE // 20  # 50 ms energy windows -> 20 Hz envelope
SILENT_DB = -50.0  # below this peak level the track is silent
QUIET_WINDOW_DB = -45.0  # a 50 ms window quieter than this counts as a pause
MAX_CONFIDENCE = 0.6


def _db(x: float) -> float:
    return round(20 * math.log10(x), 1) if x > 0 else -math.inf


def audio_facts(pcm_path: Path | None, has_stream: bool) -> dict[str, Any]:
    """Facts about the audio of one video; ``pcm_path`` holds s16le mono samples."""
    samples = _load(pcm_path) if has_stream and pcm_path is not None else np.zeros(0, np.float32)
    facts: dict[str, Any] = {"has_audio": bool(has_stream and samples.size > 0)}
    if not facts["has_audio"]:
        facts.update(silent=True, mean_volume_db=None, max_volume_db=None, character="no audio")
        return facts
    n = samples.size // WINDOW
    windows = samples[: n * WINDOW].reshape(n, WINDOW) if n else samples.reshape(1, -1)
    rms = np.sqrt(np.mean(windows.astype(np.float64) ** 2, axis=1))
    overall = float(np.sqrt(np.mean(rms**2)))
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    mean_db, max_db = _db(overall), _db(peak)
    silent = max_db < SILENT_DB
    win_db = 20 * np.log10(np.maximum(rms, 1e-9))
    pause_ratio = float(np.mean(win_db < QUIET_WINDOW_DB))
    facts.update(
        silent=bool(silent),
        mean_volume_db=None if math.isinf(mean_db) else mean_db,
        max_volume_db=None if math.isinf(max_db) else max_db,
        seconds=round(samples.size / RATE, 2),
        quiet_ratio=round(pause_ratio, 3),
    )
    if silent:
        facts["character"] = "silence"
        return facts
    loud = rms[win_db >= QUIET_WINDOW_DB]
    variation = float(np.std(loud) / np.mean(loud)) if loud.size else 0.0
    flatness = _flatness(samples)
    modulation = _syllabic_modulation(win_db)
    character, confidence = _character(variation, flatness, modulation, pause_ratio, samples.size / RATE)
    facts.update(
        loudness=_loudness_word(mean_db),
        energy_variation=round(variation, 3),
        spectral_flatness=round(flatness, 4),
        syllabic_modulation=round(modulation, 3),
        character=character,
        character_confidence=confidence,
        character_method="energy/flatness heuristic, not a trained classifier",
    )
    return facts


def _load(path: Path) -> np.ndarray:
    if not path.exists() or path.stat().st_size < 2:
        return np.zeros(0, np.float32)
    raw = np.fromfile(path, dtype="<i2")
    return raw.astype(np.float32) / 32768.0


def _flatness(samples: np.ndarray, frame: int = 1024, max_frames: int = 200) -> float:
    """Median spectral flatness (0 = pure tone, 1 = white noise) over non-quiet frames."""
    n = samples.size // frame
    if n == 0:
        return 0.0
    idx = np.linspace(0, n - 1, min(n, max_frames)).astype(int)
    frames = np.stack([samples[i * frame : (i + 1) * frame] for i in idx])
    energy = np.sqrt(np.mean(frames**2, axis=1))
    frames = frames[energy > 10 ** (QUIET_WINDOW_DB / 20)]
    if frames.size == 0:
        return 0.0
    power = np.abs(np.fft.rfft(frames * np.hanning(frame), axis=1)) ** 2 + 1e-12
    flat = np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)
    return float(np.median(flat))


def _syllabic_modulation(win_db: np.ndarray) -> float:
    """Share of envelope modulation energy at 2-8 Hz (syllable rate) within 0.5-10 Hz."""
    if win_db.size < 40:  # under 2 s: not enough envelope to say
        return 0.0
    env = np.clip(win_db, -60, 0)
    env = env - env.mean()
    spec = np.abs(np.fft.rfft(env)) ** 2
    freqs = np.fft.rfftfreq(env.size, d=WINDOW / RATE)
    band = spec[(freqs >= 2) & (freqs <= 8)].sum()
    total = spec[(freqs >= 0.5) & (freqs <= 10)].sum()
    return float(band / total) if total > 0 else 0.0


def _character(
    variation: float, flatness: float, modulation: float, pauses: float, seconds: float
) -> tuple[str, float]:
    short = seconds < 3
    if variation < 0.15:
        label = "steady tone" if flatness < 0.05 else "steady noise"
        conf = 0.6
    elif modulation > 0.45 and 0.05 <= pauses <= 0.6:
        label, conf = "speech-like", 0.3 + 0.4 * min(1.0, (modulation - 0.45) / 0.3)
    elif flatness < 0.3:
        label, conf = "music-like", 0.3 + 0.3 * min(1.0, (0.3 - flatness) / 0.3)
    else:
        label, conf = "noise-like", 0.35
    if short:
        conf *= 0.6
    return label, round(min(conf, MAX_CONFIDENCE), 2)


def _loudness_word(mean_db: float) -> str:
    if mean_db >= -16:
        return "loud"
    if mean_db >= -30:
        return "moderate"
    return "quiet"
