"""Configuration: built once at the edge (CLI or library caller) and passed down.

Precedence: explicit overrides (CLI flags) > environment (``VIDEOKIT_<SECTION>_<KEY>``) >
``config.ini`` > defaults. Unknown sections/keys and bad values raise :class:`ConfigError`
naming the file, section and key.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videokit.errors import ConfigError


def _bool(v: str) -> bool:
    s = v.strip().lower()
    if s in {"1", "true", "yes", "on"}:
        return True
    if s in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true/false, got {v!r}")


def _list(v: str) -> list[str]:
    """Items separated by newlines or '|'."""
    parts = [p.strip() for chunk in v.splitlines() for p in chunk.split("|")]
    return [p for p in parts if p]


def _choice(*options: str) -> Callable[[str], str]:
    def parse(v: str) -> str:
        s = v.strip().lower()
        if s not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {v!r}")
        return s

    return parse


def _positive_int(v: str) -> int:
    n = int(v)
    if n < 1:
        raise ValueError(f"expected an integer >= 1, got {v!r}")
    return n


def _nonneg_float(v: str) -> float:
    x = float(v)
    if x < 0:
        raise ValueError(f"expected a number >= 0, got {v!r}")
    return x


@dataclass(frozen=True, slots=True)
class Option:
    default: str
    parse: Callable[[str], Any]
    help: str
    secret: bool = False


# Every setting videokit knows. ``videokit init`` writes this, commented.
SCHEMA: dict[str, dict[str, Option]] = {
    "Library": {
        "Location": Option("videokit-library", str, "Library folder: SQLite file, downloads, thumbnails."),
        "Store": Option("sqlite", _choice("sqlite", "mongodb"), "Where records live: sqlite (embedded) or mongodb."),
    },
    "Paths": {
        "DownloadDirectory": Option("", str, "Downloaded videos (default: <library>/downloads)."),
        "ProcessedDirectory": Option("", str, "Thumbnails, contact sheets, frames (default: <library>/processed)."),
    },
    "Download": {
        "MaxSizeMB": Option("4096", _nonneg_float, "Largest file accepted, even if Content-Length lies."),
        "ConnectTimeout": Option("10", _nonneg_float, "Seconds to connect."),
        "ReadTimeout": Option("30", _nonneg_float, "Seconds without a byte before giving up on a read."),
        "Retries": Option("5", int, "Retries on connection errors, timeouts, 408/429/5xx."),
        "BackoffBase": Option("0.5", _nonneg_float, "First retry delay in seconds (doubles, with jitter)."),
        "BackoffMax": Option("30", _nonneg_float, "Longest delay between retries, seconds."),
        "UserAgent": Option("videokit", str, "User-Agent header."),
    },
    "MongoDB": {
        "URI": Option("", str, "mongodb:// or mongodb+srv:// URI; better set VIDEOKIT_MONGODB_URI.", secret=True),
        "DatabaseName": Option("videokit", str, "Database name."),
        "CollectionName": Option("videos", str, "Collection for video records."),
        "StoreVideos": Option("false", _bool, "Also store the video files in GridFS."),
    },
    "Concurrency": {
        "MaxWorkers": Option("1", _positive_int, "Videos processed in parallel."),
    },
    "Celery": {
        "BrokerURL": Option("redis://127.0.0.1:6379/0", str, "Redis broker for distributed mode.", secret=True),
        "MaxAttempts": Option("3", _positive_int, "Attempts before an input is marked failed."),
        "VisibilityTimeout": Option(
            "3600",
            _positive_int,
            "Seconds before a task held by a lost worker goes to another worker; must exceed the longest task.",
        ),
    },
    "QwenVL": {
        "Backend": Option("builtin", str, "Analyzer: builtin (CPU, no model), qwen (transformers), api, none."),
        "Model": Option("Qwen/Qwen2-VL-2B-Instruct", str, "Hub id or local folder for the qwen backend."),
        "ModelDir": Option("", str, "Cache folder for model weights."),
        "Device": Option("auto", str, "auto, cpu, cuda, cuda:0..."),
        "PublicEndpoint": Option("", str, "OpenAI-compatible base URL (e.g. http://host:8000/v1)."),
        "VpcEndpoint": Option("", str, "VPC base URL, used with UseVpc / --use-vpc."),
        "UseVpc": Option("false", _bool, "Use VpcEndpoint instead of PublicEndpoint."),
        "ApiModel": Option("qwen-vl-max", str, "Model name sent to the api backend."),
        "ApiKeyEnv": Option("DASHSCOPE_API_KEY", str, "Name of the environment variable holding the API key."),
        "Timeout": Option("120", _nonneg_float, "Seconds per API request."),
        "Retries": Option("4", int, "API retries on 429/5xx/timeouts."),
        "MaxConcurrentRequests": Option("4", _positive_int, "Concurrent API requests."),
        "DefaultInstruction": Option(
            "Describe this video in detail: the setting, people, objects, actions and mood.",
            str,
            "Instruction given to the model.",
        ),
        "Questions": Option("", _list, "Targeted questions, separated by '|' or newlines."),
        "PerScene": Option("false", _bool, "Also describe each scene."),
        "MaxFrames": Option("8", _positive_int, "Frames per request."),
        "MinPixels": Option("3136", _positive_int, "Min pixels per frame for the model."),
        "MaxPixels": Option("50176", _positive_int, "Max pixels per frame for the model."),
        "MaxNewTokens": Option("512", _positive_int, "Generation length."),
        "BatchSize": Option("4", _positive_int, "qwen: videos/scenes per generate call (halved on GPU out-of-memory)."),
    },
    "SceneDetection": {
        "DefaultThreshold": Option("27", _nonneg_float, "Hard-cut threshold (0-255 scale of frame difference)."),
        "MinSceneLength": Option("0.5", _nonneg_float, "Shortest scene, seconds."),
        "Mode": Option("adaptive", _choice("adaptive", "content"), "adaptive (robust to motion/flashes) or content."),
        "Gradual": Option("true", _bool, "Detect dissolves, fades and wipes."),
        "ThumbnailWidth": Option("320", _positive_int, "Thumbnail width in pixels."),
        "ThumbnailFormat": Option("jpeg", _choice("jpeg", "webp"), "jpeg or webp."),
        "FrameBudget": Option("16", _positive_int, "Most analysis frames sampled per video."),
        "FrameWidth": Option("448", _positive_int, "Width of sampled analysis frames."),
        "Fast": Option(
            "false", _bool, "Skip the H.264/HEVC deblocking filter while decoding: faster, slightly less exact."
        ),
    },
    "Rules": {
        "CustomTagRules": Option("", str, "Path to custom_tags.json."),
        "UseDefaults": Option("true", _bool, "Apply the built-in default rules."),
        "Taxonomy": Option("", str, "Path to a taxonomy JSON (default: built-in)."),
        "PriorityKeywords": Option("", str, "Path to priority_keywords.json."),
    },
    "Logging": {
        "LogFile": Option("", str, "Rotating log file (default: <library>/videokit.log)."),
        "Level": Option("warning", _choice("debug", "info", "warning", "error"), "stderr log level."),
    },
}


def env_name(section: str, key: str) -> str:
    return f"VIDEOKIT_{section.upper()}_{key.upper()}"


@dataclass(slots=True)
class Config:
    """Resolved settings. Read with ``cfg.get("Section", "Key")``."""

    values: dict[tuple[str, str], Any] = field(default_factory=dict)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    file: Path | None = None

    def get(self, section: str, key: str) -> Any:
        try:
            return self.values[(section, key)]
        except KeyError:
            raise KeyError(f"unknown setting [{section}] {key}") from None

    def with_overrides(self, overrides: dict[tuple[str, str], Any]) -> Config:
        values = dict(self.values)
        origins = dict(self.origins)
        for (section, key), value in overrides.items():
            if value is None:
                continue
            opt = _option(section, key, "command line")
            if isinstance(value, str):
                value = _parse(opt, value, "command line", section, key)
            values[(section, key)] = value
            origins[(section, key)] = "flag"
        return Config(values, origins, self.file)

    # Derived paths ---------------------------------------------------------------------
    @property
    def library(self) -> Path:
        return Path(os.path.expanduser(self.get("Library", "Location"))).resolve()

    def _under(self, section: str, key: str, default: str) -> Path:
        v = self.get(section, key)
        p = Path(os.path.expanduser(v)) if v else self.library / default
        return p.resolve()

    @property
    def download_dir(self) -> Path:
        return self._under("Paths", "DownloadDirectory", "downloads")

    @property
    def processed_dir(self) -> Path:
        return self._under("Paths", "ProcessedDirectory", "processed")

    @property
    def log_file(self) -> Path:
        return self._under("Logging", "LogFile", "videokit.log")

    def path_setting(self, section: str, key: str) -> Path | None:
        v = self.get(section, key)
        return Path(os.path.expanduser(v)).resolve() if v else None


def _option(section: str, key: str, where: str) -> Option:
    if section not in SCHEMA:
        raise ConfigError(f"{where}: unknown section [{section}]; known: {', '.join(SCHEMA)}")
    if key not in SCHEMA[section]:
        raise ConfigError(f"{where}: unknown key {key!r} in [{section}]; known: {', '.join(SCHEMA[section])}")
    return SCHEMA[section][key]


def _parse(opt: Option, raw: str, where: str, section: str, key: str) -> Any:
    try:
        return opt.parse(raw)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{where}: bad value for [{section}] {key}: {e}") from None


def load_config(
    path: str | Path | None = None,
    env: dict[str, str] | None = None,
    overrides: dict[tuple[str, str], Any] | None = None,
) -> Config:
    """Build the configuration once. ``path`` None means ``./config.ini`` if it exists
    (or ``$VIDEOKIT_CONFIG``)."""
    env = dict(os.environ if env is None else env)
    explicit = path is not None or "VIDEOKIT_CONFIG" in env
    file = Path(path or env.get("VIDEOKIT_CONFIG") or "config.ini")
    values: dict[tuple[str, str], Any] = {}
    origins: dict[tuple[str, str], str] = {}
    for section, opts in SCHEMA.items():
        for key, opt in opts.items():
            values[(section, key)] = opt.parse(opt.default)
            origins[(section, key)] = "default"

    used_file: Path | None = None
    if file.exists() or explicit:
        where = str(file)
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        try:
            with open(file, encoding="utf-8") as fh:
                parser.read_file(fh)
        except FileNotFoundError:
            raise ConfigError(f"{where}: config file not found; run 'videokit init' to create one") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{where}: cannot read config file: {e}") from None
        except configparser.Error as e:
            msg = str(e).splitlines()[0]
            raise ConfigError(f"{where}: not a valid ini file: {msg}") from None
        lower = {s.lower(): s for s in SCHEMA}
        for section in parser.sections():
            canon = lower.get(section.lower())
            if canon is None:
                raise ConfigError(f"{where}: unknown section [{section}]; known: {', '.join(SCHEMA)}")
            keys = {k.lower(): k for k in SCHEMA[canon]}
            for raw_key, raw in parser.items(section):
                key = keys.get(raw_key.lower())
                if key is None:
                    raise ConfigError(
                        f"{where}: unknown key {raw_key!r} in [{section}]; known: {', '.join(SCHEMA[canon])}"
                    )
                values[(canon, key)] = _parse(SCHEMA[canon][key], raw, where, canon, key)
                origins[(canon, key)] = "file"
        used_file = file.resolve()
        # Relative paths in the file are relative to the file's folder.
        for section, key in _PATH_KEYS:
            v = values[(section, key)]
            if origins[(section, key)] == "file" and v and not os.path.isabs(os.path.expanduser(v)):
                values[(section, key)] = str(used_file.parent / v)

    for section, opts in SCHEMA.items():
        for key, opt in opts.items():
            name = env_name(section, key)
            if name in env:
                values[(section, key)] = _parse(opt, env[name], f"environment {name}", section, key)
                origins[(section, key)] = "env"
    cfg = Config(values, origins, used_file)
    if overrides:
        cfg = cfg.with_overrides(overrides)
    return cfg


_PATH_KEYS = [
    ("Library", "Location"),
    ("Paths", "DownloadDirectory"),
    ("Paths", "ProcessedDirectory"),
    ("QwenVL", "ModelDir"),
    ("Rules", "CustomTagRules"),
    ("Rules", "Taxonomy"),
    ("Rules", "PriorityKeywords"),
    ("Logging", "LogFile"),
]


def render_ini() -> str:
    """A commented config.ini with every setting at its default."""
    lines = ["# videokit configuration. Every key can be overridden by VIDEOKIT_<SECTION>_<KEY>.", ""]
    for section, opts in SCHEMA.items():
        lines.append(f"[{section}]")
        for key, opt in opts.items():
            lines.append(f"# {opt.help}")
            if opt.secret:
                lines.append(f"# Prefer the environment variable {env_name(section, key)}.")
            lines.append(f"{key} = {opt.default}" if not opt.secret else f"# {key} = {opt.default}")
        lines.append("")
    return "\n".join(lines)
