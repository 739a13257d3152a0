"""``videokit ask VIDEO_OR_ID "question"``: one question about one video, answered and stored."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from videokit.errors import InputError, UsageError


@click.command()
@click.argument("target", metavar="VIDEO_OR_ID")
@click.argument("question")
@click.option("--analyzer", help="Analysis backend: builtin, qwen, api ([QwenVL] Backend).")
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
    from videokit.analysis import create_analyzer
    from videokit.analysis.cache import AnalysisCache
    from videokit.analysis.stage import NO_ANALYZER, analyze_cached, build_request, cache_dir, load_focus
    from videokit.pipeline import Context
    from videokit.store import open_store

    if not question.strip():
        raise UsageError("the question is empty; give the question as the second argument")
    cfg = state.config({("QwenVL", "Backend"): analyzer, ("QwenVL", "UseVpc"): use_vpc})
    backend = str(cfg.get("QwenVL", "Backend")).strip().lower()
    if backend == NO_ANALYZER:
        raise UsageError("[QwenVL] Backend is 'none'; pass --analyzer builtin, qwen or api")
    keywords, categories = load_focus(cfg)
    engine = create_analyzer(backend, cfg)
    with open_store(cfg) as store:
        record, stored, local = _resolve(target, store)
        ctx = Context(cfg, store=store)
        if moved_to is not None:
            local = _same_video(moved_to, record)
        video = _locate(record, local, ctx)
        engine.setup()
        try:
            with tempfile.TemporaryDirectory(prefix="videokit-ask-") as scratch:
                request = build_request(
                    record,
                    ctx,
                    Path(scratch),
                    questions=[question],
                    priority_keywords=keywords,
                    categories=categories,
                    video=video,
                )
                analysis = analyze_cached(engine, request, AnalysisCache(cache_dir(cfg)), refresh=refresh)
        except InputError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        finally:
            engine.close()
        answer = analysis.answers.get(question)
        if answer is None:
            reason = "; ".join(analysis.warnings) or "the analyzer returned no answer"
            click.echo(f"no answer: {reason}", err=True)
            sys.exit(1)
        if stored:
            if record.analysis is None:
                record.analysis = analysis
            else:
                record.analysis.answers[question] = answer
            store.upsert(record)
        click.echo(answer)
        if not stored:
            click.echo("(not in the library: answer not stored; add the video with 'videokit run')", err=True)


def _locate(record: Any, local: Path | None, ctx: Any) -> Path:
    """The file to analyse: ``local`` when the user gave one (and, when the record's own file
    is gone, the record is pointed at it), else the record's own file. When neither exists,
    one line saying how to point ``ask`` at where the video went."""
    from videokit.analysis.stage import stored_video

    own = stored_video(record, ctx)
    if own is not None and own.is_file():
        return local if local is not None else own
    if local is not None:
        if record.file is not None:
            record.file.path, record.file.name = ctx.relpath(local), local.name
        return local
    short = (record.id or "?")[:12]
    what = f"{own}: the video of {short} is missing (moved or deleted)" if own else f"{short}: no video file recorded"
    raise UsageError(f'{what}; give its location: videokit ask --video PATH {short} "question"')


def _same_video(path: Path, record: Any) -> Path:
    """``path`` resolved, after checking it has the content of ``record`` (when that is known)."""
    from videokit.stages import sha256_file

    want = record.file.sha256 if record.file else None
    if want and sha256_file(path) != want:
        raise UsageError(
            f"{path}: not the video of {(record.id or '')[:12]} (its content differs); "
            "give the file that was added, or ask about this file by giving its path instead of the id"
        )
    return path.resolve()


def _resolve(target: str, store: Any) -> tuple[Any, bool, Path | None]:
    """(record, whether it is in the library, the file the user named if any) for a path or a stored id."""
    from videokit.record import FileInfo, Record, Source
    from videokit.stages import sha256_file

    path = Path(target).expanduser()
    if path.is_file():
        digest = sha256_file(path)
        found = store.get(digest) or store.find_by_source(str(path.resolve())) or store.find_by_source(target)
        if found is not None:
            return found, True, path.resolve()
        from videokit.probe import media_info

        try:
            media = media_info(path)
        except InputError as e:
            raise UsageError(str(e)) from None
        resolved = path.resolve()
        record = Record(
            id=digest,
            sources=[Source(input=target, kind="file", path=str(resolved))],
            file=FileInfo(str(resolved), resolved.name, resolved.stat().st_size, digest),
            media=media,
        )
        return record, False, resolved
    found = store.get(target) if len(target) >= 6 else None
    if found is None:
        raise UsageError(
            f"{target}: not a file and not an id in the library; give a video path or an id from 'videokit search'"
        )
    return found, True, None


commands = [ask]
