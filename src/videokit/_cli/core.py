"""Core commands: init, run, probe, show, export. Each is one call of :mod:`videokit.api`.

(``search`` and ``similar`` are in :mod:`videokit._cli.search`.)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from videokit import api
from videokit._cli.progress import RunProgress
from videokit.errors import InputError, UsageError
from videokit.net import redact_text
from videokit.store import Query
from videokit.store.base import RESOLUTION_ORDER


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False), default=".")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def init(directory: str, force: bool) -> None:
    """Write a commented config.ini and example rules/keywords files into DIRECTORY."""
    try:
        written = api.init(directory, force=force)
    except UsageError as e:
        raise click.UsageError(str(e)) from None
    for p in written:
        click.echo(f"wrote {p}")


def from_option(f: Any) -> Any:
    """``--from FILE`` (repeatable), for every command that takes inputs."""
    return click.option(
        "--from",
        "from_files",
        multiple=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="A .txt (one input per line) or .csv (url column + user fields) list. Repeatable.",
    )(f)


def skip_option(f: Any) -> Any:
    """``--skip STAGE`` (repeatable), for every command that runs the pipeline. The stage names
    are checked when the pipeline is built (plug-in stages may be optional too)."""
    return click.option(
        "--skip",
        multiple=True,
        metavar="STAGE",
        help="Skip an optional stage (scenes, transcribe, analyze, tag, classify, embed, or an optional plug-in stage). "
        "Repeatable.",
    )(f)


@click.command()
@click.argument("inputs", nargs=-1)
@from_option
@click.option("--workers", type=click.IntRange(min=1), help="Videos processed in parallel ([Concurrency] MaxWorkers).")
@click.option("--threshold", type=float, help="Scene cut threshold ([SceneDetection] DefaultThreshold).")
@click.option("--analyzer", help="Analysis backend: builtin, qwen, api, none ([Analysis] Backend).")
@click.option("--ask", "questions", multiple=True, help="A targeted question for the analyzer. Repeatable.")
@click.option("--per-scene", is_flag=True, default=None, help="Also describe each scene ([Analysis] PerScene).")
@click.option("--use-vpc", is_flag=True, default=None, help="Use [QwenVL] VpcEndpoint for the api backend.")
@click.option(
    "--rules", "rules_file", type=click.Path(dir_okay=False), help="custom_tags.json ([Rules] CustomTagRules)."
)
@click.option(
    "--refresh", is_flag=True, help="Ignore cached analysis results; analyse near-duplicates of analysed videos again."
)
@skip_option
@click.pass_obj
def run(
    state: Any,
    inputs: tuple[str, ...],
    from_files: tuple[Path, ...],
    workers: int | None,
    threshold: float | None,
    analyzer: str | None,
    questions: tuple[str, ...],
    per_scene: bool | None,
    use_vpc: bool | None,
    rules_file: str | None,
    refresh: bool,
    skip: tuple[str, ...],
) -> None:
    """Process INPUTS (files, folders, video URLs, page URLs) into the library."""
    if not inputs and not from_files:
        raise click.UsageError("give at least one input (file, folder, URL) or --from FILE")
    cfg = state.config(
        {
            ("Concurrency", "MaxWorkers"): workers,
            ("SceneDetection", "DefaultThreshold"): threshold,
            ("Analysis", "Backend"): analyzer,
            ("Analysis", "Questions"): list(questions) if questions else None,
            ("Analysis", "PerScene"): per_scene,
            ("QwenVL", "UseVpc"): use_vpc,
            ("Rules", "CustomTagRules"): str(Path(rules_file).resolve()) if rules_file else None,
        }
    )
    with RunProgress(quiet=state.quiet) as progress:
        result = api.run(
            list(inputs),
            cfg,
            from_files=list(from_files),
            skip=skip,
            on_record=progress.record_done,
            on_progress=progress.download,
            on_items=progress.set_total,
            refresh=refresh,
        )
    ok = [r for r in result.records if not r.errors]
    click.echo(f"processed {len(ok)} of {len(result.records)} inputs into {cfg.library}", err=True)
    if result.failures:
        click.echo(f"{len(result.failures)} failure(s):", err=True)
        for inp, err in result.failures:
            click.echo(redact_text(f"  {inp}: [{err.stage}] {err.message}"), err=True)
        sys.exit(1)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def probe(state: Any, file: Path) -> None:
    """Print FILE's technical metadata as JSON."""
    import dataclasses

    state.config()
    try:
        info = api.probe_file(file)
    except InputError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    d = dataclasses.asdict(info)
    d["has_audio"], d["has_subtitles"] = info.has_audio, info.has_subtitles
    click.echo(json.dumps(d, indent=2, ensure_ascii=False))


def _filters(f: Any) -> Any:
    f = click.option(
        "--tag", "tags", multiple=True, help="Has this tag (case-insensitive). Repeatable: all must match."
    )(f)
    f = click.option("--category", help="In this category.")(f)
    f = click.option("--min-duration", type=float, help="Seconds.")(f)
    f = click.option("--max-duration", type=float, help="Seconds.")(f)
    f = click.option(
        "--resolution", type=click.Choice(RESOLUTION_ORDER, case_sensitive=False), help="Resolution label."
    )(f)
    f = click.option("--min-height", type=int, help="Minimum height in pixels.")(f)
    f = click.option("--max-height", type=int, help="Maximum height in pixels.")(f)
    f = click.option("--codec", help="Video codec, e.g. h264.")(f)
    f = click.option("--has-audio/--no-audio", default=None, help="With or without an audio stream.")(f)
    f = click.option("--domain", help="Source domain (subdomains match).")(f)
    f = click.option("--added-after", help="Added on/after this date (YYYY-MM-DD).")(f)
    f = click.option("--added-before", help="Added before this date (YYYY-MM-DD).")(f)
    f = click.option("--min-scenes", type=int, help="At least this many scenes.")(f)
    f = click.option("--max-scenes", type=int, help="At most this many scenes.")(f)
    return f


def build_query(text: str | None, kw: dict[str, Any], limit: int | None = None) -> Query:
    return Query(
        text=text,
        tags=list(kw.get("tags") or []),
        category=kw.get("category"),
        min_duration=kw.get("min_duration"),
        max_duration=kw.get("max_duration"),
        resolution=kw.get("resolution"),
        min_height=kw.get("min_height"),
        max_height=kw.get("max_height"),
        codec=kw.get("codec"),
        has_audio=kw.get("has_audio"),
        domain=kw.get("domain"),
        added_after=kw.get("added_after"),
        added_before=kw.get("added_before"),
        min_scenes=kw.get("min_scenes"),
        max_scenes=kw.get("max_scenes"),
        limit=limit,
    )


def summary(r: Any) -> dict[str, Any]:
    m = r.media
    return {
        "id": r.id,
        "title": r.title,
        "sources": [s.url or s.path or s.input for s in r.sources],
        "duration": m.duration if m else None,
        "resolution": m.resolution if m else None,
        "width": m.width if m else None,
        "height": m.height if m else None,
        "video_codec": m.video_codec if m else None,
        "damaged": m.damaged if m else None,  # the file holds less than its header claims
        "decoded_fraction": m.decoded_fraction if m else None,
        "scene_count": r.scenes.scene_count if r.scenes else None,
        "category": r.classification.category if r.classification else None,
        "tags": r.tag_names(),
        "description": r.analysis.description if r.analysis else None,
        "user_fields": r.user_fields,
        "added_at": r.added_at,
    }


@click.command()
@click.argument("id")
@click.pass_obj
def show(state: Any, id: str) -> None:
    """Print the full record of video ID (or a unique id prefix) as JSON."""
    cfg = state.config()
    try:
        rec = api.get(cfg, id)
    except InputError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    click.echo(rec.to_json(indent=2))
    if rec.scenes and rec.scenes.contact_sheet:
        click.echo(f"contact sheet: {cfg.library / rec.scenes.contact_sheet}", err=True)
    for t in rec.tags:
        why = f" ({t.condition})" if t.condition else ""
        click.echo(f"tag {t.name!r}: {t.origin}, confidence {t.confidence:.2f}{why}", err=True)
    if rec.transcript is not None:
        click.echo(transcript_summary(rec.transcript), err=True)


def transcript_summary(t: Any, limit: int = 300) -> str:
    """One line: the transcript's language and origin, then its text, trimmed to ``limit`` characters."""
    lang = t.language or "language unknown"
    if t.language_probability is not None:
        lang += f" {t.language_probability:.2f}"
    text = t.text if len(t.text) <= limit else t.text[: limit - 3].rstrip() + "..."
    notes = "".join(f" [{w}]" for w in t.warnings)
    return f"transcript ({lang}, {t.origin}, {len(t.segments)} segments){notes}: {text or '(nothing said)'}"


class Registered(click.Choice):
    """A choice among the names a registry holds when the command runs, plug-ins included."""

    def __init__(self, names: Callable[[], list[str]]) -> None:
        self._names = names
        super().__init__([])

    @property
    def choices(self) -> list[str]:  # type: ignore[override]
        return self._names()

    @choices.setter
    def choices(self, value: Any) -> None:
        """The names come from the registry; click's own assignment is ignored."""


def _exporter_names() -> list[str]:
    from videokit.export import exporters

    return exporters.names()


@click.command()
@click.option("--format", "fmt", type=Registered(_exporter_names), required=True)
@click.option(
    "--out", required=True, help="Folder (json) or file (jsonl, csv); or an s3:// gs:// az:// dropbox:// URL."
)
@click.argument("text", required=False)
@_filters
@click.pass_obj
def export(state: Any, fmt: str, out: str, text: str | None, **kw: Any) -> None:
    """Export the library (or a filtered part) as JSON files, JSON lines or CSV."""
    report = api.export_library(state.config(), fmt, out, build_query(text, kw))
    click.echo(f"exported {report.count} video(s) to {out}", err=True)


commands = [init, run, probe, show, export]  # search: videokit._cli.search
