"""Reading the user's JSON data files (rules, taxonomy, keywords) with errors naming the file."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from videokit.errors import ConfigError


def read_json(path: Path | str) -> Any:
    """Parse a JSON file; any problem is a :class:`ConfigError` naming the file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None
    return parse_json(text, str(path))


def parse_json(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{name}: not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None


def packaged(name: str) -> tuple[str, Any]:
    """(display name, parsed content) of a JSON file shipped in ``videokit/data``."""
    ref = resources.files("videokit") / "data" / name
    return f"videokit/data/{name}", parse_json(ref.read_text(encoding="utf-8"), f"videokit/data/{name}")


def check_top_level(data: Any, name: str, required: str, allowed: set[str]) -> dict[str, Any]:
    """The file must be an object with ``required``; keys starting with '_' or '$' are comments."""
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: expected a JSON object with {required!r}, got {type(data).__name__}")
    if required not in data:
        raise ConfigError(f"{name}: missing {required!r}")
    for key in data:
        if key not in allowed and key != required and not key.startswith(("_", "$")):
            raise ConfigError(
                f"{name}: unknown top-level key {key!r}; expected {', '.join(sorted(allowed | {required}))}"
            )
    return data
