"""The application: :func:`create_app` puts the REST API, the sign-in pages and the web UI
together over one library, with the guards every request passes (body size, security
headers, the access log)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import import_module
from typing import Any

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from videokit import __version__
from videokit.config import Config
from videokit.net import redact_url
from videokit.web import errors
from videokit.web.auth import BROWSER_COOKIE, SignInRequired, signin_redirect
from videokit.web.options import ServerOptions
from videokit.web.render import STATIC, templates

__all__ = ["create_app", "templates"]

access_log = logging.getLogger("videokit.web.access")

# Pages load scripts and styles from this server only; nothing may frame them.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Swagger UI (/docs) comes from its CDN with an inline bootstrap script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def create_app(config: Config, options: ServerOptions | None = None) -> FastAPI:
    """The FastAPI application serving the library of ``config``: ``/api/v1`` (OpenAPI at
    ``/openapi.json``, Swagger UI at ``/docs``), ``/signin``, the web UI (``videokit.web.ui``,
    when present) and ``/static``. ``options`` default to the ``[Server]`` settings."""
    from videokit.web.jobs import JobRunner
    from videokit.web.keys import KeyStore
    from videokit.web.limits import RateLimiter
    from videokit.web.service import Service

    opts = options or ServerOptions.from_config(config)
    service = Service(
        config=config,
        options=opts,
        keys=KeyStore(config.library),
        limiter=RateLimiter.from_config(config, opts.rate_limit, opts.redis_url, opts.browser_rate_limit),
        jobs=JobRunner(config, opts),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.jobs.start()  # jobs a stopped server left in the ledger run now
        yield
        service.close()

    app = FastAPI(
        title="videokit",
        version=__version__,
        description="The videokit library as a service. Send an API key as `X-API-Key` or `Authorization: Bearer`.",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.service = service
    errors.install(app)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, e: SignInRequired) -> Response:
        return signin_redirect(e)

    from videokit.web import api_routes, jobs, media, signin

    app.include_router(api_routes.router)
    app.include_router(media.router)
    app.include_router(jobs.router)
    app.include_router(signin.router)
    ui = _ui_router()
    if ui is not None:
        app.include_router(ui)
    app.mount("/static", StaticFiles(directory=str(STATIC), check_dir=False), name="static")
    app.add_middleware(Guard, max_body=opts.max_body_bytes, secure_cookies=opts.secure_cookies)
    return app


def served_app() -> FastAPI:
    """The application of a ``videokit serve`` process, named by uvicorn's import string
    ``videokit.web.app:served_app`` (:mod:`videokit.web.server`): the configuration comes in
    the private file the serving process wrote."""
    from videokit.web.server import load_state

    config, options, own_logging = load_state()
    if own_logging:  # a worker process of a multi-process server: set up as its parent was
        from videokit.logs import setup_logging

        setup_logging(config)
    return create_app(config, options)


def _ui_router() -> Any:
    try:
        module = import_module("videokit.web.ui")
    except ModuleNotFoundError as e:
        if e.name == "videokit.web.ui":
            return None  # the web UI is not part of this build
        raise
    return module.router


class _TooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes ([Server] MaxBodyBytes)")


class Guard:
    """Every HTTP request: a body over ``max_body`` bytes is refused (413) by its
    Content-Length or as it streams in; every response gets the security headers; each
    request is one line of the access log (JSON: method, path, redacted query, status,
    milliseconds, who), which never holds a key, a cookie or a token."""

    def __init__(self, app: ASGIApp, max_body: int, secure_cookies: bool = False) -> None:
        self.app = app
        self.max_body = max_body
        self.secure_cookies = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        state = scope.setdefault("state", {})
        path: str = scope.get("path", "")

        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            response = errors.error_response(
                413, "body_too_large", f"the request body exceeds {self.max_body} bytes ([Server] MaxBodyBytes)"
            )
            await self._respond(response, scope, receive, send, state, started)
            return

        seen = 0

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _TooLarge(self.max_body)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                csp = DOCS_CSP if path.startswith("/docs") else CSP
                extra = [(b"content-security-policy", csp.encode()), *SECURITY_HEADERS]
                headers += [(k, v) for k, v in extra if k not in names]
                new_cookie = state.get("new_browser_cookie")
                if new_cookie and _cookie(scope, BROWSER_COOKIE) is None:
                    cookie = _browser_cookie(new_cookie) + ("; Secure" if self.secure_cookies else "")
                    headers.append((b"set-cookie", cookie.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        finally:
            self._log(scope, status or 500, started, state)

    async def _respond(
        self, response: Response, scope: Scope, receive: Receive, send: Send, state: dict, started: float
    ) -> None:
        headers = [(b"content-security-policy", CSP.encode()), *SECURITY_HEADERS]
        response.raw_headers.extend(headers)
        await response(scope, receive, send)
        self._log(scope, response.status_code, started, state)

    def _log(self, scope: Scope, status: int, started: float, state: dict) -> None:
        if not access_log.isEnabledFor(logging.INFO):
            return
        who = state.get("user")
        query = scope.get("query_string", b"").decode("latin-1")
        entry = {
            "method": scope.get("method"),
            "path": scope.get("path"),
            "query": redact_url("?" + query)[1:] if query else "",
            "status": status,
            "ms": round((time.perf_counter() - started) * 1000, 1),
            "client": (scope.get("client") or ("-",))[0],
            "key": getattr(who, "id", None),
            "via": getattr(who, "via", None),
        }
        access_log.info(json.dumps(entry, separators=(",", ":")))


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k.lower() == name:
            return v.decode("latin-1").strip()
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    for part in raw.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


def _browser_cookie(value: str) -> str:
    return f"{BROWSER_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=86400"
