"""`videokit search` (modes, --moments) and `videokit similar` on a small library embedded with the
real bundled model (all-MiniLM-L6-v2): three videos whose transcripts are about cooking, football
and space, plus one video made before embeddings existed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from store_contract import make_record
from videokit import api
from videokit._cli import main
from videokit.config import load_config
from videokit.errors import UsageError
from videokit.index.embedder import EmbedOptions, load_embedder
from videokit.index.passages import digest, passages
from videokit.record import Embeddings, Record, Transcript, TranscriptSegment
from videokit.store import Query
from videokit.store.sqlite import open_sqlite

SAID = {
    "kitchen": [
        (0.0, 6.0, "First we chop two onions and a clove of garlic."),
        (6.0, 12.0, "Then the onions go into a hot pan with olive oil."),
        (12.0, 19.0, "The pasta boils for nine minutes in salted water."),
    ],
    "bakery": [(0.0, 8.0, "Knead the dough until it is smooth, then let the bread rise.")],
    "stadium": [
        (0.0, 7.0, "The striker scored in the last minute of the match."),
        (7.0, 14.0, "The referee showed a red card after a rough tackle."),
    ],
    "launch": [
        (0.0, 9.0, "The rocket lifted off and reached orbit in nine minutes."),
        (9.0, 18.0, "Astronauts on the station grow lettuce in small gardens."),
        (18.0, 30.0, "Mars is a cold desert planet with a very thin atmosphere."),
    ],
}


def said(name: str, tags: tuple[str, ...] = ()) -> Record:
    r = make_record(name, title=f"clip {name}", tags=tags, duration=30)
    r.transcript = Transcript(
        origin="model:faster-whisper/tiny.en",
        language="en",
        segments=[TranscriptSegment(s, e, t) for s, e, t in SAID[name]],
    )
    return r


def embedded(record: Record, options: EmbedOptions) -> Record:
    """What the embed stage does: the record's passages, each with its vector."""
    embedder = load_embedder(options)
    items = passages(record)
    for p, v in zip(items, embedder.encode([p.text for p in items]), strict=True):
        p.vector = v
    record.embeddings = Embeddings(embedder.model_id, embedder.dim, items, digest(items, embedder.model_id))
    return record


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("search-cli")
    (root / "config.ini").write_text(f"[Library]\nLocation = {root / 'lib'}\n")
    config = load_config(root / "config.ini")
    options = EmbedOptions.from_config(config)
    with open_sqlite(config) as store:
        store.upsert(embedded(said("kitchen", ("Food",)), options))
        store.upsert(embedded(said("bakery", ("Food",)), options))
        store.upsert(embedded(said("stadium", ("Sport",)), options))
        store.upsert(said("launch"))  # stored before embeddings existed: text only
    return root


def vk(lib: Path, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, ["--config", str(lib / "config.ini"), "--quiet", *args])
    return res.exit_code, res.stdout, res.stderr


def found(lib: Path, *args: str) -> list[dict]:
    code, out, err = vk(lib, "search", "--json", *args)
    assert code == 0, err
    return json.loads(out)


def test_default_mode_is_hybrid_and_finds_by_meaning(lib: Path) -> None:
    results = found(lib, "cooking dinner at home")
    assert results[0]["title"] == "clip kitchen"
    assert {r["mode"] for r in results} == {"hybrid"}
    code, _, err = vk(lib, "search", "cooking dinner at home")
    assert code == 0 and "hybrid search" in err


def test_text_mode_needs_the_words(lib: Path) -> None:
    assert found(lib, "--mode", "text", "cooking dinner at home") == []
    assert [r["title"] for r in found(lib, "--mode", "text", "referee")] == ["clip stadium"]
    assert [r["title"] for r in found(lib, "--mode", "text", "Mars")] == ["clip launch"]  # transcript, no vectors


def test_filters_restrict_semantic_results(lib: Path) -> None:
    assert found(lib, "--moments", "--mode", "semantic", "cooking dinner at home")[0]["title"] == "clip kitchen"
    # the kitchen clip is filtered out, and no passage of the stadium clip is like cooking: no moment
    assert found(lib, "--moments", "--mode", "semantic", "--tag", "sport", "cooking dinner at home") == []
    results = found(lib, "--moments", "--mode", "semantic", "--tag", "sport", "a red card for a foul")
    assert [r["title"] for r in results] == ["clip stadium"]
    # by meaning alone, a video comes only when it is near enough (api.MIN_SIMILARITY)
    assert found(lib, "--mode", "semantic", "--tag", "sport", "cooking dinner at home") == []
    assert [r["title"] for r in found(lib, "--mode", "semantic", "--tag", "sport", "a red card for a foul")] == [
        "clip stadium"
    ]


def test_moments_land_on_the_time_the_words_are_said(lib: Path) -> None:
    results = found(lib, "--moments", "noodles cooking in water")
    assert results[0]["title"] == "clip kitchen"
    best = results[0]["moments"][0]
    assert best["kind"] == "transcript" and best["start"] <= 12.0 and best["end"] >= 19.0
    assert "pasta" in best["text"] and isinstance(best["score"], float)
    code, out, err = vk(lib, "search", "--moments", "noodles cooking in water")
    assert code == 0 and "clip kitchen" in out.splitlines()[1] and "0:19.00" in out and "moment(s)" in err


def test_bad_queries_are_one_line_usage_errors(lib: Path) -> None:
    for args, says in (
        (["--moments"], "moments need a search text"),
        (["--moments", "   "], "moments need a search text"),
        (["--mode", "semantic"], "needs a search text"),
        (["x" * 1001], "at most 1000"),
    ):
        code, out, err = vk(lib, "search", *args)
        assert code == 2 and says in err and len(err.strip().splitlines()) == 1, (args, err)
    assert len(found(lib, "onion " * 160)) <= 3  # a long query under the limit is searched as it is


def test_similar(lib: Path) -> None:
    kitchen = found(lib, "--mode", "text", "kitchen")[0]["id"]
    code, out, err = vk(lib, "similar", kitchen[:10], "--json")
    assert code == 0, err
    similar = json.loads(out)
    assert [s["title"] for s in similar] == ["clip bakery", "clip stadium"]  # launch has no embeddings
    assert similar[0]["score"] > similar[1]["score"]
    assert [s["title"] for s in json.loads(vk(lib, "similar", kitchen, "--tag", "sport", "--json")[1])] == [
        "clip stadium"
    ]
    assert len(json.loads(vk(lib, "similar", kitchen, "--limit", "1", "--json")[1])) == 1
    launch = found(lib, "--mode", "text", "Mars")[0]["id"]
    code, out, err = vk(lib, "similar", launch)
    assert code == 0 and "has no embeddings; run 'videokit reindex'" in err
    code, out, err = vk(lib, "similar", "0" * 12)
    assert code != 0 and "no video with id" in err


def test_a_library_without_embeddings_searches_text(tmp_path: Path) -> None:
    config = load_config(None, overrides={("Library", "Location"): str(tmp_path / "plain")})
    with open_sqlite(config) as store:
        store.upsert(said("launch"))
    assert api.search_mode(config, Query(text="planet")) == "text"
    assert [r.title for r in api.search(config, Query(text="planet"))] == ["clip launch"]
    with pytest.raises(UsageError, match="no embeddings; run 'videokit reindex'"):
        api.search(config, Query(text="planet", mode="semantic"))


def test_api_similar_and_moments(lib: Path) -> None:
    config = load_config(lib / "config.ini")
    kitchen = api.search(config, Query(text="kitchen", mode="text"))[0]
    similar = api.similar(config, kitchen.id or "", limit=5)
    assert [s.record.title for s in similar] == ["clip bakery", "clip stadium"]
    moments = api.moments(config, Query(text="a goal late in the game", limit=1))
    assert [(m.kind, m.start) for m in moments] == [("transcript", 0.0)]
    assert moments[0].title == "clip stadium"
