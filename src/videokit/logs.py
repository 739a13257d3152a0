"""Logging: a rotating file in the library plus stderr at the chosen level."""

from __future__ import annotations

import logging
import logging.handlers
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from videokit.config import Config

_FMT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(config: Config) -> None:
    root = logging.getLogger("videokit")
    for h in list(root.handlers):
        if getattr(h, "_videokit", False):
            root.removeHandler(h)
            h.close()
    root.setLevel(logging.DEBUG)
    root.propagate = True
    err = logging.StreamHandler()
    err.setLevel(config.get("Logging", "Level").upper())
    err.setFormatter(logging.Formatter("videokit: %(levelname)s: %(message)s"))
    err._videokit = True  # type: ignore[attr-defined]
    root.addHandler(err)
    path = config.log_file
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    except OSError as e:
        root.warning("cannot write log file %s: %s", path, e)
        return
    fh.setLevel(logging.DEBUG)
    fh.setFormatter(logging.Formatter(_FMT))
    fh._videokit = True  # type: ignore[attr-defined]
    root.addHandler(fh)
