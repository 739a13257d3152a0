"""Search commands: search (videos or moments, in three modes) and similar. Each is one call of :mod:`videokit.api`."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from videokit import api
from videokit._cli.core import _filters, build_query, summary
from videokit.errors import InputError
from videokit.store import Query
from videokit.store.base import MODES


def _table(header: list[str], rows: list[list[str]]) -> None:
    """Rows as a table on a terminal, as tab-separated lines for pipes and scripts."""
    if not sys.stdout.isatty():
        for row in [header, *rows]:
            click.echo("\t".join(row))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for col in header:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def _time(t: float | None) -> str:
    if t is None:
        return "-"
    minutes, seconds = divmod(t, 60)
    return f"{int(minutes)}:{seconds:05.2f}"


@click.command()
@click.argument("text", required=False)
@_filters
@click.option(
    "--mode",
    type=click.Choice(MODES, case_sensitive=False),
    help="text: every word; semantic: by meaning; hybrid: both, fused. Default: hybrid where the library has "
    "embeddings, else text.",
)
@click.option("--moments", "as_moments", is_flag=True, help="List the best moments (scene, transcript chunk) instead.")
@click.option("--limit", type=int, default=None, help="At most this many results.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def search(
    state: Any, text: str | None, mode: str | None, as_moments: bool, limit: int | None, as_json: bool, **kw: Any
) -> None:
    """Find videos by TEXT (title, description, tags, what is said, OCR, sources) and filters; with
    --moments, the moments that match, with their start and end."""
    cfg = state.config()
    query = build_query(text, kw, limit)
    query.mode = mode.lower() if mode else api.search_mode(cfg, query)
    if as_moments:
        found = api.moments(cfg, query)
        if as_json:
            click.echo(json.dumps(_by_video(cfg, found, query.mode), indent=2, ensure_ascii=False))
        else:
            rows = [
                [m.video_id[:12], m.title or "", _time(m.start), _time(m.end), m.kind, f"{m.score:.3f}", m.text]
                for m in found
            ]
            _table(["id", "title", "start", "end", "kind", "score", "text"], rows)
        click.echo(f"{len(found)} moment(s), {query.mode} search", err=True)
        return
    records = api.search(cfg, query)
    if as_json:
        click.echo(json.dumps([{**summary(r), "mode": query.mode} for r in records], indent=2, ensure_ascii=False))
        return
    rows = []
    for r in records:
        s = summary(r)
        duration = f"{s['duration']:.1f}s" if s["duration"] else "-"
        rows.append(
            [r.id[:12], s["title"], duration, s["resolution"] or "-", s["category"] or "-", ", ".join(s["tags"])]
        )
    _table(["id", "title", "duration", "resolution", "category", "tags"], rows)
    notice = f", {query.mode} search" if text and text.strip() else ""
    click.echo(f"{len(records)} video(s){notice}", err=True)


def _by_video(cfg: Any, found: list[api.Moment], mode: str) -> list[dict[str, Any]]:
    """One entry per video (the video's summary, its ``moments`` best first), in the order of their best moment."""
    order = list(dict.fromkeys(m.video_id for m in found))
    records = {r.id: r for r in api.search(cfg, Query(ids=order))} if order else {}
    out = []
    for video in order:
        if video not in records:
            continue  # deleted meanwhile
        moments = [
            {"kind": m.kind, "ref": m.ref, "start": m.start, "end": m.end, "text": m.text, "score": m.score}
            for m in found
            if m.video_id == video
        ]
        out.append({**summary(records[video]), "mode": mode, "moments": moments})
    return out


@click.command()
@click.argument("id")
@_filters
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True, help="At most this many videos.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def similar(state: Any, id: str, limit: int, as_json: bool, **kw: Any) -> None:
    """List the videos most like video ID (or a unique id prefix), by the meaning of what they show
    and say (their embeddings), nearest first; the filters apply."""
    cfg = state.config()
    try:
        found = api.similar(cfg, id, limit=limit, query=build_query(None, kw))
    except InputError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps([{**summary(s.record), "score": s.score} for s in found], indent=2, ensure_ascii=False))
    else:
        rows = [[s.record.id[:12] if s.record.id else "", s.record.title, f"{s.score:.3f}"] for s in found]
        _table(["id", "title", "score"], rows)
    if not found and api.get(cfg, id).embeddings is None:
        click.echo(f"video {id} has no embeddings; run 'videokit reindex' to make them", err=True)
    else:
        click.echo(f"{len(found)} similar video(s)", err=True)


commands = [search, similar]
