"""The one shape of every API error: ``{"error": {"code": "...", "message": "one line"}}``.

Codes are stable (clients branch on them); messages are one line, for people, secrets redacted:

=====================  ======  =========================================================
code                   status  when
=====================  ======  =========================================================
unauthorized           401     no key, an unknown key, a revoked key, an ended session
forbidden              403     the key's scope does not allow it; a cross-site request
csrf_failed            403     a browser request without the CSRF token of its session
not_found              404     no such route or library file
video_not_found        404     no stored video with that id (or the prefix names several)
method_not_allowed     405     the route exists, not for this method
body_too_large         413     the body exceeds ``[Server] MaxBodyBytes``
range_not_satisfiable  416     a Range header beyond the file
malformed_json         400     the body is not JSON
invalid_request        422     a parameter or field missing or of the wrong type
bad_request            400     a bad value (unknown mode, priority, format...)
url_refused            400     a submitted URL resolves to a private or metadata address
bad_input              400     an input videokit cannot use
rate_limited           429     the key went over ``[Server] RateLimit`` (see Retry-After)
unavailable            503     the library store or the broker does not answer
internal               500     a bug: logged with its traceback, never shown
=====================  ======  =========================================================
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from videokit.errors import InputError, StoreError, TransientError, UsageError, VideokitError, one_line
from videokit.net import redact_text

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered as JSON with a stable ``code``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": one_line(redact_text(message), 500)}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def from_videokit(e: VideokitError) -> ApiError:
    """The API error for a user-caused error the library API raised."""
    if isinstance(e, TransientError | StoreError):
        return ApiError(503, "unavailable", str(e), {"Retry-After": "5"})
    if isinstance(e, UsageError):
        return ApiError(400, "bad_request", str(e))
    if isinstance(e, InputError):
        return ApiError(400, "bad_input", str(e))
    return ApiError(400, "bad_request", str(e))  # ConfigError: a bad value given to a setting


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    416: "range_not_satisfiable",
    429: "rate_limited",
}


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` in the one JSON shape (pages of the UI may answer HTML:
    an ApiError carrying a redirect is the UI's sign-in redirect, see :mod:`videokit.web.auth`)."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError) -> JSONResponse:
        return error_response(e.status, e.code, e.message, e.headers)

    @app.exception_handler(VideokitError)
    async def _videokit_error(request: Request, e: VideokitError) -> JSONResponse:
        err = from_videokit(e)
        return error_response(err.status, err.code, err.message, err.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        errors = e.errors()
        if any(err.get("type") == "json_invalid" for err in errors):
            return error_response(400, "malformed_json", "the request body is not valid JSON")
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
        return error_response(422, "invalid_request", f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(e.status_code, "error")
        message = e.detail if isinstance(e.detail, str) and e.detail else code.replace("_", " ")
        return error_response(e.status_code, code, message, dict(e.headers or {}))

    @app.exception_handler(Exception)
    async def _bug(request: Request, e: Exception) -> JSONResponse:
        log.error("%s %s failed: %s", request.method, request.url.path, one_line(e), exc_info=e)
        return error_response(500, "internal", "internal error; the server log has the details")
