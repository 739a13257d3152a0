"""The rules engine: the original custom_tags.json, every condition kind, validation, provenance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from videokit.config import load_config
from videokit.errors import ConfigError
from videokit.record import Analysis, FileInfo, MediaInfo, Record, SceneInfo, Source, Tag
from videokit.tagging import RuleSet, Tagger, load_priority_keywords, load_rules, write_examples
from videokit.tagging.classify import builtin_taxonomy
from videokit.tagging.rules import parse_rules

ORIGINAL = {
    "rules": [
        {"description_keywords": ["Aerial", "Drone", "Bird's Eye"], "tags": ["Aerial Shot", "Drone Footage"]},
        {"metadata_conditions": {"resolution": "4K", "duration_gt": 600}, "tags": ["High Resolution", "Extended Play"]},
        {"ai_generated_tags": ["Action", "Explosive"], "tags": ["High-Intensity", "Action-Packed"]},
        {"metadata_conditions": {"codec": "h264", "bit_rate_gt": 2000000}, "tags": ["High Bitrate", "H.264 Codec"]},
    ]
}


def media(**kw: Any) -> MediaInfo:
    base: dict[str, Any] = dict(
        container="mov,mp4,m4a,3gp,3g2,mj2",
        duration=30.0,
        bit_rate=1_000_000,
        width=1280,
        height=720,
        resolution="720p",
        fps=25.0,
        video_codec="h264",
        audio_codec="aac",
        audio_channels=2,
        audio_streams=1,
    )
    base.update(kw)
    return MediaInfo(**base)


def record(description: str | None = None, *, m: MediaInfo | None = None, **kw: Any) -> Record:
    analysis = kw.pop("analysis", None)
    if analysis is None and description is not None:
        analysis = Analysis(backend="builtin", description=description)
    return Record(id="f" * 64, media=m if m is not None else media(), analysis=analysis, **kw)


def names(tags: list[Tag]) -> list[str]:
    return [t.name for t in tags]


@pytest.fixture(scope="module")
def original() -> RuleSet:
    return RuleSet(parse_rules(ORIGINAL, "custom_tags.json"))


def cfg(tmp_path: Path, **rules: str) -> Any:
    return load_config(
        None,
        env={},
        overrides={("Library", "Location"): str(tmp_path / "lib"), **{("Rules", k): v for k, v in rules.items()}},
    )


# -- the original file, unchanged ------------------------------------------------------------
def test_original_file_tags_a_4k_eleven_minute_clip(original: RuleSet) -> None:
    # Metadata-level: a real 11-minute 4K file is too big to generate in tests.
    rec = record(m=media(width=3840, height=2160, resolution="4K", duration=660.0))
    tags = original.apply(rec)
    assert {"High Resolution", "Extended Play"} <= set(names(tags))
    hr = next(t for t in tags if t.name == "High Resolution")
    assert hr.origin == "rule:custom-2" and hr.confidence == 1.0
    assert "resolution" in hr.condition and "duration_gt 600" in hr.condition and "660" in hr.condition


def test_original_file_needs_both_4k_and_long(original: RuleSet) -> None:
    assert "High Resolution" not in names(original.apply(record(m=media(resolution="4K", duration=300.0))))
    assert "Extended Play" not in names(original.apply(record(m=media(resolution="1080p", duration=700.0))))


@pytest.mark.parametrize(
    "text, tagged",
    [
        ("Low drone footage, over a lake.", True),
        ("A BIRD'S EYE view of the city", True),
        ("a bird’s   eye view", True),
        ("Aerial photography at dawn", True),
        ("The droned-on speech", False),  # boundary: "droned" is not "drone"
        ("a bird eye", False),
        ("", False),
    ],
)
def test_original_file_description_keywords(original: RuleSet, text: str, tagged: bool) -> None:
    tags = original.apply(record(text))
    assert ("Aerial Shot" in names(tags)) is tagged
    assert ("Drone Footage" in names(tags)) is tagged


def test_original_file_ai_tags_and_bitrate(original: RuleSet) -> None:
    rec = record(
        analysis=Analysis(backend="qwen", model="m", tags=[Tag("explosive", "analyzer:qwen/m", 0.7)]),
        m=media(bit_rate=3_000_000),
    )
    got = names(original.apply(rec))
    assert {"High-Intensity", "Action-Packed", "High Bitrate", "H.264 Codec"} <= set(got)
    assert "High Bitrate" not in names(original.apply(record(m=media(bit_rate=1_500_000))))
    assert "High Bitrate" not in names(original.apply(record(m=media(video_codec="hevc", bit_rate=9_000_000))))


# -- every condition kind, table-driven --------------------------------------------------------
def _rec_with(**kw: Any) -> Record:
    m = kw.pop("media", None)
    return record(m=m if m is not None else media(), **kw)


CASES: list[tuple[str, dict[str, Any], Record, bool]] = [
    # numbers: every op
    ("gt", {"metadata_conditions": {"duration_gt": 29}}, _rec_with(), True),
    ("gt at the value", {"metadata_conditions": {"duration_gt": 30}}, _rec_with(), False),
    ("gte", {"metadata_conditions": {"duration_gte": 30}}, _rec_with(), True),
    ("lt", {"metadata_conditions": {"fps_lt": 25}}, _rec_with(), False),
    ("lte", {"metadata_conditions": {"fps_lte": 25}}, _rec_with(), True),
    ("eq bare", {"metadata_conditions": {"width": 1280}}, _rec_with(), True),
    ("eq", {"metadata_conditions": {"height_eq": 721}}, _rec_with(), False),
    ("eq float tolerance", {"metadata_conditions": {"fps_eq": 29.97}}, _rec_with(media=media(fps=30000 / 1001)), True),
    ("ne", {"metadata_conditions": {"audio_channels_ne": 2}}, _rec_with(), False),
    ("in", {"metadata_conditions": {"audio_channels_in": [1, 2]}}, _rec_with(), True),
    ("in miss", {"metadata_conditions": {"width_in": [640, 1920]}}, _rec_with(), False),
    ("regex on number", {"metadata_conditions": {"bit_rate_regex": "^1\\d{6}$"}}, _rec_with(), True),
    ("bit_rate", {"metadata_conditions": {"bit_rate_gte": 1_000_000}}, _rec_with(), True),
    ("rotation", {"metadata_conditions": {"rotation_eq": 90}}, _rec_with(media=media(rotation=90)), True),
    ("aspect_ratio", {"metadata_conditions": {"aspect_ratio_gt": 1.7}}, _rec_with(), True),
    ("unknown number never fires", {"metadata_conditions": {"fps_lt": 1000}}, _rec_with(media=media(fps=None)), False),
    ("unknown ne never fires", {"metadata_conditions": {"fps_ne": 25}}, _rec_with(media=media(fps=None)), False),
    ("no media at all", {"metadata_conditions": {"duration_gt": 0}}, Record(id="x"), False),
    # scenes
    ("scene_count", {"metadata_conditions": {"scene_count_gte": 3}}, _rec_with(scenes=SceneInfo(scene_count=3)), True),
    (
        "cuts_per_minute",
        {"metadata_conditions": {"cuts_per_minute_gt": 10}},
        _rec_with(scenes=SceneInfo(scene_count=2, cuts_per_minute=4.0)),
        False,
    ),
    ("scenes unknown", {"metadata_conditions": {"scene_count_lt": 5}}, _rec_with(), False),
    # text fields
    ("codec alias", {"metadata_conditions": {"codec": "H264"}}, _rec_with(), True),
    ("video_codec ne", {"metadata_conditions": {"video_codec_ne": "h264"}}, _rec_with(), False),
    ("audio_codec in", {"metadata_conditions": {"audio_codec_in": ["opus", "AAC"]}}, _rec_with(), True),
    ("codec regex", {"metadata_conditions": {"codec_regex": "^(h26[45]|hevc)$"}}, _rec_with(), True),
    (
        "orientation portrait",
        {"metadata_conditions": {"orientation": "portrait"}},
        _rec_with(media=media(width=1080, height=1920)),
        True,
    ),
    (
        "orientation follows rotation",
        {"metadata_conditions": {"orientation": "portrait"}},
        _rec_with(media=media(width=1920, height=1080, rotation=-90)),
        True,
    ),
    ("container part", {"metadata_conditions": {"container": "mp4"}}, _rec_with(), True),
    ("container in", {"metadata_conditions": {"container_in": ["matroska", "webm"]}}, _rec_with(), False),
    (
        "subtitle language",
        {"metadata_conditions": {"subtitle_languages": "fra"}},
        _rec_with(media=media(subtitle_streams=2, subtitle_languages=["eng", "fra"])),
        True,
    ),
    # resolution labels and comparisons
    ("resolution label", {"metadata_conditions": {"resolution": "4k"}}, _rec_with(media=media(resolution="4K")), True),
    (
        "resolution alias",
        {"metadata_conditions": {"resolution": "2160p"}},
        _rec_with(media=media(resolution="4K")),
        True,
    ),
    ("resolution gte", {"metadata_conditions": {"resolution_gte": "1080p"}}, _rec_with(), False),
    ("resolution gte hit", {"metadata_conditions": {"resolution_gte": "720p"}}, _rec_with(), True),
    ("resolution lt", {"metadata_conditions": {"resolution_lt": "1080p"}}, _rec_with(), True),
    ("resolution in", {"metadata_conditions": {"resolution_in": ["SD", "480p"]}}, _rec_with(), False),
    ("resolution ne", {"metadata_conditions": {"resolution_ne": "4K"}}, _rec_with(), True),
    # flags
    ("has_audio", {"metadata_conditions": {"has_audio": True}}, _rec_with(), True),
    (
        "has_audio false",
        {"metadata_conditions": {"has_audio_eq": False}},
        _rec_with(media=media(audio_streams=0)),
        True,
    ),
    ("has_subtitles", {"metadata_conditions": {"has_subtitles": True}}, _rec_with(), False),
    ("has_subtitles ne", {"metadata_conditions": {"has_subtitles_ne": True}}, _rec_with(), True),
    (
        "silent: no audio stream",
        {"metadata_conditions": {"silent": True}},
        _rec_with(media=media(audio_streams=0)),
        True,
    ),
    (
        "silent: measured silent",
        {"metadata_conditions": {"silent": True}},
        _rec_with(analysis=Analysis(backend="builtin", facts={"audio": {"silent": True}})),
        True,
    ),
    (
        "silent: measured loud",
        {"metadata_conditions": {"silent": False}},
        _rec_with(analysis=Analysis(backend="builtin", facts={"audio": {"silent": False}})),
        True,
    ),
    ("silent: unknown", {"metadata_conditions": {"silent": True}}, _rec_with(), False),
    ("silent: unknown is not loud either", {"metadata_conditions": {"silent": False}}, _rec_with(), False),
    # description keywords in every text
    ("kw in AI description", {"description_keywords": ["sunset"]}, _rec_with(description="A sunset."), True),
    (
        "kw in scene description",
        {"description_keywords": ["goal"]},
        _rec_with(analysis=Analysis(backend="x", scene_descriptions={"2": "He scores a goal!"})),
        True,
    ),
    (
        "kw in answer",
        {"description_keywords": ["red car"]},
        _rec_with(analysis=Analysis(backend="x", answers={"What is there?": "A red  car"})),
        True,
    ),
    (
        "kw in OCR",
        {"description_keywords": ["breaking news"]},
        _rec_with(analysis=Analysis(backend="x", ocr_text="BREAKING NEWS: rain")),
        True,
    ),
    ("kw in source title", {"description_keywords": ["drone"]}, _rec_with(sources=[Source("u", title="Drone!")]), True),
    (
        "kw in source description",
        {"description_keywords": ["tutorial"]},
        _rec_with(sources=[Source("u", description="A short Tutorial.")]),
        True,
    ),
    (
        "kw in container title",
        {"description_keywords": ["wedding"]},
        _rec_with(media=media(tags={"title": "Our Wedding"})),
        True,
    ),
    ("kw not inside a word", {"description_keywords": ["act"]}, _rec_with(description="pure action"), False),
    ("kw with no text", {"description_keywords": ["act"]}, _rec_with(), False),
    # analyzer tags
    (
        "ai tag",
        {"ai_generated_tags": ["Night"]},
        _rec_with(analysis=Analysis(backend="b", tags=[Tag("night", "analyzer:builtin/1")])),
        True,
    ),
    (
        "ai tag miss",
        {"ai_generated_tags": ["Night"]},
        _rec_with(analysis=Analysis(backend="b", tags=[Tag("nightlife", "analyzer:builtin/1")])),
        False,
    ),
    # file names
    ("glob", {"filename_patterns": ["*.MP4"]}, _rec_with(file=FileInfo("d/clip.mp4", "clip.mp4", 1, "x")), True),
    (
        "glob miss",
        {"filename_patterns": ["dashcam_*"]},
        _rec_with(file=FileInfo("clip.mp4", "clip.mp4", 1, "x")),
        False,
    ),
    (
        "regex filename",
        {"filename_patterns": ["re:^cam\\d+_"]},
        _rec_with(file=FileInfo("x", "CAM12_0001.mov", 1, "x")),
        True,
    ),
    (
        "source path name",
        {"filename_patterns": ["holiday*"]},
        _rec_with(sources=[Source("/v/holiday 2024.mkv", kind="file", path="/v/holiday 2024.mkv")]),
        True,
    ),
    # domains
    (
        "domain",
        {"source_domains": ["youtube.com"]},
        _rec_with(sources=[Source("u", kind="url", domain="www.youtube.com")]),
        True,
    ),
    (
        "domain suffix only",
        {"source_domains": ["tube.com"]},
        _rec_with(sources=[Source("u", kind="url", domain="youtube.com")]),
        False,
    ),
    # user fields (CSV columns)
    (
        "user field eq",
        {"user_fields": {"label": "Cat"}},
        _rec_with(sources=[Source("u", user_fields={"label": "cat"})]),
        True,
    ),
    (
        "user field in",
        {"user_fields": {"label_in": ["dog", "bird"]}},
        _rec_with(sources=[Source("u", user_fields={"label": "cat"})]),
        False,
    ),
    (
        "user field regex",
        {"user_fields": {"split_regex": "^(train|val)$"}},
        _rec_with(sources=[Source("u", user_fields={"split": "val"})]),
        True,
    ),
    (
        "user field number",
        {"user_fields": {"score_gte": 3}},
        _rec_with(sources=[Source("u", user_fields={"score": "4.5"})]),
        True,
    ),
    (
        "user field not a number",
        {"user_fields": {"score_gte": 3}},
        _rec_with(sources=[Source("u", user_fields={"score": "high"})]),
        False,
    ),
    (
        "user field number as text",
        {"user_fields": {"year": 2024}},
        _rec_with(sources=[Source("u", user_fields={"year": "2024"})]),
        True,
    ),
    ("user field missing", {"user_fields": {"label": "cat"}}, _rec_with(), False),
    # combinators
    (
        "all",
        {"all": [{"metadata_conditions": {"width": 1280}}, {"metadata_conditions": {"height": 720}}]},
        _rec_with(),
        True,
    ),
    (
        "all one fails",
        {"all": [{"metadata_conditions": {"width": 1280}}, {"metadata_conditions": {"height": 1}}]},
        _rec_with(),
        False,
    ),
    (
        "any",
        {"any": [{"metadata_conditions": {"width": 1}}, {"metadata_conditions": {"height": 720}}]},
        _rec_with(),
        True,
    ),
    ("not", {"not": {"metadata_conditions": {"has_audio": True}}}, _rec_with(), False),
    (
        "several kinds are all required",
        {"metadata_conditions": {"width": 1280}, "description_keywords": ["x"]},
        _rec_with(),
        False,
    ),
]


@pytest.mark.parametrize("condition, rec, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_condition_kinds(condition: dict[str, Any], rec: Record, expected: bool) -> None:
    rules = RuleSet(parse_rules({"rules": [{"id": "r", **condition, "tags": ["T"]}]}, "t.json"))
    [result] = rules.explain(rec)
    assert result.fired is expected, result.detail
    assert names(rules.apply(rec)) == (["T"] if expected else [])


def test_fired_condition_is_recorded_on_the_tag() -> None:
    rules = RuleSet(
        parse_rules(
            {
                "rules": [
                    {
                        "id": "city",
                        "any": [{"description_keywords": ["skyline"]}, {"metadata_conditions": {"width": 1}}],
                        "tags": ["City"],
                    }
                ]
            },
            "t.json",
        )
    )
    [tag] = rules.apply(record("A skyline at dusk"))
    assert tag.origin == "rule:city"
    assert tag.condition == "description_keywords: 'skyline' in AI description"


def test_explanation_says_what_did_not_hold() -> None:
    rules = RuleSet(
        parse_rules({"rules": [{"metadata_conditions": {"width_gte": 1920, "fps": 25}, "tags": ["X"]}]}, "t.json")
    )
    [result] = rules.explain(record())
    assert not result.fired
    assert "FAILED width_gte 1920 (is 1280)" in result.detail and "fps 25 (is 25.0)" in result.detail


# -- validation: file, rule, field -------------------------------------------------------------
BAD: list[tuple[str, Any, list[str]]] = [
    (
        "unknown condition",
        {
            "rules": [
                {"description_keywords": ["a"], "tags": ["a"]},
                {"description_keywords": ["b"], "tags": ["b"]},
                {"id": "night", "metadata_conditions": {"duration_gtt": 5}, "tags": ["x"]},
            ]
        },
        [
            "rule 3 (id 'night')",
            "metadata_conditions.duration_gtt",
            "unknown condition 'duration_gtt'",
            "did you mean 'duration_gt'",
        ],
    ),
    (
        "wrong value type",
        {"rules": [{"metadata_conditions": {"duration_gt": "ten"}, "tags": ["x"]}]},
        ["rule 1", "metadata_conditions.duration_gt", "expected a number"],
    ),
    (
        "flag needs bool",
        {"rules": [{"metadata_conditions": {"has_audio": "yes"}, "tags": ["x"]}]},
        ["metadata_conditions.has_audio", "true or false"],
    ),
    (
        "text is not ordered",
        {"rules": [{"metadata_conditions": {"codec_gt": "h264"}, "tags": ["x"]}]},
        ["metadata_conditions.codec_gt", "cannot be compared"],
    ),
    (
        "unknown resolution",
        {"rules": [{"metadata_conditions": {"resolution_gte": "8K"}, "tags": ["x"]}]},
        ["metadata_conditions.resolution_gte", "unknown resolution"],
    ),
    (
        "bad regex",
        {"rules": [{"metadata_conditions": {"codec_regex": "(h26"}, "tags": ["x"]}]},
        ["metadata_conditions.codec_regex", "bad regular expression"],
    ),
    (
        "bad filename regex",
        {"rules": [{"filename_patterns": ["re:[a-"], "tags": ["x"]}]},
        ["filename_patterns", "bad regular expression"],
    ),
    ("empty tags", {"rules": [{"description_keywords": ["a"], "tags": []}]}, ["rule 1", "tags", "non-empty list"]),
    ("blank tag", {"rules": [{"description_keywords": ["a"], "tags": ["ok", " "]}]}, ["tags[1]"]),
    ("missing tags", {"rules": [{"description_keywords": ["a"]}]}, ["rule 1", "tags: missing"]),
    ("no condition", {"rules": [{"id": "x", "tags": ["a"]}]}, ["rule 1 (id 'x')", "no condition"]),
    (
        "unknown kind",
        {"rules": [{"description_keyword": ["a"], "tags": ["a"]}]},
        ["description_keyword", "did you mean 'description_keywords'"],
    ),
    (
        "keywords not a list",
        {"rules": [{"description_keywords": "drone", "tags": ["a"]}]},
        ["description_keywords", "non-empty list of strings"],
    ),
    ("empty keyword", {"rules": [{"description_keywords": ["drone", ""], "tags": ["a"]}]}, ["description_keywords[1]"]),
    (
        "nested path",
        {
            "rules": [
                {
                    "any": [{"metadata_conditions": {"fps": 1}}, {"not": {"metadata_conditions": {"fpz": 1}}}],
                    "tags": ["a"],
                }
            ]
        },
        ["any[1].not.metadata_conditions.fpz"],
    ),
    (
        "in needs list",
        {"rules": [{"metadata_conditions": {"width_in": 5}, "tags": ["a"]}]},
        ["width_in", "non-empty list"],
    ),
    (
        "confidence",
        {"rules": [{"description_keywords": ["a"], "tags": ["a"], "confidence": 1.5}]},
        ["confidence", "0 to 1"],
    ),
    (
        "duplicate id",
        {
            "rules": [
                {"id": "a", "description_keywords": ["a"], "tags": ["a"]},
                {"id": "a", "description_keywords": ["b"], "tags": ["b"]},
            ]
        },
        ["rule 2 (id 'a')", "same id as rule 1"],
    ),
    ("bad id", {"rules": [{"id": "has space", "description_keywords": ["a"], "tags": ["a"]}]}, ["rule 1", "id:"]),
    ("rules not a list", {"rules": {"a": 1}}, ["'rules' must be a list"]),
    ("not an object", [1, 2], ["expected a JSON object"]),
    ("missing rules", {"rule": []}, ["missing 'rules'"]),
]


@pytest.mark.parametrize("data, parts", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_rules_are_reported_with_file_rule_and_field(tmp_path: Path, data: Any, parts: list[str]) -> None:
    path = tmp_path / "custom_tags.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as e:
        load_rules(cfg(tmp_path, CustomTagRules=str(path)))
    msg = str(e.value)
    assert msg.startswith(f"{path}: ")
    assert "\n" not in msg
    for p in parts:
        assert p in msg


def test_bad_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "custom_tags.json"
    path.write_text('{"rules": [\n  {"tags": ["a"],}\n]}')
    with pytest.raises(ConfigError, match=r"custom_tags.json: not valid JSON: .* line 2"):
        load_rules(cfg(tmp_path, CustomTagRules=str(path)))


def test_missing_rules_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.json: file not found"):
        load_rules(cfg(tmp_path, CustomTagRules=str(tmp_path / "nope.json")))


# -- built-in defaults -----------------------------------------------------------------------------
BUILTIN: list[tuple[str, Record, str, bool]] = [
    ("4K", record(m=media(resolution="4K", width=3840, height=2160)), "High Resolution", True),
    ("1080p is not 4K", record(m=media(resolution="1080p")), "High Resolution", False),
    ("long", record(m=media(duration=601.0)), "Extended Play", True),
    ("ten minutes exactly", record(m=media(duration=600.0)), "Extended Play", False),
    ("h264", record(), "H.264 Codec", True),
    ("hevc", record(m=media(video_codec="hevc")), "H.264 Codec", False),
    ("action", record("Non-stop action in the streets"), "Action", True),
    ("transaction is not action", record("A bank transaction"), "Action", False),
    ("night", record("A night shot of the harbour"), "Night-time Filming", True),
    (
        "night from analyzer tag",
        record(analysis=Analysis(backend="builtin", tags=[Tag("night", "analyzer:builtin/1")])),
        "Night-time Filming",
        True,
    ),
    ("knight is not night", record("A knight on a horse"), "Night-time Filming", False),
    ("vertical", record(m=media(width=1080, height=1920)), "Vertical Video", True),
    ("landscape", record(), "Vertical Video", False),
    ("short", record(m=media(duration=15.0)), "Short Clip", True),
    ("not short", record(m=media(duration=61.0)), "Short Clip", False),
    ("no audio stream", record(m=media(audio_streams=0, audio_codec=None)), "Silent", True),
    ("silent audio", record(analysis=Analysis(backend="builtin", facts={"audio": {"silent": True}})), "Silent", True),
    ("audio, not measured", record(), "Silent", False),
    ("subtitles", record(m=media(subtitle_streams=1)), "Has Subtitles", True),
    ("60 fps", record(m=media(fps=59.94)), "High Frame Rate", True),
    ("30 fps", record(m=media(fps=29.97)), "High Frame Rate", False),
    ("120 fps", record(m=media(fps=120.0)), "Slow Motion Candidate", True),
    ("60 fps not slow motion", record(m=media(fps=60.0)), "Slow Motion Candidate", False),
    ("fast-paced", record(scenes=SceneInfo(scene_count=20, cuts_per_minute=38.0)), "Fast-paced", True),
    (
        "slow-paced",
        record(m=media(duration=300.0), scenes=SceneInfo(scene_count=5, cuts_per_minute=0.8)),
        "Slow-paced",
        True,
    ),
    ("pace unknown", record(m=media(duration=300.0)), "Slow-paced", False),
]


@pytest.mark.parametrize("rec, tag, expected", [b[1:] for b in BUILTIN], ids=[b[0] for b in BUILTIN])
def test_builtin_defaults(tmp_path: Path, rec: Record, tag: str, expected: bool) -> None:
    tags = load_rules(cfg(tmp_path)).apply(rec)
    assert (tag in names(tags)) is expected
    for t in tags:
        assert t.origin.startswith("builtin:") and t.condition


def test_defaults_can_be_turned_off(tmp_path: Path) -> None:
    assert len(load_rules(cfg(tmp_path, UseDefaults="false"))) == 0
    rec = record(m=media(resolution="4K"))
    assert load_rules(cfg(tmp_path, UseDefaults="false")).apply(rec) == []


# -- provenance and merging --------------------------------------------------------------------------
def test_tagger_merges_user_analyzer_and_rule_tags(tmp_path: Path, original: RuleSet) -> None:
    rules = RuleSet([*load_rules(cfg(tmp_path)), *original])
    tagger = Tagger(rules, builtin_taxonomy())
    rec = record(
        analysis=Analysis(
            backend="qwen",
            model="Qwen/Qwen2-VL-2B-Instruct",
            description="drone shot",
            tags=[Tag("Drone Footage", "x", 0.4), Tag("beach", "analyzer:qwen/Qwen/Qwen2-VL-2B-Instruct", 0.9)],
        ),
        m=media(resolution="4K", duration=660.0),
        tags=[Tag("My Pick", "user"), Tag("old rule tag", "rule:gone")],
    )
    tagger.tag(rec)
    by_name = {t.name: t for t in rec.tags}
    assert by_name["My Pick"].origin == "user"  # user tags survive
    assert "old rule tag" not in by_name  # stale rule tags go
    assert by_name["beach"].origin == "analyzer:qwen/Qwen/Qwen2-VL-2B-Instruct"
    assert by_name["Drone Footage"].origin == "rule:custom-1"  # 1.0 beats the analyzer's 0.4
    assert by_name["High Resolution"].origin == "rule:custom-2"  # the user's rule wins a tie with builtin
    assert sum(t.name.casefold() == "high resolution" for t in rec.tags) == 1


def test_user_tag_wins_and_analyzer_origin_is_filled(tmp_path: Path) -> None:
    tagger = Tagger(load_rules(cfg(tmp_path)), builtin_taxonomy())
    rec = record(
        analysis=Analysis(backend="builtin", tags=[Tag("Silent", "", 1.0)]),
        m=media(audio_streams=0),
        tags=[Tag("silent", "user", 0.1)],
    )
    tagger.tag(rec)
    [silent] = [t for t in rec.tags if t.name.casefold() == "silent"]
    assert silent.origin == "user"
    tagger2 = Tagger(load_rules(cfg(tmp_path, UseDefaults="false")), builtin_taxonomy())
    rec2 = record(analysis=Analysis(backend="builtin", tags=[Tag("dark", "", 0.6)]))
    tagger2.tag(rec2)
    assert [(t.name, t.origin) for t in rec2.tags] == [("dark", "analyzer:builtin/builtin")]


def test_retag_is_stable(tmp_path: Path) -> None:
    tagger = Tagger(load_rules(cfg(tmp_path)), builtin_taxonomy())
    rec = record("action at night", m=media(resolution="4K", duration=700.0))
    first = tagger.apply(rec)
    assert first.changed and first.added >= 4 and first.removed == 0
    second = tagger.apply(rec)
    assert (second.changed, second.added, second.removed) == (False, 0, 0)


# -- priority keywords and examples ------------------------------------------------------------------
def test_priority_keywords(tmp_path: Path) -> None:
    p = tmp_path / "priority_keywords.json"
    p.write_text(json.dumps({"priority_keywords": [" faces ", "Faces", "vehicles  on roads"]}))
    assert load_priority_keywords(cfg(tmp_path, PriorityKeywords=str(p))) == ["faces", "vehicles on roads"]
    assert load_priority_keywords(cfg(tmp_path)) == []


@pytest.mark.parametrize(
    "data, part",
    [
        ({"priority_keywords": "faces"}, "expected a list"),
        ({"priority_keywords": ["ok", 3]}, "item 2"),
        ({"keywords": []}, "missing 'priority_keywords'"),
    ],
)
def test_bad_priority_keywords(tmp_path: Path, data: Any, part: str) -> None:
    p = tmp_path / "priority_keywords.json"
    p.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=part):
        load_priority_keywords(cfg(tmp_path, PriorityKeywords=str(p)))


def test_examples_are_valid_and_kept(tmp_path: Path) -> None:
    written = write_examples(tmp_path / "d")
    assert sorted(p.name for p in written) == ["custom_tags.json", "priority_keywords.json"]
    c = cfg(
        tmp_path,
        CustomTagRules=str(tmp_path / "d/custom_tags.json"),
        PriorityKeywords=str(tmp_path / "d/priority_keywords.json"),
    )
    custom = [r for r in load_rules(c) if r.origin.startswith("rule:")]
    assert len(custom) >= 4
    assert load_priority_keywords(c)
    (tmp_path / "d/custom_tags.json").write_text('{"rules": []}')
    assert write_examples(tmp_path / "d") == []  # nothing overwritten
    assert (tmp_path / "d/custom_tags.json").read_text() == '{"rules": []}'
    assert len(write_examples(tmp_path / "d", force=True)) == 2
    assert not list((tmp_path / "d").glob(".*tmp"))
