"""``videokit dataset OUT``: labelled clips, leak-free splits, standard formats (one call of
:func:`videokit.api.build_dataset`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from videokit import api
from videokit._cli.core import Registered, _filters, build_query
from videokit.dataset.clips import CLIP_KINDS, MODES, ClipOptions
from videokit.dataset.labels import LABEL_SOURCES, UNLABELED_CHOICES, LabelOptions, parse_classes
from videokit.dataset.splits import parse_split
from videokit.errors import InputError
from videokit.net import redact_text
from videokit.storage.location import is_cloud_url

_CLIP = ClipOptions()  # the defaults
_LABEL = LabelOptions()

# the search filters whose names the clip options take here: renamed for this command
_RENAMED = {"max_height", "has_audio"}


def _format_names() -> list[str]:
    from videokit.dataset.formats.base import formats

    return formats.names()


def _dataset_filters(f: Any) -> Any:
    """The usual search filters (``videokit search``), but ``--max-height`` and
    ``--has-audio/--no-audio`` name the clips' height and audio here: the filters are
    ``--max-source-height`` and ``--with-audio/--without-audio``."""
    holder = _filters(lambda: None)
    for param in holder.__click_params__:
        if param.name not in _RENAMED:
            f = _append(f, param)
    f = click.option("--max-source-height", type=int, help="Only videos at most this many pixels high.")(f)
    f = click.option(
        "--with-audio/--without-audio", "source_audio", default=None, help="Only videos with (without) an audio stream."
    )(f)
    return f


def _append(f: Any, param: click.Parameter) -> Any:
    if not hasattr(f, "__click_params__"):
        f.__click_params__ = []
    f.__click_params__.append(param)
    return f


@click.command()
@click.argument("out")
@click.argument("text", required=False)
@click.option(
    "--clips",
    "clip_source",
    type=click.Choice(CLIP_KINDS),
    default=_CLIP.clips,
    show_default=True,
    help="Clips from the detected scenes, fixed windows, or the labelled segments of an annotation list.",
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default=_CLIP.mode,
    show_default=True,
    help="copy: no re-encode, cuts snap to keyframes (the real span is recorded); exact: frame-accurate H.264.",
)
@click.option(
    "--min-len", type=float, default=_CLIP.min_len, show_default=True, help="Shortest clip, seconds (scenes)."
)
@click.option(
    "--max-len",
    type=float,
    default=_CLIP.max_len,
    show_default=True,
    help="Longest clip, seconds; longer scenes are windowed.",
)
@click.option("--window", type=float, default=_CLIP.window, show_default=True, help="Window length, seconds (windows).")
@click.option("--stride", type=float, help="Seconds between window starts (default: the window length).")
@click.option("--max-height", type=int, help="exact mode: scale clips down to at most this height.")
@click.option("--fps", type=float, help="exact mode: frame rate of the clips.")
@click.option(
    "--crf", type=int, default=_CLIP.crf, show_default=True, help="exact mode: H.264 quality (lower is better)."
)
@click.option("--no-audio", is_flag=True, help="Drop the audio of the clips.")
@click.option(
    "--label-from",
    type=click.Choice(LABEL_SOURCES),
    default=_LABEL.source,
    show_default=True,
    help="The label: the annotation list's label column, tags mapped by --classes, the category, or a stored answer.",
)
@click.option("--classes", help="Tag-to-class mapping: a .json or .csv file, or 'Tag=class,Tag2=class2'.")
@click.option("--question", help="--label-from answer: the stored question whose answer is the label.")
@click.option("--multi-label", is_flag=True, help="Keep every label of a clip (default: one label per clip).")
@click.option(
    "--unlabeled",
    type=click.Choice(UNLABELED_CHOICES),
    default=_LABEL.unlabeled,
    show_default=True,
    help="Clips without a label: left out, or kept in the 'unlabeled' class (counted either way).",
)
@click.option("--split", "split_text", default="0.8,0.1,0.1", show_default=True, help="train,val,test ratios (sum 1).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split.")
@click.option("--dedup", is_flag=True, help="Keep one video of each near-duplicate group (the highest resolution).")
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=Registered(_format_names),
    help="Output format (repeatable; default folder). Several formats: one folder each, OUT/<format>/.",
)
@click.option("--overwrite", is_flag=True, help="Replace a dataset built in OUT with other settings.")
@click.option("--workers", type=click.IntRange(min=1), help="Source videos cut at a time ([Concurrency] MaxWorkers).")
@_dataset_filters
@click.pass_obj
def dataset(
    state: Any,
    out: str,
    text: str | None,
    clip_source: str,
    mode: str,
    min_len: float,
    max_len: float,
    window: float,
    stride: float | None,
    max_height: int | None,
    fps: float | None,
    crf: int,
    no_audio: bool,
    label_from: str,
    classes: str | None,
    question: str | None,
    multi_label: bool,
    unlabeled: str,
    split_text: str,
    seed: int,
    dedup: bool,
    formats: tuple[str, ...],
    overwrite: bool,
    workers: int | None,
    max_source_height: int | None,
    source_audio: bool | None,
    **filters: Any,
) -> None:
    """Cut labelled clips from the stored videos (all, or those matching TEXT and the filters)
    into the dataset folder OUT, split without leaks between near-duplicates, in standard formats.
    OUT may be an s3:// gs:// az:// dropbox:// prefix: built locally, then uploaded, its
    manifest.jsonl last.

    Running the same command again resumes an interrupted build without cutting a finished clip
    twice; a different command into the same OUT is refused unless --overwrite."""
    cfg = state.config({("Concurrency", "MaxWorkers"): workers})
    options = api.DatasetOptions(
        clips=ClipOptions(
            clips=clip_source,
            min_len=min_len,
            max_len=max_len,
            window=window,
            stride=stride,
            mode=mode,
            max_height=max_height,
            fps=fps,
            crf=crf,
            audio=not no_audio,
        ),
        labels=LabelOptions(
            source=label_from,
            classes=parse_classes(classes) if classes else None,
            question=question,
            multi_label=multi_label,
            unlabeled=unlabeled,
        ),
        formats=formats or ("folder",),
        split=parse_split(split_text),
        seed=seed,
        dedup=dedup,
    )
    query = build_query(text, {**filters, "max_height": max_source_height, "has_audio": source_audio})
    target: Path | str = out if is_cloud_url(out) else Path(out)
    try:
        report = _with_bar(
            state.quiet,
            lambda progress: api.build_dataset(cfg, target, options, query, overwrite=overwrite, progress=progress),
        )
    except InputError as e:  # a cloud OUT: the upload failed (the dataset stays built in the library)
        if not isinstance(target, str):
            raise
        click.echo(redact_text(f"error: {e}"), err=True)
        click.echo("the dataset is built; the same command uploads it without cutting it again", err=True)
        sys.exit(1)
    _print(report)
    if not report.ok:
        sys.exit(1)


def _with_bar(quiet: bool, call: Callable[[Callable[[int, int], None] | None], api.DatasetReport]) -> api.DatasetReport:
    if quiet or not sys.stderr.isatty():
        return call(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("cutting videos"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task("cut", total=None)
        return call(lambda done, total: bar.update(task, completed=done, total=total))


def _print(r: api.DatasetReport) -> None:
    def say(text: str) -> None:
        click.echo(text, err=True)

    say(
        f"dataset {r.out}: {r.clips} clip(s) from {r.videos} video(s), {r.duration:.1f} s "
        f"({r.written} cut now, {r.skipped} already cut, {r.failed} failed); format(s) {', '.join(r.formats)}"
    )
    for split, per_class in r.counts.items():
        say(f"  {split}: " + ", ".join(f"{label} {n}" for label, n in per_class.items()))
    say(
        f"labels: {r.labelled} labelled, {r.unlabeled_skipped} unlabeled skipped, {r.unlabeled_kept} unlabeled kept; "
        f"near-duplicate groups: {r.duplicate_groups} ({r.dropped_duplicates} video(s) left out by --dedup)"
    )
    problems = [*r.failures, *r.rejected]
    if problems:
        say(f"{len(problems)} problem(s):")
        for what, why in problems:
            say(redact_text(f"  {what}: {why}"))


commands = [dataset]
