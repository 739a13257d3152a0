"""``videokit dupes``: the groups of near-duplicate videos in the library."""

from __future__ import annotations

import json
from typing import Any

import click

from videokit import api
from videokit._cli.core import _filters, build_query
from videokit.dataset.dedup import MAX_DISTANCE, MIN_SHARED


def _video(record: Any) -> dict[str, Any]:
    m = record.media
    return {
        "id": record.id,
        "title": record.title,
        "file": record.file.path if record.file else None,
        "width": m.width if m else None,
        "height": m.height if m else None,
        "duration": m.duration if m else None,
        "video_codec": m.video_codec if m else None,
    }


@click.command()
@click.argument("text", required=False)
@_filters
@click.option(
    "--max-distance",
    type=int,
    default=MAX_DISTANCE,
    show_default=True,
    help="Bits (of 64) two scene thumbnails' perceptual hashes may differ by and still match (0-12).",
)
@click.option(
    "--min-shared",
    type=float,
    default=MIN_SHARED,
    show_default=True,
    help="Share of one video's scenes that must match the other's for the two to be near-duplicates.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object with a 'groups' array.")
@click.pass_obj
def dupes(state: Any, text: str | None, max_distance: int, min_shared: float, as_json: bool, **kw: Any) -> None:
    """List groups of near-duplicate videos (re-encoded, resized, trimmed or re-uploaded copies)
    with their similarity, from the perceptual hashes of their scene thumbnails. TEXT and the
    filters choose which stored videos to compare (all by default)."""
    cfg = state.config()
    report = api.dupes(cfg, build_query(text, kw), max_distance=max_distance, min_shared=min_shared)
    if as_json:
        out = {
            "compared": report.compared,
            "without_thumbnails": report.without_thumbnails,
            "groups": [
                {
                    "similarity": g.similarity,
                    "videos": [_video(report.records[vid]) for vid in g.ids if vid in report.records],
                    "pairs": [{"a": p.a, "b": p.b, "similarity": p.similarity, "shared": p.shared} for p in g.pairs],
                }
                for g in report.groups
            ],
        }
        click.echo(json.dumps(out, indent=2))
    else:
        for n, g in enumerate(report.groups, 1):
            click.echo(f"group {n}: {len(g.ids)} videos, similarity {g.similarity:.2f}")
            for vid in g.ids:
                rec = report.records.get(vid)
                v = _video(rec) if rec is not None else {"id": vid}
                size = f"{v['width']}x{v['height']}" if v.get("width") else "?"
                click.echo(f"  {vid[:12]}  {size:>9}  {v.get('title') or ''}  {v.get('file') or ''}".rstrip())
    skipped = len(report.without_thumbnails)
    note = f" ({skipped} without scene thumbnails to compare: none detected, or only flat pictures)" if skipped else ""
    click.echo(f"{len(report.groups)} group(s) of near-duplicates among {report.compared} video(s){note}", err=True)


commands = [dupes]
