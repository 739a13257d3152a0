"""``videokit ask VIDEO_OR_ID "question"``: one question about one video, answered and stored."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from videokit import api
from videokit.errors import InputError


@click.command()
@click.argument("target", metavar="VIDEO_OR_ID")
@click.argument("question")
@click.option("--analyzer", help="Analysis backend: builtin, qwen, api ([Analysis] Backend).")
@click.option("--use-vpc", is_flag=True, default=None, help="Use [QwenVL] VpcEndpoint for the api backend.")
@click.option("--refresh", is_flag=True, help="Ask the model again even if this question was answered before.")
@click.option(
    "--video",
    "moved_to",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Where the video of ID is now, when it was moved after it was added.",
)
@click.pass_obj
def ask(
    state: Any,
    target: str,
    question: str,
    analyzer: str | None,
    use_vpc: bool | None,
    refresh: bool,
    moved_to: Path | None,
) -> None:
    """Answer QUESTION about VIDEO_OR_ID (a file path or a library id) and store the answer."""
    cfg = state.config({("QwenVL", "UseVpc"): use_vpc})
    try:
        result = api.ask(cfg, target, question, analyzer=analyzer, video=moved_to, refresh=refresh)
    except InputError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    if result.answer is None:
        reason = "; ".join(result.warnings) or "the analyzer returned no answer"
        click.echo(f"no answer: {reason}", err=True)
        sys.exit(1)
    click.echo(result.answer)
    if not result.stored:
        click.echo("(not in the library: answer not stored; add the video with 'videokit run')", err=True)


commands = [ask]
