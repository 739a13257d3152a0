"""The transcribe stage on videos with real speech (espeak-ng), end to end and against faster-whisper."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from speech import make_speech_video
from videokit import api
from videokit._cli import main
from videokit.config import load_config
from videokit.record import Record

SENTENCES = ["Welcome to the cooking show.", "Today we bake fresh bread with butter and honey."]
RULES = {"rules": [{"id": "bakery", "description_keywords": ["honey"], "tags": ["Sweet"]}]}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def share_heard(said: list[str], heard: str) -> float:
    """The share of the spoken words found in ``heard``."""
    got = set(words(heard))
    spoken = [w for s in said for w in words(s)]
    return sum(w in got for w in spoken) / len(spoken)


def vk(library: Path, *args: str, config: Path | None = None) -> tuple[int, str, str]:
    pre = ["--config", str(config)] if config else []
    res = CliRunner().invoke(main, [*pre, "--library", str(library), "--quiet", *args], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def only_record(library: Path) -> Record:
    records = api.search(load_config(env={}, overrides={("Library", "Location"): str(library)}))
    assert len(records) == 1
    return records[0]


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[float, float, str]]]:
    return make_speech_video(tmp_path_factory.mktemp("speech") / "cooking.mp4", SENTENCES)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory, speech) -> tuple[Path, Record, str]:
    """One `videokit run` of the speech video (builtin analyzer, a keyword rule on a spoken word),
    then `videokit show`: (library, stored record, what show printed on stderr)."""
    work = tmp_path_factory.mktemp("run")
    rules = work / "custom_tags.json"
    rules.write_text(json.dumps(RULES), encoding="utf-8")
    config = work / "config.ini"
    config.write_text(f"[Rules]\nCustomTagRules = {rules}\n", encoding="utf-8")
    lib = work / "lib"
    code, _, err = vk(lib, "run", str(speech[0]), config=config)
    assert code == 0, err
    record = only_record(lib)
    code, out, err = vk(lib, "show", str(record.id)[:12], config=config)
    assert code == 0, err
    assert json.loads(out)["transcript"]["origin"] == "model:faster-whisper/tiny.en"
    return lib, record, err


def test_stage_transcript_equals_a_direct_faster_whisper_call(speech) -> None:
    from faster_whisper import WhisperModel

    from videokit.transcribe import TranscribeOptions, transcribe_file
    from videokit.transcribe.options import bundled_model_dir

    path = speech[0]
    direct_model = WhisperModel(str(bundled_model_dir()), device="cpu", compute_type="int8")
    segments, info = direct_model.transcribe(str(path), beam_size=5, vad_filter=True)
    direct = [(s.start, s.end, s.text.strip()) for s in segments]
    assert direct, "faster-whisper heard nothing: the test video is broken"

    got = transcribe_file(path, TranscribeOptions.from_config(load_config(env={}))).transcript
    assert got is not None
    assert [(s.start, s.end, s.text) for s in got.segments] == direct
    assert got.language == info.language == "en"
    assert all(0 < (s.confidence or 0) <= 1 for s in got.segments)


def test_run_stores_a_transcript_with_the_spoken_words_and_their_times(ran, speech) -> None:
    _, record, _ = ran
    t = record.transcript
    assert t is not None and t.origin == "model:faster-whisper/tiny.en" and t.model == "tiny.en"
    assert t.language == "en" and t.warnings == []
    assert share_heard(SENTENCES, t.text) >= 0.7, t.text
    assert not [e for e in record.errors if e.stage == "transcribe"]
    # the words are heard where they were said (segment times within the spoken span, give or take)
    first, last = speech[1][0][0], speech[1][-1][1]
    assert t.segments[0].start >= first - 1.0 and t.segments[-1].end <= last + 1.0


def test_show_prints_language_origin_and_the_transcript(ran) -> None:
    _, record, shown = ran
    line = next(ln for ln in shown.splitlines() if ln.startswith("transcript ("))
    assert "en, model:faster-whisper/tiny.en" in line
    assert record.transcript is not None and record.transcript.text in line


def test_srt_and_vtt_are_written_beside_the_processed_files_and_parse(ran) -> None:
    lib, record, _ = ran
    t = record.transcript
    assert t is not None and t.srt == f"processed/{record.id}/transcript.srt"
    assert t.vtt == f"processed/{record.id}/transcript.vtt"
    for name in (t.srt, t.vtt):
        path = lib / name
        # ffmpeg reads them as subtitles, and gives back the transcript's words
        out = subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-f", "srt", "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert words(out) == words(t.text)
    assert (lib / t.vtt).read_text(encoding="utf-8").startswith("WEBVTT\n")
    assert not [p for p in (lib / "processed" / str(record.id)).iterdir() if p.name.startswith(".")]


def test_the_analyzer_prompt_contains_the_transcript(ran) -> None:
    _, record, _ = ran
    assert record.analysis is not None and record.analysis.instruction is not None
    assert record.transcript is not None
    assert f"What is said in the video (transcript): {record.transcript.text}" in record.analysis.instruction


def test_a_keyword_rule_fires_on_a_spoken_word(ran) -> None:
    _, record, _ = ran
    tag = next(t for t in record.tags if t.name == "Sweet")
    assert tag.origin == "rule:bakery" or tag.origin.endswith(":bakery")
    assert "transcript" in (tag.condition or "")


def test_the_text_derived_sentiment_reads_what_was_said(ran) -> None:
    _, record, _ = ran
    sentiment = record.analysis.sentiment if record.analysis else None
    assert sentiment is not None and sentiment.source == "text-derived"
    assert "spoken" in (sentiment.reason or "") and "welcome to the cooking show" in (sentiment.reason or "").lower()


def test_a_second_run_transcribes_nothing_again(ran, speech) -> None:
    lib, record, _ = ran
    assert record.transcript is not None
    srt = lib / str(record.transcript.srt)
    before = srt.stat().st_mtime_ns
    code, _, err = vk(lib, "run", str(speech[0]), config=lib.parent / "config.ini")
    assert code == 0, err
    assert srt.stat().st_mtime_ns == before
    assert only_record(lib).transcript == record.transcript


def test_the_model_is_loaded_once_per_process() -> None:
    from videokit.pipeline import Context
    from videokit.transcribe import TranscribeOptions, TranscribeStage
    from videokit.transcribe.model import load_model

    cfg = load_config(env={})
    first, second = TranscribeStage.from_config(cfg), TranscribeStage.from_config(cfg)
    assert first is not None and second is not None
    first.setup(Context(cfg))
    second.setup(Context(cfg))
    assert first.model is second.model is load_model(TranscribeOptions.from_config(cfg))


def test_done_means_transcribed_by_the_same_model() -> None:
    import dataclasses

    from videokit.record import Transcript
    from videokit.transcribe import TranscribeOptions, TranscribeStage

    options = TranscribeOptions.from_config(load_config(env={}))
    stage = TranscribeStage(options)
    record = Record(timings={"transcribe": 0.5})
    record.transcript = Transcript("model:faster-whisper/tiny.en", model="tiny.en")
    assert stage.done(record)
    assert not TranscribeStage(dataclasses.replace(options, model="small")).done(record)
    assert not stage.done(Record(transcript=record.transcript))  # never ran in this record's runs


def test_the_stage_can_be_skipped_or_turned_off_and_runs_on_the_gpu_queue_with_cuda() -> None:
    import dataclasses

    from videokit.pipeline import build_pipeline
    from videokit.transcribe import TranscribeOptions, TranscribeStage

    assert "transcribe" in build_pipeline(load_config(env={})).names
    assert "transcribe" not in build_pipeline(load_config(env={}), skip=["transcribe"]).names
    off = load_config(env={"VIDEOKIT_TRANSCRIPTION_ENABLED": "false"})
    assert "transcribe" not in build_pipeline(off).names
    options = TranscribeOptions.from_config(load_config(env={}))
    assert TranscribeStage(options).resources == {"cpu"}
    assert TranscribeStage(dataclasses.replace(options, device="cuda")).resources == {"gpu"}
