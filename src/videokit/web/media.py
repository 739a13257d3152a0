"""Media files of the library: a video's file (HTTP Range: the player seeks), its scene
thumbnails and contact sheet, and any file under the processed folder by path. Each answers
GET and HEAD (the same headers, no body). A browser's session loads them without counting
against a rate limit; a key's requests count (:func:`videokit.web.auth.media_user`).

Only files of the library are served: a path from a URL is resolved (``..``, links) and must
lie under the library's processed or download folder, whatever its encoding; a video's own
file is the one its record names. Files go out by ``sendfile`` under ``videokit serve``
(:mod:`videokit.web.zerocopy`), never read into Python.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Request
from starlette.responses import FileResponse

from videokit.config import Config
from videokit.web.api_routes import get_record
from videokit.web.auth import media_user
from videokit.web.errors import ApiError
from videokit.web.keys import KeyInfo
from videokit.web.service import service
from videokit.web.zerocopy import MediaResponse

router = APIRouter(prefix="/api/v1", tags=["media"])

Reader = Annotated[KeyInfo, Depends(media_user("read"))]

Route = TypeVar("Route", bound=Callable[..., FileResponse])

TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".png": "image/png", ".vtt": "text/vtt"}


def library_file(config: Config, relative: str) -> Path:
    """The file ``relative`` (to the library folder) names, when it lies under the processed
    or download folder; 404 otherwise (nothing says whether it exists elsewhere)."""
    missing = ApiError(404, "not_found", "no such file in the library")
    if not relative or "\x00" in relative or "\\" in relative:
        raise missing
    candidate = Path(relative)
    if candidate.is_absolute():
        raise missing
    try:
        path = (config.library / candidate).resolve(strict=True)
    except (OSError, RuntimeError):
        raise missing from None
    roots = (config.processed_dir, config.download_dir)
    if not any(path.is_relative_to(root) for root in roots) or not path.is_file():
        raise missing
    return path


def _file_response(path: Path, media_type: str | None = None) -> FileResponse:
    return MediaResponse(
        path, media_type=media_type or TYPES.get(path.suffix.lower()), content_disposition_type="inline"
    )


def _get_and_head(path: str, summary: str) -> Callable[[Route], Route]:
    """GET ``path`` (in the OpenAPI description) and HEAD (the same headers, no body; not listed:
    one operation per route keeps the operation ids unique)."""

    def register(endpoint: Route) -> Route:
        router.get(path, summary=summary)(endpoint)
        router.head(path, include_in_schema=False)(endpoint)
        return endpoint

    return register


@_get_and_head("/media/{path:path}", summary="A file of the library's processed folder")
def media(request: Request, who: Reader, path: str) -> FileResponse:
    """Thumbnails, contact sheets, subtitles... by their path relative to the library folder."""
    return _file_response(library_file(service(request).config, path))


@_get_and_head("/videos/{id}/thumbnails/{index}", summary="A scene's thumbnail")
def thumbnail(request: Request, who: Reader, id: str, index: int) -> FileResponse:
    record = get_record(request, id)
    for scene in record.scenes.scenes if record.scenes else []:
        if scene.index == index and scene.thumbnail:
            return _file_response(library_file(service(request).config, scene.thumbnail))
    raise ApiError(404, "not_found", f"video {record.id} has no thumbnail for scene {index}")


@_get_and_head("/videos/{id}/contact-sheet", summary="A video's contact sheet")
def contact_sheet(request: Request, who: Reader, id: str) -> FileResponse:
    record = get_record(request, id)
    if not record.scenes or not record.scenes.contact_sheet:
        raise ApiError(404, "not_found", f"video {record.id} has no contact sheet")
    return _file_response(library_file(service(request).config, record.scenes.contact_sheet))


@_get_and_head("/videos/{id}/file", summary="The video file (HTTP Range supported)")
def video_file(request: Request, who: Reader, id: str) -> FileResponse:
    """The video's file as stored; send ``Range: bytes=...`` to read part of it (the player seeks)."""
    record = get_record(request, id)
    f = record.file
    path = Path(f.path) if f else None
    if path is not None and not path.is_absolute():
        path = service(request).config.library / path
    if f is None or path is None or not path.is_file() or path.stat().st_size != f.size:
        raise ApiError(404, "not_found", f"the file of video {record.id} is no longer where the library says")
    return _file_response(path, "video/mp4" if path.suffix.lower() in (".mp4", ".m4v") else None)
