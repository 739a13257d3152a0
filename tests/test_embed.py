"""The embed stage: passages of a record, their chunking and digest, the embedding model (the bundled
all-MiniLM-L6-v2, real), batching across videos, done(), a model change, bad settings."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from videokit import api
from videokit._cli import main
from videokit.config import Config, load_config
from videokit.errors import ConfigError, UsageError
from videokit.index.embedder import BUNDLED, EmbedOptions, embed_query, load_embedder, model_id, model_source
from videokit.index.passages import CHUNK_SECONDS, CHUNK_WORDS, digest, passages, transcript_chunks
from videokit.index.stage import EmbedStage
from videokit.pipeline import Context, Pipeline, build_pipeline
from videokit.record import (
    Analysis,
    FileInfo,
    MediaInfo,
    Passage,
    Record,
    Scene,
    SceneInfo,
    Source,
    Transcript,
    TranscriptSegment,
)
from videokit.stages import StoreStage
from videokit.store import open_store


def config_for(library: Path, **settings: Any) -> Config:
    overrides = {("Library", "Location"): str(library)}
    overrides.update({tuple(k.split("_", 1)): v for k, v in settings.items()})  # Embeddings_Model="..."
    return load_config(None, env={}, overrides=overrides)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def seg(start: float, end: float, text: str) -> TranscriptSegment:
    return TranscriptSegment(start, end, text)


def record(n: int, title: str, description: str = "", said: list[str] | None = None) -> Record:
    rec = Record(id=f"{n:064x}", sources=[Source(input=f"/videos/{n}.mp4", title=title, description=description)])
    rec.analysis = Analysis(backend="builtin", description=f"{title} seen from above", ocr_text=f"CHANNEL {n}")
    if said:
        rec.transcript = Transcript(
            origin="model:faster-whisper/tiny.en",
            segments=[seg(4.0 * i, 4.0 * i + 3.5, s) for i, s in enumerate(said)],
        )
    return rec


# -- passages (pure) -----------------------------------------------------------------------------


def test_passages_cover_title_analysis_scenes_transcript_and_ocr_in_order() -> None:
    rec = Record(
        id="a" * 64,
        sources=[
            Source(input="https://a.example/v", title="Harbour at dawn", description="Boats  leave\nthe harbour."),
            Source(input="https://b.example/v", title="harbour AT dawn", description=""),  # same title: once
        ],
    )
    rec.analysis = Analysis(
        backend="builtin",
        description="Fishing boats at a quay.",
        answers={"Is it night?": "No, early morning."},
        ocr_text="  PORT OF CALL ",
        scene_descriptions={"1": "A crane lifts a container."},
    )
    rec.scenes = SceneInfo(
        scenes=[
            Scene(0, 0.0, 2.5, 0, 62, description="Gulls over the water."),
            Scene(1, 2.5, 6.0, 62, 150),  # described by the analysis
            Scene(2, 6.0, 9.0, 150, 225),  # not described: no passage
        ]
    )
    rec.transcript = Transcript(origin="subtitles:2:en", segments=[seg(1.0, 3.0, "Good morning."), seg(3.0, 3.5, " ")])
    got = [(p.kind, p.ref, p.text, p.start, p.end) for p in passages(rec)]
    assert got == [
        ("title", "", "Harbour at dawn\nBoats leave the harbour.", None, None),
        ("analysis", "", "Fishing boats at a quay.\nNo, early morning.", None, None),
        ("scene", "0", "Gulls over the water.", 0.0, 2.5),
        ("scene", "1", "A crane lifts a container.", 2.5, 6.0),
        ("transcript", "0", "Good morning.", 1.0, 3.0),
        ("ocr", "", "PORT OF CALL", None, None),
    ]
    assert all(p.vector is None for p in passages(rec))


def test_empty_texts_give_no_passage() -> None:
    rec = Record(id="b" * 64, sources=[Source(input="x.mp4", title="Clip")])
    rec.analysis = Analysis(backend="builtin", description="  ", ocr_text="")
    rec.transcript = Transcript(origin="model:x", segments=[])
    assert [(p.kind, p.text) for p in passages(rec)] == [("title", "Clip")]


def test_transcript_chunks_hold_a_few_whole_sentences_with_their_times() -> None:
    # 9 sentences, each said over two segments (whisper often cuts a sentence in the middle)
    segments = []
    t = 0.0
    for i in range(9):
        segments.append(seg(t, t + 1.5, f"Sentence number {i} starts here"))
        segments.append(seg(t + 1.5, t + 3.0, f"and ends there {i}."))
        t += 3.2
    chunks = transcript_chunks(segments)
    assert [len(c) for c in chunks] == [6, 6, 6]  # three sentences each
    for chunk in chunks:
        assert chunk[0].text.startswith("Sentence number") and chunk[-1].text.endswith(".")
    rec = Record(id="c" * 64, sources=[Source(input="x.mp4", title="t")])
    rec.transcript = Transcript(origin="model:x", segments=segments)
    spoken = [p for p in passages(rec) if p.kind == "transcript"]
    assert [(p.ref, p.start, p.end) for p in spoken] == [
        ("0", 0.0, pytest.approx(3 * 3.2 - 0.2)),
        ("1", pytest.approx(3 * 3.2), pytest.approx(6 * 3.2 - 0.2)),
        ("2", pytest.approx(6 * 3.2), pytest.approx(9 * 3.2 - 0.2)),
    ]
    assert spoken[1].text.startswith("Sentence number 3 starts here and ends there 3.")


def test_a_chunk_closes_at_a_sentence_end_before_the_time_or_word_limit() -> None:
    # long sentences: 12 s each over three segments; two fit in 30 s, a third does not
    segments = []
    t = 0.0
    for i in range(5):
        segments += [seg(t, t + 4, f"Long sentence {i} one"), seg(t + 4, t + 8, "two"), seg(t + 8, t + 12, "three.")]
        t += 12
    chunks = transcript_chunks(segments)
    assert [len(c) for c in chunks] == [6, 6, 3]
    for chunk in chunks:
        assert chunk[-1].end - chunk[0].start <= CHUNK_SECONDS
        assert chunk[-1].text.endswith(".")
    # the word limit too: 30 words a sentence, two fit in 80 words
    wordy = [seg(2.0 * i, 2.0 * i + 2, " ".join(["word"] * 30) + ".") for i in range(4)]
    assert [len(c) for c in transcript_chunks(wordy)] == [2, 2]
    assert all(sum(len(s.text.split()) for s in c) <= CHUNK_WORDS for c in transcript_chunks(wordy))


def test_a_sentence_longer_than_a_chunk_is_cut_and_text_without_punctuation_between_segments() -> None:
    rambling = [seg(5.0 * i, 5.0 * i + 5, f"and then part {i}") for i in range(12)] + [seg(60, 61, "end.")]
    chunks = transcript_chunks(rambling)
    assert sum(len(c) for c in chunks) == 13 and len(chunks) > 1
    assert all(c[-1].end - c[0].start <= CHUNK_SECONDS for c in chunks)
    cues = [seg(2.0 * i, 2.0 * i + 2, f"cue {i} without punctuation") for i in range(7)]  # subtitles
    assert [len(c) for c in transcript_chunks(cues)] == [3, 3, 1]


def test_digest_changes_with_text_times_or_model_only() -> None:
    items = [Passage("title", "", "Harbour"), Passage("transcript", "0", "Hello.", 1.0, 2.0)]
    same = [Passage("title", "", "Harbour", vector=[0.1]), Passage("transcript", "0", "Hello.", 1.0, 2.0)]
    assert digest(items, "m") == digest(same, "m")
    assert digest(items, "m") != digest(items, "other")
    assert digest(items, "m") != digest([items[0], Passage("transcript", "0", "Hello!", 1.0, 2.0)], "m")
    assert digest(items, "m") != digest([items[0], Passage("transcript", "0", "Hello.", 1.5, 2.0)], "m")


# -- the model -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def options() -> EmbedOptions:
    return EmbedOptions(batch_size=4, device="cpu", threads=1)


def test_query_vectors_are_normalised_and_mean_what_they_say(tmp_path: Path) -> None:
    cfg = config_for(tmp_path / "lib", Embeddings_Device="cpu")
    vector, ident = embed_query(cfg, "a puppy playing with a ball")
    assert len(vector) == 384 and abs(sum(x * x for x in vector) - 1.0) < 1e-4
    assert ident.startswith(f"{BUNDLED}@") and ident == model_id(BUNDLED)
    dog, _ = embed_query(cfg, "a young dog chases a toy in the garden")
    tax, _ = embed_query(cfg, "quarterly corporate tax filing deadlines")
    assert cosine(vector, dog) > cosine(vector, tax) + 0.3
    with pytest.raises(UsageError, match="empty"):
        embed_query(cfg, "   ")


def test_passages_of_many_videos_share_model_calls(options: EmbedOptions, tmp_path: Path) -> None:
    stage = EmbedStage(options)
    records = [record(i, f"Video {i}", said=[f"Line {j} of video {i}." for j in range(i)]) for i in range(7)]
    texts = sum(len(passages(r)) for r in records)
    embedder = load_embedder(options)
    calls: list[int] = []
    real = embedder.model.encode

    def counting(sentences: list[str], **kw: Any) -> Any:
        calls.append(len(sentences))
        return real(sentences, **kw)

    embedder.model.encode = counting
    try:
        assert stage.process_batch(records, Context(config=config_for(tmp_path))) == [None] * 7
    finally:
        del embedder.model.encode  # the real bound method again
    assert len(calls) == math.ceil(texts / options.batch_size) and sum(calls) == texts
    assert max(calls) == options.batch_size
    for rec in records:
        emb = rec.embeddings
        assert emb is not None and emb.dim == 384 and emb.model == model_id(BUNDLED)
        assert [p.text for p in emb.passages] == [p.text for p in passages(rec)]
        assert all(p.vector is not None and len(p.vector) == 384 for p in emb.passages)
    # each passage got its own vector, the one it gets alone (tolerance: batched padding)
    alone = load_embedder(options).encode([p.text for p in records[6].embeddings.passages], batch_size=1)
    for p, v in zip(records[6].embeddings.passages, alone, strict=True):
        assert cosine(p.vector, v) > 0.9999
        assert max(abs(a - b) for a, b in zip(p.vector, v, strict=True)) < 1e-4


def test_done_until_the_text_or_the_model_changes(options: EmbedOptions, tmp_path: Path) -> None:
    stage = EmbedStage(options)
    rec = record(1, "Harbour at dawn", said=["The boats leave early."])
    assert not stage.done(rec)
    stage.process(rec, Context(config=config_for(tmp_path)))
    assert stage.done(rec)
    stored = Record.from_json(rec.to_json())  # as a store gives it back
    for p in stored.embeddings.passages:
        p.vector = None  # the store keeps vectors in its index only
    assert stage.done(stored)
    stored.sources.append(Source(input="https://other.example/v", title="Fishing fleet"))
    assert not stage.done(stored)
    other = EmbedStage(EmbedOptions(model="sentence-transformers/all-MiniLM-L6-v2", device="cpu"))
    assert not other.done(rec)  # another model id: embed again


def test_another_model_folder_has_another_id_and_re_embeds(options: EmbedOptions, tmp_path: Path) -> None:
    copy = bundled_copy(tmp_path / "my-minilm")
    assert model_id(str(copy)).startswith("my-minilm@") and model_id(str(copy)) != model_id(BUNDLED)
    first = EmbedStage(options)
    rec = record(2, "Night market")
    first.process(rec, Context(config=config_for(tmp_path)))
    second = EmbedStage(EmbedOptions(model=str(copy), batch_size=4, device="cpu"))
    assert not second.done(rec)
    second.process(rec, Context(config=config_for(tmp_path)))
    assert rec.embeddings.model == model_id(str(copy)) and second.done(rec) and not first.done(rec)


def bundled_copy(folder: Path) -> Path:
    """The bundled model folder again under another name (symlinked files: no 90 MB copy)."""
    source = Path(model_source(BUNDLED)[0])
    for f in source.rglob("*"):
        if f.is_file():
            target = folder / f.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(f, target)
    return folder


# -- settings and bad input ----------------------------------------------------------------------


def test_a_model_folder_that_does_not_exist_stops_before_any_work(tmp_path: Path, sample_video: Path) -> None:
    missing = tmp_path / "models" / "nope"
    cfg = config_for(tmp_path / "lib", Embeddings_Model=str(missing))
    with pytest.raises(ConfigError, match=r"\[Embeddings\] Model") as err:
        build_pipeline(cfg)
    assert str(missing) in str(err.value) and "\n" not in str(err.value)
    result = CliRunner().invoke(
        main,
        ["--library", str(tmp_path / "lib"), "run", str(sample_video)],
        env={"VIDEOKIT_EMBEDDINGS_MODEL": str(missing)},
    )
    assert result.exit_code == 2
    assert "[Embeddings] Model" in result.output and "no such folder" in result.output
    assert not (tmp_path / "lib" / "library.sqlite").exists()


def test_a_folder_without_a_model_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no model"):
        EmbedStage.from_config(config_for(tmp_path / "lib", Embeddings_Model=str(tmp_path / "empty")))


def test_missing_extra_leaves_the_stage_out_with_a_one_line_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if not installed
    assert EmbedStage.from_config(config_for(tmp_path / "lib")) is None
    hints = [r.getMessage() for r in caplog.records if "videokit[search]" in r.getMessage()]
    assert len(hints) == 1 and "sentence-transformers" in hints[0] and "\n" not in hints[0]
    with pytest.raises(ConfigError, match=r"pip install 'videokit\[search\]'") as err:  # asked for explicitly
        EmbedStage.from_config(config_for(tmp_path / "lib", Embeddings_Enabled="true"))
    assert str(err.value).startswith("[Embeddings] Enabled = true: ") and "\n" not in str(err.value)
    with pytest.raises(UsageError, match=r"embed: the search extra is missing"):
        api.reindex(config_for(tmp_path / "lib"), transcripts=False)


def test_a_run_sends_one_video_at_a_time_on_the_cpu_and_16_on_a_gpu(tmp_path: Path) -> None:
    stage = EmbedStage.from_config(config_for(tmp_path / "lib", Embeddings_Device="cpu"))
    assert stage is not None and stage.batch_size == 1 and stage.resources == frozenset({"cpu"})
    assert build_pipeline(config_for(tmp_path / "lib", Embeddings_Device="cpu")).batch_size == 1
    gpu = EmbedStage(EmbedOptions(device="cuda"))  # nothing is loaded until setup
    assert gpu.batch_size == 16 and gpu.resources == frozenset({"gpu"})


def test_turned_off_the_stage_is_not_built(tmp_path: Path) -> None:
    assert EmbedStage.from_config(config_for(tmp_path / "lib", Embeddings_Enabled="false")) is None
    assert "embed" not in build_pipeline(config_for(tmp_path / "lib", Embeddings_Enabled="false")).names
    assert "embed" not in build_pipeline(config_for(tmp_path / "lib"), skip=["embed"]).names


# -- in a run ------------------------------------------------------------------------------------


def test_a_run_stores_the_embeddings_of_a_video(tmp_path: Path, sample_video: Path) -> None:
    cfg = config_for(tmp_path / "lib", Embeddings_Device="cpu")
    skip = [s for s in ("transcribe", "analyze") if s in api.optional_stages()]
    result = api.run([str(sample_video)], cfg, skip=skip)
    assert result.ok, result.failures
    stored = api.get(cfg, result.records[0].id)
    emb = stored.embeddings
    assert emb is not None and emb.model == model_id(BUNDLED) and emb.dim == 384
    assert [p.kind for p in emb.passages][0] == "title" and "Sample Clip" in emb.passages[0].text
    assert emb.digest == digest(passages(stored), emb.model)


def test_a_merged_source_title_is_embedded_before_the_record_is_stored(options: EmbedOptions, tmp_path: Path) -> None:
    cfg = config_for(tmp_path / "lib")
    stage = EmbedStage(options)
    ctx = Context(config=cfg, pipeline=Pipeline([stage]))
    older = record(3, "Harbour at dawn")
    older.file = FileInfo("/videos/3.mp4", "3.mp4", 10, older.id)
    older.media = MediaInfo(duration=3.0)
    newer = Record(id=older.id, sources=[Source(input="/elsewhere/3.mp4")], file=older.file, media=older.media)
    stage.process(older, ctx)
    stage.process(newer, ctx)
    with open_store(cfg) as store:
        ctx.store = store
        StoreStage().process(older, ctx)
        StoreStage().process(newer, ctx)  # the merge brings the stored source and its title back
        stored = store.get(older.id)
    assert stored is not None and len(stored.sources) == 2
    assert "Harbour at dawn" in stored.embeddings.passages[0].text
    assert stored.embeddings.digest == digest(passages(stored), stored.embeddings.model)
