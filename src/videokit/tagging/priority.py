"""``priority_keywords.json`` (``{"priority_keywords": [...]}``) and the example files ``init`` writes."""

from __future__ import annotations

import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videokit.errors import ConfigError
from videokit.tagging.jsonfile import check_top_level, read_json

if TYPE_CHECKING:
    from videokit.config import Config

EXAMPLES = {
    "custom_tags.json": "example_custom_tags.json",
    "priority_keywords.json": "example_priority_keywords.json",
}


def parse_priority_keywords(data: Any, name: str) -> list[str]:
    """Validated keywords, stripped, duplicates (case-insensitive) dropped, order kept."""
    check_top_level(data, name, "priority_keywords", {"description"})
    items = data["priority_keywords"]
    if not isinstance(items, list):
        raise ConfigError(f"{name}: priority_keywords: expected a list of strings, got {type(items).__name__}")
    out: list[str] = []
    seen: set[str] = set()
    for i, v in enumerate(items, 1):
        if not isinstance(v, str) or not v.strip():
            raise ConfigError(f"{name}: priority_keywords item {i}: expected a non-empty string, got {v!r}")
        text = " ".join(v.split())
        if text.casefold() not in seen:
            seen.add(text.casefold())
            out.append(text)
    return out


def load_priority_keywords_file(path: Path | str) -> list[str]:
    return parse_priority_keywords(read_json(path), str(path))


def load_priority_keywords(config: Config) -> list[str]:
    """``[Rules] PriorityKeywords``, validated; an empty list when unset."""
    path = config.path_setting("Rules", "PriorityKeywords")
    return load_priority_keywords_file(path) if path else []


def write_examples(directory: Path, *, force: bool = False) -> list[Path]:
    """Write example ``custom_tags.json`` and ``priority_keywords.json`` into ``directory``.

    Existing files are kept unless ``force``; returns the files written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for target, packaged_name in EXAMPLES.items():
        path = directory / target
        if path.exists() and not force:
            continue
        text = (resources.files("videokit") / "data" / packaged_name).read_text(encoding="utf-8")
        fd, tmp = tempfile.mkstemp(prefix=f".{target}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(path)
    return written
