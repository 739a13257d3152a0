"""One question about one video (a file, or a video in the library), answered and stored.

The library side of ``videokit ask``: :func:`videokit.api.ask` calls :func:`ask`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from videokit.errors import InputError, UsageError
from videokit.record import FileInfo, Record, Source

if TYPE_CHECKING:
    from videokit.config import Config
    from videokit.pipeline import Context
    from videokit.store import Store


@dataclass(slots=True)
class Answer:
    """The answer to one question about one video."""

    question: str
    answer: str | None  # None when the analyzer gave none; ``warnings`` say why
    record: Record  # the video asked about (with the answer, when there is one)
    stored: bool  # the answer was saved with the record in the library
    warnings: list[str] = field(default_factory=list)


def ask(config: Config, target: str, question: str, *, video: Path | None = None, refresh: bool = False) -> Answer:
    """Answer ``question`` about ``target`` (a video file, or the id of a stored video) with the
    analyzer of ``[Analysis] Backend``; a stored video keeps the answer.

    ``video`` is where the video of a stored id is now, when it moved after it was added.
    Raises UsageError for an empty question, no analyzer, an unknown target, a ``video`` with
    other content or a stored video whose file is gone; InputError when the video cannot be read."""
    from videokit.analysis import create_analyzer
    from videokit.analysis.cache import AnalysisCache
    from videokit.analysis.stage import NO_ANALYZER, analyze_cached, build_request, cache_dir, load_focus
    from videokit.pipeline import Context
    from videokit.store import open_store

    if not question.strip():
        raise UsageError("the question is empty; give the question as the second argument")
    backend = str(config.get("Analysis", "Backend")).strip().lower()
    if backend == NO_ANALYZER:
        raise UsageError("[Analysis] Backend is 'none'; pass --analyzer builtin, qwen or api")
    keywords, categories = load_focus(config)
    engine = create_analyzer(backend, config)
    with open_store(config) as store:
        record, stored, local = resolve(target, store)
        ctx = Context(config, store=store)
        if video is not None:
            local = same_video(video, record)
        path = locate(record, local, ctx)
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
                    video=path,
                )
                analysis = analyze_cached(engine, request, AnalysisCache(cache_dir(config)), refresh=refresh)
        finally:
            engine.close()
        answer = analysis.answers.get(question)
        if answer is not None and stored:
            if record.analysis is None:
                record.analysis = analysis
            else:
                record.analysis.answers[question] = answer
            store.upsert(record)
    return Answer(question, answer, record, stored and answer is not None, list(analysis.warnings))


def locate(record: Record, local: Path | None, ctx: Context) -> Path:
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


def same_video(path: Path, record: Record) -> Path:
    """``path`` resolved, after checking it has the content of ``record`` (when that is known)."""
    from videokit.hashing import sha256_file

    want = record.file.sha256 if record.file else None
    if want and sha256_file(path) != want:
        raise UsageError(
            f"{path}: not the video of {(record.id or '')[:12]} (its content differs); "
            "give the file that was added, or ask about this file by giving its path instead of the id"
        )
    return path.resolve()


def resolve(target: str, store: Store) -> tuple[Record, bool, Path | None]:
    """(record, whether it is in the library, the file the user named if any) for a path or a stored id."""
    from videokit.hashing import sha256_file
    from videokit.probe import media_info

    path = Path(target).expanduser()
    if path.is_file():
        digest = sha256_file(path)
        found = store.get(digest) or store.find_by_source(str(path.resolve())) or store.find_by_source(target)
        if found is not None:
            return found, True, path.resolve()
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
