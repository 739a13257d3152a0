"""Who a request is, what it may do, and the browser's sign-in.

API clients send a key: ``X-API-Key: vk_...`` or ``Authorization: Bearer vk_...``. Browsers
sign in once with a key (``/signin``) or a one-time link (``/signin/once?token=...``, printed
by ``videokit serve --signin-link``) and then carry an HttpOnly, SameSite=Lax session cookie;
the API accepts that cookie too (the page's ``<video>`` and ``fetch`` calls), and then every
state-changing request must carry the session's CSRF token (``X-CSRF-Token`` header or a
``csrf_token`` form field). Without a key or session: 401 (or the anonymous reader, when
``[Server] AnonymousRead`` is on and the request only reads); outside the scope: 403.

Dependencies for routes::

    @router.get("/x")
    def x(who: KeyInfo = Depends(api_user("write"))): ...           # the API: JSON errors

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

from fastapi import APIRouter, Depends, Form, Request
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

_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (vk_...)")
_bearer = HTTPBearer(auto_error=False, description="An API key (vk_...) as a bearer token")


class SignInRequired(Exception):
    """A page needs a signed-in browser: answered with a redirect to ``/signin?next=...``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


# -- who is asking --------------------------------------------------------------------------


def _from_key(request: Request, key: str | None) -> KeyInfo | None:
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


def _admit(request: Request, who: KeyInfo, scope: str) -> KeyInfo:
    if not who.allows(scope):
        raise ApiError(403, "forbidden", f"this needs a key of scope {scope}; {who.name!r} has scope {who.scope}")
    service(request).limiter.hit(who, request)
    request.state.user = who
    return who


def api_user(scope: str = "read") -> Callable[..., KeyInfo]:
    """Dependency for API routes: the caller's key (or session, or the anonymous reader),
    admitted for ``scope`` and counted against its rate limit. JSON 401/403/429 otherwise."""
    check_scope(scope)

    def dependency(
        request: Request,
        header: Annotated[str | None, Depends(_key_header)] = None,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
    ) -> KeyInfo:
        who = _from_key(request, _presented_key(request, header, bearer))
        if who is None:
            who = session_user(request)
            if who is not None and request.method not in SAFE_METHODS:
                _check_csrf(request, request.headers.get(CSRF_HEADER))
        if who is None:
            if scope == "read" and service(request).options.anonymous_read:
                who = ANONYMOUS
            else:
                raise ApiError(401, "unauthorized", "an API key is required: send X-API-Key or Authorization: Bearer")
        return _admit(request, who, scope)

    dependency.__name__ = f"api_user_{scope}"
    return dependency


def ui_user(scope: str = "read") -> Callable[..., KeyInfo]:
    """Dependency for pages: who is signed in (session cookie; a key header works too),
    admitted for ``scope``; a browser not signed in is redirected to ``/signin?next=<this page>``."""
    check_scope(scope)

    def dependency(request: Request) -> KeyInfo:
        header = request.headers.get("X-API-Key")
        who = _from_key(request, header) if header else session_user(request)
        if who is None:
            if scope == "read" and service(request).options.anonymous_read:
                who = ANONYMOUS
            else:
                path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                raise SignInRequired(path)
        return _admit(request, who, scope)

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


# -- signing in ------------------------------------------------------------------------------------

router = APIRouter(include_in_schema=False)


def safe_next(value: str | None) -> str:
    """A local path to go to after signing in; anything else (another site, ``//host``) is ``/``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(c) < 32 for c in value):
        return "/"
    return value


def _signed_in(request: Request, who: KeyInfo, next_path: str) -> Response:
    svc = service(request)
    token = svc.keys.start_session(who)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=14 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=svc.options.secure_cookies,
        path="/",
    )
    return response


@router.get("/signin")
def signin_page(request: Request, next: str = "/") -> Response:
    from videokit.web.render import render

    return render(request, "signin.html", {"next": safe_next(next), "error": None})


@router.post("/signin", dependencies=[Depends(verify_csrf)])
def signin(request: Request, key: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
    from videokit.web.render import render

    try:
        who = _from_key(request, key.strip() or None)
    except ApiError as e:
        return render(request, "signin.html", {"next": safe_next(next), "error": e.message}, status_code=401)
    if who is None:
        return render(request, "signin.html", {"next": safe_next(next), "error": "paste an API key"}, status_code=401)
    return _signed_in(request, who, next)


@router.get("/signin/once")
def signin_once(request: Request, token: str = "", next: str = "/") -> Response:
    from videokit.web.render import render

    who = service(request).keys.use_signin_link(token)
    if who is None:
        error = "this sign-in link was used already or has expired; run 'videokit serve --signin-link' again"
        return render(request, "signin.html", {"next": safe_next(next), "error": error}, status_code=401)
    return _signed_in(request, who, next)


@router.post("/signout", dependencies=[Depends(verify_csrf)])
def signout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        service(request).keys.end_session(token)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


def signin_redirect(e: SignInRequired) -> Response:
    return RedirectResponse(f"/signin?next={quote(safe_next(e.next_path), safe='/')}", status_code=303)
