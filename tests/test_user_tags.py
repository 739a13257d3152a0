"""``videokit tag ID --add/--remove``: a person's own tags, with origin ``user``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from media import make_video
from videokit._cli import main
from videokit.config import load_config
from videokit.errors import InputError
from videokit.record import Classification, FileInfo, MediaInfo, Record, Source, Tag
from videokit.store import open_store
from videokit.tagging.user import edit_user_tags

RID = "ab" * 32


def cli(library: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--library", str(library), *args], catch_exceptions=False)


def stored(library: Path, rid: str = RID) -> Record:
    with open_store(load_config(None, env={}, overrides={("Library", "Location"): str(library)})) as store:
        rec = store.get(rid)
    assert rec is not None
    return rec


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    library = tmp_path / "lib"
    rec = Record(
        id=RID,
        sources=[Source("/v/kitchen.mp4", path="/v/kitchen.mp4")],
        file=FileInfo("/v/kitchen.mp4", "kitchen.mp4", 10, RID),
        media=MediaInfo(duration=30.0, width=1280, height=720, resolution="720p", video_codec="h264", audio_streams=1),
        tags=[Tag("H.264 Codec", "builtin:h264", 1.0, "codec == h264")],
        classification=Classification(),
    )
    with open_store(load_config(None, env={}, overrides={("Library", "Location"): str(library)})) as store:
        store.upsert(rec)
    return library


def test_added_tag_is_searchable_has_user_provenance_and_moves_the_category(lib: Path) -> None:
    r = cli(lib, "tag", RID[:8], "--add", "Action", "--add", "  my   favourite ")
    assert r.exit_code == 0, r.output
    assert "added Action, my favourite" in r.stderr and "category Unclassified -> Action" in r.stderr
    rec = stored(lib)
    mine = {t.name: t for t in rec.tags if t.origin == "user"}
    assert set(mine) == {"Action", "my favourite"} and mine["Action"].confidence == 1.0
    assert rec.classification is not None and rec.classification.category == "Action"
    found = json.loads(cli(lib, "search", "--tag", "MY FAVOURITE", "--json").output)
    assert [x["id"] for x in found] == [RID]
    assert "tag 'Action': user, confidence 1.00" in cli(lib, "show", RID).stderr


def test_user_tags_survive_retag_and_remove_takes_them_off(lib: Path) -> None:
    assert cli(lib, "tag", RID, "--add", "Action").exit_code == 0
    assert cli(lib, "retag").exit_code == 0
    assert "Action" in {t.name for t in stored(lib).tags if t.origin == "user"}
    r = cli(lib, "tag", RID, "--remove", "action")
    assert r.exit_code == 0 and "removed action" in r.stderr and "category Action -> Unclassified" in r.stderr
    assert not [t for t in stored(lib).tags if t.origin == "user"]
    assert json.loads(cli(lib, "search", "--tag", "action", "--json").output) == []


def test_a_rule_tag_cannot_be_removed_by_hand_and_the_message_says_why(lib: Path) -> None:
    r = cli(lib, "tag", RID, "--remove", "h.264 codec")
    assert r.exit_code == 1
    assert r.stderr.strip() == (
        f"error: {RID[:12]}: tag 'H.264 Codec' comes from builtin:h264, not from a user; "
        "change that rule (then 'videokit retag') instead"
    )
    assert cli(lib, "tag", RID, "--remove", "nope").stderr.strip() == f"error: {RID[:12]}: has no tag 'nope'"
    assert cli(lib, "tag", "ffffffff", "--add", "x").exit_code == 1
    assert cli(lib, "tag", RID).exit_code == 2  # nothing to do is a usage error
    assert {t.name for t in stored(lib).tags} == {"H.264 Codec"}  # nothing was written


@pytest.mark.parametrize("bad", ["", "   ", "a\x00b", "x" * 101])
def test_bad_names_are_refused(bad: str) -> None:
    rec = Record(id=RID)
    with pytest.raises(InputError):
        edit_user_tags(rec, add=[bad])
    assert rec.tags == []


def test_user_tag_outranks_the_same_name_from_a_rule() -> None:
    rec = Record(id=RID, tags=[Tag("Drone Footage", "rule:aerial", 0.8, "description mentions 'drone'")])
    edit_user_tags(rec, add=["drone footage"])
    assert [(t.name, t.origin) for t in rec.tags] == [("drone footage", "user")]


def test_user_tags_are_kept_when_the_same_video_is_processed_again(tmp_path: Path) -> None:
    """A re-run with other settings re-processes the video; the tags a person added stay, and
    its category is computed with them."""
    lib = tmp_path / "lib"
    clip = make_video(tmp_path / "clip.mp4", duration=1.0, audio=False)
    base = ["run", "--analyzer", "none", str(clip)]
    assert cli(lib, *base, "--skip", "scenes").exit_code == 0
    (hit,) = json.loads(cli(lib, "search", "--json").output)
    assert cli(lib, "tag", hit["id"], "--add", "Action").exit_code == 0
    r = cli(lib, *base)  # the scene stage now runs: other settings, so the video is processed again
    assert r.exit_code == 0, r.output
    rec = stored(lib, hit["id"])
    assert rec.scenes is not None  # really processed again
    assert [t.name for t in rec.tags if t.origin == "user"] == ["Action"]
    assert rec.classification is not None and rec.classification.category == "Action"


def test_user_tags_added_while_a_worker_processed_the_video_are_not_lost(lib: Path) -> None:
    """A worker identified the video before a person tagged it; when it stores its result, the
    person's tag is folded in and the category computed again."""
    from videokit.store.merge import merge_stored

    assert cli(lib, "tag", RID, "--add", "Action").exit_code == 0
    fresh = Record(
        id=RID, sources=[Source("/v/other.mp4", path="/v/other.mp4")], tags=[Tag("Silent", "builtin:silent")]
    )
    seen: list[list[str]] = []
    with open_store(load_config(None, env={}, overrides={("Library", "Location"): str(lib)})) as store:
        merge_stored(fresh, store, lambda r: seen.append([t.name for t in r.tags]))
    assert [(t.name, t.origin) for t in fresh.tags] == [("Action", "user"), ("Silent", "builtin:silent")]
    assert seen == [["Action", "Silent"]]  # tags and category were computed again with it
    assert [s.input for s in fresh.sources] == ["/v/kitchen.mp4", "/v/other.mp4"]
