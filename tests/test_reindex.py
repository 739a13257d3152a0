"""`videokit reindex`: transcripts and embeddings for an existing library, resumably, with the
real models (the bundled all-MiniLM-L6-v2; the registered transcription stage)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from speech import make_speech_video
from videokit import api
from videokit._cli import main
from videokit.config import Config, load_config
from videokit.errors import UsageError
from videokit.index.embedder import BUNDLED, EmbedOptions, load_embedder, model_id, model_source
from videokit.index.passages import digest, passages
from videokit.record import Analysis, FileInfo, MediaInfo, Record, Source, Tag
from videokit.store import Query, open_store

TOPICS = [
    "Fishing boats leave the harbour at dawn",
    "A chef slices onions in a busy kitchen",
    "Snow falls on a quiet mountain village",
    "Children play football in a city park",
    "A violinist rehearses alone on an empty stage",
    "Traffic crawls over a bridge in the rain",
    "Bees gather pollen from lavender flowers",
]


def config_for(library: Path, **settings: str) -> Config:
    overrides: dict[tuple[str, str], Any] = {("Library", "Location"): str(library), ("Embeddings", "Device"): "cpu"}
    overrides.update({tuple(k.split("_", 1)): v for k, v in settings.items()})
    return load_config(None, env={}, overrides=overrides)


def stored_library(library: Path, count: int = len(TOPICS), files: Path | None = None) -> Config:
    """``count`` videos stored without transcripts or embeddings (as before Step 8); their files
    are in ``files`` when given, else nowhere (so only embeddings can be made)."""
    cfg = config_for(library)
    with open_store(cfg) as store:
        for i in range(count):
            rec = Record(id=f"{i + 1:064x}", sources=[Source(input=f"/videos/{i}.mp4", title=f"Clip {i}")])
            rec.file = FileInfo(str((files or Path("/nonexistent")) / f"{i}.mp4"), f"{i}.mp4", 1000, rec.id)
            rec.media = MediaInfo(duration=5.0, audio_streams=0)  # nothing to transcribe
            rec.analysis = Analysis(backend="builtin", description=TOPICS[i % len(TOPICS)])
            rec.tags = [Tag("Even" if i % 2 == 0 else "Odd", "user")]
            store.upsert(rec)
    return cfg


def embedded(cfg: Config) -> dict[str, str | None]:
    """id -> the model id of the stored embeddings, checked against the record's passages."""
    out = {}
    for rec in api.search(cfg, Query()):
        emb = rec.embeddings
        if emb is not None:
            assert emb.digest == digest(passages(rec), emb.model)
        out[rec.id] = emb.model if emb is not None else None
    return out


def test_reindex_embeds_every_video_once_then_skips_them(tmp_path: Path) -> None:
    cfg = stored_library(tmp_path / "lib")
    seen: list[tuple[int, int]] = []
    model = load_embedder(EmbedOptions.from_config(cfg)).model
    calls: list[int] = []
    real = model.encode
    model.encode = lambda texts, **kw: calls.append(len(texts)) or real(texts, **kw)
    try:
        report = api.reindex(cfg, on_progress=lambda done, total: seen.append((done, total)))
    finally:
        del model.encode
    assert (report.embedded, report.skipped, report.failed, report.records) == (7, 0, 0, 7)
    assert calls == [14]  # title and analysis of 7 videos: one model call (BatchSize 64)
    assert seen == [(i, 7) for i in range(1, 8)]
    assert set(embedded(cfg).values()) == {model_id(BUNDLED)}
    again = api.reindex(cfg, embeddings=True)
    assert (again.embedded, again.skipped, again.transcribed) == (0, 7, 0)
    forced = api.reindex(cfg, transcripts=False, force=True)
    assert (forced.embedded, forced.skipped) == (7, 0)


def test_an_interrupted_reindex_resumes_where_it_stopped(tmp_path: Path) -> None:
    cfg = stored_library(tmp_path / "lib")

    def stop_after_three(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt  # the user pressed Ctrl-C

    with pytest.raises(KeyboardInterrupt):
        api.reindex(cfg, transcripts=False, on_progress=stop_after_three)
    assert sum(1 for m in embedded(cfg).values() if m) == 3  # saved as it went
    report = api.reindex(cfg, transcripts=False)
    assert (report.embedded, report.skipped) == (4, 3)
    assert all(embedded(cfg).values())


def test_changing_the_model_re_embeds_everything(tmp_path: Path) -> None:
    cfg = stored_library(tmp_path / "lib", count=3)
    api.reindex(cfg, transcripts=False)
    copy = tmp_path / "minilm-copy"
    source = Path(model_source(BUNDLED)[0])
    for f in source.rglob("*"):
        if f.is_file():
            (copy / f.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (copy / f.relative_to(source)).symlink_to(f)
    other = config_for(tmp_path / "lib", Embeddings_Model=str(copy))
    report = api.reindex(other, transcripts=False)
    assert (report.embedded, report.skipped) == (3, 0)
    assert set(embedded(other).values()) == {model_id(str(copy))} != {model_id(BUNDLED)}


def test_filters_choose_the_videos(tmp_path: Path) -> None:
    cfg = stored_library(tmp_path / "lib")
    report = api.reindex(cfg, Query(tags=["Odd"]), transcripts=False)
    assert (report.records, report.embedded) == (3, 3)
    models = embedded(cfg)
    assert sum(1 for m in models.values() if m) == 3
    assert api.reindex(cfg, Query(text="violinist"), transcripts=False).records == 1


def test_a_missing_video_file_is_one_line_and_the_rest_goes_on(tmp_path: Path) -> None:
    cfg = stored_library(tmp_path / "lib", count=2)
    with open_store(cfg) as store:
        rec = store.get(f"{1:064x}")
        assert rec is not None and rec.media is not None
        rec.media.audio_streams = 1  # it has something to transcribe, but its file is gone
        store.upsert(rec)
    report = api.reindex(cfg)
    assert report.failed == 1 and len(report.failures) == 1
    line = report.failures[0]
    assert "transcribe" in line and "/nonexistent/0.mp4" in line and "missing" in line and "\n" not in line
    assert report.embedded == 2  # its embeddings were still made, and the other video's
    assert api.get(cfg, f"{1:064x}").transcript is None
    result = CliRunner().invoke(
        main, ["--library", str(tmp_path / "lib"), "reindex"], env={"VIDEOKIT_EMBEDDINGS_DEVICE": "cpu"}
    )
    assert result.exit_code == 1
    assert "failed: " in result.output and "/nonexistent/0.mp4" in result.output
    assert "reindexed 2 videos: 0 transcribed, 0 embedded, 1 already up to date, 1 failed" in result.output


def test_the_cli_reindexes_only_what_it_is_asked(tmp_path: Path) -> None:
    cfg = stored_library(tmp_path / "lib", count=2)
    args = ["--library", str(tmp_path / "lib"), "reindex", "--only", "embeddings"]
    env = {"VIDEOKIT_EMBEDDINGS_DEVICE": "cpu"}
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(
        "reindexed 2 videos: 0 transcribed, 2 embedded, 0 already up to date, 0 failed"
    )
    assert all(embedded(cfg).values())
    off = CliRunner().invoke(main, [*args, "--force"], env={**env, "VIDEOKIT_EMBEDDINGS_ENABLED": "false"})
    assert off.exit_code == 2 and "[Embeddings] Enabled" in off.output
    with pytest.raises(UsageError, match="nothing to reindex"):
        api.reindex(cfg, transcripts=False, embeddings=False)


def test_reindex_transcribes_a_stored_speech_video_and_embeds_what_is_said(tmp_path: Path) -> None:
    sentences = ["The lighthouse keeper climbs the stairs every evening.", "Ships avoid the rocks near the coast."]
    video, times = make_speech_video(tmp_path / "speech.mp4", sentences)
    cfg = config_for(tmp_path / "lib")
    skip = [s for s in ("transcribe", "analyze", "embed") if s in api.optional_stages()]
    rec = api.run([str(video)], cfg, skip=skip).records[0]
    assert rec.transcript is None and rec.embeddings is None
    report = api.reindex(cfg)
    assert (report.transcribed, report.embedded, report.failed) == (1, 1, 0), report.failures
    stored = api.get(cfg, rec.id)
    assert stored.transcript is not None and "lighthouse" in stored.transcript.text.lower()
    spoken = [p for p in stored.embeddings.passages if p.kind == "transcript"]
    assert spoken and spoken[0].start is not None and spoken[0].start <= times[0][0] + 0.5
    assert spoken[-1].end is not None and spoken[-1].end >= times[-1][1] - 0.5
    again = api.reindex(cfg)
    assert (again.transcribed, again.embedded, again.skipped) == (0, 0, 1)
