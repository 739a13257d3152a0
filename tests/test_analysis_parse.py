"""Prompt building and robust parsing of model replies (shared by the qwen and api backends)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videokit.analysis import AnalysisRequest, FrameRef
from videokit.analysis.cache import cache_key
from videokit.analysis.parse import extract_json, parse_analysis
from videokit.analysis.stage import pick_frames
from videokit.record import Record

QUESTIONS = ["Is it night?", "How many people?"]


def request(**kw) -> AnalysisRequest:
    base = dict(
        video=Path("v.mp4"),
        record=Record(id="abc"),
        frames=[FrameRef(Path("a.jpg"), 0.0, 0), FrameRef(Path("b.jpg"), 4.0, 1)],
        instruction="Describe this video.",
        questions=list(QUESTIONS),
        priority_keywords=["drones", "sunsets"],
    )
    base.update(kw)
    return AnalysisRequest(**base)


def parse(text: str, **kw):
    return parse_analysis(text, request(**kw), backend="api", model="m", origin="analyzer:api/m")


def test_prompt_has_instruction_keywords_questions_schema_and_taxonomy():
    p = request().prompt
    assert p.startswith("Describe this video.\nFocus on these aspects: drones, sunsets.")
    assert "1. Is it night?" in p and "2. How many people?" in p
    assert '"sentiment"' in p and "positive|neutral|negative" in p
    assert "People & Vlogs" in p
    assert "scene" not in request().prompt.split("Reply with")[0]
    assert "- scene 1: frames at 4.0s" in request(per_scene=True).prompt


def test_prompt_without_keywords_has_no_focus_line():
    assert "Focus on" not in request(priority_keywords=[]).prompt


GOOD = (
    '{"description": "A drone over a beach.", "answers": {"Is it night?": "No", "How many people?": "Two"}, '
    '"sentiment": {"label": "Positive", "score": 0.8, "reason": "sunny"}, "tags": ["drone", "Beach"], '
    '"category": "nature", "scenes": {"0": "sky", "1": "sand"}}'
)


@pytest.mark.parametrize(
    "text",
    [
        GOOD,
        f"```json\n{GOOD}\n```",
        f"Sure! Here is the analysis:\n{GOOD}\nHope this helps.",
        GOOD.replace('"Beach"]', '"Beach",]').replace('"sand"}}', '"sand",},}'),
        GOOD.replace('"', "'"),
        GOOD.replace('"', "\u201c", 2),
    ],
    ids=["plain", "fenced", "prose", "trailing-commas", "single-quotes", "smart-quotes"],
)
def test_recovers_json_from_messy_replies(text):
    a = parse(text)
    assert a.description == "A drone over a beach."
    assert a.answers == {"Is it night?": "No", "How many people?": "Two"}
    assert (a.sentiment.label, a.sentiment.score, a.sentiment.reason) == ("positive", 0.8, "sunny")
    assert [t.name for t in a.tags] == ["drone", "Beach"]
    assert a.category == "Nature"  # the taxonomy's spelling
    assert a.scene_descriptions == {"0": "sky", "1": "sand"}
    assert a.warnings == []


def test_single_quoted_values_with_apostrophes():
    a = parse("{'description': 'It's a sunny day', 'tags': ['beach']}")
    assert a.description == "It's a sunny day"


def test_invalid_json_becomes_the_description_with_a_warning():
    a = parse("A beach at dusk, two people walking. {oops")
    assert a.description == "A beach at dusk, two people walking. {oops"
    assert a.answers == {} and a.tags == []
    assert any("not valid JSON" in w for w in a.warnings)


def test_empty_reply_is_a_warning_not_a_crash():
    a = parse("")
    assert a.description is None and a.warnings == ["model returned an empty reply"]


def test_loose_shapes_are_normalised():
    a = parse(
        '{"summary": "x", "answers": ["No", "Three"], "sentiment": "negative", '
        '"tags": "a, b, A", "category": "Underwater basket weaving"}'
    )
    assert a.description == "x"
    assert a.answers == {"Is it night?": "No", "How many people?": "Three"}
    assert a.sentiment.label == "negative" and a.sentiment.score < 0
    assert [t.name for t in a.tags] == ["a", "b"]
    assert a.category is None
    assert any("not in the taxonomy" in w for w in a.warnings)


def test_missing_answers_are_warned():
    a = parse('{"description": "x", "answers": {"Is it night?": "yes"}}')
    assert a.answers == {"Is it night?": "yes"}
    assert any("How many people?" in w for w in a.warnings)


def test_answers_by_number_map_to_questions():
    a = parse('{"description": "x", "answers": {"q2": "four", "1": "no"}}')
    assert a.answers == {"Is it night?": "no", "How many people?": "four"}


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parser_never_crashes(text):
    a = parse(text)
    assert a.description is None or isinstance(a.description, str)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.text(max_size=8),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    )
)
def test_any_json_shape_is_survived(value):
    import json

    a = parse(
        json.dumps(
            {
                "description": value,
                "answers": value,
                "sentiment": value,
                "tags": value,
                "category": value,
                "scenes": value,
            }
        )
    )
    assert isinstance(a.tags, list)
    assert extract_json("no braces at all") is None


def test_cache_key_changes_with_questions_keywords_and_frames():
    class Fake:
        name, version, model = "fake", "1", "m"

        def cache_params(self):
            return {}

    k = cache_key(Fake(), request())
    assert k == cache_key(Fake(), request())
    assert k != cache_key(Fake(), request(questions=["Other?"]))
    assert k != cache_key(Fake(), request(priority_keywords=["boats"]))
    assert k != cache_key(Fake(), request(frames=[FrameRef(Path("a.jpg"), 1.0, 0)]))
    assert k != cache_key(Fake(), request(record=Record(id="other")))


def test_pick_frames_spreads_over_the_video():
    frames = [FrameRef(Path(f"{i}.jpg"), float(i), i // 4) for i in range(16)]
    picked = pick_frames(frames, 4)
    assert [f.time for f in picked] == [0.0, 5.0, 10.0, 15.0]
    assert pick_frames(frames[:3], 8) == frames[:3]
