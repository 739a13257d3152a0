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
    │       ├── BrokerUnreachable the Celery broker (Redis) does not answer
    │       ├── DiskFullError     no space left on the device: the batch stops, the same command resumes it
    │       └── DamagedStoreError a damaged SQLite file: ``videokit check`` and ``videokit rebuild``
    └── everything else           a bug (ValueError, TypeError, KeyError...): a traceback in the log

Within a batch a VideokitError fails one stage of one record (``record.errors``) and the
batch goes on; :func:`one_line` is the one formatter for such messages. The exceptions are
what :func:`stops_batch` picks out (a full disk, a damaged library): no input is to blame and
every later one would fail the same way, so the batch stops cleanly and a re-run resumes it.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path


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


class DiskFullError(StoreError):
    """No space left on the device at ``where``: the batch stops; what is stored stays stored."""

    kind = "transient"

    def __init__(self, where: object) -> None:
        super().__init__(
            f"no space left on device at {where}: free space and run the same command again; nothing was lost"
        )
        self.where = str(where)

    def __reduce__(self) -> tuple[type[DiskFullError], tuple[str]]:  # pickled across worker processes
        return (type(self), (self.where,))


class DamagedStoreError(StoreError):
    """A SQLite file of the library (library.sqlite, ledger.sqlite) is damaged."""


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


def stops_batch(error: BaseException, where: Path) -> StoreError | None:
    """The error that stops a whole batch rather than failing one input, or None: a
    :class:`DiskFullError` or :class:`DamagedStoreError` as they are, and an ``OSError`` of a
    full disk (ENOSPC, EDQUOT) as a DiskFullError naming ``where`` (the library folder), or the
    folder it was writing when that lies outside ``where``."""
    if isinstance(error, DiskFullError | DamagedStoreError):
        return error
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        name = Path(error.filename) if isinstance(error.filename, str) else None
        inside = name is not None and name.is_relative_to(where)
        return DiskFullError(where if name is None or inside else name.parent)
    return None
