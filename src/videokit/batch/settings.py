"""Which settings change results, and a hash of them: an input done with the same hash is
not processed again.

Everything counts except the settings listed in :data:`NEUTRAL` (where files go, how to
download, how many workers, where the broker is...). A new setting therefore invalidates
earlier results until someone decides it is neutral. Files named by settings (rules,
taxonomy, keywords) count by their content, not their path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from videokit.config import Config

# Whole sections that never change what a record says.
NEUTRAL_SECTIONS = {"Library", "Paths", "Download", "MongoDB", "Concurrency", "Celery", "Logging"}
# Single keys that never change what a record says.
NEUTRAL = {
    ("QwenVL", "ModelDir"),
    ("QwenVL", "Device"),
    ("QwenVL", "PublicEndpoint"),
    ("QwenVL", "VpcEndpoint"),
    ("QwenVL", "UseVpc"),
    ("QwenVL", "ApiKeyEnv"),
    ("QwenVL", "Timeout"),
    ("QwenVL", "Retries"),
    ("QwenVL", "MaxConcurrentRequests"),
    ("QwenVL", "BatchSize"),
    ("SceneDetection", "ThumbnailFormat"),
}
# Settings naming a file whose content matters.
FILE_SETTINGS = {("Rules", "CustomTagRules"), ("Rules", "Taxonomy"), ("Rules", "PriorityKeywords")}


def result_settings(config: Config) -> dict[str, Any]:
    """``"Section.Key" -> value`` for every setting that changes results (files by content)."""
    out: dict[str, Any] = {}
    for (section, key), value in sorted(config.values.items()):
        if section in NEUTRAL_SECTIONS or (section, key) in NEUTRAL:
            continue
        if (section, key) in FILE_SETTINGS and value:
            value = _file_digest(Path(value))
        out[f"{section}.{key}"] = value
    return out


def portable_settings(config: Config) -> dict[tuple[str, str], Any]:
    """The result-changing settings a worker on another machine should apply (files excluded:
    paths differ between machines, so workers use their own)."""
    out: dict[tuple[str, str], Any] = {}
    for (section, key), value in config.values.items():
        if section in NEUTRAL_SECTIONS or (section, key) in NEUTRAL or (section, key) in FILE_SETTINGS:
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
