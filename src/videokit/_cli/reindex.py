"""``videokit reindex``: a call of :func:`videokit.api.reindex`."""

from __future__ import annotations

import sys
from typing import Any

import click

from videokit import api
from videokit._cli.core import _filters, build_query


@click.command()
@click.argument("text", required=False)
@click.option(
    "--only",
    type=click.Choice(["transcripts", "embeddings"]),
    default=None,
    help="Rebuild only transcripts or only embeddings (default: both).",
)
@click.option("--force", is_flag=True, help="Redo every video, even those already up to date.")
@_filters
@click.pass_obj
def reindex(state: Any, text: str | None, only: str | None, force: bool, **kw: Any) -> None:
    """(Re)build transcripts and embeddings of stored videos (all, or those matching TEXT and filters).

    Videos already up to date with the configured models are skipped, so an interrupted reindex
    resumes where it stopped; changing [Embeddings] Model embeds every video again. Exit status 1
    when some video failed (each failure is printed on one line).
    """
    config = state.config()
    shown = not state.quiet and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if shown:
            click.echo(f"\r{done}/{total} videos", err=True, nl=done == total)

    report = api.reindex(
        config,
        build_query(text, kw),
        transcripts=only != "embeddings",
        embeddings=only != "transcripts",
        force=force,
        on_progress=progress,
    )
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    for line in report.failures:
        click.echo(f"failed: {line}", err=True)
    click.echo(report.summary())
    if report.failed:
        sys.exit(1)


commands = [reindex]
