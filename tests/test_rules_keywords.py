"""The keyword matcher: examples from the issue and properties (hypothesis)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videokit.tagging.keywords import KeywordMatcher


@pytest.mark.parametrize(
    "keyword, text, expected",
    [
        ("Drone", "drone footage,", "Drone"),
        ("Drone", "Drones over the sea", None),
        ("Bird's Eye", "a bird's eye view", "Bird's Eye"),
        ("Bird's Eye", "a BIRD’S\n EYE view", "Bird's Eye"),
        ("Bird's Eye", "birds eye", None),
        ("act", "action", None),
        ("act", "an act of kindness", "act"),
        ("act", "re-act", "act"),  # a hyphen is a boundary
        ("night-time", "Night-time filming", "night-time"),
        ("C++", "learn C++ today", "C++"),
        ("C++", "learn C++x", "C++"),  # a keyword edge that is not a letter needs no boundary
        ("#vlog", "day 3 #vlog!", "#vlog"),
        ("straße", "STRASSE am Abend", "straße"),  # casefold: ß == ss
        ("café", "Le CAFÉ du coin", "café"),
        ("足球", "今天 足球 比赛", "足球"),
    ],
)
def test_examples(keyword: str, text: str, expected: str | None) -> None:
    assert KeywordMatcher([keyword]).find(text) == expected


def test_longest_phrase_is_reported() -> None:
    m = KeywordMatcher(["night", "night shot"])
    assert m.find("a night shot of the bay") == "night shot"


def test_needs_a_keyword() -> None:
    with pytest.raises(ValueError):
        KeywordMatcher(["  ", ""])


words = st.text(alphabet=st.characters(categories=["Ll", "Lu", "Nd"]), min_size=1, max_size=8)
ascii_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=8)
phrases = st.lists(ascii_words, min_size=1, max_size=3).map(" ".join)
separators = st.text(alphabet=' \t\n,.;:!?()[]"-/', min_size=1, max_size=3)


@settings(max_examples=300, deadline=None)
@given(
    keywords=st.lists(st.text(min_size=1, max_size=12).filter(str.strip), min_size=1, max_size=4),
    text=st.text(max_size=200),
)
def test_never_crashes(keywords: list[str], text: str) -> None:
    found = KeywordMatcher(keywords).find(text)
    assert found is None or found in keywords


@settings(max_examples=300, deadline=None)
@given(kw=phrases, left=separators, right=separators, before=st.text(max_size=20), after=st.text(max_size=20))
def test_matches_between_boundaries(kw: str, left: str, right: str, before: str, after: str) -> None:
    assert KeywordMatcher([kw]).find(before + left + kw + right + after) is not None
    assert KeywordMatcher([kw]).find(kw) is not None


@settings(max_examples=300, deadline=None)
@given(kw=ascii_words, glue_left=words, glue_right=words)
def test_only_matches_on_boundaries(kw: str, glue_left: str, glue_right: str) -> None:
    # The keyword only appears glued to other word characters: never a match.
    text = f"{glue_left}{kw}{glue_right} {glue_left}{kw} {kw}{glue_right}"
    standalone = re.compile(rf"(?<!\w){re.escape(kw.casefold())}(?!\w)")
    if standalone.search(text.casefold()) is None:
        assert KeywordMatcher([kw]).find(text) is None


@settings(max_examples=300, deadline=None)
@given(
    kw=phrases,
    text=st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.'-\n", max_size=80),
)
def test_case_insensitive(kw: str, text: str) -> None:
    m = KeywordMatcher([kw])
    hit = m.find(text) is not None
    assert (m.find(text.upper()) is not None) == hit
    assert (m.find(text.swapcase()) is not None) == hit
    assert (KeywordMatcher([kw.swapcase()]).find(text) is not None) == hit
