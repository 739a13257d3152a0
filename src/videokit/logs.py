"""Logging: a rotating file in the library plus stderr at the chosen level.

The file keeps ``info`` and above, or everything the chosen level shows when that is more
(``--log-level debug`` makes both verbose). Every record both write passes through
:class:`RedactFilter` (URLs redacted, held secrets scrubbed, tracebacks included), behind the
explicit redaction of each message."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from typing import TYPE_CHECKING

from videokit.net import hold_config_secrets, redact_text

if TYPE_CHECKING:
    from videokit.config import Config

_FMT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FILE_LEVEL = logging.INFO  # the log file's level unless [Logging] Level / --log-level asks for more


class RedactFilter(logging.Filter):
    """Redacts a log record's message, arguments and traceback (:func:`videokit.net.redact_text`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let logging report it as usual
            return True
        record.msg, record.args = redact_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


class _LogFile(logging.handlers.RotatingFileHandler):
    """The log file. A line it cannot write (a full disk) is dropped: the user sees the command's
    own one-line error, never a logging traceback."""

    def handleError(self, record: logging.LogRecord) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handleError(record)


def setup_logging(config: Config) -> None:
    """Log to stderr at ``[Logging] Level`` and to the rotating ``[Logging] LogFile``, both
    redacted; the secrets of ``config`` are held from here on (:func:`~videokit.net.hold_config_secrets`)."""
    hold_config_secrets(config)
    redact = RedactFilter()
    root = logging.getLogger("videokit")
    for h in list(root.handlers):
        if getattr(h, "_videokit", False):
            root.removeHandler(h)
            h.close()
    root.setLevel(logging.DEBUG)
    root.propagate = True
    level = logging.getLevelNamesMapping()[config.get("Logging", "Level").upper()]
    err = logging.StreamHandler()
    err.setLevel(level)
    err.setFormatter(logging.Formatter("videokit: %(levelname)s: %(message)s"))
    err.addFilter(redact)
    err._videokit = True  # type: ignore[attr-defined]
    root.addHandler(err)
    path = config.log_file
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = _LogFile(path, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    except OSError as e:
        root.warning("cannot write log file %s: %s", path, e)
        return
    fh.setLevel(min(level, FILE_LEVEL))
    fh.setFormatter(logging.Formatter(_FMT))
    fh.addFilter(redact)
    fh._videokit = True  # type: ignore[attr-defined]
    root.addHandler(fh)
