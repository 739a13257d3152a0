"""Issue 12's "done when", end to end with the real models: spoken clips go through `videokit run`
(transcription with the bundled tiny.en, embeddings with the bundled all-MiniLM-L6-v2), and
`videokit search --moments "<a paraphrase of one sentence>"` lands on that clip first, with a moment
whose time range contains the sentence; full-text search cannot find a paraphrase sharing no word
with the clip, semantic search can.

One library is built once for the module (four clips, about 60 s of speech)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from speech import make_speech_video
from videokit._cli import main

SLACK = 0.5  # seconds a moment may miss of the spoken sentence, each side

# File names say nothing about the topic: a file name is searchable text.
CLIPS = {
    "clip1": [
        "Keep the loaf in a cloth bag so it stays fresh for days.",
        "Knead the dough for ten minutes until it feels smooth.",
        "Chop the onions finely and fry them in olive oil.",
    ],
    "clip2": [
        "The striker scored a brilliant goal in the final minute.",
        "The referee showed a red card after a dangerous tackle.",
        "Thousands of fans celebrated in the streets.",
    ],
    "clip3": [  # the clip the moment tests aim at: long enough for several moments
        "The rocket launched from the coast and reached orbit in nine minutes.",
        "Astronauts on the space station grow vegetables in small gardens.",
        "The telescope captured images of distant galaxies.",
        "Mars is a cold desert planet with a thin atmosphere.",
        "Jupiter is the largest planet in our solar system.",
        "A black hole pulls in everything, even light.",
    ],
    "clip4": [
        "Heavy rain is expected across the north tomorrow morning.",
        "Strong winds could bring down trees and power lines.",
        "The weekend looks sunny and warm with clear skies.",
    ],
}
TARGET, SENTENCE = "clip3", 4  # "Jupiter is the largest planet in our solar system."
PARAPHRASE = "the biggest world that goes around our star"
NO_SHARED_WORD = "stopping bread going stale"  # clip1, sentence 0; not one of its words is spoken anywhere


class Library:
    def __init__(self, path: Path, config: Path, spans: dict[str, list[tuple[float, float, str]]]) -> None:
        self.path, self.config, self.spans = path, config, spans

    def vk(self, *args: str) -> tuple[int, str, str]:
        res = CliRunner().invoke(
            main, ["--config", str(self.config), "--library", str(self.path), "--quiet", *args], catch_exceptions=False
        )
        return res.exit_code, res.stdout, res.stderr

    def search_json(self, *args: str) -> list[dict]:
        code, out, err = self.vk("search", "--json", *args)
        assert code == 0, err
        return json.loads(out)

    def clip_of(self, result: dict) -> str:
        return Path(result["sources"][0]).stem


@pytest.fixture(scope="module")
def speech_library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    root = tmp_path_factory.mktemp("speech-library")
    spans, files = {}, []
    for name, sentences in CLIPS.items():
        path, spans[name] = make_speech_video(root / "media" / f"{name}.mp4", sentences)
        files.append(str(path))
    config = root / "config.ini"
    config.write_text("")
    lib = Library(root / "lib", config, spans)
    with pytest.MonkeyPatch.context() as mp:  # the module's fixture runs before the per-test isolation
        for k in [k for k in os.environ if k.startswith("VIDEOKIT_")]:
            mp.delenv(k)
        mp.chdir(root)
        code, _, err = lib.vk("run", "--skip", "analyze", *files)
    assert code == 0, err
    return lib


def test_moments_paraphrase_lands_on_the_clip_and_the_sentence(speech_library: Library) -> None:
    start, end, _ = speech_library.spans[TARGET][SENTENCE]
    results = speech_library.search_json("--moments", PARAPHRASE)
    assert results, "a paraphrase found nothing"
    best = results[0]
    assert speech_library.clip_of(best) == TARGET
    moments = best["moments"]
    assert moments, "the best video came without moments"
    timed = [m for m in moments if m["start"] is not None]  # whole-video passages (the title...) have no times
    assert timed, f"no moment with a time range: {moments}"
    best_moment = timed[0]  # the clip's other moments hold other sentences
    assert best_moment["start"] - SLACK <= start and end <= best_moment["end"] + SLACK, (start, end, moments)
    # a moment, not the whole video: the clip lasts about 23 s
    assert best_moment["end"] - best_moment["start"] < speech_library.spans[TARGET][-1][1] - 5


def test_moments_text_output_names_the_clip_and_the_time(speech_library: Library) -> None:
    start, end, _ = speech_library.spans[TARGET][SENTENCE]
    code, out, err = speech_library.vk("search", "--moments", PARAPHRASE)
    assert code == 0, err
    header, first, *_ = [line.split("\t") for line in out.splitlines()]
    assert header == ["id", "title", "start", "end", "kind", "score", "text"]
    row = dict(zip(header, first, strict=True))
    assert row["title"] == TARGET
    m_start, m_end = (int(t.split(":")[0]) * 60 + float(t.split(":")[1]) for t in (row["start"], row["end"]))
    assert m_start - SLACK <= start and end <= m_end + SLACK
    assert "hybrid search" in err  # the default mode where the library has embeddings, said once


def test_moments_json_shape(speech_library: Library) -> None:
    results = speech_library.search_json("--moments", PARAPHRASE)
    assert results
    for r in results:
        assert {"id", "title", "sources", "duration", "mode", "moments"} <= r.keys()
        assert r["mode"] == "hybrid"
        assert len(r["id"]) == 64
        for m in r["moments"]:
            assert {"kind", "start", "end", "text", "score"} <= m.keys()
            assert m["kind"] in {"scene", "transcript", "title", "analysis", "ocr"}
            assert isinstance(m["score"], float)
            assert m["text"]
            if m["kind"] in {"scene", "transcript"}:
                assert 0 <= m["start"] < m["end"] <= r["duration"] + SLACK
    scores = [m["score"] for r in results for m in r["moments"][:1]]
    assert scores == sorted(scores, reverse=True)  # best first


def test_text_mode_misses_a_paraphrase_that_semantic_mode_finds(speech_library: Library) -> None:
    assert speech_library.search_json("--mode", "text", NO_SHARED_WORD) == []
    semantic = speech_library.search_json("--mode", "semantic", NO_SHARED_WORD)
    assert semantic and speech_library.clip_of(semantic[0]) == "clip1"


def test_text_mode_finds_a_spoken_keyword(speech_library: Library) -> None:
    results = speech_library.search_json("--mode", "text", "referee")
    assert [speech_library.clip_of(r) for r in results] == ["clip2"]


def test_moments_unlike_the_query_are_not_listed(speech_library: Library) -> None:
    # the weather and football clips say nothing about planets: none of their passages is a moment
    results = speech_library.search_json("--moments", "--mode", "semantic", PARAPHRASE)
    assert results and speech_library.clip_of(results[0]) == TARGET
    assert {"clip2", "clip4"}.isdisjoint(speech_library.clip_of(r) for r in results)
    assert all(m["score"] >= 0.2 for r in results for m in r["moments"])
