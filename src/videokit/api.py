"""The library API: every operation of the command line, for scripts, the CLI and services.

Each function takes the :class:`~videokit.config.Config` (built once, at the edge) first, returns
a typed dataclass, raises a :class:`~videokit.errors.VideokitError` subclass for anything the
caller caused, and prints nothing. All are re-exported by :mod:`videokit`::

    cfg = load_config()
    result = run(["https://example.com/v.mp4", "clips/"], cfg)
    for rec in search(cfg, Query(text="harbour")): ...
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videokit.analysis.ask import Answer
from videokit.config import Config
from videokit.errors import ConfigError, InputError, StoreError, UsageError
from videokit.inputs import expand
from videokit.pipeline import build_pipeline as build_pipeline  # re-exported
from videokit.pipeline import optional_stages as optional_stages  # re-exported
from videokit.pipeline import stage_names as stage_names  # re-exported
from videokit.pipeline import validate as _check_settings  # `validate` here checks a video file
from videokit.probe import ProbeOptions
from videokit.record import Classification, MediaInfo, Record, SceneInfo, StageError, utcnow
from videokit.storage.location import is_cloud_url
from videokit.storage.options import StorageOptions
from videokit.store import Query
from videokit.store.repair import CheckReport as CheckReport  # re-exported
from videokit.store.repair import RebuildReport as RebuildReport  # re-exported

if TYPE_CHECKING:
    from videokit.storage.files import Storage
    from videokit.store.migrate import MigrateReport
    from videokit.tagging import RetagReport, Rule
    from videokit.tagging.classify import SignalResult
    from videokit.tagging.rules import RuleResult

log = logging.getLogger(__name__)


# -- results ---------------------------------------------------------------------------------
# Every operation below takes the Config (built once, at the edge) first, returns one of these
# typed values, raises a VideokitError subclass for anything the caller caused, and prints nothing.


@dataclass
class RunResult:
    """What :func:`run` did: one record per input, in input order."""

    records: list[Record] = field(default_factory=list)

    @property
    def failures(self) -> list[tuple[str, StageError]]:
        """(input, error) for every stage that failed, over all records."""
        out = []
        for r in self.records:
            for e in r.errors:
                out.append((r.sources[-1].input if r.sources else r.id or "?", e))
        return out

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class RetryReport(RunResult):
    """What :func:`retry` did: ``records`` re-run here, and the distributed ones sent back to the broker."""

    remote: int = 0  # failed inputs of distributed mode found
    resubmitted: list[str] = field(default_factory=list)  # inputs sent to the broker again

    @property
    def nothing_to_retry(self) -> bool:
        return not self.records and not self.remote


@dataclass(slots=True)
class SubmitReport:
    """What :func:`submit` did with each input."""

    sent: list[str] = field(default_factory=list)  # inputs the broker accepted
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (input, why): already queued or done
    failed: list[tuple[str, str]] = field(default_factory=list)  # (input, why): unusable inputs


@dataclass(slots=True)
class TagEdit:
    """What :func:`edit_tags` changed on one stored video."""

    record: Record  # as stored now
    added: list[str]
    removed: list[str]
    category_before: str | None


@dataclass(slots=True)
class ExportReport:
    """What :func:`export_library` wrote."""

    format: str
    out: Path | str  # a local path, or the s3:// gs:// az:// dropbox:// URL exported to
    count: int  # videos exported


@dataclass(slots=True)
class Failure:
    """One failed input as the job ledger knows it (credentials and tokens redacted)."""

    input: str
    stage: str | None
    kind: str | None  # transient | permanent
    error: str | None
    attempts: int


@dataclass(slots=True)
class WorkerStatus:
    """One distributed worker, as it last reported itself to the broker."""

    name: str
    current: str | None  # the input it is working on
    done: int
    failed: int
    seen_ago: float  # seconds


@dataclass(slots=True)
class BrokerStatus:
    """The Celery broker: queue depths and workers, or why they are unknown."""

    url: str | None  # without password; None when distributed mode is not installed
    error: str | None = None
    queues: dict[str, int] = field(default_factory=dict)  # messages waiting per queue
    workers: list[WorkerStatus] = field(default_factory=list)


@dataclass(slots=True)
class LibraryStatus:
    """The library store: its kind, where it lives and how it searches text, or why unknown."""

    store: str  # [Library] Store: sqlite, mongodb, or a plug-in's name
    location: str | None  # file or URI, without credentials; None when unknown
    search: str | None  # fts5 | text-index | regex (MongoDB without a text index); None: unknown
    read_only: bool = False  # the store's user may not write (a MongoDB user with the read role)
    note: str | None = None  # why text search uses regular expressions
    error: str | None = None  # why the store could not be reached


@dataclass(slots=True)
class StatusReport:
    """Where the batches of a library stand, from its job ledger (and the broker, when used),
    and which library store it uses."""

    ledger: Path
    exists: bool  # False: no batch has run in this library yet
    jobs: dict[str, int]  # inputs per status: pending, queued, running, done, failed
    stages: dict[str, dict[str, int]]  # stage -> status -> inputs, in pipeline order
    failures: list[Failure]
    broker: BrokerStatus | None  # None when distributed mode is not in use
    library: LibraryStatus | None = None

    @property
    def inputs(self) -> int:
        return sum(self.jobs.values())


@dataclass(slots=True)
class Migration:
    """What :func:`migrate` copied, between which stores (described without credentials)."""

    source: str
    destination: str
    report: MigrateReport


@dataclass(slots=True)
class Explanation:
    """Why a stored video has its tags and category: every rule and signal, fired or not."""

    record: Record
    rules: list[RuleResult]
    signals: list[SignalResult]
    decision: Classification  # the category the current rules give (the stored one may differ)


@dataclass(slots=True)
class RulesSummary:
    """The configured rules and taxonomy, validated (:func:`check_rules`)."""

    builtin_rules: int
    custom_rules: int
    categories: int
    taxonomy: str  # where the taxonomy comes from


@dataclass(slots=True)
class RulesFileCheck:
    """One rules, taxonomy or priority-keywords file, validated (:func:`check_rules_file`)."""

    path: str
    kind: str  # rules | taxonomy | priority_keywords
    names: list[str]  # rule ids, categories or keywords
    signals: int = 0  # taxonomy: its signals


# -- processing --------------------------------------------------------------------------------


def run(
    inputs: list[str],
    config: Config,
    *,
    from_files: list[Path] | None = None,
    skip: Iterable[str] = (),
    on_record: Callable[[Record], None] | None = None,
    on_progress: Callable[[str, int, int | None], None] | None = None,
    on_items: Callable[[int], None] | None = None,
    extras: dict | None = None,
    workers: int | None = None,
    refresh: bool = False,
) -> RunResult:
    """Process every input into the library; one bad input never stops the batch.

    Goes through the job ledger (``<library>/ledger.sqlite``): an input already done with the
    same settings is not processed again, and one a killed run left half-way resumes where it
    stopped. ``workers`` (default ``[Concurrency] MaxWorkers``) inputs are processed at a time;
    with more than one, worker processes are spawned, so a script must call this under
    ``if __name__ == "__main__":``. ``refresh`` ignores cached analysis results and analyses
    near-duplicates of analysed videos again (by default they get the stored analysis, copied).
    ``on_items`` gets the number of inputs, ``on_record`` each finished record, ``on_progress``
    download bytes."""
    from videokit.batch import run_items

    _check_settings(config)
    items = expand(inputs, from_files, ProbeOptions.from_config(config), StorageOptions.from_config(config))
    if on_items:
        on_items(len(items))
    if refresh:
        extras = {**(extras or {}), "refresh": True}
    records = run_items(
        items, config, skip=skip, workers=workers, on_record=on_record, on_progress=on_progress, extras=extras
    )
    return RunResult(records)


PRIORITIES = ("high", "normal", "low")


def submit(
    config: Config,
    inputs: Sequence[str] = (),
    *,
    from_files: Sequence[Path] = (),
    priority: str = "normal",
    skip: Iterable[str] = (),
) -> SubmitReport:
    """Queue inputs for distributed workers (``[Celery] BrokerURL``); with none, send the earlier
    submissions still pending. Each is recorded in the ledger before it is sent, so nothing is
    lost when the broker is down (StoreError; they stay pending). ConfigError without the
    ``distributed`` extra; UsageError for a bad priority, or when there is nothing to send."""
    from videokit.ledger import Ledger

    if priority not in PRIORITIES:
        raise UsageError(f"priority {priority!r}: choose one of {', '.join(PRIORITIES)}")
    d = _distributed()
    _check_settings(config)
    opts = ProbeOptions.from_config(config), StorageOptions.from_config(config)
    items = expand(list(inputs), list(from_files), *opts) if inputs or from_files else []
    with Ledger.open(config) as ledger:
        if not items and not ledger.jobs("pending", via="celery"):
            raise UsageError("give at least one input (file, folder, URL) or --from FILE; nothing is pending")
        report = d.submit(items, config, ledger, priority=priority, skip=skip)
    return SubmitReport(list(report.sent), list(report.skipped), list(report.failed))


def retry(
    config: Config, *, transient_only: bool = False, workers: int | None = None, skip: Iterable[str] = ()
) -> RetryReport:
    """Run the inputs the ledger lists as failed again (``transient_only``: only network
    trouble, 5xx, timeouts). Failed inputs of distributed mode go back to the broker; the
    others are processed here, ``workers`` at a time (default ``[Concurrency] MaxWorkers``)."""
    from videokit.batch import run_items
    from videokit.inputs import InputItem
    from videokit.ledger import Ledger

    with Ledger.open(config) as ledger:
        if ledger.jobs(via="celery"):
            try:
                d = _distributed()
                board = d.Board(config.get("Celery", "BrokerURL"), timeout=1.0)
                board.ping()
                d.sync(ledger, board)
            except (ConfigError, StoreError):
                pass  # retry what the ledger knows
        failed = [j for j in ledger.jobs("failed") if not transient_only or j.error_kind == "transient"]
        remote = [j for j in failed if j.via == "celery"]
        sent = _distributed().resubmit(remote, config, ledger, skip=skip) if remote else []
    local = [j for j in failed if j.via != "celery"]
    records: list[Record] = []
    if local:
        _check_settings(config)
        items = [InputItem(j.spec, j.kind, j.user_fields, error=_lost(j), segments=j.segments) for j in local]
        records = run_items(items, config, skip=skip, workers=workers)
    return RetryReport(records, remote=len(remote), resubmitted=list(sent))


def _lost(job: Any) -> str | None:
    """Why a job cannot be retried: the private file no longer has its credentials."""
    if not job.input_lost:
        return None
    from videokit.ledger import PRIVATE_NAME

    return f"{job.shown}: its credentials are no longer in {PRIVATE_NAME}; give the input again"


def status(config: Config) -> StatusReport:
    """Counts of inputs by status and by stage, and the failures with their reasons, from the job
    ledger; with distributed mode in use, the broker's queue depths and workers too; the library
    store and how it searches text. Reads only: a library where no batch has run gives
    ``exists=False`` and zero counts."""
    from videokit.ledger import LEDGER_NAME, STATUSES, Ledger
    from videokit.net import redact_text

    path = config.library / LEDGER_NAME
    library = _library_status(config)
    if not path.exists():
        broker = _broker_status(config, None) if _broker_configured(config) else None
        return StatusReport(path, False, {s: 0 for s in STATUSES}, {}, [], broker, library)
    with Ledger.open(config) as ledger:
        broker = None
        if _broker_configured(config) or ledger.jobs(via="celery"):
            broker = _broker_status(config, ledger)
        counts = ledger.counts()
        per_stage = ledger.stage_counts()
        failed = ledger.jobs("failed")
    order = ["input", *stage_names(), "worker"]

    def position(stage: str) -> tuple[int, str]:
        return (order.index(stage) if stage in order else len(order), stage)

    return StatusReport(
        path,
        True,
        {s: counts.get(s, 0) for s in STATUSES},
        {k: per_stage[k] for k in sorted(per_stage, key=position)},
        [Failure(j.shown, j.error_stage, j.error_kind, redact_text(j.error or "") or None, j.attempts) for j in failed],
        broker,
        library,
    )


def _library_status(config: Config) -> LibraryStatus:
    """The store part of :func:`status`. SQLite is described without opening (status only
    reads); MongoDB is asked, once, with a short timeout; a plug-in store is only named."""
    kind = config.get("Library", "Store")
    if kind == "sqlite":
        from videokit.store.sqlite import DB_NAME

        return LibraryStatus(kind, str(config.library / DB_NAME), "fts5")
    if kind != "mongodb":
        return LibraryStatus(kind, None, None)
    from videokit.store.mongo import open_mongo

    try:
        store = open_mongo(config, attempts=1, timeout_ms=2000)
    except (ConfigError, StoreError) as e:
        return LibraryStatus(kind, None, None, error=str(e))
    with store:
        try:
            mode = store.text_search_mode
        except StoreError as e:
            return LibraryStatus(kind, store.describe(), None, store.read_only, error=str(e))
        return LibraryStatus(kind, store.describe(), mode, store.read_only, store.text_search_note)


def _broker_configured(config: Config) -> bool:
    return config.origins.get(("Celery", "BrokerURL")) != "default"


def _broker_status(config: Config, ledger: Any) -> BrokerStatus:
    try:
        d = _distributed()
    except ConfigError as e:
        return BrokerStatus(None, str(e))
    from videokit.net import redact_url

    url = config.get("Celery", "BrokerURL")
    board = d.Board(url, timeout=1.0)
    try:
        board.ping()
        if ledger is not None:
            d.sync(ledger, board)
        workers = [WorkerStatus(**w) for w in board.workers()]
        return BrokerStatus(redact_url(url), None, board.queue_depth(), workers)
    except StoreError as e:
        return BrokerStatus(redact_url(url), str(e))


def _distributed() -> Any:
    """The ``videokit.distributed`` package, or ConfigError saying how to install it."""
    try:
        import videokit.distributed as distributed
    except ImportError as e:
        raise ConfigError(
            f"distributed mode needs celery and redis ({e.name} is missing): pip install 'videokit[distributed]'"
        ) from None
    return distributed


def run_worker(config: Config, queues: str | Iterable[str] = ("io", "cpu"), *, concurrency: int | None = None) -> None:
    """Serve ``queues`` (io, cpu, gpu; a list or ``"io,cpu"``) as a distributed worker on the
    ``[Celery] BrokerURL`` broker, ``concurrency`` processes (default ``[Concurrency] MaxWorkers``),
    until stopped: this blocks. UsageError for an unknown queue, StoreError when the broker or the
    store cannot be reached, ConfigError without the ``distributed`` extra."""
    _distributed()
    from videokit.distributed.worker import parse_queues, start_worker

    names = parse_queues(queues)
    n = concurrency or int(config.get("Concurrency", "MaxWorkers"))
    start_worker(config, names, n, log_level=config.get("Logging", "Level"))


# -- the library ---------------------------------------------------------------------------------


def search(config: Config, query: Query | None = None) -> list[Record]:
    """Stored videos matching every filter of ``query`` (all videos without one): newest first,
    best match first when ``query.text`` is given; ``query.limit``/``offset`` page them.

    ``query.mode``: ``text`` (every word must occur), ``semantic`` (nearest by meaning: the text is
    embedded with ``[Embeddings] Model``), ``hybrid`` (both rankings fused by reciprocal rank);
    None: :func:`search_mode`. UsageError for a semantic/hybrid search without text, a text longer
    than :data:`MAX_QUERY_CHARS`, or a library without embeddings of the configured model;
    StoreError for a store without vector search."""
    from videokit.store import open_store

    with open_store(config) as store:
        q = _prepared(config, store, query or Query())
        if q.min_score is None and q.mode != "text":
            q.min_score = _similarity_floor(store, q)
        return store.search(q)


def count(config: Config, query: Query | None = None) -> int:
    """How many stored videos match ``query`` (``limit`` and ``offset`` ignored)."""
    from videokit.store import open_store

    with open_store(config) as store:
        return store.count(query)


def get(config: Config, id: str) -> Record:
    """The stored video ``id`` (or a unique prefix of at least 6 characters of it).
    InputError when no video, or more than one, has that id."""
    from videokit.store import open_store

    with open_store(config) as store:
        record = store.get(id)
    if record is None:
        raise _unknown(config, id)
    return record


def _unknown(config: Config, id: str) -> InputError:
    return InputError(f"no video with id {id!r} in {config.library}; see 'videokit search'")


def ask(
    config: Config,
    target: str,
    question: str,
    *,
    analyzer: str | None = None,
    video: Path | None = None,
    refresh: bool = False,
) -> Answer:
    """Answer ``question`` about ``target`` (a video file, or the id of a stored video) with
    ``analyzer`` (default ``[Analysis] Backend``); a stored video keeps the answer. Answers are
    cached like analyses (``refresh`` asks again). ``video``: where the file of a stored video
    is now, when it moved. ``Answer.answer`` is None when the analyzer gave none (its
    ``warnings`` say why). UsageError for an empty question, an unknown target, a missing file."""
    from videokit.analysis.ask import ask as ask_question

    if analyzer is not None:
        config = config.with_overrides({("Analysis", "Backend"): analyzer})
    return ask_question(config, target, question, video=video, refresh=refresh)


def edit_tags(config: Config, id: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> TagEdit:
    """Add or remove ``user`` tags on stored video ``id`` (or a unique id prefix), then tag and
    classify it again so its category reflects them. Raises InputError for an unknown id, a
    bad name, or a name only a rule or an analyzer put there."""
    from videokit.store import open_store
    from videokit.tagging import check_config
    from videokit.tagging.user import edit_user_tags

    tagger = check_config(config)
    with open_store(config) as store:
        rec = store.get(id)
        if rec is None:
            raise _unknown(config, id)
        added, removed = edit_user_tags(rec, add, remove)
        before = rec.classification.category if rec.classification else None
        tagger.apply(rec)
        rec.updated_at = utcnow()
        store.upsert(rec)
    return TagEdit(rec, added, removed, before)


def retag(
    config: Config, query: Query | None = None, *, rules: Path | str | None = None, dry_run: bool = False
) -> RetagReport:
    """Apply the tag rules and the classification again to the stored videos matching ``query``
    (all without one), with ``rules`` as the custom rules file (default ``[Rules] CustomTagRules``).
    Nothing is downloaded or analysed again; ``dry_run`` counts what would change and writes nothing.
    ConfigError for a bad rules file, before the library is touched."""
    from videokit.store import open_store
    from videokit.tagging import check_config
    from videokit.tagging import retag as retag_records

    tagger = check_config(_with_rules(config, rules))
    with open_store(config) as store:
        return retag_records(store, tagger, query, dry_run=dry_run)


def explain(config: Config, id: str, *, rules: Path | str | None = None) -> Explanation:
    """Every rule and category signal evaluated on stored video ``id`` (or a unique prefix),
    fired or not and why, with the category they give. InputError for an unknown id."""
    from videokit.store import open_store
    from videokit.tagging import check_config

    config = _with_rules(config, rules)
    tagger = check_config(config)
    with open_store(config) as store:
        record = store.get(id)
    if record is None:
        raise _unknown(config, id)
    rule_results, signals, decision = tagger.explain(record)
    return Explanation(record, list(rule_results), list(signals), decision)


def list_rules(config: Config, *, rules: Path | str | None = None) -> list[Rule]:
    """The tag rules in effect, in order: the built-in ones (unless ``[Rules] UseDefaults`` is
    off), then those of ``rules`` (default ``[Rules] CustomTagRules``). ConfigError for a bad file."""
    from videokit.tagging import load_rules

    return list(load_rules(_with_rules(config, rules)))


def check_rules(config: Config) -> RulesSummary:
    """Validate the configured rules, taxonomy and priority keywords together (ConfigError
    naming file, rule and field on the first problem)."""
    from videokit.tagging import check_config

    tagger = check_config(config)
    custom = sum(1 for r in tagger.rules if r.origin.startswith("rule:"))
    return RulesSummary(len(tagger.rules) - custom, custom, len(tagger.taxonomy.categories), tagger.taxonomy.source)


def check_rules_file(path: Path | str) -> RulesFileCheck:
    """Validate one rules, taxonomy or priority-keywords file, its kind read from its content
    (ConfigError naming file, rule and field on the first problem). Needs no configuration."""
    from videokit.tagging.classify import parse_taxonomy
    from videokit.tagging.jsonfile import read_json
    from videokit.tagging.priority import parse_priority_keywords
    from videokit.tagging.rules import parse_rules

    name = str(path)
    data = read_json(path)
    if isinstance(data, dict) and "priority_keywords" in data:
        return RulesFileCheck(name, "priority_keywords", list(parse_priority_keywords(data, name)))
    if isinstance(data, dict) and "categories" in data:
        tax = parse_taxonomy(data, name)
        return RulesFileCheck(name, "taxonomy", list(tax.categories), len(tax.signals))
    return RulesFileCheck(name, "rules", [r.id for r in parse_rules(data, name)])


def _with_rules(config: Config, rules: Path | str | None) -> Config:
    if rules is None:
        return config
    return config.with_overrides({("Rules", "CustomTagRules"): str(Path(rules).expanduser().resolve())})


def export_library(config: Config, fmt: str, out: Path | str, query: Query | None = None) -> ExportReport:
    """Write the stored videos matching ``query`` (all without one) to ``out`` with the exporter
    registered as ``fmt`` (json: a folder, one file per video plus index.json; jsonl, csv: a
    file; plug-in exporters through the ``videokit.exporters`` entry points). ``out`` may be an
    ``s3://`` ``gs://`` ``az://`` ``dropbox://`` URL: written locally, then uploaded. UsageError
    naming the registered formats for any other ``fmt``."""
    from videokit.export import exporters
    from videokit.store import open_store

    names = exporters.names()
    if fmt not in names:
        raise UsageError(f"unknown export format {fmt!r}; choose one of: {', '.join(names)}")
    exporter = exporters.get(fmt)
    if is_cloud_url(str(out)):  # written locally, then uploaded (videokit.storage)
        from videokit.storage.places import build_and_upload

        with open_store(config) as store:
            records = store.iter_records(query)
            options = StorageOptions.from_config(config)
            n = build_and_upload(str(out), options, config.library, lambda p: exporter(records, p))
        return ExportReport(fmt, str(out), n)
    target = Path(out)
    with open_store(config) as store:
        n = exporter(store.iter_records(query), target)
    return ExportReport(fmt, target, n)


def migrate(
    config: Config,
    to: str,
    from_: str | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Migration:
    """Copy every record from ``from_`` (default: the configured library store) to ``to``; each is
    a ``mongodb://``/``mongodb+srv://`` URI, a ``.sqlite`` file or a library folder. Idempotent:
    records are upserted by content id. ``progress(done, total)`` after each record. UsageError
    when both are the same store or a location is not a store; StoreError when one is unreachable."""
    from videokit.store import open_store
    from videokit.store.migrate import describe, open_location
    from videokit.store.migrate import migrate as copy_records

    src = open_location(from_, config) if from_ else open_store(config)
    try:
        dst = open_location(to, config)
        try:
            source, destination = describe(src), describe(dst)
            if source == destination:
                raise UsageError(f"source and destination are the same store ({source})")
            report = copy_records(src, dst, progress=progress)
        finally:
            dst.close()
    finally:
        src.close()
    return Migration(source, destination, report)


def check(config: Config) -> CheckReport:
    """Check the library: the store's integrity check (SQLite's ``PRAGMA integrity_check`` on
    ``library.sqlite``), the records it holds, and the ``processed/<id>/record.json`` file kept
    for each. Writes nothing; ``CheckReport.ok`` is False (``problems`` says why) when the
    database is damaged, missing or cannot be opened."""
    from videokit.store.repair import check_library

    return check_library(config)


def rebuild(config: Config) -> RebuildReport:
    """Recreate the library's ``library.sqlite`` from the ``processed/<id>/record.json`` files
    (plus the rows still readable in the old database that have no file). The new database is
    written beside the old one and renamed into place; the old one is kept as
    ``library.sqlite.damaged-<time>`` (``.replaced-<time>`` when it was healthy). Run it while no
    other videokit command uses the library. UsageError for a library that is not SQLite or a
    folder that does not exist; StoreError (DiskFullError) when the new database cannot be written."""
    from videokit.store.repair import rebuild_library

    return rebuild_library(config)


# -- single files and set-up ---------------------------------------------------------------------


def probe_file(path: Path | str) -> MediaInfo:
    """The technical metadata of one video file (ffprobe). InputError when it is missing or
    not a video. Needs no configuration or library."""
    from videokit.inputs import check_local
    from videokit.probe import media_info

    file = Path(path)
    check_local(file)
    return media_info(file)


def find_scenes(config: Config, path: Path | str) -> SceneInfo:
    """The scenes of one video file, with the ``[SceneDetection]`` settings of ``config``; no
    library needed, nothing written. InputError when the file cannot be decoded."""
    from videokit.scenes import SceneOptions, detect_scenes

    return detect_scenes(str(path), SceneOptions.from_config(config))


def init(directory: Path | str = ".", *, force: bool = False) -> list[Path]:
    """Write a commented ``config.ini`` (every setting with its default) and example
    ``custom_tags.json`` and ``priority_keywords.json`` into ``directory``; returns the files
    written. UsageError when ``config.ini`` exists, unless ``force``."""
    from videokit.config import render_ini
    from videokit.tagging import write_examples

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    ini = target / "config.ini"
    if ini.exists() and not force:
        raise UsageError(f"{ini} exists; use --force to overwrite")
    tmp = ini.with_name(f".{ini.name}.tmp")
    tmp.write_text(render_ini(), encoding="utf-8")
    tmp.replace(ini)
    return [ini, *write_examples(target, force=force)]


__all__ = [
    # re-exported from videokit.pipeline
    "build_pipeline",
    "optional_stages",
    "stage_names",
    # this module
    "PRIORITIES",
    "Answer",
    "BrokerStatus",
    "CheckReport",
    "ExportReport",
    "Explanation",
    "Failure",
    "Migration",
    "RebuildReport",
    "RetryReport",
    "RulesFileCheck",
    "RulesSummary",
    "RunResult",
    "StatusReport",
    "SubmitReport",
    "TagEdit",
    "WorkerStatus",
    "ask",
    "check",
    "check_rules",
    "check_rules_file",
    "count",
    "edit_tags",
    "explain",
    "export_library",
    "find_scenes",
    "get",
    "init",
    "list_rules",
    "migrate",
    "probe_file",
    "rebuild",
    "retag",
    "retry",
    "run",
    "run_worker",
    "search",
    "status",
    "submit",
]


# -- datasets (P5) -------------------------------------------------------------------------------

from videokit.dataset.build import DatasetOptions as DatasetOptions  # noqa: E402 - re-exported
from videokit.dataset.build import DatasetReport as DatasetReport  # noqa: E402 - re-exported


def build_dataset(
    config: Config,
    out: Path | str,
    options: DatasetOptions,
    query: Query | None = None,
    *,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> DatasetReport:
    """Cut labelled clips from the stored videos matching ``query`` (all without one) into the
    dataset folder ``out``, split without leaks between near-duplicates, in ``options.formats``,
    with a manifest (each clip's SHA-256 and origin) and a dataset card. Streams the library:
    memory does not grow with the number of clips. The same call again resumes an interrupted
    build without cutting a finished clip twice and gives the same manifest; a folder built with
    other options raises UsageError unless ``overwrite``. A video whose file moved or vanished, or
    a segment outside its video, is one entry of ``DatasetReport.failures``/``rejected`` and the
    rest goes on. ``progress(done, total)`` after each source video. UsageError for bad split
    ratios, ConfigError for an unknown format or class, DiskFullError (StoreError) when the disk
    fills: the same call resumes once there is space.

    ``out`` may be an ``s3://`` ``gs://`` ``az://`` ``dropbox://`` prefix: the dataset is built in
    a staging folder in the library (``<library>/uploads/datasets/``, kept so that the same call
    resumes or updates without cutting or uploading again), then every file is uploaded (each
    whole or invisible, SHA-256 checked, a clip's against the manifest's) and ``manifest.jsonl``
    last, after the prefix's old one was removed first: a prefix holding a manifest holds the
    whole dataset it lists. Nothing is uploaded when the build fails."""
    from videokit.dataset.build import build

    if is_cloud_url(str(out)):
        return _build_dataset_in_cloud(config, str(out), options, query, overwrite=overwrite, progress=progress)
    return build(config, Path(out), options, query, overwrite=overwrite, progress=progress)


def _build_dataset_in_cloud(
    config: Config,
    url: str,
    options: DatasetOptions,
    query: Query | None,
    *,
    overwrite: bool,
    progress: Callable[[int, int], None] | None,
) -> DatasetReport:
    import hashlib
    import json

    from videokit.dataset.build import build
    from videokit.dataset.card import MANIFEST
    from videokit.storage.location import parse_location
    from videokit.storage.publish import publish_folder

    dest = parse_location(url).url.rstrip("/")
    staging = config.library / "uploads" / "datasets" / hashlib.sha256(dest.encode()).hexdigest()[:16]
    try:
        report = build(config, staging, options, query, overwrite=overwrite, progress=progress)
    except UsageError as e:  # "<staging> holds a dataset built with other settings...": the user knows the URL
        raise UsageError(str(e).replace(str(staging), dest)) from None
    expected: dict[str, str] = {}
    for line in (staging / MANIFEST).read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        expected[str(entry["path"])] = str(entry["sha256"])
    publish_folder(staging, dest, StorageOptions.from_config(config), marker=MANIFEST, expected=expected)
    report.out = dest
    return report


__all__ += ["DatasetOptions", "DatasetReport", "build_dataset"]


# -- near-duplicates (P3) ------------------------------------------------------------------------

if TYPE_CHECKING:
    from videokit.dataset.dedup import DupGroup


@dataclass(slots=True)
class DupesReport:
    """Near-duplicate groups among stored videos (:func:`dupes`): each group's ids and
    similarity (``DupGroup``), the grouped videos' records, how many videos had thumbnails to
    compare, and the ids of those without any (their scenes were not detected)."""

    groups: list[DupGroup]
    records: dict[str, Record]  # the videos of the groups, by id
    compared: int
    without_thumbnails: list[str]


def dupes(config: Config, query: Query | None = None, *, max_distance: int = 8, min_shared: float = 0.5) -> DupesReport:
    """Groups of near-duplicate stored videos (those matching ``query``; all without one): the
    same footage re-encoded, resized, trimmed or re-uploaded, found from the perceptual hashes
    of their scene thumbnails (cached under ``<library>/cache/phash/``) through an index, most
    similar first. Two videos are near-duplicates when ``min_shared`` of the scenes of one have
    a thumbnail at most ``max_distance`` bits (of 64) from one of the other's. UsageError for
    thresholds out of range, ConfigError without the dataset extra (imagehash)."""
    from videokit.dataset.dedup import check_thresholds, near_duplicate_groups, video_hashes
    from videokit.store import open_store

    check_thresholds(max_distance, min_shared)
    hashes: dict[str, list[int]] = {}
    without: list[str] = []
    with open_store(config) as store:
        for record in store.iter_records(query):
            if not record.id:
                continue
            found = video_hashes(record, config.library)
            if found:
                hashes[record.id] = found
            else:
                without.append(record.id)
        groups = near_duplicate_groups(hashes, max_distance, min_shared)
        records: dict[str, Record] = {}
        for group in groups:
            for vid in group.ids:
                got = store.get(vid)
                if got is not None:
                    records[vid] = got
    return DupesReport(groups, records, len(hashes), sorted(without))


__all__ += ["DupesReport", "dupes"]


# -- dataset tools (P2) ---------------------------------------------------------------------------

from videokit.dataset.encode import ConvertReport as ConvertReport  # noqa: E402 - re-exported
from videokit.dataset.encode import EncodeOptions as EncodeOptions  # noqa: E402 - re-exported
from videokit.dataset.validate import ValidationReport as ValidationReport  # noqa: E402 - re-exported


def convert(
    path: Path | str, out: Path | str | None = None, options: EncodeOptions | None = None, *, overwrite: bool = False
) -> ConvertReport:
    """Re-encode the video ``path`` to an H.264/AAC MP4 with the encoder settings of exact-mode
    dataset clips (``EncodeOptions``: maximum height, frame rate, quality, audio kept or not),
    into ``out`` (default ``NAME.h264.mp4`` beside the input), written under a temporary name and
    renamed when whole. Needs no configuration or library. InputError for a missing or
    undecodable input, UsageError when ``out`` is the input or exists (unless ``overwrite``),
    DiskFullError (StoreError) when the disk fills."""
    from videokit.dataset.encode import convert_file

    return convert_file(Path(path), Path(out) if out is not None else None, options, overwrite=overwrite)


def validate(path: Path | str) -> ValidationReport:
    """Decode all of the video ``path`` and report its codecs, duration and frames, the frames
    that decoded and the decoder's errors; ``ValidationReport.ok`` is False (``problems`` says
    why) when it does not decode fully. Needs no configuration or library. InputError when the
    file is missing or unreadable."""
    from videokit.dataset.validate import validate_file

    return validate_file(Path(path))


__all__ += ["ConvertReport", "EncodeOptions", "ValidationReport", "convert", "validate"]


# -- search: transcripts, embeddings, moments (Step 8) -------------------------------------------

from videokit.store.base import Moment as Moment  # noqa: E402 - re-exported

MAX_QUERY_CHARS = 1000  # a longer search text is refused (UsageError), not cut
# search(): in the semantic and hybrid modes videos come by meaning only when one of them (passing the
# filters) has a passage at least MIN_SIMILARITY similar (cosine) to the query; then every video with a
# passage at least MIN_SIMILARITY_BESIDE similar comes. A query unlike everything finds nothing by
# meaning, and a paraphrase whose clip scores 0.2-0.3 beside a better one is still found (measured with
# all-MiniLM-L6-v2 by benchmarks/search_eval.py: paraphrase R@5 0.90 against 0.81 for a flat 0.3, as
# many off-topic queries finding nothing). Moments come by meaning from MIN_SIMILARITY_BESIDE up (a
# transcript chunk of three sentences holding the paraphrased one measured 0.25); similar videos have
# no floor: best first.
MIN_SIMILARITY = 0.3
MIN_SIMILARITY_BESIDE = 0.2
# ... and, beside the nearest video, only videos within SIMILARITY_MARGIN of its best passage: a
# one-word query ("lighthouse") whose own video scores 0.6 brings no 0.3 lake or seal video along.
SIMILARITY_MARGIN = 0.15


def _similarity_floor(store: Any, query: Query) -> float:
    """The ``min_score`` of a semantic or hybrid search: :data:`MIN_SIMILARITY` when no passage of a
    video passing the filters reaches it by meaning; else the best passage's similarity less
    :data:`SIMILARITY_MARGIN`, but never under :data:`MIN_SIMILARITY_BESIDE`."""
    probe = Query(**{f: getattr(query, f) for f in Query.__slots__})  # type: ignore[attr-defined]
    probe.mode, probe.min_score, probe.limit, probe.offset = "semantic", MIN_SIMILARITY, 1, 0
    best = store.moments(probe)
    if not best:
        return MIN_SIMILARITY
    return max(MIN_SIMILARITY_BESIDE, min(MIN_SIMILARITY, best[0].score - SIMILARITY_MARGIN))


@dataclass(slots=True)
class SimilarVideo:
    """A video like another one; ``score``: the cosine similarity of their embeddings (higher is nearer)."""

    record: Record
    score: float


def search_mode(config: Config, query: Query | None = None) -> str:
    """The mode a search of ``query`` runs in: ``query.mode`` when given; else ``hybrid`` when it has
    text and the library holds embeddings of the configured ``[Embeddings] Model``, ``text`` otherwise."""
    from videokit.store import open_store

    with open_store(config) as store:
        return _mode(config, store, query or Query())


def moments(config: Config, query: Query) -> list[Moment]:
    """The moments best matching ``query.text`` (scenes and transcript chunks with their start and
    end, whole-video passages without), best first, at most a few per video, in videos passing
    every filter of ``query``; ``limit``/``offset`` page them. Modes as :func:`search`; by meaning,
    only passages at least :data:`MIN_SIMILARITY_BESIDE` similar to the text (``query.min_score``
    overrides it). UsageError for an empty text (or as :func:`search`)."""
    from videokit.store import open_store

    if not (query.text or "").strip():
        raise UsageError("moments need a search text; give the words (or a sentence) to look for")
    with open_store(config) as store:
        q = _prepared(config, store, query)
        if q.mode != "text" and q.min_score is None:
            q.min_score = MIN_SIMILARITY_BESIDE
        return store.moments(q)


def similar(config: Config, id: str, *, limit: int = 10, query: Query | None = None) -> list[SimilarVideo]:
    """Up to ``limit`` videos most like video ``id`` (or a unique id prefix) by the embeddings of
    their passages, nearest first, the video itself left out; the filters of ``query`` apply (its
    text does not). [] when the video has no embeddings (``videokit reindex`` makes them).
    InputError for an unknown id; StoreError for a store without vector search."""
    from videokit.store import open_store

    q = Query(**{f: getattr(query or Query(), f) for f in Query.__slots__})  # type: ignore[attr-defined]
    q.limit, q.offset = limit, 0
    with open_store(config) as store:
        record = store.get(id)
        if record is None or not record.id:
            raise _unknown(config, id)
        return [SimilarVideo(r, score) for r, score in store.similar(record.id, q)]


def _mode(config: Config, store: Any, query: Query) -> str:
    if query.mode is not None:
        return query.mode
    if not (query.text or "").strip() or not store.vector_search or not store.has_vectors():
        return "text"
    from videokit.index.embedder import EmbedOptions

    wanted = EmbedOptions.from_config(config).model_id
    if wanted in store.vector_models():
        return "hybrid"
    log.warning(
        "the library's embeddings are not of the configured model %s: text search only; "
        "run 'videokit reindex' to embed the library again",
        wanted,
    )
    return "text"


def _prepared(config: Config, store: Any, query: Query) -> Query:
    """``query`` with its mode settled and, where the mode needs it, its text embedded."""
    text = (query.text or "").strip()
    if len(text) > MAX_QUERY_CHARS:
        raise UsageError(
            f"the search text is {len(text)} characters long; at most {MAX_QUERY_CHARS} are searched: shorten it"
        )
    q = Query(**{f: getattr(query, f) for f in Query.__slots__})  # type: ignore[attr-defined]
    q.mode = _mode(config, store, query)
    store.require_vectors(q)
    if q.mode == "text" or q.vector is not None:
        return q
    if not text:
        raise UsageError(f"a {q.mode} search needs a search text; give the words (or a sentence) to look for")
    from videokit.index.embedder import EmbedOptions, embed_query

    models = store.vector_models()
    wanted = EmbedOptions.from_config(config).model_id
    if wanted not in models:
        what = (
            f"no embeddings of the configured model {wanted} (only of {', '.join(models)})"
            if models
            else "no embeddings"
        )
        raise UsageError(
            f"{config.library}: the library has {what}; run 'videokit reindex', or search with --mode text"
        )
    q.vector, q.vector_model = embed_query(config, text)
    return q


__all__ += [
    "MAX_QUERY_CHARS",
    "MIN_SIMILARITY",
    "MIN_SIMILARITY_BESIDE",
    "Moment",
    "SimilarVideo",
    "moments",
    "search_mode",
    "similar",
]


# -- reindex (Step 8) ----------------------------------------------------------------------------

from videokit.index.reindex import ReindexReport as ReindexReport  # noqa: E402 - re-exported


def reindex(
    config: Config,
    query: Query | None = None,
    *,
    transcripts: bool = True,
    embeddings: bool = True,
    force: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> ReindexReport:
    """Make (or make again) the transcripts and embeddings of the stored videos matching ``query``
    (all without one), with the stages and settings a run would use, saving each video as it goes.
    A video already up to date (same transcription settings; embeddings of its current passages
    with the configured ``[Embeddings] Model``) is skipped, so an interrupted reindex resumes;
    ``force`` redoes everything. A video whose file is missing is reported in one line
    (``ReindexReport.failures``). ``on_progress(done, total)`` after each video. ConfigError for
    bad settings (a model folder that does not exist), UsageError when no part can run."""
    from videokit.index.reindex import plan
    from videokit.index.reindex import reindex as reindex_library
    from videokit.store import open_store

    work = plan(config, transcripts=transcripts, embeddings=embeddings)
    with open_store(config) as store:
        return reindex_library(store, config, query, force=force, on_progress=on_progress, work=work)


__all__ += ["ReindexReport", "reindex"]


# -- the service: API keys (Step 9) --------------------------------------------------------------

from videokit.web.keys import CreatedKey as CreatedKey  # noqa: E402 - re-exported
from videokit.web.keys import KeyInfo as KeyInfo  # noqa: E402 - re-exported


def create_key(config: Config, name: str, scope: str = "read") -> CreatedKey:
    """A new API key for the server of this library, named ``name`` (who uses it), of
    ``scope`` read, write or admin. ``CreatedKey.key`` is the only time the key is seen: the
    library keeps its SHA-256 (``<library>/keys.sqlite``). UsageError for another scope or an
    empty name."""
    from videokit.web.keys import KeyStore

    store = KeyStore(config.library)
    try:
        return store.create(name, scope)
    finally:
        store.close()


def list_keys(config: Config) -> list[KeyInfo]:
    """The API keys of this library (id, name, scope, when created and revoked), never the keys."""
    from videokit.web.keys import KEYS_NAME, KeyStore

    if not (config.library / KEYS_NAME).exists():
        return []
    store = KeyStore(config.library)
    try:
        return store.list()
    finally:
        store.close()


def revoke_key(config: Config, key_id: str) -> KeyInfo:
    """Revoke the API key ``key_id`` (its id, or the key itself) and end the browser sessions
    signed in with it; every server process refuses it from its next request. UsageError when
    no key has that id."""
    from videokit.web.keys import KeyStore

    store = KeyStore(config.library)
    try:
        return store.revoke(key_id)
    finally:
        store.close()


def signin_link(config: Config) -> str:
    """A link that signs a browser in to the web UI once, as the local user (admin), within
    10 minutes; the base is ``[Server] PublicURL``, else the address the server binds."""
    from videokit.web.options import ServerOptions
    from videokit.web.server import signin_link as make_link

    return make_link(config, ServerOptions.from_config(config))


def serve(
    config: Config,
    *,
    host: str | None = None,
    port: int | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the library of ``config`` over HTTP until SIGTERM or SIGINT (graceful: requests
    in flight finish): the REST API under ``/api/v1`` (Swagger UI at ``/docs``) and the web UI.
    ``host``/``port`` override ``[Server] Host``/``Port`` (default 127.0.0.1:8000); the other
    ``[Server]`` settings say how many processes, the rate limit, anonymous reading. This
    blocks. ``on_ready(url)`` is called with the server's URL before it binds. ConfigError
    without the ``web`` extra."""
    from dataclasses import replace

    from videokit.web.options import ServerOptions
    from videokit.web.server import serve as run_server

    options = ServerOptions.from_config(config)
    if host is not None:
        options = replace(options, host=host)
    if port is not None:
        options = replace(options, port=port)
    run_server(config, options, on_ready=on_ready)


__all__ += ["CreatedKey", "KeyInfo", "create_key", "list_keys", "revoke_key", "serve", "signin_link"]


# -- cloud storage (Step 11) ---------------------------------------------------------------------


def library_files(config: Config) -> Storage:
    """Where the library's files live (``[Storage] LibraryFiles``: a local folder, by default the
    library's, or ``s3://`` ``gs://`` ``az://`` ``dropbox://``), as a :class:`Storage`: ``put``,
    ``get``, ``read_bytes``, ``list``, ``info``, ``delete`` by relative key
    (``"processed/<id>/thumb_0001.jpg"``); uploads appear whole or not at all, SHA-256 checked."""
    from videokit.storage.places import library_files as files

    return files(config)
