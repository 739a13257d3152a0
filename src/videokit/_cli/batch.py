"""Batch commands: status, retry, worker, submit. Each is one call of :mod:`videokit.api`."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from videokit import api
from videokit._cli.core import from_option, skip_option
from videokit.net import redact_text


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True, help="Failures listed at most.")
@click.pass_obj
def status(state: Any, as_json: bool, limit: int) -> None:
    """Counts by stage and status, failures with reasons; with a broker, queue depth and workers;
    the library store and how it searches text."""
    report = api.status(state.config())
    if not report.exists and not as_json:
        click.echo(f"no batch has run in {report.ledger.parent} yet (no {report.ledger.name})")
        _echo_library(report.library)
        return
    broker = _broker_json(report.broker)
    out = {
        "ledger": str(report.ledger),
        "inputs": report.inputs,
        "jobs": report.jobs,
        "stages": report.stages,
        "failures": [asdict(f) for f in report.failures],
        "broker": broker,
        "library": asdict(report.library) if report.library else None,
    }
    if as_json:
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    click.echo(f"ledger {out['ledger']}: {out['inputs']} input(s)")
    click.echo("  " + ", ".join(f"{s} {n}" for s, n in report.jobs.items()))
    if report.stages:
        names = sorted({st for per in report.stages.values() for st in per})
        click.echo(f"  {'stage':<10}" + "".join(f"{n:>8}" for n in names))
        for stage, per in report.stages.items():
            click.echo(f"  {stage:<10}" + "".join(f"{per.get(n, 0):>8}" for n in names))
    failed = report.failures
    if failed:
        click.echo(f"{len(failed)} failure(s):")
        for f in failed[:limit]:
            click.echo(f"  {f.input}: [{f.stage}] {f.kind}: {f.error} (attempts {f.attempts})")
        if len(failed) > limit:
            click.echo(f"  ... and {len(failed) - limit} more (--limit)")
    if broker is not None:
        if broker.get("error"):
            click.echo(f"broker: {broker['error']}")
        else:
            click.echo(f"broker {broker['url']}: queued " + ", ".join(f"{q} {n}" for q, n in broker["queues"].items()))
            for w in broker["workers"]:
                now = f", working on {w['current']}" if w["current"] else ""
                click.echo(
                    f"  worker {w['name']}: done {w['done']}, failed {w['failed']}{now} (seen {w['seen_ago']:.0f}s ago)"
                )
    _echo_library(report.library)


_SEARCH = {"fts5": "full-text index (SQLite FTS5)", "text-index": "MongoDB text index", "regex": "regular expressions"}


def _echo_library(lib: api.LibraryStatus | None) -> None:
    """One line: the store, where, how text search runs (and why regex), read-only or error."""
    if lib is None:
        return
    where = f" {lib.location}" if lib.location else ""
    if lib.error:
        click.echo(f"library {lib.store}{where}: {lib.error}")
        return
    how = _SEARCH.get(lib.search or "", "unknown")
    why = f" ({lib.note})" if lib.note else ""
    ro = "; read-only user: writes fail" if lib.read_only else ""
    click.echo(f"library {lib.store}{where}: text search by {how}{why}{ro}")


def _broker_json(broker: api.BrokerStatus | None) -> dict[str, Any] | None:
    """The broker part of ``status --json``: url and error, or url, queues and workers."""
    if broker is None:
        return None
    if broker.url is None:
        return {"error": broker.error}
    if broker.error is not None:
        return {"url": broker.url, "error": broker.error}
    return {"url": broker.url, "queues": broker.queues, "workers": [asdict(w) for w in broker.workers]}


@click.command()
@click.option("--transient-only", is_flag=True, help="Only failures worth retrying (network, 5xx, timeouts).")
@click.option("--workers", type=click.IntRange(min=1), help="Videos processed in parallel ([Concurrency] MaxWorkers).")
@skip_option
@click.pass_obj
def retry(state: Any, transient_only: bool, workers: int | None, skip: tuple[str, ...]) -> None:
    """Re-run only the inputs that failed (submitted ones go back to the broker)."""
    report = api.retry(state.config(), transient_only=transient_only, workers=workers, skip=skip)
    if report.remote:
        click.echo(f"resubmitted {len(report.resubmitted)} input(s) to the broker", err=True)
    if report.nothing_to_retry:
        click.echo("nothing to retry", err=True)
        return
    if not report.records:
        return
    records = report.records
    bad = [r for r in records if r.errors]
    click.echo(f"retried {len(records)} input(s): {len(records) - len(bad)} ok, {len(bad)} failed", err=True)
    for r in bad:
        e = r.errors[0]
        click.echo(redact_text(f"  {r.sources[-1].input}: [{e.stage}] {e.message}"), err=True)
    if bad:
        sys.exit(1)


@click.command()
@click.option("--queues", default="io,cpu", show_default=True, help="Queues to serve, comma-separated: io, cpu, gpu.")
@click.option("--concurrency", type=click.IntRange(min=1), help="Worker processes (default [Concurrency] MaxWorkers).")
@click.pass_obj
def worker(state: Any, queues: str, concurrency: int | None) -> None:
    """Run a distributed worker (Celery on the [Celery] BrokerURL Redis) until stopped."""
    api.run_worker(state.config(), queues, concurrency=concurrency)


@click.command()
@click.argument("inputs", nargs=-1)
@from_option
@click.option("--priority", type=click.Choice(list(api.PRIORITIES)), default="normal", show_default=True)
@skip_option
@click.pass_obj
def submit(
    state: Any, inputs: tuple[str, ...], from_files: tuple[Path, ...], priority: str, skip: tuple[str, ...]
) -> None:
    """Queue INPUTS for distributed workers. With no INPUTS, send earlier submissions still pending."""
    report = api.submit(state.config(), inputs, from_files=from_files, priority=priority, skip=skip)
    for spec, why in [*report.skipped, *report.failed]:
        click.echo(redact_text(f"  {spec}: {why}"), err=True)
    click.echo(f"submitted {len(report.sent)} input(s); {len(report.skipped)} skipped; see 'videokit status'", err=True)
    if report.failed:
        sys.exit(1)


commands = [status, retry, worker, submit]
