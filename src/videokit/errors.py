"""Errors a user can cause, and how they differ from bugs.

Every :class:`VideokitError` is user-caused: its message is one line naming the input (file,
URL, setting, command-line argument) and what to do, and it is shown without a traceback.
Anything else that escapes is a bug, or a library failing in a way videokit did not expect,
and is logged with its traceback::

    Exception
    ├── VideokitError             user-caused; ``kind`` says whether a retry may help
    │   ├── ConfigError           bad config file, setting or rules file: exit status 2, before any work
    │   │   └── ToolMissingError  ffmpeg or ffprobe is not on PATH (the same error from every caller)
    │   ├── UsageError            bad command-line usage: exit status 2
    │   ├── InputError            one input cannot be processed (missing file, not a video, 404...)
    │   │   └── TransientError    network trouble, 5xx, timeouts: retrying later may succeed
    │   └── StoreError            the library store is unreachable or broken: exit status 1
    │       └── BrokerUnreachable the Celery broker (Redis) does not answer
    └── everything else           a bug (ValueError, TypeError, KeyError...): a traceback in the log

Within a batch a VideokitError fails one stage of one record (``record.errors``) and the
batch goes on; :func:`one_line` is the one formatter for such messages.
"""

from __future__ import annotations

import shutil


class VideokitError(Exception):
    """Base class. ``kind`` is ``transient`` (worth retrying) or ``permanent``."""

    kind = "permanent"


class ConfigError(VideokitError):
    """Bad config file, setting, rules file... Exit status 2, before any work."""


class ToolMissingError(ConfigError):
    """A program videokit runs (``ffmpeg``, ``ffprobe``) is not installed or not on PATH."""

    def __init__(self, tool: str) -> None:
        super().__init__(
            f"{tool} not found on PATH; install ffmpeg, which provides ffmpeg and ffprobe (apt-get install ffmpeg)"
        )
        self.tool = tool


class UsageError(VideokitError):
    """Bad command-line usage. Exit status 2."""


class InputError(VideokitError):
    """One input cannot be processed (missing file, not a video, 404...)."""


class TransientError(InputError):
    """Network trouble, 5xx, timeouts: retrying later may succeed."""

    kind = "transient"


class StoreError(VideokitError):
    """The library store is unreachable or broken."""


def require_tool(name: str) -> str:
    """The path of the program ``name`` (``ffmpeg``, ``ffprobe``); :class:`ToolMissingError` when it is not on PATH."""
    exe = shutil.which(name)
    if exe is None:
        raise ToolMissingError(name)
    return exe


def one_line(error: BaseException | str, limit: int | None = None) -> str:
    """``error`` as one line: whitespace runs (newlines included) collapsed to one space, cut
    to ``limit`` characters; an exception without a message gives its class name."""
    text = " ".join(str(error).split())
    if not text and isinstance(error, BaseException):
        text = type(error).__name__
    return text[:limit] if limit is not None else text
