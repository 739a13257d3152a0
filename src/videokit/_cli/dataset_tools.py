"""``videokit convert FILE`` and ``videokit validate FILE``: whole files, no library needed."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import click

from videokit import api
from videokit.dataset.encode import DEFAULT_CRF, EncodeOptions
from videokit.errors import InputError, StoreError


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file (default NAME.h264.mp4 beside FILE).",
)
@click.option("--max-height", type=click.IntRange(min=16), help="Scale down to at most this height (lines).")
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), help="Resample to this frame rate.")
@click.option("--crf", type=click.IntRange(0, 51), default=DEFAULT_CRF, show_default=True, help="x264 quality.")
@click.option("--no-audio", is_flag=True, help="Drop the audio (else the first track, as AAC).")
@click.option("--overwrite", is_flag=True, help="Replace the output file if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the written file's metadata as JSON.")
@click.pass_obj
def convert(
    state: Any,
    file: Path,
    out: Path | None,
    max_height: int | None,
    fps: float | None,
    crf: int,
    no_audio: bool,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Re-encode FILE to an H.264/AAC MP4 with the dataset clips' encoder settings."""
    state.config()
    options = EncodeOptions(max_height=max_height, fps=fps, crf=crf, audio=not no_audio)
    try:
        report = api.convert(file, out, options, overwrite=overwrite)
    except (InputError, StoreError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    m = report.media
    if as_json:
        click.echo(_json({"source": str(report.source), "out": str(report.out), "seconds": report.seconds,
                          "media": dataclasses.asdict(m)}))  # fmt: skip
        return
    size = f"{m.width}x{m.height}" if m.width else "?"
    fps_text = f"{m.fps:g} fps" if m.fps else "? fps"
    audio = m.audio_codec or "no audio"
    click.echo(
        f"{report.out}: {m.video_codec} {size} {fps_text}, {audio}, {m.duration or 0:.2f} s ({report.seconds:.1f} s)"
    )


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def validate(state: Any, file: Path, as_json: bool) -> None:
    """Check that FILE decodes fully: codecs, duration, frames, decode errors (exit 1 when broken)."""
    state.config()
    try:
        report = api.validate(file)
    except InputError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(_json(dataclasses.asdict(report)))
    else:
        codecs = ", ".join(c for c in (report.video_codec, report.audio_codec) if c) or "no codec"
        size = f" {report.width}x{report.height}" if report.width else ""
        duration = f"{report.duration:.2f} s" if report.duration is not None else "? s"
        expected = f" of {report.expected_frames}" if report.expected_frames is not None else ""
        status = "ok" if report.ok else "BROKEN"
        click.echo(f"{report.path}: {status}: {codecs}{size}, {duration}, {report.frames}{expected} frames decoded")
        for problem in report.problems:
            click.echo(f"  {problem}")
        for message in report.errors[1:] if report.error_count > 1 else []:
            click.echo(f"  decoder: {message}")
        if report.error_count > len(report.errors):
            click.echo(f"  ... {report.error_count - len(report.errors)} more decoder error(s)")
    if not report.ok:
        sys.exit(1)


commands = [convert, validate]
