"""Looking after a library: `videokit migrate --to URI_OR_PATH [--from URI_OR_PATH]` copies it
between stores, `videokit check` checks it, `videokit rebuild` recreates its database."""

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


@click.command()
@click.pass_obj
def check(state: Any) -> None:
    """Check the library: the database's integrity check and the record.json files.

    Exit status 0 when the database is healthy, 1 when it is damaged, missing or cannot be
    opened ('videokit rebuild' then recreates it from the record.json files). Writes nothing.
    """
    report = api.check(state.config())
    if report.ok:
        click.echo(f"{report.database}: ok, {report.records} record(s)", err=True)
    else:
        click.echo(f"{report.database}: damaged or unusable:", err=True)
        for problem in report.problems:
            click.echo(f"  {problem}", err=True)
    click.echo(f"{report.record_files} record.json file(s) beside the processed files", err=True)
    for bad in report.unreadable_files:
        click.echo(f"  unreadable: {bad}", err=True)
    if report.without_file:
        click.echo(
            f"{report.without_file} stored record(s) have no record.json yet ('videokit rebuild' writes them)", err=True
        )
    if not report.ok:
        click.echo("run 'videokit rebuild' to recreate the database from the record.json files", err=True)
        sys.exit(1)


@click.command()
@click.pass_obj
def rebuild(state: Any) -> None:
    """Recreate the library database (library.sqlite) from the record.json files.

    The old database, if any, is kept as library.sqlite.damaged-<time> (or .replaced-<time>
    when it was healthy); rows still readable in it that have no record.json are kept too.
    Run it while no other videokit command uses the library.
    """
    report = api.rebuild(state.config())
    click.echo(
        f"rebuilt {report.database}: {report.records} record(s) "
        f"({report.from_files} from record.json files, {report.salvaged} from the old database)",
        err=True,
    )
    for bad in report.unreadable_files:
        click.echo(f"  left out: {bad}", err=True)
    if report.kept_as is not None:
        state_word = "damaged" if report.damaged else "healthy"
        click.echo(f"the old ({state_word}) database is kept as {report.kept_as}", err=True)


commands = [migrate, check, rebuild]
