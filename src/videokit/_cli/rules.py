"""``videokit rules check|explain|list``, ``videokit retag`` and ``videokit tag``: calls of :mod:`videokit.api`."""

from __future__ import annotations

import sys
from typing import Any

import click

from videokit import api
from videokit._cli.core import _filters, build_query
from videokit.errors import InputError


@click.group()
def rules() -> None:
    """Validate tag rules, list them, and explain the tags of a stored video."""


@rules.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.pass_obj
def check(state: Any, files: tuple[str, ...]) -> None:
    """Validate rules, taxonomy or priority-keywords FILES (default: the configured ones).

    The kind of each file is read from its content. Exit status 2 on the first problem.
    """
    if not files:
        s = api.check_rules(state.config())
        click.echo(
            f"ok: {s.builtin_rules} built-in and {s.custom_rules} custom rules, {s.categories} categories ({s.taxonomy})"
        )
        return
    for f in files:
        c = api.check_rules_file(f)
        if c.kind == "priority_keywords":
            click.echo(f"{f}: ok, {len(c.names)} priority keywords")
        elif c.kind == "taxonomy":
            click.echo(f"{f}: ok, {len(c.names)} categories, {c.signals} signals")
        else:
            click.echo(f"{f}: ok, {len(c.names)} rules ({', '.join(c.names)})")


@rules.command(name="list")
@click.option(
    "--rules", "rules_file", type=click.Path(dir_okay=False), help="custom_tags.json ([Rules] CustomTagRules)."
)
@click.pass_obj
def list_rules(state: Any, rules_file: str | None) -> None:
    """List the rules in effect: id, tags, and description."""
    for r in api.list_rules(state.config(), rules=rules_file):
        extra = f" - {r.description}" if r.description else ""
        click.echo(f"{r.origin}: {', '.join(r.tags)}{extra}")


@rules.command()
@click.argument("id")
@click.option(
    "--rules", "rules_file", type=click.Path(dir_okay=False), help="custom_tags.json ([Rules] CustomTagRules)."
)
@click.option("--fired", "fired_only", is_flag=True, help="Only the rules and signals that fired.")
@click.pass_obj
def explain(state: Any, id: str, rules_file: str | None, fired_only: bool) -> None:
    """Show why video ID has its tags and category: every rule, fired or not, and why."""
    try:
        why = api.explain(state.config(), id, rules=rules_file)
    except InputError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    rec, rule_results, signals, decision = why.record, why.rules, why.signals, why.decision
    click.echo(f"{rec.id}  {rec.title}")
    click.echo("tags:")
    for t in rec.tags:
        why = f" because {t.condition}" if t.condition else ""
        click.echo(f"  {t.name}  [{t.origin}, confidence {t.confidence:.2f}]{why}")
    if not rec.tags:
        click.echo("  (none)")
    click.echo("rules:")
    for r in rule_results:
        if fired_only and not r.fired:
            continue
        mark = "fired  " if r.fired else "no     "
        click.echo(f"  {mark}{r.rule.origin} -> {', '.join(r.rule.tags)}: {r.detail}")
    stored = rec.classification
    click.echo(
        f"category: {decision.category} (confidence {decision.confidence:.2f})"
        + (f"; stored: {stored.category}" if stored and stored.category != decision.category else "")
    )
    for s in signals:
        if fired_only and not s.fired:
            continue
        mark = f"+{s.points:g}" if s.fired else "no"
        click.echo(f"  {mark:<5} {s.category} ({s.label}): {s.detail}")


@click.command()
@click.argument("text", required=False)
@_filters
@click.option(
    "--rules", "rules_file", type=click.Path(dir_okay=False), help="custom_tags.json ([Rules] CustomTagRules)."
)
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.pass_obj
def retag(state: Any, text: str | None, rules_file: str | None, dry_run: bool, **kw: Any) -> None:
    """Re-apply tag rules and classification to stored videos (all, or those matching TEXT and filters).

    Nothing is downloaded or analysed again.
    """
    report = api.retag(state.config(), build_query(text, kw), rules=rules_file, dry_run=dry_run)
    prefix = "would have " if dry_run else ""
    click.echo(prefix + report.summary())


@click.command(name="tag")
@click.argument("id")
@click.option("--add", "add", multiple=True, metavar="NAME", help="Add a user tag (repeatable).")
@click.option("--remove", "remove", multiple=True, metavar="NAME", help="Remove a user tag (repeatable).")
@click.pass_obj
def tag_cmd(state: Any, id: str, add: tuple[str, ...], remove: tuple[str, ...]) -> None:
    """Add or remove your own tags on video ID (origin "user"); they outrank rule and AI tags,
    survive retag and re-runs, and count in the category."""
    if not add and not remove:
        raise click.UsageError("give --add NAME or --remove NAME")
    try:
        edit = api.edit_tags(state.config(), id, add, remove)
    except InputError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    rec = edit.record
    parts = [
        f"added {', '.join(edit.added)}" if edit.added else "",
        f"removed {', '.join(edit.removed)}" if edit.removed else "",
    ]
    click.echo(f"{rec.id[:12]}: {'; '.join(p for p in parts if p) or 'no change'}", err=True)
    now = rec.classification.category if rec.classification else None
    if now != edit.category_before:
        click.echo(f"{rec.id[:12]}: category {edit.category_before or '(none)'} -> {now}", err=True)
    click.echo(", ".join(f"{t.name} [{t.origin}]" for t in rec.tags))


commands = [rules, retag, tag_cmd]
