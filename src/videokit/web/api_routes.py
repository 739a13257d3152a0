"""``/api/v1``: search and the stored videos. Every route is a thin call of one
:mod:`videokit.api` function; media files are :mod:`videokit.web.media`, jobs
:mod:`videokit.web.jobs`."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Query as Param
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.responses import FileResponse

from videokit import api
from videokit.errors import InputError
from videokit.record import Record
from videokit.store import Query
from videokit.store.base import RESOLUTION_ORDER
from videokit.web.auth import api_user
from videokit.web.errors import ApiError
from videokit.web.keys import KeyInfo
from videokit.web.service import service

router = APIRouter(prefix="/api/v1", tags=["library"])

MODES = ("text", "semantic", "hybrid")
MAX_LIMIT = 100

Reader = Annotated[KeyInfo, Depends(api_user("read"))]
Writer = Annotated[KeyInfo, Depends(api_user("write"))]


# -- filters -------------------------------------------------------------------------------------


def filters(
    q: Annotated[str | None, Param(description="Text to find (title, description, tags, OCR, transcript...)")] = None,
    mode: Annotated[str | None, Param(description="text | semantic | hybrid (default: hybrid with embeddings)")] = None,
    tag: Annotated[list[str], Param(description="Has this tag; repeat: all must match")] = [],  # noqa: B006
    category: str | None = None,
    min_duration: Annotated[float | None, Param(ge=0)] = None,
    max_duration: Annotated[float | None, Param(ge=0)] = None,
    resolution: Annotated[str | None, Param(description=" | ".join(RESOLUTION_ORDER))] = None,
    min_height: Annotated[int | None, Param(ge=0)] = None,
    max_height: Annotated[int | None, Param(ge=0)] = None,
    codec: str | None = None,
    has_audio: bool | None = None,
    domain: str | None = None,
    added_after: Annotated[str | None, Param(description="YYYY-MM-DD")] = None,
    added_before: Annotated[str | None, Param(description="YYYY-MM-DD")] = None,
    min_scenes: Annotated[int | None, Param(ge=0)] = None,
    max_scenes: Annotated[int | None, Param(ge=0)] = None,
) -> Query:
    """The filters of ``videokit search``, as query parameters."""
    if mode is not None and mode not in MODES:
        raise ApiError(400, "bad_request", f"mode {mode!r}: choose one of {', '.join(MODES)}")
    if resolution is not None:
        match = {r.lower(): r for r in RESOLUTION_ORDER}.get(resolution.lower())
        if match is None:
            raise ApiError(
                400, "bad_request", f"resolution {resolution!r}: choose one of {', '.join(RESOLUTION_ORDER)}"
            )
        resolution = match
    return Query(
        text=q or None,
        mode=mode,
        tags=list(tag),
        category=category,
        min_duration=min_duration,
        max_duration=max_duration,
        resolution=resolution,
        min_height=min_height,
        max_height=max_height,
        codec=codec,
        has_audio=has_audio,
        domain=domain,
        added_after=added_after,
        added_before=added_before,
        min_scenes=min_scenes,
        max_scenes=max_scenes,
    )


Filters = Annotated[Query, Depends(filters)]


# -- shapes --------------------------------------------------------------------------------------


def video_links(rid: str) -> dict[str, str]:
    base = f"/api/v1/videos/{rid}"
    return {
        "self": base,
        "file": f"{base}/file",
        "contact_sheet": f"{base}/contact-sheet",
        "scenes": f"{base}/scenes",
        "transcript": f"{base}/transcript",
        "tags": f"{base}/tags",
        "similar": f"{base}/similar",
    }


def summary(r: Record) -> dict[str, Any]:
    """What a search result shows of a video."""
    m = r.media
    thumb = None
    if r.scenes and r.scenes.scenes and r.scenes.scenes[0].thumbnail:
        thumb = f"/api/v1/videos/{r.id}/thumbnails/{r.scenes.scenes[0].index}"
    return {
        "id": r.id,
        "title": r.title,
        "duration": m.duration if m else None,
        "resolution": m.resolution if m else None,
        "width": m.width if m else None,
        "height": m.height if m else None,
        "video_codec": m.video_codec if m else None,
        "has_audio": m.has_audio if m else None,
        "scene_count": r.scenes.scene_count if r.scenes else None,
        "category": r.classification.category if r.classification else None,
        "tags": r.tag_names(),
        "domain": next((s.domain for s in r.sources if s.domain), None),
        "description": r.analysis.description if r.analysis else None,
        "added_at": r.added_at,
        "thumbnail": thumb,
        "links": video_links(r.id or ""),
    }


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def get_record(request: Request, id: str) -> Record:
    """The stored video ``id`` (or a unique prefix), or 404 ``video_not_found``."""
    try:
        return api.get(service(request).config, id)
    except InputError:  # the message names the library folder: not for clients
        raise ApiError(404, "video_not_found", f"no video with id {id!r}; search for it first") from None


# -- search ----------------------------------------------------------------------------------------


@router.get("/search", summary="Search the library")
def search(
    request: Request,
    who: Reader,
    query: Filters,
    moments: Annotated[bool, Param(description="Also the places inside videos that match q")] = False,
    limit: Annotated[int, Param(ge=1, le=MAX_LIMIT)] = 20,
    offset: Annotated[int, Param(ge=0)] = 0,
) -> dict[str, Any]:
    """Stored videos matching ``q`` and every filter, best first (newest first without ``q``),
    ``limit`` from ``offset``; with ``moments``, the matching scenes and transcript passages."""
    cfg = service(request).config
    query.limit, query.offset = limit, offset
    records = api.search(cfg, query)
    # a first page that is not full holds them all; otherwise count
    total = len(records) if offset == 0 and len(records) < limit else api.count(cfg, query)
    out: dict[str, Any] = {
        "total": total,
        "limit": limit,
        "offset": offset,
        "results": [summary(r) for r in records],
    }
    if moments:
        if not query.text:
            raise ApiError(400, "bad_request", "moments need a text to find: give q")
        found = _api_call("moments", cfg, dataclasses.replace(query, limit=limit, offset=0))
        out["moments"] = [_plain(m) for m in found]
    return out


def _api_call(name: str, *args: Any, **kw: Any) -> Any:
    fn = getattr(api, name, None)
    if fn is None:
        raise ApiError(501, "not_implemented", f"this videokit has no {name}; upgrade it")
    return fn(*args, **kw)


# -- one video -------------------------------------------------------------------------------------


@router.get("/videos/{id}", summary="A video's full record")
def video(request: Request, who: Reader, id: str) -> dict[str, Any]:
    """The stored record of video ``id`` (or a unique prefix of at least 6 characters), with links."""
    record = get_record(request, id)
    return {**record.to_dict(), "links": video_links(record.id or "")}


@router.get("/videos/{id}/scenes", summary="A video's scenes")
def scenes(request: Request, who: Reader, id: str) -> dict[str, Any]:
    record = get_record(request, id)
    info = record.scenes
    items = []
    for scene in info.scenes if info else []:
        d = dataclasses.asdict(scene)
        d["thumbnail_url"] = f"/api/v1/videos/{record.id}/thumbnails/{scene.index}" if scene.thumbnail else None
        items.append(d)
    return {
        "id": record.id,
        "scene_count": info.scene_count if info else 0,
        "cuts_per_minute": info.cuts_per_minute if info else None,
        "contact_sheet": f"/api/v1/videos/{record.id}/contact-sheet" if info and info.contact_sheet else None,
        "scenes": items,
    }


@router.get("/videos/{id}/transcript", summary="What is said in a video")
def transcript(request: Request, who: Reader, id: str) -> dict[str, Any]:
    record = get_record(request, id)
    if record.transcript is None:
        raise ApiError(
            404, "not_found", f"video {record.id} has no transcript; run 'videokit reindex' or process it again"
        )
    return {"id": record.id, **dataclasses.asdict(record.transcript), "text": record.transcript.text}


@router.get("/videos/{id}/tags", summary="A video's tags, each with where it comes from")
def tags(request: Request, who: Reader, id: str) -> dict[str, Any]:
    record = get_record(request, id)
    return _tags(record)


def _tags(record: Record) -> dict[str, Any]:
    return {
        "id": record.id,
        "tags": [dataclasses.asdict(t) for t in record.tags],
        "category": record.classification.category if record.classification else None,
        "classification": _plain(record.classification),
    }


class TagChange(BaseModel):
    """User tags to add and remove."""

    model_config = ConfigDict(extra="forbid")
    add: list[str] = Field(default_factory=list, max_length=100)
    remove: list[str] = Field(default_factory=list, max_length=100)


@router.patch("/videos/{id}/tags", summary="Add or remove user tags")
def edit_tags(request: Request, who: Writer, id: str, change: TagChange) -> dict[str, Any]:
    """Add or remove ``user`` tags (rule and analyzer tags stay); the category is decided again."""
    cfg = service(request).config
    get_record(request, id)  # 404 for an unknown id
    edit = api.edit_tags(cfg, id, add=change.add, remove=change.remove)
    return {**_tags(edit.record), "added": edit.added, "removed": edit.removed, "category_before": edit.category_before}


@router.get("/videos/{id}/similar", summary="Videos like this one")
def similar(
    request: Request, who: Reader, id: str, limit: Annotated[int, Param(ge=1, le=MAX_LIMIT)] = 10
) -> dict[str, Any]:
    record = get_record(request, id)
    found = _api_call("similar", service(request).config, record.id, limit=limit)
    return {"id": record.id, "similar": [_similar(item) for item in found]}


def _similar(item: Any) -> Any:
    if isinstance(item, Record):
        return summary(item)
    if isinstance(item, tuple) and item and isinstance(item[0], Record):
        return {**summary(item[0]), "score": item[1] if len(item) > 1 else None}
    inner = getattr(item, "record", None)
    if isinstance(inner, Record):
        return {**summary(inner), "score": getattr(item, "score", None)}
    return _plain(item)


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=2000)
    refresh: bool = False


@router.post("/videos/{id}/ask", summary="Ask a question about a video")
def ask(request: Request, who: Writer, id: str, body: Question) -> dict[str, Any]:
    """Answer ``question`` with the configured analyzer; the answer is kept on the record."""
    record = get_record(request, id)
    answer = api.ask(service(request).config, record.id or id, body.question, refresh=body.refresh)
    return {
        "id": record.id,
        "question": answer.question,
        "answer": answer.answer,
        "stored": answer.stored,
        "warnings": list(getattr(answer, "warnings", []) or []),
    }


# -- export ------------------------------------------------------------------------------------------

EXPORT_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv", "json": "application/zip"}


@router.get("/export", summary="Export a filtered set of videos as a download")
def export(
    request: Request,
    who: Reader,
    query: Filters,
    format: Annotated[str, Param(description="jsonl | csv | json (a zip of one file per video)")] = "jsonl",
) -> FileResponse:
    """The videos matching the filters, written by the exporter ``format`` and sent as a file."""
    if format not in EXPORT_TYPES:
        raise ApiError(400, "bad_request", f"format {format!r}: choose one of {', '.join(EXPORT_TYPES)}")
    work = Path(tempfile.mkdtemp(prefix="videokit-export-"))
    try:
        out = work / f"videos.{format}"
        api.export_library(service(request).config, format, out, query)
        if out.is_dir():
            out = Path(shutil.make_archive(str(work / "videos"), "zip", root_dir=out))
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return FileResponse(
        out,
        media_type=EXPORT_TYPES[format],
        filename=out.name,
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )
