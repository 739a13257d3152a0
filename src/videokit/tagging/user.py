"""Tags a person puts on a video (origin ``user``).

They outrank every other origin for the same name, survive ``videokit retag`` and a re-run of
the same content, and count in classification like any other tag.
"""

from __future__ import annotations

from collections.abc import Iterable

from videokit.errors import InputError
from videokit.record import Record, Tag
from videokit.tagging.engine import merge_tags

MAX_NAME = 100


def check_name(name: str) -> str:
    """A tag name stripped of outer spaces, or InputError saying what is wrong with it."""
    clean = " ".join(name.split())
    if not clean:
        raise InputError("a tag name cannot be empty")
    if len(clean) > MAX_NAME:
        raise InputError(f"tag {clean[:20]!r}...: longer than {MAX_NAME} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in name if c not in "\t\n\r"):
        raise InputError(f"tag {clean!r}: control characters are not allowed")
    return clean


def edit_user_tags(record: Record, add: Iterable[str] = (), remove: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """Add and remove ``user`` tags on ``record``; returns (added, removed) names.

    Removing a name that only a rule or an analyzer put there is an InputError naming that
    origin: those tags come back on the next retag, so the rule (or the analysis) is what to change.
    """
    adds = [check_name(n) for n in add]
    removes = [check_name(n) for n in remove]
    mine = {t.name.casefold(): t for t in record.tags if t.origin == "user"}
    removed = []
    for name in removes:
        if mine.pop(name.casefold(), None) is not None:
            removed.append(name)
            continue
        other = next((t for t in record.tags if t.name.casefold() == name.casefold()), None)
        if other is None:
            raise InputError(f"{record.id[:12]}: has no tag {name!r}")
        raise InputError(
            f"{record.id[:12]}: tag {other.name!r} comes from {other.origin}, not from a user; "
            "change that rule (then 'videokit retag') instead"
        )
    added = []
    for name in adds:
        if name.casefold() not in mine:
            added.append(name)
        mine[name.casefold()] = Tag(name, "user", 1.0)
    others = [t for t in record.tags if t.origin != "user"]
    record.tags = merge_tags([*mine.values(), *others])
    return added, removed


def carry_user_tags(record: Record, stored: Record) -> bool:
    """Put the user tags of the stored copy of this content onto a freshly processed
    ``record``; True when that changed its tags."""
    have = {t.name.casefold() for t in record.tags if t.origin == "user"}
    extra = [t for t in stored.tags if t.origin == "user" and t.name.casefold() not in have]
    if extra:
        record.tags = merge_tags([*extra, *record.tags])
    return bool(extra)
