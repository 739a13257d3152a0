"""Case-insensitive keyword and phrase matching on word boundaries.

"Drone" matches "drone footage,"; "Bird's Eye" matches "bird’s  eye"; "act" does not match
"action". Case-insensitivity is :meth:`str.casefold` on both sides, so callers that match
many keywords against the same text casefold the text once (:func:`fold`).
"""

from __future__ import annotations

import re

# Apostrophe look-alikes are treated as one character so "Bird's" matches "Bird’s".
_APOSTROPHES = "'\u2019\u2018\u02bc\u0060\u00b4"
_APOS_CLASS = "[" + re.escape(_APOSTROPHES) + "]"
_APOS_TABLE = str.maketrans({c: "'" for c in _APOSTROPHES})


def fold(text: str) -> str:
    """The form both keywords and text are compared in."""
    return text.casefold()


def _is_word(ch: str) -> bool:
    return bool(re.match(r"\w", ch))


def _pattern(keyword: str) -> str:
    words = fold(keyword).translate(_APOS_TABLE).split()
    body = r"\s+".join(_APOS_CLASS.join(re.escape(p) for p in w.split("'")) for w in words)
    start = r"(?<!\w)" if _is_word(words[0][0]) else ""
    end = r"(?!\w)" if _is_word(words[-1][-1]) else ""
    return start + body + end


class KeywordMatcher:
    """Matches any of ``keywords`` in a text; keywords must contain a non-space character."""

    __slots__ = ("keywords", "_regex", "_by_folded", "_needles")

    def __init__(self, keywords: list[str]) -> None:
        cleaned = [k for k in keywords if k.strip()]
        if not cleaned:
            raise ValueError("no keywords")
        self.keywords = cleaned
        self._by_folded = {" ".join(fold(k).translate(_APOS_TABLE).split()): k for k in cleaned}
        # Longest first so a phrase wins over a keyword that is its prefix.
        ordered = sorted(cleaned, key=len, reverse=True)
        self._regex = re.compile("|".join(f"(?:{_pattern(k)})" for k in ordered))
        # A literal piece of every keyword: when none is in the text, the regex cannot match.
        needles = [max(re.split(r"[\s']+", fold(k).translate(_APOS_TABLE)), key=len) for k in cleaned]
        self._needles = tuple(set(needles)) if all(needles) else None

    def find_folded(self, folded_text: str) -> str | None:
        """The keyword (as the user wrote it) found in already-folded text, or None."""
        if self._needles is not None and not any(n in folded_text for n in self._needles):
            return None
        m = self._regex.search(folded_text)
        if m is None:
            return None
        key = " ".join(m.group(0).translate(_APOS_TABLE).split())
        return self._by_folded.get(key, m.group(0))

    def find(self, text: str) -> str | None:
        """The keyword (as the user wrote it) found in ``text``, or None."""
        return self.find_folded(fold(text))

    def matches(self, text: str) -> bool:
        return self.find(text) is not None
