"""Server-rendered pages: the Jinja2 templates of ``web/templates`` (autoescaped: anything a
title, description or transcript from the web holds is shown as text, never as markup)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from videokit.web.auth import csrf_token

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

templates = Jinja2Templates(directory=str(TEMPLATES))
templates.env.autoescape = True  # every template, whatever its file name


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    """``name`` rendered with ``context`` plus ``csrf`` (the form token of this browser),
    ``user`` and ``user_name`` (who is signed in, when known)."""
    user = getattr(request.state, "user", None)
    ctx = {"csrf": csrf_token(request), "user": user, "user_name": user.name if user else "", **(context or {})}
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
