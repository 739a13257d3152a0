"""`videokit migrate --to URI_OR_PATH [--from URI_OR_PATH]`: copy a library between stores."""

from __future__ import annotations

import sys
from typing import Any

import click

from videokit import api


@click.command()
@click.option(
    "--to",
    "to",
    required=True,
    metavar="URI_OR_PATH",
    help="Destination: mongodb:// or mongodb+srv:// URI, a .sqlite file, or a library folder.",
)
@click.option(
    "--from",
    "from_",
    metavar="URI_OR_PATH",
    help="Source, same forms as --to (default: the current library store, [Library] Store).",
)
@click.pass_obj
def migrate(state: Any, to: str, from_: str | None) -> None:
    """Copy every record from one library store to another (SQLite ⇄ MongoDB).

    Idempotent: records are upserted by content id, so running it again copies nothing
    twice. MongoDB uses [MongoDB] DatabaseName, CollectionName and StoreVideos; put the
    password in the URI through an environment variable, e.g. --to "$VIDEOKIT_MONGODB_URI".
    """
    cfg = state.config()
    if state.quiet or not sys.stderr.isatty():
        done = api.migrate(cfg, to, from_)
    else:
        done = _with_bar(cfg, to, from_)
    report = done.report
    click.echo(
        f"{done.source} -> {done.destination}: {report.copied} copied, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.failed)} failed",
        err=True,
    )
    for rid, why in report.failed:
        click.echo(f"  failed {rid[:12]}: {why}", err=True)
    if report.failed:
        sys.exit(1)


def _with_bar(cfg: Any, to: str, from_: str | None) -> api.Migration:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("migrating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=Console(stderr=True)
    ) as bar:
        task = bar.add_task("migrate", total=None)
        return api.migrate(cfg, to, from_, progress=lambda done, total: bar.update(task, completed=done, total=total))


commands = [migrate]
