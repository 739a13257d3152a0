"""Near-duplicates: a re-encoded, resized and trimmed copy of a video under another name is
grouped with its original by ``videokit dupes`` (and an unrelated video is not), through an
index rather than all pairs; ``--dedup`` keeps the highest resolution; the analyze stage copies
the analysis of an analysed near-duplicate instead of asking the model again."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from PIL import Image

from media import make_near_copy, make_scenes_video, make_video
from videokit import api
from videokit._cli import main
from videokit.analysis.builtin import BuiltinAnalyzer
from videokit.config import Config, load_config
from videokit.dataset import dedup
from videokit.dataset.dedup import DupGroup, DupPair, HashIndex, dedup_keep, near_duplicate_groups
from videokit.errors import UsageError
from videokit.record import MediaInfo, Record
from videokit.store import open_store

ORIGINAL = ["testsrc2", "smptebars", "mandelbrot", "sierpinski", "colorspectrum", "testsrc"]
UNRELATED = ["life", "cellauto", "yuvtestsrc", "gradients", "pal100bars", "smptehdbars"]
SEG = 1.2


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An original, its re-upload (trimmed 0.5 s at the start and 0.4 s at the end, resized to
    480x360, MPEG-4 at 300 kb/s instead of H.264, another name), and an unrelated video."""
    folder = tmp_path_factory.mktemp("dupes-media")
    original = make_scenes_video(folder / "original.mp4", ORIGINAL, SEG)
    copy = make_near_copy(original, folder / "reupload-final.avi", start=0.5, length=len(ORIGINAL) * SEG - 0.9)
    unrelated = make_scenes_video(folder / "unrelated.mp4", UNRELATED, SEG)
    return {"original": original, "copy": copy, "unrelated": unrelated}


def config_for(library: Path, **settings: Any) -> Config:
    overrides = {("Library", "Location"): str(library)}
    overrides.update({tuple(k.split("_", 1)): v for k, v in settings.items()})  # Analysis_Backend=...
    return load_config(None, env={}, overrides=overrides)


def videokit(library: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--library", str(library), *args])


@pytest.fixture(scope="module")
def built(videos: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``videokit run`` on the three videos (the scenes stage makes the thumbnails)."""
    lib = tmp_path_factory.mktemp("dupes") / "lib"
    res = videokit(lib, "run", *map(str, videos.values()), "--skip", "analyze", "-q")
    assert res.exit_code == 0, res.output
    return lib


@pytest.fixture
def lib(built: Path, tmp_path: Path) -> Path:
    """A private copy of the built library, for tests that change it."""
    return Path(shutil.copytree(built, tmp_path / "lib"))


def ids_by_name(library: Path) -> dict[str, str]:
    found = {Path(r.file.path).stem: r.id for r in api.search(config_for(library)) if r.file and r.id}
    return {"original": found["original"], "copy": found["reupload-final"], "unrelated": found["unrelated"]}


# -- videokit dupes ---------------------------------------------------------------------------


def test_dupes_groups_the_copy_with_its_original_and_not_the_unrelated_video(built: Path) -> None:
    ids = ids_by_name(built)
    res = videokit(built, "dupes", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["compared"] == 3 and out["without_thumbnails"] == []
    (group,) = out["groups"]
    assert sorted(v["id"] for v in group["videos"]) == sorted([ids["original"], ids["copy"]])
    assert {(v["width"], v["height"], v["video_codec"]) for v in group["videos"]} == {
        (320, 240, "h264"),
        (480, 360, "mpeg4"),
    }
    assert 0.8 <= group["similarity"] <= 1.0
    (pair,) = group["pairs"]
    assert pair["shared"] >= 0.5 and pair["similarity"] == group["similarity"]

    text = videokit(built, "dupes")
    assert text.exit_code == 0
    assert f"group 1: 2 videos, similarity {group['similarity']:.2f}" in text.stdout
    assert ids["original"][:12] in text.stdout and ids["copy"][:12] in text.stdout
    assert ids["unrelated"][:12] not in text.stdout
    assert "1 group(s) of near-duplicates among 3 video(s)" in text.stderr

    # stricter thresholds separate them: the trimmed copy's end scenes moved
    assert api.dupes(config_for(built), min_shared=1.0).groups == []
    # search filters choose the videos compared
    only = api.dupes(config_for(built), api.Query(codec="h264"))
    assert only.compared == 2 and only.groups == []


def test_thresholds_out_of_range_are_one_line_usage_errors(built: Path) -> None:
    for args, named in ((["--max-distance", "13"], "--max-distance 13"), (["--min-shared", "0"], "--min-shared 0")):
        res = videokit(built, "dupes", *args)
        assert res.exit_code == 2
        assert res.stderr.count("\n") == 1 and named in res.stderr


def test_hashes_are_cached_and_recomputed_only_when_a_thumbnail_changes(
    lib: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = ids_by_name(lib)
    cfg = config_for(lib)
    first = api.dupes(cfg)
    assert sorted(p.stem for p in (lib / "cache" / "phash").glob("*.json")) == sorted(ids.values())

    real = dedup.phash_file
    calls: list[Path] = []

    def counting(path: Path) -> int | None:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(dedup, "phash_file", counting)
    assert api.dupes(cfg).groups == first.groups
    assert calls == []  # every hash from the cache

    copy = api.get(cfg, ids["copy"])
    thumb = lib / copy.scenes.scenes[2].thumbnail
    Image.open(lib / api.get(cfg, ids["unrelated"]).scenes.scenes[2].thumbnail).save(thumb)
    api.dupes(cfg)
    assert {p.parent.name for p in calls} == {ids["copy"]}  # that video only, hashed again
    assert len(calls) == len(copy.scenes.scenes)


def test_flat_thumbnails_make_no_duplicates(tmp_path: Path) -> None:
    """Black and one-colour scenes have nothing to compare: two such videos are not copies."""
    black = make_video(tmp_path / "black.mp4", source="color=c=black", duration=1.0, audio=False)
    navy = make_video(tmp_path / "navy.mp4", source="color=c=0x000040", duration=1.0, audio=False)
    lib = tmp_path / "lib"
    assert videokit(lib, "run", str(black), str(navy), "--skip", "analyze", "-q").exit_code == 0
    report = api.dupes(config_for(lib))
    assert report.groups == [] and report.compared == 0 and len(report.without_thumbnails) == 2
    res = videokit(lib, "dupes")
    assert "0 group(s)" in res.stderr and "2 without scene thumbnails to compare" in res.stderr


# -- the index ----------------------------------------------------------------------------------


def brute_force_pairs(hashes: dict[str, list[int]], max_distance: int) -> set[tuple[str, str]]:
    ids = sorted(hashes)
    return {
        (a, b)
        for k, a in enumerate(ids)
        for b in ids[k + 1 :]
        if any(bin(x ^ y).count("1") <= max_distance for x in hashes[a] for y in hashes[b])
    }


@pytest.mark.parametrize("max_distance", [0, 3, 8, 12])
def test_the_index_finds_every_pair_all_pairs_would_and_verifies_far_fewer(max_distance: int) -> None:
    rng = random.Random(max_distance)
    hashes = {f"v{i:03d}": [rng.getrandbits(64) for _ in range(rng.randint(1, 6))] for i in range(300)}
    for i in range(60):  # copies with 0..14 bits flipped per scene: some within reach, some not
        source = hashes[f"v{i:03d}"]
        flipped = []
        for h in source:
            for bit in rng.sample(range(64), rng.randint(0, 14)):
                h ^= 1 << bit
            flipped.append(h)
        hashes[f"c{i:03d}"] = flipped
    index = HashIndex(hashes, max_distance)
    groups = index.groups(min_shared=1e-9)  # any matching scene pairs two videos
    found = {(p.a, p.b) for g in groups for p in g.pairs}
    expected = brute_force_pairs(hashes, max_distance)
    assert found == expected and len(expected) > 10
    assert 0 < index.candidates < index.all_pairs / 20


def test_groups_join_through_shared_members_with_their_weakest_similarity() -> None:
    base = [0x0123456789ABCDEF, 0x0F0F0F0F0F0F0F0F, 0x3333333333333333]
    a = base
    b = [h ^ 0b11 for h in base]  # 2 bits from a
    c = [h ^ 0b11111 for h in base]  # 3 bits from b, 5 from a
    far = [0xFFFF0000FFFF0000, 0x00FF00FF00FF00FF]
    groups = near_duplicate_groups({"a": a, "b": b, "c": c, "far": far}, max_distance=3)
    (g,) = groups
    assert g.ids == ["a", "b", "c"]
    assert [(p.a, p.b) for p in g.pairs] == [("a", "b"), ("b", "c")]  # a and c are 5 bits apart
    assert g.similarity == round(1 - 3 / 64, 4) == min(p.similarity for p in g.pairs)
    with pytest.raises(UsageError, match="--max-distance 13"):
        near_duplicate_groups({"a": a}, max_distance=13)


# -- --dedup ------------------------------------------------------------------------------------


def test_dedup_keeps_the_highest_resolution_of_each_group(built: Path) -> None:
    ids = ids_by_name(built)
    cfg = config_for(built)
    records = {r.id: r for r in api.search(cfg) if r.id}
    groups = api.dupes(cfg).groups
    assert dedup_keep(groups, records) == {ids["copy"], ids["unrelated"]}  # 480x360 beats 320x240
    del records[ids["copy"]]  # the copy not selected: the original is the group's only member
    assert dedup_keep(groups, records) == {ids["original"], ids["unrelated"]}


def test_dedup_in_a_chained_group_drops_only_copies_of_a_kept_video() -> None:
    def rec(rid: str, height: int) -> Record:
        return Record(id=rid, media=MediaInfo(width=height * 16 // 9, height=height))

    pairs = [DupPair("a", "b", 0.9, 0.5), DupPair("b", "c", 0.9, 0.5)]  # a like b, b like c, a unlike c
    group = DupGroup(["a", "b", "c"], 0.9, pairs)
    assert dedup_keep([group], {"a": rec("a", 1080), "b": rec("b", 720), "c": rec("c", 480)}) == {"a", "c"}
    assert dedup_keep([group], {"a": rec("a", 480), "b": rec("b", 1080), "c": rec("c", 720)}) == {"b"}
    clique = DupGroup(["a", "b", "c"], 0.9)  # given without its pairs: copies of each other
    assert dedup_keep([clique], {"a": rec("a", 480), "b": rec("b", 720), "c": rec("c", 720)}) == {"b"}


# -- the analyze stage --------------------------------------------------------------------------


@pytest.fixture
def analyse_spy(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The videos the builtin analyzer is asked to analyse."""
    asked: list[Path] = []
    real = BuiltinAnalyzer.analyze

    def spy(self: BuiltinAnalyzer, request: Any) -> Any:
        asked.append(Path(request.video))
        return real(self, request)

    monkeypatch.setattr(BuiltinAnalyzer, "analyze", spy)
    return asked


@pytest.fixture(scope="module")
def analysed(videos: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library where the original was analysed with the builtin analyzer."""
    lib = tmp_path_factory.mktemp("analysed") / "lib"
    result = api.run([str(videos["original"])], config_for(lib, Analysis_Backend="builtin"), workers=1)
    assert result.ok, result.failures
    (record,) = result.records
    assert record.analysis is not None and record.analysis.backend == "builtin"
    return lib


def test_a_near_duplicate_of_an_analysed_video_gets_its_analysis_copied_not_a_model_call(
    analysed: Path, videos: dict[str, Path], tmp_path: Path, analyse_spy: list[Path]
) -> None:
    lib = Path(shutil.copytree(analysed, tmp_path / "lib"))
    cfg = config_for(lib, Analysis_Backend="builtin")
    (original,) = api.search(cfg)

    (copy,) = api.run([str(videos["copy"])], cfg, workers=1).records
    assert analyse_spy == []  # no model call
    a = copy.analysis
    assert a is not None and a.facts["copied_from"]["id"] == original.id
    assert a.facts["copied_from"]["similarity"] >= 0.8
    assert any(f"copied from near-duplicate {original.id}" in w for w in a.warnings)
    assert a.description == original.analysis.description and a.backend == "builtin"
    stored = api.get(cfg, copy.id)
    assert stored.analysis.facts["copied_from"]["id"] == original.id  # stored so
    with open_store(cfg) as store:  # the helper behind it: the analysed near-duplicate, not a copy
        assert dedup.analysed_duplicate(stored, store, lib).id == original.id
        assert dedup.analysed_duplicate(original, store, lib) is None

    (other,) = api.run([str(videos["unrelated"])], cfg, workers=1).records
    assert analyse_spy == [videos["unrelated"]]  # other footage is analysed
    assert "copied_from" not in other.analysis.facts


def test_refresh_or_a_new_question_sends_the_near_duplicate_to_the_model(
    analysed: Path, videos: dict[str, Path], tmp_path: Path, analyse_spy: list[Path]
) -> None:
    lib = Path(shutil.copytree(analysed, tmp_path / "lib"))
    (copy,) = api.run(
        [str(videos["copy"])], config_for(lib, Analysis_Backend="builtin"), workers=1, refresh=True
    ).records
    assert analyse_spy == [videos["copy"]]
    assert "copied_from" not in copy.analysis.facts and not any("copied" in w for w in copy.analysis.warnings)

    lib2 = Path(shutil.copytree(analysed, tmp_path / "lib2"))
    cfg = config_for(lib2, Analysis_Backend="builtin", Analysis_Questions=["Is there any sound?"])
    (copy,) = api.run([str(videos["copy"])], cfg, workers=1).records
    assert analyse_spy == [videos["copy"]] * 2  # the original's answers do not cover the question
    assert "copied_from" not in copy.analysis.facts
