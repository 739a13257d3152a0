"""Error types a user can cause. Each carries a one-line message naming the input."""

from __future__ import annotations


class VideokitError(Exception):
    """Base class. ``kind`` is ``transient`` (worth retrying) or ``permanent``."""

    kind = "permanent"


class ConfigError(VideokitError):
    """Bad config file, setting, rules file... Exit status 2, before any work."""


class UsageError(VideokitError):
    """Bad command-line usage. Exit status 2."""


class InputError(VideokitError):
    """One input cannot be processed (missing file, not a video, 404...)."""


class TransientError(InputError):
    """Network trouble, 5xx, timeouts: retrying later may succeed."""

    kind = "transient"


class StoreError(VideokitError):
    """The library store is unreachable or broken."""
