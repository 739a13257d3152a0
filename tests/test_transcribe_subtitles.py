"""A subtitle stream the file carries is read (instead of, or beside, the model), with its origin recorded."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from media import ffmpeg
from speech import make_speech_video
from videokit import api
from videokit._cli import main
from videokit.config import load_config
from videokit.record import Record
from videokit.transcribe import TranscribeOptions, parse_srt, to_srt, to_vtt, transcribe_file

SAID = ["The red train leaves the station at noon."]
SUBTITLES = """1
00:00:00,800 --> 00:00:02,500
<i>Subtitles say:</i> a blue ship

2
00:00:02,600 --> 00:00:04,000
sails into the harbour.
"""


def vk(library: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    res = CliRunner(env=env).invoke(main, ["--library", str(library), "--quiet", *args], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def only_record(library: Path) -> Record:
    (record,) = api.search(load_config(env={}, overrides={("Library", "Location"): str(library)}))
    return record


def with_subtitles(video: Path, out: Path, language: str) -> Path:
    srt = out.with_suffix(".srt")
    srt.write_text(SUBTITLES, encoding="utf-8")
    ffmpeg("-i", str(video), "-i", str(srt), "-map", "0", "-map", "1", "-c", "copy", "-c:s", "mov_text",
           "-metadata:s:s:0", f"language={language}", str(out))  # fmt: skip
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("subs")
    speech, _ = make_speech_video(d / "speech.mp4", SAID)
    return {"eng": with_subtitles(speech, d / "eng.mp4", "eng"), "ger": with_subtitles(speech, d / "ger.mp4", "ger")}


def options(**changes: object) -> TranscribeOptions:
    return dataclasses.replace(TranscribeOptions.from_config(load_config(env={})), **changes)


def test_run_prefers_an_english_subtitle_stream_and_records_its_origin(files, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    code, _, err = vk(lib, "run", "--skip", "analyze", str(files["eng"]))
    assert code == 0, err
    t = only_record(lib).transcript
    assert t is not None and t.origin == "subtitles:2:en" and t.language == "en" and t.model is None
    assert t.text == "Subtitles say: a blue ship sails into the harbour."
    assert [(s.start, s.end) for s in t.segments] == [(0.8, 2.5), (2.6, 4.0)]
    assert parse_srt((lib / str(t.srt)).read_text(encoding="utf-8")) == t.segments


def test_beside_runs_the_model_too_and_keeps_both(files, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    code, _, err = vk(
        lib, "run", "--skip", "analyze", str(files["eng"]), env={"VIDEOKIT_TRANSCRIPTION_SUBTITLES": "beside"}
    )
    assert code == 0, err
    rec = only_record(lib)
    assert rec.transcript is not None and rec.transcript.origin == "subtitles:2:en"
    model = rec.extra["transcribe"]["model"]
    assert model["origin"] == "model:faster-whisper/tiny.en"
    heard = " ".join(s["text"] for s in model["segments"]).lower()
    assert "train" in heard and "station" in heard


def test_ignore_and_an_unusable_language_use_the_model(files) -> None:
    ignored = transcribe_file(files["eng"], options(subtitles="ignore")).transcript
    assert ignored is not None and ignored.origin == "model:faster-whisper/tiny.en" and "train" in ignored.text.lower()
    # German subtitles are no transcript of English speech for the English-only model
    german = transcribe_file(files["ger"], options()).transcript
    assert german is not None and german.origin == "model:faster-whisper/tiny.en"
    # ...unless German is what the user says is spoken
    asked = transcribe_file(files["ger"], options(language="de")).transcript
    assert asked is not None and asked.origin == "subtitles:2:de" and "blue ship" in asked.text


def test_srt_and_vtt_writers_keep_times_and_text() -> None:
    segments = parse_srt(SUBTITLES)
    assert parse_srt(to_srt(segments)) == segments
    vtt = to_vtt(segments)
    assert vtt.startswith("WEBVTT\n\n00:00:00.800 --> 00:00:02.500\nSubtitles say: a blue ship\n")
