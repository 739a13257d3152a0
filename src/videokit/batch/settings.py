"""Which settings change results, and a hash of them: an input done with the same hash is
not processed again.

Each setting declares whether it changes what a record says (``Option.affects_results`` in
:mod:`videokit.config`; where files go, how to download, how many workers... do not). Plug-in
sections count the same way. Files named by settings (rules, taxonomy, keywords) count by
their content, not their path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videokit.config import schema

if TYPE_CHECKING:
    from videokit.config import Config

# Settings naming a file whose content matters.
FILE_SETTINGS = {("Rules", "CustomTagRules"), ("Rules", "Taxonomy"), ("Rules", "PriorityKeywords")}


def result_settings(config: Config) -> dict[str, Any]:
    """``"Section.Key" -> value`` for every setting that changes results (files by content)."""
    out: dict[str, Any] = {}
    known = schema()
    for (section, key), value in sorted(config.values.items()):
        if not _affects(known, section, key):
            continue
        if (section, key) in FILE_SETTINGS and value:
            value = _file_digest(Path(value))
        out[f"{section}.{key}"] = value
    return out


def portable_settings(config: Config) -> dict[tuple[str, str], Any]:
    """The result-changing settings a worker on another machine should apply (files excluded:
    paths differ between machines, so workers use their own)."""
    out: dict[tuple[str, str], Any] = {}
    known = schema()
    for (section, key), value in config.values.items():
        if not _affects(known, section, key) or (section, key) in FILE_SETTINGS:
            continue
        out[(section, key)] = value
    return out


def settings_hash(config: Config, skip: Iterable[str] = ()) -> str:
    payload = {"settings": result_settings(config), "skip": sorted(set(skip))}
    text = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _file_digest(path: Path) -> str:
    try:
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return f"missing:{path}"


def _affects(known: dict[str, Any], section: str, key: str) -> bool:
    opt = known.get(section, {}).get(key)
    return True if opt is None else bool(opt.affects_results)
