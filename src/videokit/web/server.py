"""``videokit serve``: the application on uvicorn.

One process by default; ``[Server] Workers`` > 1 starts that many (uvicorn's supervisor), each
building the application from the same configuration, handed over in a private file (mode
0600, removed at exit). SIGTERM and SIGINT stop the server gracefully: the listening socket
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

from videokit.config import Config
from videokit.errors import ConfigError
from videokit.web.options import ServerOptions

GRACE = 10  # seconds requests in flight get to finish at shutdown
_STATE_ENV = "VIDEOKIT__SERVE_STATE"  # not a setting: the file holding the configuration for workers


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
    common = {
        "host": options.host,
        "port": options.port,
        "access_log": False,
        "log_config": None,  # videokit's logging stays as set up
        "timeout_graceful_shutdown": GRACE,
        "server_header": False,
        "proxy_headers": False,
        "http": ZeroCopyH11Protocol,  # media bytes by sendfile (videokit.web.zerocopy)
    }
    if options.workers <= 1:
        from videokit.web.app import create_app

        uvicorn.run(create_app(config, options), **common)  # type: ignore[arg-type]
        return
    fd, name = tempfile.mkstemp(prefix="videokit-serve-", suffix=".pickle")
    try:
        with os.fdopen(fd, "wb") as fh:  # mkstemp: mode 0600, only this user reads it
            pickle.dump((config, options), fh)
        os.environ[_STATE_ENV] = name
        uvicorn.run("videokit.web.server:worker_app", factory=True, workers=options.workers, **common)  # type: ignore[arg-type]
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


def worker_app() -> object:
    """The application of one worker process of a multi-process server."""
    from videokit.logs import setup_logging
    from videokit.net import hold_config_secrets
    from videokit.web.app import create_app

    with open(os.environ[_STATE_ENV], "rb") as fh:
        config, options = pickle.load(fh)  # noqa: S301 - written by the parent process, mode 0600
    hold_config_secrets(config)
    setup_logging(config)
    return create_app(config, options)
