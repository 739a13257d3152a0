"""The browser's sign-in pages: ``/signin`` (a form taking a key), ``/signin/once`` (the
one-time link ``videokit serve --signin-link`` prints) and ``/signout``. Signing in sets the
HttpOnly, SameSite=Lax session cookie that :mod:`videokit.web.auth` reads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from videokit.web.auth import SESSION_COOKIE, from_key, safe_next, verify_csrf
from videokit.web.errors import ApiError
from videokit.web.keys import KeyInfo
from videokit.web.render import render
from videokit.web.service import service

SESSION_DAYS = 14

router = APIRouter(include_in_schema=False)


def _signed_in(request: Request, who: KeyInfo, next_path: str) -> Response:
    svc = service(request)
    token = svc.keys.start_session(who)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_DAYS * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=svc.options.secure_cookies,
        path="/",
    )
    return response


@router.get("/signin")
def signin_page(request: Request, next: str = "/") -> Response:
    return render(request, "signin.html", {"next": safe_next(next), "error": None})


@router.post("/signin", dependencies=[Depends(verify_csrf)])
def signin(request: Request, key: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
    try:
        who = from_key(request, key.strip() or None)
    except ApiError as e:
        return render(request, "signin.html", {"next": safe_next(next), "error": e.message}, status_code=401)
    if who is None:
        return render(request, "signin.html", {"next": safe_next(next), "error": "paste an API key"}, status_code=401)
    return _signed_in(request, who, next)


@router.get("/signin/once")
def signin_once(request: Request, token: str = "", next: str = "/") -> Response:
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
