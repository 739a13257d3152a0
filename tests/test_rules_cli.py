"""``videokit rules check|explain|list`` and ``videokit retag`` against a library built through the store API."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from media import make_video
from videokit._cli import main
from videokit.config import load_config
from videokit.record import Analysis, FileInfo, MediaInfo, Record, Source, Tag
from videokit.store import open_store

RULES = {
    "rules": [
        {"description_keywords": ["Aerial", "Drone", "Bird's Eye"], "tags": ["Aerial Shot", "Drone Footage"]},
        {"metadata_conditions": {"resolution": "4K", "duration_gt": 600}, "tags": ["High Resolution", "Extended Play"]},
        {"ai_generated_tags": ["Action", "Explosive"], "tags": ["High-Intensity", "Action-Packed"]},
        {"metadata_conditions": {"codec": "h264", "bit_rate_gt": 2000000}, "tags": ["High Bitrate", "H.264 Codec"]},
    ]
}


def _record(n: int, description: str, **media: Any) -> Record:
    rid = f"{n:02d}" * 32
    m = MediaInfo(
        duration=30.0,
        width=1280,
        height=720,
        resolution="720p",
        video_codec="h264",
        bit_rate=1_000_000,
        audio_streams=1,
    )
    for k, v in media.items():
        setattr(m, k, v)
    return Record(
        id=rid,
        sources=[Source(f"/v/clip{n}.mp4", path=f"/v/clip{n}.mp4")],
        file=FileInfo(f"/v/clip{n}.mp4", f"clip{n}.mp4", 10, rid),
        media=m,
        analysis=Analysis(backend="builtin", description=description),
        tags=[Tag("keep me", "user")],
    )


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    library = tmp_path / "lib"
    cfg = load_config(None, env={}, overrides={("Library", "Location"): str(library)})
    with open_store(cfg) as store:
        store.upsert(_record(1, "Drone footage over the bay"))
        store.upsert(_record(2, "A long 4K walk in the park", resolution="4K", width=3840, height=2160, duration=660.0))
        store.upsert(_record(3, "A kitchen, nothing special"))
    return library


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    p = tmp_path / "custom_tags.json"
    p.write_text(json.dumps(RULES, indent=1))
    return p


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def stored(library: Path, n: int) -> Record:
    cfg = load_config(None, env={}, overrides={("Library", "Location"): str(library)})
    with open_store(cfg) as store:
        rec = store.get(f"{n:02d}" * 32)
    assert rec is not None
    return rec


def search_tag(library: Path, tag: str) -> list[str]:
    r = cli("--library", str(library), "search", "--tag", tag, "--json")
    assert r.exit_code == 0, r.output
    return sorted(x["id"][:2] for x in json.loads(r.output))


def test_check_good_and_bad_files(tmp_path: Path, rules_file: Path) -> None:
    r = cli("rules", "check", str(rules_file))
    assert r.exit_code == 0 and "4 rules" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "rules": [
                    RULES["rules"][0],
                    {"id": "night", "metadata_conditions": {"duration_gtt": 1}, "tags": ["Night"]},
                ]
            }
        )
    )
    r = cli("rules", "check", str(bad))
    assert r.exit_code == 2
    assert "rule 2 (id 'night'): metadata_conditions.duration_gtt: unknown condition 'duration_gtt'" in r.output
    kw = tmp_path / "priority_keywords.json"
    kw.write_text('{"priority_keywords": ["faces", "cars"]}')
    assert "2 priority keywords" in cli("rules", "check", str(kw)).output
    tax = tmp_path / "taxonomy.json"
    tax.write_text('{"categories": ["A"], "signals": [{"category": "A", "when": {"has_tags": []}}]}')
    r = cli("rules", "check", str(tax))
    assert r.exit_code == 2 and "signal 1 (A): when.has_tags" in r.output


def test_check_configured_files(tmp_path: Path, rules_file: Path) -> None:
    ini = tmp_path / "config.ini"
    ini.write_text(f"[Rules]\nCustomTagRules = {rules_file.name}\nUseDefaults = false\n")
    r = cli("--config", str(ini), "rules", "check")
    assert r.exit_code == 0 and "0 built-in and 4 custom rules" in r.output
    r = cli("--config", str(ini), "rules", "list")
    assert "rule:custom-1: Aerial Shot, Drone Footage" in r.output


def test_retag_then_search_sees_the_change(lib: Path, rules_file: Path, tmp_path: Path) -> None:
    r = cli("--library", str(lib), "retag", "--rules", str(rules_file))
    assert r.exit_code == 0, r.output
    assert "retagged 3 records" in r.output
    assert search_tag(lib, "aerial shot") == ["01"]  # case-insensitive tag search
    assert search_tag(lib, "Extended Play") == ["02"]
    rec2 = stored(lib, 2)
    assert {t.name: t.origin for t in rec2.tags}["High Resolution"] == "rule:custom-2"
    assert any(t.name == "keep me" and t.origin == "user" for t in rec2.tags)
    assert stored(lib, 1).classification.scores["Cinematic"] == 3.0  # "Aerial Shot" tag (2) + "drone" keyword (1)

    # Nothing changed: nothing written.
    assert (
        "retagged 0 records: 0 tags added, 0 removed"
        in cli("--library", str(lib), "retag", "--rules", str(rules_file)).output
    )

    # Edit a rule: drones are now "UAV Footage", and kitchens get a tag.
    data = json.loads(rules_file.read_text())
    data["rules"][0] = {"id": "uav", "description_keywords": ["drone"], "tags": ["UAV Footage"]}
    data["rules"].append({"id": "kitchen", "description_keywords": ["kitchen"], "tags": ["Indoors"]})
    rules_file.write_text(json.dumps(data))
    r = cli("--library", str(lib), "retag", "--rules", str(rules_file))
    assert "retagged 2 records: 2 tags added, 2 removed" in r.output, r.output
    assert search_tag(lib, "Aerial Shot") == []
    assert search_tag(lib, "uav footage") == ["01"]
    assert search_tag(lib, "indoors") == ["03"]
    assert stored(lib, 1).classification.scores["Cinematic"] == 1.0  # the keyword alone: the tag is gone


def test_retag_filters_and_dry_run(lib: Path, rules_file: Path) -> None:
    r = cli("--library", str(lib), "retag", "--rules", str(rules_file), "--resolution", "4K", "--dry-run")
    assert "would have retagged 1 records" in r.output
    assert search_tag(lib, "High Resolution") == []  # dry run wrote nothing
    r = cli("--library", str(lib), "retag", "--rules", str(rules_file), "--resolution", "4K")
    assert "(1 checked)" in r.output
    assert search_tag(lib, "High Resolution") == ["02"]
    assert search_tag(lib, "Drone Footage") == []  # record 1 was not in the filter


def test_retag_with_broken_rules_touches_nothing(lib: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rules": [{"description_keywords": ["drone"], "tags": []}]}))
    before = stored(lib, 1).tags
    r = cli("--library", str(lib), "retag", "--rules", str(bad))
    assert r.exit_code == 2 and "bad.json: rule 1: tags:" in r.output
    assert stored(lib, 1).tags == before


def test_explain_shows_why(lib: Path, rules_file: Path) -> None:
    cli("--library", str(lib), "retag", "--rules", str(rules_file))
    r = cli("--library", str(lib), "rules", "explain", "020202", "--rules", str(rules_file))
    assert r.exit_code == 0, r.output
    out = r.output
    assert (
        'High Resolution  [rule:custom-2, confidence 1.00] because resolution "4K" (is 4K) and duration_gt 600 (is 660.0)'
        in out
    )
    assert "fired  builtin:extended-play -> Extended Play: duration_gt 600 (is 660.0)" in out
    assert "no     rule:custom-1 -> Aerial Shot, Drone Footage: description_keywords: none of" in out
    assert "no     builtin:short-clip -> Short Clip: duration_lte 60 (is 660.0)" in out
    assert "category: Unclassified" in out
    fired = cli("--library", str(lib), "rules", "explain", "010101", "--rules", str(rules_file), "--fired").output
    assert (
        "fired  rule:custom-1 -> Aerial Shot, Drone Footage: description_keywords: 'Drone' in AI description" in fired
    )
    assert "no     " not in fired
    assert "+2    Cinematic (signal 3): has_tags: 'Aerial Shot'" in fired


def test_explain_unknown_id(lib: Path) -> None:
    r = cli("--library", str(lib), "rules", "explain", "ffffff")
    assert r.exit_code == 1 and "no video with id 'ffffff'" in r.output


def test_broken_rules_stop_a_run_before_any_download(tmp_path: Path) -> None:
    """The input is a URL on a local port that counts connections: none may arrive."""
    bad = tmp_path / "custom_tags.json"
    bad.write_text(json.dumps({"rules": [{"id": "night", "metadata_conditions": {"fps_gt": "fast"}, "tags": ["x"]}]}))
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    hits: list[int] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            hits.append(1)
            conn.close()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{server.getsockname()[1]}/video.mp4"
        r = cli("--library", str(tmp_path / "lib"), "run", "--rules", str(bad), url)
    finally:
        stop.set()
        t.join(2)
        server.close()
    assert r.exit_code == 2
    assert "rule 1 (id 'night'): metadata_conditions.fps_gt: expected a number" in r.output
    assert hits == []


def test_run_tags_a_real_file(tmp_path: Path, rules_file: Path) -> None:
    """End to end on a tiny generated file: its container title mentions a drone."""
    clip = make_video(tmp_path / "clip.mp4", duration=1.0, audio=False, title="Drone over the hills")
    r = cli(
        "--library",
        str(tmp_path / "lib"),
        "run",
        "--rules",
        str(rules_file),
        "--analyzer",
        "none",
        "--skip",
        "scenes",
        str(clip),
    )
    assert r.exit_code == 0, r.output
    found = json.loads(cli("--library", str(tmp_path / "lib"), "search", "--tag", "drone footage", "--json").output)
    assert len(found) == 1
    assert {"Aerial Shot", "Drone Footage", "Short Clip", "Silent", "H.264 Codec"} <= set(found[0]["tags"])
    assert found[0]["category"] == "Cinematic"
