"""Classification: the original default behaviour, scored signals, analyzer and rule signals, validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from videokit.config import load_config
from videokit.errors import ConfigError
from videokit.record import Analysis, MediaInfo, Record, Source, Tag
from videokit.tagging import Tagger, check_config, load_rules, load_taxonomy
from videokit.tagging.classify import builtin_taxonomy, parse_taxonomy


def cfg(tmp_path: Path, **rules: str) -> Any:
    return load_config(
        None,
        env={},
        overrides={("Library", "Location"): str(tmp_path / "lib"), **{("Rules", k): v for k, v in rules.items()}},
    )


def rec(*tags: str, description: str | None = None, category: str | None = None, **kw: Any) -> Record:
    analysis = Analysis(backend="qwen", model="m", description=description, category=category)
    return Record(
        id="c" * 64,
        media=MediaInfo(duration=20.0, width=640, height=360, audio_streams=1),
        analysis=analysis,
        tags=[Tag(t, "rule:x") for t in tags],
        **kw,
    )


@pytest.mark.parametrize(
    "tags, description, category",
    [
        (["Action"], None, "Action"),
        (["High Intensity"], None, "Action"),
        (["high-intensity"], None, "Action"),  # the original file's spelling
        (["Documentary Footage"], None, "Documentary"),
        ([], "A narrative about the harbour.", "Documentary"),
        (["Aerial Shot"], None, "Cinematic"),
        (["Drone Footage"], None, "Cinematic"),
        (["Action", "Aerial Shot"], None, "Action"),  # tie: the category listed first, as the original's order
        ([], None, "Unclassified"),
        (["H.264 Codec", "Short Clip"], "a plain clip", "Unclassified"),
    ],
)
def test_original_default_behaviour(tags: list[str], description: str | None, category: str) -> None:
    c = builtin_taxonomy().classify(rec(*tags, description=description))
    assert c.category == category
    assert set(c.scores) == set(builtin_taxonomy().categories) - {"Unclassified"}
    if category != "Unclassified":
        assert 0 < c.confidence < 1 and c.scores[category] == max(c.scores.values())


@pytest.mark.parametrize(
    "record",
    [
        rec(),
        rec("H.264 Codec", "Short Clip", description="a plain clip"),
        rec(category="Cooking"),  # a suggestion outside the taxonomy is no signal
    ],
)
def test_no_signal_is_unclassified_with_confidence_zero(record: Record) -> None:
    """Nothing supports any label, so the default is not a finding (it used to report 1.0)."""
    c = builtin_taxonomy().classify(record)
    assert c.category == "Unclassified" and c.confidence == 0.0
    assert set(c.scores.values()) == {0.0}


def test_unclassified_confidence_falls_as_evidence_rises() -> None:
    tax = builtin_taxonomy()
    weak = tax.classify(rec("Fast-paced"))  # 0.5 < min_score
    assert weak.category == "Unclassified" and 0 < weak.confidence < 1.0 and weak.scores["Action"] == 0.5
    weaker = tax.classify(rec("Fast-paced", "music-like audio"))  # 0.5 Action + 0.5 Music, neither reaches 1
    assert weaker.category == "Unclassified" and weaker.confidence < weak.confidence


def test_more_evidence_more_confidence() -> None:
    tax = builtin_taxonomy()
    one = tax.classify(rec("Aerial Shot"))
    two = tax.classify(rec("Aerial Shot", description="A cinematic timelapse"))
    assert one.category == two.category == "Cinematic"
    assert two.confidence > one.confidence


def test_analyzer_suggestion_is_one_weighted_signal() -> None:
    tax = builtin_taxonomy()
    assert tax.classify(rec(category="sports")).category == "Sports"  # case-insensitive
    # The original tag rule (weight 2) outweighs the analyzer's suggestion (1.5).
    assert tax.classify(rec("Action", category="Music")).category == "Action"
    # An unknown suggestion is ignored, not an error.
    assert tax.classify(rec(category="Cooking")).category == "Unclassified"


def test_scored_over_ai_output_and_user_fields(tmp_path: Path) -> None:
    p = tmp_path / "taxonomy.json"
    p.write_text(
        json.dumps(
            {
                "categories": ["Pets", "Other"],
                "default": "Other",
                "min_score": 1,
                "signals": [
                    {"category": "Pets", "weight": 1, "when": {"user_fields": {"label_in": ["cat", "dog"]}}},
                    {"category": "Pets", "weight": 0.5, "when": {"description_keywords": ["puppy"]}},
                ],
            }
        )
    )
    tax = load_taxonomy(cfg(tmp_path, Taxonomy=str(p)))
    assert tax.classify(rec(sources=[Source("u", user_fields={"label": "Dog"})])).category == "Pets"
    assert tax.classify(rec(description="A puppy")).category == "Other"  # 0.5 < min_score
    c = tax.classify(rec(description="A puppy", sources=[Source("u", user_fields={"label": "cat"})]))
    assert c.category == "Pets" and c.scores == {"Pets": 1.5} and c.confidence == pytest.approx(0.6)


def test_rule_category_counts(tmp_path: Path) -> None:
    rules = tmp_path / "custom_tags.json"
    rules.write_text(
        json.dumps(
            {
                "rules": [
                    {
                        "id": "pitch",
                        "description_keywords": ["pitch"],
                        "tags": ["Pitch"],
                        "category": "sports",
                        "confidence": 0.9,
                    }
                ]
            }
        )
    )
    tagger = check_config(cfg(tmp_path, CustomTagRules=str(rules)))
    r = rec(description="Players on the pitch")
    tagger.tag(r)
    tagger.classify(r)
    assert r.classification is not None
    assert r.classification.category == "Sports" and r.classification.scores["Sports"] == pytest.approx(
        2.0 * 0.9
    )  # rule_weight x confidence
    _, signals, decision = tagger.explain(r)
    assert decision.category == "Sports"
    assert any(s.label == "rule:pitch" and s.fired for s in signals)


def test_rule_category_must_be_in_taxonomy(tmp_path: Path) -> None:
    rules = tmp_path / "custom_tags.json"
    rules.write_text(
        json.dumps({"rules": [{"id": "k", "description_keywords": ["x"], "tags": ["X"], "category": "Cooking"}]})
    )
    with pytest.raises(
        ConfigError, match=r"custom_tags.json: rule 1 \(id 'k'\): category: 'Cooking' is not in the taxonomy"
    ):
        Tagger(load_rules(cfg(tmp_path, CustomTagRules=str(rules))), builtin_taxonomy())


BAD = [
    ({"categories": []}, "categories: expected a non-empty list"),
    ({"categories": ["A", "a"]}, "listed twice"),
    (
        {"categories": ["A"], "signals": [{"category": "B", "when": {"has_tags": ["x"]}}]},
        "signal 1: category: 'B' is not one",
    ),
    (
        {"categories": ["A"], "signals": [{"category": "A", "weight": -1, "when": {"has_tags": ["x"]}}]},
        "signal 1: weight",
    ),
    ({"categories": ["A"], "signals": [{"category": "A"}]}, "signal 1: when: missing"),
    (
        {"categories": ["A"], "signals": [{"category": "A", "when": {"has_tag": ["x"]}}]},
        r"signal 1 \(A\): when.has_tag: unknown condition kind",
    ),
    (
        {"categories": ["A"], "signals": [{"category": "A", "when": {"metadata_conditions": {"fps_gt": "x"}}}]},
        "when.metadata_conditions.fps_gt: expected a number",
    ),
    ({"categories": ["A"], "min_score": "high"}, "min_score: expected a number"),
    ({"categories": ["A"], "colour": 1}, "unknown top-level key 'colour'"),
]


@pytest.mark.parametrize("data, message", BAD)
def test_bad_taxonomy(tmp_path: Path, data: Any, message: str) -> None:
    p = tmp_path / "taxonomy.json"
    p.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=message):
        load_taxonomy(cfg(tmp_path, Taxonomy=str(p)))


def test_builtin_taxonomy_matches_the_analyzer_categories() -> None:
    tax = builtin_taxonomy()
    assert tax.categories == (
        "Action",
        "Sports",
        "Music",
        "Documentary",
        "Educational",
        "News",
        "Cinematic",
        "People & Vlogs",
        "Nature",
        "Animation",
        "Gaming",
        "Unclassified",
    )
    assert tax.default == "Unclassified"
    assert parse_taxonomy({"categories": ["X"]}, "t").categories == ("X", "Unclassified")
