"""Batch commands: status, retry, worker, submit."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from videokit._cli.core import from_option, skip_option
from videokit.errors import ConfigError, StoreError, UsageError
from videokit.ledger import LEDGER_NAME, STATUSES, Ledger

PRIORITY_CHOICES = ["high", "normal", "low"]


def _distributed() -> Any:
    try:
        import videokit.distributed as distributed
    except ImportError as e:
        raise ConfigError(
            f"distributed mode needs celery and redis ({e.name} is missing): pip install 'videokit[distributed]'"
        ) from None
    return distributed


def _stage_order(stage: str) -> tuple[int, str]:
    from videokit.api import DEFAULT_STAGES

    order = ["input", *DEFAULT_STAGES, "worker"]
    return (order.index(stage) if stage in order else len(order), stage)


def _broker_wanted(cfg: Any, ledger: Ledger) -> bool:
    return cfg.origins.get(("Celery", "BrokerURL")) != "default" or bool(ledger.jobs(via="celery"))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True, help="Failures listed at most.")
@click.pass_obj
def status(state: Any, as_json: bool, limit: int) -> None:
    """Counts by stage and status, failures with reasons; with a broker, queue depth and workers."""
    cfg = state.config()
    if not (cfg.library / LEDGER_NAME).exists() and not as_json:
        click.echo(f"no batch has run in {cfg.library} yet (no {LEDGER_NAME})")
        return
    with Ledger.open(cfg) as ledger:
        broker: dict[str, Any] | None = None
        if _broker_wanted(cfg, ledger):
            broker = _broker_status(cfg, ledger)
        counts = ledger.counts()
        stages = ledger.stage_counts()
        failed = ledger.jobs("failed")
    out = {
        "ledger": str(cfg.library / "ledger.sqlite"),
        "inputs": sum(counts.values()),
        "jobs": {s: counts.get(s, 0) for s in STATUSES},
        "stages": dict(sorted(stages.items(), key=lambda kv: _stage_order(kv[0]))),
        "failures": [
            {"input": j.spec, "stage": j.error_stage, "kind": j.error_kind, "error": j.error, "attempts": j.attempts}
            for j in failed
        ],
        "broker": broker,
    }
    if as_json:
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    click.echo(f"ledger {out['ledger']}: {out['inputs']} input(s)")
    click.echo("  " + ", ".join(f"{s} {n}" for s, n in out["jobs"].items()))
    if stages:
        names = sorted({st for per in stages.values() for st in per})
        click.echo(f"  {'stage':<10}" + "".join(f"{n:>8}" for n in names))
        for stage, per in out["stages"].items():
            click.echo(f"  {stage:<10}" + "".join(f"{per.get(n, 0):>8}" for n in names))
    if failed:
        click.echo(f"{len(failed)} failure(s):")
        for f in out["failures"][:limit]:
            click.echo(f"  {f['input']}: [{f['stage']}] {f['kind']}: {f['error']} (attempts {f['attempts']})")
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


def _broker_status(cfg: Any, ledger: Ledger) -> dict[str, Any]:
    try:
        d = _distributed()
    except ConfigError as e:
        return {"error": str(e)}
    from videokit.distributed.app import redact

    url = cfg.get("Celery", "BrokerURL")
    board = d.Board(url, timeout=1.0)
    try:
        board.ping()
        d.sync(ledger, board)
        return {"url": redact(url), "queues": board.queue_depth(), "workers": board.workers()}
    except StoreError as e:
        return {"url": redact(url), "error": str(e)}


@click.command()
@click.option("--transient-only", is_flag=True, help="Only failures worth retrying (network, 5xx, timeouts).")
@click.option("--workers", type=click.IntRange(min=1), help="Videos processed in parallel ([Concurrency] MaxWorkers).")
@skip_option
@click.pass_obj
def retry(state: Any, transient_only: bool, workers: int | None, skip: tuple[str, ...]) -> None:
    """Re-run only the inputs that failed (submitted ones go back to the broker)."""
    from videokit import api
    from videokit.batch import run_items
    from videokit.inputs import InputItem

    cfg = state.config({("Concurrency", "MaxWorkers"): workers})
    with Ledger.open(cfg) as ledger:
        if ledger.jobs(via="celery"):
            try:
                d = _distributed()
                board = d.Board(cfg.get("Celery", "BrokerURL"), timeout=1.0)
                board.ping()
                d.sync(ledger, board)
            except (ConfigError, StoreError):
                pass  # retry what the ledger knows
        failed = [j for j in ledger.jobs("failed") if not transient_only or j.error_kind == "transient"]
        remote = [j for j in failed if j.via == "celery"]
        if remote:
            sent = _distributed().resubmit(remote, cfg, ledger, skip=skip)
            click.echo(f"resubmitted {len(sent)} input(s) to the broker", err=True)
    local = [j for j in failed if j.via != "celery"]
    if not failed:
        click.echo("nothing to retry", err=True)
        return
    if not local:
        return
    api.validate(cfg)
    items = [InputItem(j.spec, j.kind, j.user_fields) for j in local]
    records = run_items(items, cfg, skip=skip)
    bad = [r for r in records if r.errors]
    click.echo(f"retried {len(records)} input(s): {len(records) - len(bad)} ok, {len(bad)} failed", err=True)
    for r in bad:
        e = r.errors[0]
        click.echo(f"  {r.sources[-1].input}: [{e.stage}] {e.message}", err=True)
    if bad:
        sys.exit(1)


@click.command()
@click.option("--queues", default="io,cpu", show_default=True, help="Queues to serve, comma-separated: io, cpu, gpu.")
@click.option("--concurrency", type=click.IntRange(min=1), help="Worker processes (default [Concurrency] MaxWorkers).")
@click.pass_obj
def worker(state: Any, queues: str, concurrency: int | None) -> None:
    """Run a distributed worker (Celery on the [Celery] BrokerURL Redis) until stopped."""
    d = _distributed()  # noqa: F841 - fails early without the extra
    from videokit.distributed.worker import parse_queues, start_worker

    cfg = state.config()
    names = parse_queues(queues)
    n = concurrency or int(cfg.get("Concurrency", "MaxWorkers"))
    start_worker(cfg, names, n, log_level=cfg.get("Logging", "Level"))


@click.command()
@click.argument("inputs", nargs=-1)
@from_option
@click.option("--priority", type=click.Choice(PRIORITY_CHOICES), default="normal", show_default=True)
@skip_option
@click.pass_obj
def submit(
    state: Any, inputs: tuple[str, ...], from_files: tuple[Path, ...], priority: str, skip: tuple[str, ...]
) -> None:
    """Queue INPUTS for distributed workers. With no INPUTS, send earlier submissions still pending."""
    from videokit import api
    from videokit.inputs import expand

    d = _distributed()
    cfg = state.config()
    api.validate(cfg)
    items = expand(list(inputs), list(from_files)) if inputs or from_files else []
    with Ledger.open(cfg) as ledger:
        if not items and not ledger.jobs("pending", via="celery"):
            raise UsageError("give at least one input (file, folder, URL) or --from FILE; nothing is pending")
        report = d.submit(items, cfg, ledger, priority=priority, skip=skip)
    for spec, why in report.skipped:
        click.echo(f"  {spec}: {why}", err=True)
    for spec, why in report.failed:
        click.echo(f"  {spec}: {why}", err=True)
    click.echo(f"submitted {len(report.sent)} input(s); {len(report.skipped)} skipped; see 'videokit status'", err=True)
    if report.failed:
        sys.exit(1)


commands = [status, retry, worker, submit]
