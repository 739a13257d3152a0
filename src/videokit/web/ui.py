"""The web UI: server-rendered pages on the library API (``videokit.api``), nothing bypassing it.

``/`` the library (search, facets, grid, pages), ``/videos/{id}`` one video (player, scenes,
transcript, tags, description, questions, similar videos), ``/jobs`` adding videos and watching
them, ``/dashboard`` charts of the library. Every page needs a signed-in browser (or
``[Server] AnonymousRead`` for the pages that only read); every form carries the CSRF token.
Templates autoescape: a title holding ``<script>`` is shown as text.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import itertools
import math
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from videokit import api
from videokit.api import PRIORITIES
from videokit.config import Config
from videokit.errors import InputError, UsageError, VideokitError, one_line
from videokit.record import Record
from videokit.store import Query
from videokit.web.auth import ui_user, verify_csrf
from videokit.web.render import render
from videokit.web.service import service
from videokit.web.ui_charts import Chart, columns, rows
from videokit.web.ui_jobs import MAX_LINES, jobs_view, parse_inputs
from videokit.web.ui_query import MODES, PER_PAGE, LibraryView, chips, facets, page_links
from videokit.web.ui_stats import DURATIONS, LibraryStats, summarise
from videokit.web.ui_views import card, hours_text, moment_link, size_text, video_view

router = APIRouter(include_in_schema=False)

FACET_LIMIT = 2000  # records counted for the facets of one library page
DASHBOARD_LIMIT = 100_000  # records counted by the dashboard
MOMENTS = 8  # moments shown above the grid
SIMILAR = 6
BATCH = FACET_LIMIT + 1  # records per library API call: the facets of a page in one call


def _config(request: Request) -> Config:
    return service(request).config


def _matches(config: Config, query: Query) -> Iterator[Record]:
    """Every record matching ``query``, read from the library API a page at a time."""
    offset = 0
    while True:
        page = api.search(config, _paged(query, BATCH, offset))
        yield from page
        if len(page) < BATCH:
            return
        offset += BATCH


def _said(error: Exception, config: Config) -> str:
    """The error as one line for a page: the library's folder on the server is not shown."""
    return one_line(error).replace(str(config.library), "the library")


def _paged(query: Query, limit: int, offset: int) -> Query:
    q = Query(**{f: getattr(query, f) for f in Query.__slots__})  # type: ignore[attr-defined]
    q.limit, q.offset = limit, offset
    return q


# -- the library --------------------------------------------------------------------------------


@router.get("/", name="ui_library")
def library(request: Request, user: Annotated[object, Depends(ui_user("read"))]) -> Response:
    config = _config(request)
    view = LibraryView.from_params(request.query_params, request.query_params.getlist("tag"))
    query = view.query()
    error = None
    matched: list[Record] = []
    try:
        matched = list(itertools.islice(_matches(config, query), FACET_LIMIT + 1))
    except VideokitError as e:  # an unknown mode, semantic search on a library without embeddings
        error = _said(e, config)
    stats = summarise(matched, limit=FACET_LIMIT)
    total = len(matched) if not stats.truncated else api.count(config, query)
    pages = max(math.ceil(total / PER_PAGE), 1)
    if view.page > pages:
        view = dataclasses.replace(view, page=pages)
    start = (view.page - 1) * PER_PAGE
    if start + PER_PAGE <= len(matched) or not stats.truncated:
        shown = matched[start : start + PER_PAGE]
    else:
        shown = api.search(config, _paged(query, PER_PAGE, start))
    moments = []
    if view.q and not error:
        try:
            found = api.moments(config, _paged(query, MOMENTS, 0))
            moments = [moment_link(m) for m in found if m.start is not None]
        except VideokitError as e:
            error = _said(e, config)
    return render(
        request,
        "library.html",
        {
            "nav": "library",
            "view": view,
            "modes": MODES,
            "error": error,
            "stats": stats,
            "facets": facets(view, stats),
            "chips": chips(view),
            "clear_href": LibraryView(q=view.q, mode=view.mode).href(),
            "total": total,
            "pages": pages,
            "cards": [card(r) for r in shown],
            "moments": moments,
            "page_links": page_links(view, pages),
            "prev_href": view.href(page=view.page - 1) if view.page > 1 else None,
            "next_href": view.href(page=view.page + 1) if view.page < pages else None,
        },
    )


# -- one video ----------------------------------------------------------------------------------


def _video_page(
    request: Request,
    record: Record,
    *,
    start: float = 0.0,
    status_code: int = 200,
    **extra: object,
) -> Response:
    config = _config(request)
    similar: list[Record] = []
    similar_note = None
    try:
        similar = [s.record for s in api.similar(config, record.id or "", limit=SIMILAR)]
    except VideokitError as e:  # a library without embeddings: say so instead of a list
        similar_note = _said(e, config)
    context = {
        "nav": "library",
        "v": video_view(record, start),
        "similar": [card(r) for r in similar],
        "similar_note": similar_note,
        "asked": None,
        "ask_error": None,
        "tag_error": None,
        **extra,
    }
    return render(request, "video.html", context, status_code=status_code)


def _start(value: str | None) -> float:
    """``?t=`` as seconds: a number (``12.5``) or a clock (``1:02``); anything else is 0."""
    if not value:
        return 0.0
    try:
        parts = [float(p) for p in value.strip().split(":")]
    except ValueError:
        return 0.0
    if len(parts) > 3 or any(not math.isfinite(p) or p < 0 for p in parts):
        return 0.0
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return seconds


def _get(request: Request, video_id: str) -> Record | Response:
    try:
        return api.get(_config(request), video_id)
    except InputError:  # its message names the library folder: not for the web
        message = f"No video with id {video_id!r} in this library."
        return render(request, "missing.html", {"nav": "library", "message": message}, status_code=404)


@router.get("/videos/{video_id}", name="ui_video")
def video(request: Request, video_id: str, user: Annotated[object, Depends(ui_user("read"))]) -> Response:
    record = _get(request, video_id)
    if isinstance(record, Response):
        return record
    return _video_page(request, record, start=_start(request.query_params.get("t")))


@router.post("/videos/{video_id}/tags", name="ui_edit_tags", dependencies=[Depends(verify_csrf)])
def edit_tags(
    request: Request,
    video_id: str,
    user: Annotated[object, Depends(ui_user("write"))],
    add: Annotated[str, Form(max_length=200)] = "",
    remove: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    config = _config(request)
    record = _get(request, video_id)
    if isinstance(record, Response):
        return record
    try:
        api.edit_tags(
            config,
            record.id or video_id,
            add=[add] if add.strip() else [],
            remove=[remove] if remove.strip() else [],
        )
    except (InputError, UsageError) as e:
        return _video_page(request, record, tag_error=_said(e, config), status_code=400)
    return RedirectResponse(f"/videos/{record.id}#tags", status_code=303)


@router.post("/videos/{video_id}/ask", name="ui_ask", dependencies=[Depends(verify_csrf)])
def ask(
    request: Request,
    video_id: str,
    user: Annotated[object, Depends(ui_user("write"))],
    question: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    config = _config(request)
    record = _get(request, video_id)
    if isinstance(record, Response):
        return record
    try:
        answer = api.ask(config, record.id or video_id, question)
    except VideokitError as e:
        return _video_page(request, record, ask_error=_said(e, config), status_code=400)
    return _video_page(request, answer.record, asked=answer)


# -- the dashboard --------------------------------------------------------------------------------


def dashboard_charts(stats: LibraryStats, *, today: _dt.date | None = None) -> list[Chart]:
    """The dashboard's charts; each bar links to the library filtered to what it counts."""
    base = LibraryView()
    tags = stats.tags.most_common(15)
    categories = stats.categories.most_common()
    domains = stats.domains.most_common(12)
    durations = [(r.label, stats.durations[r.key]) for r in DURATIONS]
    resolutions = stats.resolution_order()
    days = stats.days(30, today)
    return [
        rows("Videos by category", categories, [base.toggle("category", c) for c, _ in categories]),
        rows("Most used tags", tags, [base.toggle_tag(t) for t, _ in tags]),
        columns("Added per day (last 30 days)", [(d[5:], n) for d, n in days]),
        rows("By source", domains, [base.toggle("domain", d) if d != "local" else None for d, _ in domains]),
        columns("Duration", durations, [base.toggle("duration", r.key) for r in DURATIONS]),
        columns("Resolution", resolutions, [base.toggle("resolution", r) for r, _ in resolutions]),
    ]


@router.get("/dashboard", name="ui_dashboard")
def dashboard(request: Request, user: Annotated[object, Depends(ui_user("read"))]) -> Response:
    config = _config(request)
    stats = summarise(_matches(config, Query()), limit=DASHBOARD_LIMIT)
    return render(
        request,
        "dashboard.html",
        {
            "nav": "dashboard",
            "stats": stats,
            "hours": hours_text(stats.seconds),
            "size": size_text(stats.bytes),
            "charts": dashboard_charts(stats),
        },
    )


# -- jobs ---------------------------------------------------------------------------------------------


def _jobs_context(request: Request) -> dict[str, object]:
    svc = service(request)
    return {"nav": "jobs", "jobs": jobs_view(api.status(svc.config), svc.jobs.local_jobs()), "priorities": PRIORITIES}


@router.get("/jobs", name="ui_jobs")
def jobs(request: Request, user: Annotated[object, Depends(ui_user("read"))]) -> Response:
    return render(request, "jobs.html", {**_jobs_context(request), "inputs_text": ""})


@router.get("/jobs/progress", name="ui_jobs_progress")
def jobs_progress(request: Request, user: Annotated[object, Depends(ui_user("read"))]) -> Response:
    """The progress part of the jobs page alone: the page fetches it again while work goes on."""
    return render(request, "_jobs_progress.html", _jobs_context(request))


@router.post("/jobs", name="ui_submit", dependencies=[Depends(verify_csrf)])
def submit(
    request: Request,
    user: Annotated[object, Depends(ui_user("write"))],
    inputs: Annotated[str, Form()] = "",
    priority: Annotated[str, Form()] = "normal",
) -> Response:
    config, runner = _config(request), service(request).jobs
    lines = parse_inputs(inputs)
    if not lines:
        return _jobs_error(request, inputs, "Give at least one URL, one per line.")
    if len(lines) > MAX_LINES:
        return _jobs_error(request, inputs, f"{len(lines)} lines: give at most {MAX_LINES} at a time.")
    if priority not in PRIORITIES:
        priority = "normal"
    accepted, refused = runner.check_inputs(lines)
    if accepted:
        try:
            runner.submit(accepted, priority)
        except VideokitError as e:
            return _jobs_error(request, inputs, _said(e, config))
    if refused:
        why = "; ".join(r["message"] for r in refused[:5]) + ("; …" if len(refused) > 5 else "")
        done = f"{len(accepted)} submitted. " if accepted else ""
        return _jobs_error(request, "\n".join(r["input"] for r in refused), f"{done}{len(refused)} refused: {why}")
    return RedirectResponse("/jobs", status_code=303)


def _jobs_error(request: Request, text: str, message: str) -> Response:
    context = {**_jobs_context(request), "inputs_text": text, "submit_error": message}
    return render(request, "jobs.html", context, status_code=400)


@router.post("/jobs/retry", name="ui_retry", dependencies=[Depends(verify_csrf)])
def retry(
    request: Request,
    user: Annotated[object, Depends(ui_user("write"))],
    transient_only: Annotated[str, Form()] = "",
) -> Response:
    config = _config(request)
    try:
        service(request).jobs.retry(bool(transient_only))
    except VideokitError as e:
        context = {**_jobs_context(request), "inputs_text": "", "submit_error": _said(e, config)}
        return render(request, "jobs.html", context, status_code=400)
    return RedirectResponse("/jobs", status_code=303)
