"""Who a request is, what it may do, and what it counts against.

API clients send a key: ``X-API-Key: vk_...`` or ``Authorization: Bearer vk_...``. Browsers
sign in once with a key (the pages of :mod:`videokit.web.signin`) and then carry an HttpOnly,
SameSite=Lax session cookie; the API accepts that cookie too (the page's ``<video>`` and
``fetch`` calls), and then every state-changing request must carry the session's CSRF token
(``X-CSRF-Token`` header or a ``csrf_token`` form field). Without a key or session: 401 (or the
anonymous reader, when ``[Server] AnonymousRead`` is on and the request only reads); outside
the scope: 403.

Rate limits (:mod:`videokit.web.limits`): a request made with a key counts against the key's
``[Server] RateLimit``, whatever it asks for. A signed-in browser's pages and API calls count
against ``[Server] BrowserRateLimit`` (per key, apart from the key's own budget); the media it
loads (video files, thumbnails, contact sheets: :func:`media_user`) and ``/static`` count
against nothing, so a page of 24 thumbnails is one request of its budget. The anonymous
reader counts by address the same way.

Dependencies for routes::

    @router.get("/x")
    def x(who: KeyInfo = Depends(api_user("write"))): ...           # the API: JSON errors

    @router.get("/media/x")
    def m(who: KeyInfo = Depends(media_user())): ...                 # files a page loads

    @router.get("/page")
    def page(request: Request, who: KeyInfo = Depends(ui_user())): ...  # pages: redirect to /signin

    @router.post("/form", dependencies=[Depends(verify_csrf)])       # form posts
    def form(...): ...

and :func:`csrf_token` gives a page the token to put in its forms (``render`` does it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import RedirectResponse, Response

from videokit.web.errors import ApiError
from videokit.web.keys import ANONYMOUS, KeyInfo, check_scope
from videokit.web.service import service

SESSION_COOKIE = "vk_session"
BROWSER_COOKIE = "vk_browser"  # binds the CSRF token of a browser not signed in yet (the sign-in form)
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API, BROWSER = "api", "browser"  # the rate-limit budgets: [Server] RateLimit, BrowserRateLimit

_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (vk_...)")
_bearer = HTTPBearer(auto_error=False, description="An API key (vk_...) as a bearer token")


class SignInRequired(Exception):
    """A page needs a signed-in browser: answered with a redirect to ``/signin?next=...``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


# -- who is asking --------------------------------------------------------------------------


def from_key(request: Request, key: str | None) -> KeyInfo | None:
    """The key ``key`` names (None when there is none); 401 for an unknown or revoked key."""
    if not key:
        return None
    who = service(request).keys.verify(key.strip())
    if who is None:
        raise ApiError(401, "unauthorized", "unknown API key; check it, or create one with 'videokit keys create'")
    if who.revoked:
        raise ApiError(401, "unauthorized", f"API key {who.id} was revoked; ask for a new one")
    return who


def _presented_key(request: Request, header: str | None, bearer: HTTPAuthorizationCredentials | None) -> str | None:
    if header:
        return header
    if bearer is not None and bearer.scheme.lower() == "bearer":
        return bearer.credentials
    return None


def session_user(request: Request) -> KeyInfo | None:
    """Who the browser's session cookie signs in, or None."""
    token = request.cookies.get(SESSION_COOKIE)
    return service(request).keys.session(token) if token else None


def _admit(request: Request, who: KeyInfo, scope: str, budget: str | None) -> KeyInfo:
    """``who`` may do ``scope``: counted against ``budget`` (None: nothing), else 403/429."""
    if not who.allows(scope):
        raise ApiError(403, "forbidden", f"this needs a key of scope {scope}; {who.name!r} has scope {who.scope}")
    if budget is not None:
        service(request).limiter.hit(who, request, budget)
    request.state.user = who
    return who


def _api_dependency(scope: str, media: bool) -> Callable[..., KeyInfo]:
    check_scope(scope)

    def dependency(
        request: Request,
        header: Annotated[str | None, Depends(_key_header)] = None,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
    ) -> KeyInfo:
        who = from_key(request, _presented_key(request, header, bearer))
        if who is not None:
            return _admit(request, who, scope, API)
        who = session_user(request)
        if who is not None:
            if request.method not in SAFE_METHODS:
                _check_csrf(request, request.headers.get(CSRF_HEADER))
            return _admit(request, who, scope, None if media else BROWSER)
        if scope == "read" and service(request).options.anonymous_read:
            return _admit(request, ANONYMOUS, scope, None if media else API)
        raise ApiError(401, "unauthorized", "an API key is required: send X-API-Key or Authorization: Bearer")

    dependency.__name__ = f"{'media' if media else 'api'}_user_{scope}"
    return dependency


def api_user(scope: str = "read") -> Callable[..., KeyInfo]:
    """Dependency for API routes: the caller's key (or session, or the anonymous reader),
    admitted for ``scope`` and counted against its rate limit (a key: RateLimit; a browser's
    session: BrowserRateLimit). JSON 401/403/429 otherwise."""
    return _api_dependency(scope, media=False)


def media_user(scope: str = "read") -> Callable[..., KeyInfo]:
    """Dependency for the files a page loads (video, thumbnails, contact sheet): as
    :func:`api_user`, but a browser's session and the anonymous reader are not counted (a key is)."""
    return _api_dependency(scope, media=True)


def ui_user(scope: str = "read") -> Callable[..., KeyInfo]:
    """Dependency for pages: who is signed in (session cookie; a key header works too, counted
    as an API call), admitted for ``scope`` and counted against BrowserRateLimit; a browser not
    signed in is redirected to ``/signin?next=<this page>``."""
    check_scope(scope)

    def dependency(request: Request) -> KeyInfo:
        who = from_key(request, request.headers.get("X-API-Key"))
        if who is not None:
            return _admit(request, who, scope, API)
        who = session_user(request)
        if who is None:
            if not (scope == "read" and service(request).options.anonymous_read):
                path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                raise SignInRequired(path)
            who = ANONYMOUS
        return _admit(request, who, scope, BROWSER)

    dependency.__name__ = f"ui_user_{scope}"
    return dependency


# -- CSRF ----------------------------------------------------------------------------------------


def _binding(request: Request) -> str:
    """What this browser's CSRF token is bound to: its session, else its browser cookie (one
    is made for this response when it has none)."""
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        return "s:" + session
    browser = request.cookies.get(BROWSER_COOKIE) or getattr(request.state, "new_browser_cookie", None)
    if not browser:
        browser = secrets.token_urlsafe(24)
        request.state.new_browser_cookie = browser  # set on the response by the app's middleware
    return "b:" + browser


def csrf_token(request: Request) -> str:
    """The token this browser's forms and state-changing ``fetch`` calls must send back
    (``csrf_token`` field or ``X-CSRF-Token`` header)."""
    mac = hmac.new(service(request).keys.secret(), _binding(request).encode(), hashlib.sha256)
    return mac.hexdigest()


def _check_csrf(request: Request, sent: str | None) -> None:
    origin = request.headers.get("Origin")
    if origin and origin != "null" and not _same_origin(request, origin):
        raise ApiError(403, "forbidden", f"cross-site request from {origin} refused")
    if not sent or not hmac.compare_digest(sent.encode(), csrf_token(request).encode()):
        raise ApiError(403, "csrf_failed", "missing or wrong CSRF token; reload the page and try again")


def _same_origin(request: Request, origin: str) -> bool:
    host = request.headers.get("host", "")
    public = service(request).options.public_url
    return urlsplit(origin).netloc == host or (bool(public) and origin.rstrip("/") == public)


async def verify_csrf(request: Request) -> None:
    """Dependency for form posts (and other state-changing browser requests): 403 unless the
    ``X-CSRF-Token`` header or the ``csrf_token`` form field carries this browser's token."""
    sent = request.headers.get(CSRF_HEADER)
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # parsed once: the route's Form(...) parameters read the same
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    _check_csrf(request, sent)


def safe_next(value: str | None) -> str:
    """A local path to go to after signing in; anything else (another site, ``//host``) is ``/``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(c) < 32 for c in value):
        return "/"
    return value


def signin_redirect(e: SignInRequired) -> Response:
    return RedirectResponse(f"/signin?next={quote(safe_next(e.next_path), safe='/')}", status_code=303)
