"""``videokit serve``: the application on uvicorn.

One process by default; ``[Server] Workers`` > 1 starts that many (uvicorn's supervisor). The
application is named to uvicorn by its import string (``videokit.web.app:served_app``), built
from the configuration handed over in a private file (mode 0600, removed at exit): this module
never imports the application, so :mod:`videokit.api` can call it while the web package
depends on the library API and never the reverse. SIGTERM and SIGINT stop the server gracefully: the listening socket
closes, requests in flight finish (up to :data:`GRACE` seconds), then the job runner stops.
Uvicorn's own access log is off: the application writes its own, without secrets
(:class:`videokit.web.app.Guard`).
"""

from __future__ import annotations

import os
import pickle
import signal
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from videokit.config import Config
from videokit.errors import ConfigError
from videokit.web.options import ServerOptions

GRACE = 10  # seconds requests in flight get to finish at shutdown
_STATE_ENV = "VIDEOKIT__SERVE_STATE"  # not a setting: the file holding the configuration for workers
APP = "videokit.web.app:served_app"  # the application, by uvicorn's import string


def signin_link(config: Config, options: ServerOptions) -> str:
    """A one-time sign-in link for the local user (admin; valid 10 minutes, once)."""
    from videokit.web.keys import KeyStore

    store = KeyStore(config.library)
    try:
        token = store.signin_link_token()
    finally:
        store.close()
    return f"{options.base_url()}/signin/once?token={token}"


def serve(config: Config, options: ServerOptions, *, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve the library of ``config`` until SIGTERM/SIGINT. ``on_ready(url)`` is called once
    the settings are checked, before the server binds. ConfigError when the web extra is missing."""
    try:
        import uvicorn
    except ImportError:
        raise ConfigError("the server needs the web extra: pip install 'videokit[web]'") from None
    from videokit.web.zerocopy import ZeroCopyH11Protocol

    if on_ready is not None:
        on_ready(options.base_url())
    _exit_cleanly_on_signals()
    common: dict[str, Any] = {
        "host": options.host,
        "port": options.port,
        "access_log": False,
        "log_config": None,  # videokit's logging stays as set up
        "timeout_graceful_shutdown": GRACE,
        "server_header": False,
        "proxy_headers": False,
        "http": ZeroCopyH11Protocol,  # media bytes by sendfile (videokit.web.zerocopy)
    }
    if options.workers > 1:
        common["workers"] = options.workers
    fd, name = tempfile.mkstemp(prefix="videokit-serve-", suffix=".pickle")
    try:
        with os.fdopen(fd, "wb") as fh:  # mkstemp: mode 0600, only this user reads it
            pickle.dump((config, options, options.workers > 1), fh)
        os.environ[_STATE_ENV] = name
        uvicorn.run(APP, factory=True, **common)  # type: ignore[arg-type]
    finally:
        os.environ.pop(_STATE_ENV, None)
        Path(name).unlink(missing_ok=True)


def _exit_cleanly_on_signals() -> None:
    """Uvicorn handles SIGTERM/SIGINT while it serves (graceful shutdown), then raises the
    signal again with the handler it found: this one, so a stopped server exits with status 0
    (and a signal before it serves stops it at once)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)


def load_state() -> tuple[Config, ServerOptions, bool]:
    """What :func:`serve` handed to the application: the configuration, the server options, and
    whether this is a worker process that sets up its own logging. Its secrets are held (never
    logged) from here on."""
    from videokit.net import hold_config_secrets

    with open(os.environ[_STATE_ENV], "rb") as fh:
        config, options, own_logging = pickle.load(fh)  # noqa: S301 - written by the serving process, mode 0600
    hold_config_secrets(config)
    return config, options, own_logging
