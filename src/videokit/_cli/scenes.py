"""``videokit scenes FILE``: the scene list of one video (no library needed)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import click

from videokit import api
from videokit.errors import InputError


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--threshold", type=float, help="Hard-cut threshold (default [SceneDetection] DefaultThreshold).")
@click.option("--min-scene-len", type=float, help="Shortest scene in seconds.")
@click.option("--mode", type=click.Choice(["adaptive", "content"]), help="Cut detector.")
@click.option(
    "--fast/--no-fast",
    default=None,
    help="Skip the H.264/HEVC deblocking filter while decoding: faster, slightly less exact ([SceneDetection] Fast).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object with a 'scenes' array.")
@click.pass_obj
def scenes(
    state,
    file: str,
    threshold: float | None,
    min_scene_len: float | None,
    mode: str | None,  # noqa: ANN001
    fast: bool | None,
    as_json: bool,
) -> None:
    """Find the scenes of FILE: cuts, fades, dissolves and wipes."""
    cfg = state.config(
        {
            ("SceneDetection", "DefaultThreshold"): threshold,
            ("SceneDetection", "MinSceneLength"): min_scene_len,
            ("SceneDetection", "Mode"): mode,
            ("SceneDetection", "Fast"): fast,
        }
    )
    try:
        info = api.find_scenes(cfg, file)
    except InputError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    if as_json:
        out = {
            "file": file,
            "scene_count": info.scene_count,
            "cuts_per_minute": info.cuts_per_minute,
            "decode_errors": info.decode_errors,
            "frames_decoded": info.frames_decoded,
            "scenes": [
                {
                    "index": s.index,
                    "start": s.start,
                    "end": s.end,
                    "start_frame": s.start_frame,
                    "end_frame": s.end_frame,
                    **({"boundary": asdict(s.boundary)} if s.boundary else {}),
                }
                for s in info.scenes
            ],
        }
        click.echo(json.dumps(out, indent=2))
        return
    for s in info.scenes:
        how = f"  ({s.boundary.kind} {s.boundary.start:.2f}-{s.boundary.end:.2f})" if s.boundary else ""
        click.echo(f"{s.index + 1:4d}  {s.start:9.3f}  {s.end:9.3f}  frames {s.start_frame}-{s.end_frame}{how}")
    if info.decode_errors:
        click.echo(f"{info.decode_errors} decoder errors: the file is damaged", err=True)


commands = [scenes]
