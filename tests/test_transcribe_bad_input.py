"""Bad input to the transcribe stage: a clear one-line error or a recorded stage error, the video still stored."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from media import ffmpeg, make_video
from speech import make_speech_video
from videokit import api
from videokit._cli import main
from videokit.config import load_config
from videokit.errors import ConfigError
from videokit.record import Record
from videokit.store.base import Query

SAID = ["The lighthouse keeper climbs the stairs every evening."]
LAVFI_VIDEO = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=5"]
ENCODE = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"]
# a pulsing C major chord over a bass beat: music-like, no words
MUSIC = (
    "aevalsrc=0.25*sin(2*PI*262*t)+0.25*sin(2*PI*330*t)+0.25*sin(2*PI*392*t)*(0.5+0.5*sin(2*PI*2*t))"
    "+0.1*sin(2*PI*110*t)*lt(mod(t\\,0.5)\\,0.1):s=44100:d=5"
)


def vk(library: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    res = CliRunner(env=env).invoke(main, ["--library", str(library), "--quiet", *args], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def stored(library: Path) -> dict[str, Record]:
    """The stored records by file name."""
    cfg = load_config(env={}, overrides={("Library", "Location"): str(library)})
    return {r.file.name: r for r in api.search(cfg, Query(limit=100)) if r.file}


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad-audio")
    speech, _ = make_speech_video(d / "speech.mp4", SAID)
    corrupt = d / "corrupt.mp4"  # every audio packet damaged by ffmpeg's noise bitstream filter; video intact
    ffmpeg("-i", str(speech), "-c", "copy", "-bsf:a", "noise=amount=1", str(corrupt))
    silent, music = d / "silent.mp4", d / "music.mp4"
    ffmpeg(*LAVFI_VIDEO, "-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "5", *ENCODE, str(silent))
    ffmpeg(*LAVFI_VIDEO, "-f", "lavfi", "-i", MUSIC, *ENCODE, str(music))
    noaudio = make_video(d / "noaudio.mp4", duration=2.0, audio=False)
    return {"speech": speech, "corrupt": corrupt, "silent": silent, "music": music, "noaudio": noaudio}


@pytest.fixture(scope="module")
def one_batch(tmp_path_factory: pytest.TempPathFactory, bad_files) -> tuple[int, str, dict[str, Record]]:
    """One `videokit run` over the corrupt, silent, music-only and audio-less files."""
    lib = tmp_path_factory.mktemp("batch") / "lib"
    names = ("corrupt", "silent", "music", "noaudio")
    code, _, err = vk(lib, "run", "--skip", "analyze", *(str(bad_files[n]) for n in names))
    return code, err, stored(lib)


def transcribe_errors(record: Record) -> list[str]:
    return [e.message for e in record.errors if e.stage == "transcribe"]


def test_a_corrupt_audio_stream_is_a_recorded_stage_error_and_the_video_is_stored(one_batch) -> None:
    code, err, records = one_batch
    assert code == 1, err
    rec = records["corrupt.mp4"]
    (message,) = transcribe_errors(rec)
    assert "corrupt.mp4: the audio stream is damaged" in message and "\n" not in message
    assert rec.transcript is None and rec.scenes is not None and rec.media is not None


def test_silent_audio_gives_an_empty_transcript_and_no_invented_words(one_batch) -> None:
    rec = one_batch[2]["silent.mp4"]
    assert rec.transcript is not None and rec.transcript.segments == [] and rec.transcript.text == ""
    assert rec.transcript.warnings == ["no speech found"] and not transcribe_errors(rec)


def test_music_only_audio_gives_an_empty_transcript(one_batch) -> None:
    rec = one_batch[2]["music.mp4"]
    assert rec.transcript is not None and rec.transcript.text == "" and not transcribe_errors(rec)


def test_no_audio_stream_skips_transcription_without_an_error(one_batch) -> None:
    rec = one_batch[2]["noaudio.mp4"]
    assert rec.transcript is None and rec.errors == []


def test_a_language_the_model_does_not_cover_is_recorded(bad_files, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    code, _, err = vk(
        lib, "run", "--skip", "analyze", str(bad_files["speech"]), env={"VIDEOKIT_TRANSCRIPTION_LANGUAGE": "de"}
    )
    assert code == 1, err
    rec = stored(lib)["speech.mp4"]
    (message,) = transcribe_errors(rec)
    assert "[Transcription] Language = de is not covered by model tiny.en (it covers en)" in message
    assert rec.transcript is None and rec.media is not None


def test_a_model_folder_that_does_not_exist_stops_the_run_before_any_work(bad_files, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    missing = tmp_path / "no-such-model"
    env = {"VIDEOKIT_TRANSCRIPTION_MODEL": str(missing)}
    code, _, err = vk(lib, "run", str(bad_files["speech"]), env=env)
    assert code == 2
    (line,) = [ln for ln in err.splitlines() if "Model" in ln]
    assert f"[Transcription] Model = {missing}: no such model folder" in line
    assert not (lib / "library.sqlite").exists() or stored(lib) == {}


def test_a_folder_without_a_model_is_refused_naming_the_setting(tmp_path: Path) -> None:
    from videokit.transcribe import TranscribeOptions

    cfg = load_config(env={"VIDEOKIT_TRANSCRIPTION_MODEL": str(tmp_path)})
    with pytest.raises(ConfigError, match=r"\[Transcription\] Model = .*: the folder has no model.bin"):
        TranscribeOptions.from_config(cfg)


def test_without_the_search_extra_a_one_line_hint(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    from videokit.transcribe import TranscribeStage

    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # as if the package were not installed
    with caplog.at_level(logging.WARNING, logger="videokit"):
        assert TranscribeStage.from_config(load_config(env={})) is None
    assert "pip install 'videokit[search]'" in caplog.text
    asked = load_config(env={"VIDEOKIT_TRANSCRIPTION_ENABLED": "true"})
    with pytest.raises(
        ConfigError, match=r"faster_whisper package of the search extra: pip install 'videokit\[search\]'"
    ):
        TranscribeStage.from_config(asked)
