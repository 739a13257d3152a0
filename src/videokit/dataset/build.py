"""Build a dataset from the library: select, plan, label, group, split, cut, write, describe.

:func:`build` (``videokit dataset OUT``, :func:`videokit.api.build_dataset`) streams the stored
videos matching a :class:`~videokit.store.Query` (one pass) and, for each, plans its clips
(:mod:`.clips`), checks the label options against it (:mod:`.labels`) and reads its
perceptual hashes (:mod:`.dedup`); only the small :class:`~videokit.dataset.model.ClipPlan` of
every clip is kept in memory, never a record or a clip's bytes (records are read again from the
store when a format needs them). Then it groups near-duplicates, labels the clips, splits
without leaks (:mod:`.splits`), cuts each source video once, with one ffmpeg process, into the
dataset's pool of clips, links each clip into every requested format's layout, and writes the
formats' index files, the manifest and the dataset card.

The output folder keeps its own state (:mod:`.state`): the same command resumes a build killed
at any moment without cutting a finished clip again, and gives the same manifest; other settings
are refused unless ``overwrite``. With one format the dataset is ``OUT`` itself; with several,
each format has its folder ``OUT/<format>/`` (the clips hard-linked, not copied).
"""

from __future__ import annotations

import dataclasses
import logging
import shlex
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videokit.dataset.model import Clip, ClipPlan
from videokit.dataset.state import DatasetFolder, Done
from videokit.errors import DiskFullError, InputError, UsageError, one_line, stops_batch
from videokit.record import MediaInfo, Record
from videokit.store.base import Query, Store

if TYPE_CHECKING:
    from videokit.config import Config
    from videokit.dataset.clips import ClipOptions
    from videokit.dataset.formats.base import DatasetFormat
    from videokit.dataset.labels import LabelOptions

log = logging.getLogger(__name__)

CUT_SETTINGS = ("mode", "max_height", "fps", "crf", "audio")  # the ClipOptions fields a clip's bytes depend on


@dataclass(frozen=True, slots=True)
class DatasetOptions:
    """What a dataset holds and how it is written (``videokit dataset`` flags): which clips and
    how they are cut (:class:`~videokit.dataset.clips.ClipOptions`), how they are labelled
    (:class:`~videokit.dataset.labels.LabelOptions`), the formats, the split ratios
    (train, val, test) and seed, and whether near-duplicates keep one member (``dedup``)."""

    clips: ClipOptions
    labels: LabelOptions
    formats: tuple[str, ...] = ("folder",)
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    dedup: bool = False


@dataclass(slots=True)
class DatasetReport:
    """What a dataset build did: clips cut now, already cut by an earlier run of the same
    command, or failed; labels; rejected segments and failed videos with the reason of each;
    near-duplicates; clips per split and class; the files written (relative to ``out``)."""

    out: Path | str  # the folder, or the cloud prefix it was published to
    formats: list[str]
    videos: int = 0  # stored videos the filters selected
    clips: int = 0  # clips in the dataset
    written: int = 0  # clips cut by this run
    skipped: int = 0  # clips an earlier run of the same command had already cut
    failed: int = 0  # clips planned but not cut: their video failed
    labelled: int = 0  # clips with a label
    unlabeled_skipped: int = 0  # clips without a label, left out (--unlabeled skip)
    unlabeled_kept: int = 0  # clips without a label, kept in the "unlabeled" class (--unlabeled keep)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (segment, why): not a clip
    failures: list[tuple[str, str]] = field(default_factory=list)  # (video, why): none of its clips cut now
    duplicate_groups: int = 0  # groups of near-duplicate videos found
    dropped_duplicates: int = 0  # videos left out by ``dedup`` (another member of their group kept)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> class -> clips
    duration: float = 0.0  # seconds of video in all clips
    files: list[str] = field(default_factory=list)  # index files, manifest, card (relative to out)
    resumed: bool = False  # an earlier run of the same command had started this dataset

    @property
    def ok(self) -> bool:
        """Every selected video gave its clips and no segment was rejected."""
        return not self.failures and not self.rejected


def build(
    config: Config,
    out: Path,
    options: DatasetOptions,
    query: Query | None = None,
    *,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> DatasetReport:
    """Build (or resume) the dataset ``out`` from the stored videos matching ``query``; see the
    module docstring. ``progress(done, total)`` after each source video is cut. UsageError for
    bad options or a folder that holds another dataset; ConfigError for an unknown format or a
    missing extra; DiskFullError when the disk fills (the same call resumes)."""
    out = Path(out).expanduser().absolute()
    query = query or Query()
    formats = _formats(options.formats)
    _check_split(options)
    settings = _settings(options, query)
    cut = {k: settings["clips"].get(k) for k in CUT_SETTINGS}
    from videokit.store import open_store

    try:
        with DatasetFolder.open(out, settings, cut, overwrite) as folder, open_store(config) as store:
            return _Build(config, folder, options, query, formats, store, progress).run()
    except DiskFullError as e:  # the cutter names its work folder; the user knows OUT
        if Path(e.where).is_relative_to(out) and Path(e.where) != out:
            raise DiskFullError(out) from None
        raise
    except OSError as e:
        full = stops_batch(e, out)
        if full is not None:
            raise full from None
        raise


def render_command(out: Path | str, options: DatasetOptions, query: Query | None = None) -> str:
    """The ``videokit dataset`` command line that builds this dataset (for the dataset card):
    ``--clips`` and ``--mode``, then every option that differs from its default."""
    args = ["videokit", "dataset", str(out)]
    q = query or Query()
    if q.text:
        args.append(q.text)
    clips, labels = options.clips, options.labels
    default_clips, default_labels = type(clips)(), type(labels)()
    for f in dataclasses.fields(clips):  # type: ignore[arg-type]
        value = getattr(clips, f.name)
        if f.name not in ("clips", "mode") and value == getattr(default_clips, f.name):
            continue
        if f.name == "audio":
            args += [] if value else ["--no-audio"]
        elif value is not None:
            args += [f"--{f.name.replace('_', '-')}", _arg(value)]
    for f in dataclasses.fields(labels):  # type: ignore[arg-type]
        value = getattr(labels, f.name)
        if value == getattr(default_labels, f.name):
            continue
        flag = "--label-from" if f.name == "source" else f"--{f.name.replace('_', '-')}"
        if isinstance(value, bool):
            args += [flag] if value else []
        elif isinstance(value, dict):
            args += [flag, ",".join(f"{k}={v}" for k, v in value.items())]
        elif value is not None:
            args += [flag, _arg(value)]
    args += ["--split", ",".join(_arg(r) for r in options.split), "--seed", str(options.seed)]
    args += ["--dedup"] if options.dedup else []
    for name in _format_names(options.formats):
        args += ["--format", name]
    args += _query_args(q)
    return shlex.join(args)


def describe_options(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings of a build as the dataset card lists them: one flat row per option that is
    set (the clip and label options by name, the split, seed, formats and search filters)."""
    out: dict[str, Any] = {}
    for group in ("clips", "labels"):
        for key, value in settings[group].items():
            if value is None:
                continue
            if key == "classes":
                value = ", ".join(f"{k}={v}" for k, v in value)
            out["label-from" if (group, key) == ("labels", "source") else key.replace("_", "-")] = value
    out["split"] = ",".join(_arg(r) for r in settings["split"])
    out["seed"] = settings["seed"]
    out["dedup"] = settings["dedup"]
    out["formats"] = ", ".join(settings["formats"])
    for key, value in settings["query"].items():
        if value not in (None, [], 0) or (key == "has_audio" and value is not None):
            out[f"filter {key.replace('_', '-')}"] = value
    return out


# -- the build ---------------------------------------------------------------------------------


class _Build:
    """One run of a build: the state it needs in one place, the steps as methods."""

    def __init__(
        self,
        config: Config,
        folder: DatasetFolder,
        options: DatasetOptions,
        query: Query,
        formats: list[DatasetFormat],
        store: Store,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        self.config = config
        self.folder = folder
        self.options = options
        self.query = query
        self.formats = formats
        self.records = StoredRecords(store)
        self.store = store
        self.progress = progress
        self.report = DatasetReport(folder.out, [f.name for f in formats])
        self.groups: list[Any] = []  # near-duplicate groups (videokit.dataset.dedup.DupGroup)
        self.classes: list[str] = []  # in label-index order
        self.keys: dict[str, str] = {}  # clip key -> video id

    def run(self) -> DatasetReport:
        from videokit.dataset.labels import check_labels
        from videokit.dataset.splits import split_plans

        done = self.folder.journal()
        self.report.resumed = bool(done) or self.folder.state.get("complete", False)
        plans: list[ClipPlan] = []
        hashes: dict[str, list[int]] = {}
        selected = self._select(plans, hashes)
        labels = check_labels(self.options.labels, selected)  # one pass over the library: it plans too
        for _ in selected:  # whatever the check did not read
            pass
        plans.sort(key=lambda p: (p.video_id, p.start, p.end))
        plans = self._deduplicate(plans, hashes)
        self._label(plans, labels)
        split_plans(plans, self.options.split, self.options.seed, self.groups)
        clips = self._cut(plans, done)
        self._write(clips)
        return self.report

    # -- planning: one stored video at a time ------------------------------------------------
    def _select(self, plans: list[ClipPlan], hashes: dict[str, list[int]]) -> Iterator[Record]:
        """The selected videos, streamed from the store; each one passing is planned on the way
        (its clips, one per span, into ``plans``; its perceptual hashes into ``hashes``): a video
        whose file is gone is a failure, a segment that is no clip a reject."""
        from videokit.dataset.clips import plan_clips
        from videokit.dataset.dedup import video_hashes

        for record in self.store.iter_records(self.query):
            if not record.id or record.id in self.records:
                continue
            self.report.videos += 1
            self.records.add(record.id)
            name = video_name(record)
            try:
                source = source_file(record)
                planned, rejects = plan_clips(record, source, self.options.clips)
            except InputError as e:
                self._video_failed(name, e)
                yield record
                continue
            self.report.rejected += [(f"{name}: {what}", why) for what, why in rejects]
            first: dict[str, ClipPlan] = {}
            for p in planned:
                first.setdefault(p.key, p)  # one clip per span: two rows of one span label one clip
            for p in first.values():
                other = self.keys.setdefault(p.key, p.video_id)
                if other == p.video_id:
                    plans.append(p)
                else:  # two content ids with the same first 12 characters: never with SHA-256 ids
                    why = f"its clip id {p.key} is that of a clip of video {other}"
                    self.report.rejected.append((f"{name}: clip {p.start:g}-{p.end:g} s", why))
            hashes[record.id] = video_hashes(record, self.config.library)
            yield record

    # -- near-duplicates, labels and splits ---------------------------------------------------
    def _deduplicate(self, plans: list[ClipPlan], hashes: dict[str, list[int]]) -> list[ClipPlan]:
        """Group near-duplicate videos (for the split); with ``dedup``, keep one of each group."""
        from videokit.dataset.dedup import dedup_keep, near_duplicate_groups

        self.groups = near_duplicate_groups(hashes)
        self.report.duplicate_groups = len(self.groups)
        if self.options.dedup and self.groups:
            keep = dedup_keep(self.groups, self.records)  # type: ignore[arg-type]
            dropped = {i for g in self.groups for i in g.ids} - keep
            self.report.dropped_duplicates = len(dropped)
            plans = [p for p in plans if p.video_id not in dropped]
        return plans

    def _label(self, plans: list[ClipPlan], options: LabelOptions) -> None:
        """Label every plan; those left without a label are removed (``unlabeled="skip"``)."""
        from videokit.dataset.labels import assign_labels

        labels = assign_labels(plans, self.records, options)  # type: ignore[arg-type]
        self.classes = list(labels.classes)
        self.report.labelled = labels.labelled
        self.report.unlabeled_skipped = labels.unlabeled_skipped
        self.report.unlabeled_kept = labels.unlabeled_kept

    # -- cutting: one ffmpeg process per source video ---------------------------------------
    def _cut(self, plans: list[ClipPlan], done: dict[str, Done]) -> list[Clip]:
        """Cut what the journal lacks, ``[Concurrency] MaxWorkers`` source videos at a time;
        the clips of the dataset (cut before or now), in key order."""
        by_video = [(vid, list(ps)) for vid, ps in groupby(plans, key=lambda p: p.video_id)]
        total, finished = len(by_video), 0
        clips: list[Clip] = []
        workers = max(1, int(self.config.get("Concurrency", "MaxWorkers")))
        pending: dict[Future[_Cut], tuple[str, list[ClipPlan], list[ClipPlan]]] = {}

        def finish(vid: str, vplans: list[ClipPlan], todo: list[ClipPlan], cut: _Cut | None) -> None:
            nonlocal finished
            unfit: dict[str, str] = {}
            if cut is not None:
                for d in self.folder.record(cut.clips):
                    done[d.key] = d
                unfit = {p.key: why for p, why in cut.unfit}
                self.report.written += len(cut.clips)
            else:
                self.report.failed += len(todo)
            self.report.skipped += len(vplans) - len(todo)
            name = video_name(self.records.get(vid))
            for p in vplans:
                if p.key in done:
                    clips.append(done[p.key].clip(p, self.folder.clip_file(p.key).name))
                elif p.key in unfit:
                    self.report.rejected.append((f"{name}: clip {p.start:g}-{p.end:g} s", unfit[p.key]))
            finished += 1
            if self.progress:
                self.progress(finished, total)

        def collect() -> None:
            ready, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in ready:
                vid, vplans, todo = pending.pop(fut)
                try:
                    cut: _Cut | None = fut.result()
                except InputError as e:
                    self._video_failed(video_name(self.records.get(vid)), e)
                    cut = None
                finish(vid, vplans, todo, cut)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cut") as pool:
            try:
                for vid, vplans in by_video:
                    todo = [p for p in vplans if p.key not in done]
                    if not todo:
                        finish(vid, vplans, todo, _Cut([], []))
                        continue
                    while len(pending) >= workers:
                        collect()
                    media = self.records[vid].media  # read here: the store stays in this thread
                    pending[pool.submit(self._cut_video, todo, media)] = (vid, vplans, todo)
                while pending:
                    collect()
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise
        clips.sort(key=lambda c: c.plan.key)
        return clips

    def _cut_video(self, todo: list[ClipPlan], media: MediaInfo | None) -> _Cut:
        from videokit.dataset.clips import cut_clips

        names = {p.key: self.folder.clip_file(p.key).name for p in todo}
        unfit: list[tuple[ClipPlan, str]] = []
        clips = cut_clips(todo[0].source, todo, self.folder.pool, names, self.options.clips, media=media, skipped=unfit)
        return _Cut(clips, unfit)

    def _video_failed(self, name: str, error: BaseException) -> None:
        message = one_line(error)
        self.report.failures.append((name, message))
        log.info("dataset: %s: %s", name, message)  # the report lists it

    # -- the formats, the manifest and the card ---------------------------------------------
    def _write(self, clips: list[Clip]) -> None:
        """Place every clip in each format's layout (a hard link to the pool), write each
        format's index files, the manifest and the card, then remove what no longer belongs."""
        from videokit.dataset.card import write_card, write_manifest
        from videokit.dataset.formats.base import DatasetInfo, clip_names, safe_name, split_of

        out = self.folder.out
        self._count(clips)
        settings = describe_options(self.folder.state["settings"])
        info = DatasetInfo(self.classes, render_command(out, self.options, self.query), settings)
        keep: set[Path] = set()
        written: list[str] = []
        listed: dict[str, str] = {}  # clip key -> its path in the manifest (the first format's file)
        several = len(self.formats) > 1
        for fmt in sorted(self.formats, key=lambda f: (bool(getattr(f, "packs_clips", False)), f.name)):
            root, prefix = (out / fmt.name, f"{fmt.name}/") if several else (out, "")
            packs = bool(getattr(fmt, "packs_clips", False))
            names = clip_names(fmt, [c.plan for c in clips], self.records)  # type: ignore[arg-type]
            self.folder.will_write(root / names[c.plan.key] for c in clips)
            placed = []
            for c in clips:
                rel = names[c.plan.key]
                self.folder.place(c.plan.key, root / rel)
                placed.append(dataclasses.replace(c, path=rel))
                if not packs:
                    keep.add(root / rel)
                    listed.setdefault(c.plan.key, prefix + rel)
            files = fmt.write(placed, self.records, root, info)  # type: ignore[arg-type]
            self.folder.will_write(root / f for f in files)
            keep |= {root / f for f in files}
            written += [prefix + f for f in files]
            if packs:  # its loose clips were only the input of its containers
                for c in placed:
                    (root / c.path).unlink(missing_ok=True)
        # one manifest line per clip: its file in the first format that keeps files, else its
        # name inside the containers of its split
        entries = [
            dataclasses.replace(c, path=listed.get(c.plan.key) or f"{safe_name(split_of(c.plan))}/{c.plan.key}.mp4")
            for c in clips
        ]
        own = [write_manifest(entries, self.records, out)]  # type: ignore[arg-type]
        own += write_card(entries, self.records, out, info, [f.name for f in self.formats])  # type: ignore[arg-type]
        self.folder.will_write(out / f for f in own)
        keep |= {out / f for f in own}
        written += own
        self.folder.prune(keep)
        self.report.files = sorted(written)
        self.folder.state["complete"] = True
        self.folder.save()

    def _count(self, clips: list[Clip]) -> None:
        r = self.report
        r.clips = len(clips)
        counts: dict[str, dict[str, int]] = {}
        for c in clips:
            per = counts.setdefault(c.plan.split or "train", {})
            for label in c.plan.labels:
                per[label] = per.get(label, 0) + 1
            r.duration += max(0.0, c.real_end - c.real_start)
        r.counts = {s: dict(sorted(counts[s].items())) for s in sorted(counts)}
        r.duration = round(r.duration, 3)


# -- helpers -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Cut:
    """What cutting one source video gave: its clips, and the plans that could not be cut (why)."""

    clips: list[Clip]
    unfit: list[tuple[ClipPlan, str]]


class StoredRecords(Mapping[str, Record]):
    """The selected records by id, read from the store when asked (a few kept): what formats,
    labels and dedup look records up in, without holding every record in memory."""

    def __init__(self, store: Store, cache: int = 64) -> None:
        self.store = store
        self.ids: list[str] = []  # in the order they were selected
        self._known: set[str] = set()
        self._cache: OrderedDict[str, Record] = OrderedDict()
        self._size = cache

    def __getitem__(self, id: str) -> Record:
        rec = self._cache.get(id)
        if rec is not None:
            self._cache.move_to_end(id)
            return rec
        rec = self.store.get(id)
        if rec is None or rec.id != id:
            raise KeyError(id)
        self._cache[id] = rec
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return rec

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, id: str) -> None:
        if id not in self._known:
            self._known.add(id)
            self.ids.append(id)

    def __contains__(self, id: object) -> bool:
        return id in self._known


def video_name(record: Record | None) -> str:
    """How a stored video is named in messages: its title and short id."""
    if record is None:
        return "?"
    return f"{record.title} ({(record.id or '')[:12]})"


def source_file(record: Record) -> Path:
    """The stored video's file; InputError (one line, what to do) when it moved or vanished."""
    if record.file is None:
        raise InputError("no file was stored for it (its download failed): run 'videokit run' on it again")
    path = Path(record.file.path)
    if not path.is_file():
        raise InputError(
            f"its file {path} is missing (moved or deleted): run 'videokit run' on the file's new place "
            "(or its URL) to record where it is, then this command again"
        )
    return path


def _formats(names: tuple[str, ...]) -> list[DatasetFormat]:
    from videokit.dataset.formats.base import get_format

    wanted = _format_names(names)
    if not wanted:
        raise UsageError("give at least one --format")
    return [get_format(n) for n in wanted]


def _format_names(names: tuple[str, ...]) -> list[str]:
    return sorted(dict.fromkeys(n.strip() for n in names if n.strip()))


def _check_split(options: DatasetOptions) -> None:
    """The ratios are checked before any work."""
    from videokit.dataset.splits import check_ratios

    check_ratios(options.split)


def _settings(options: DatasetOptions, query: Query) -> dict[str, Any]:
    """Everything that decides what the dataset holds, as JSON (hashed into the folder's state)."""
    q = {f.name: getattr(query, f.name) for f in dataclasses.fields(query)}
    return {
        "clips": _jsonable(dataclasses.asdict(options.clips)),  # type: ignore[call-overload]
        "labels": _labels(options.labels),
        "formats": _format_names(options.formats),
        "split": [float(r) for r in options.split],
        "seed": options.seed,
        "dedup": options.dedup,
        "query": _jsonable(q),
    }


def _labels(labels: LabelOptions) -> dict[str, Any]:
    """The label options as JSON; the class mapping as pairs, in order (its order is the order
    of the class indices)."""
    out = _jsonable(dataclasses.asdict(labels))  # type: ignore[call-overload]
    if labels.classes is not None:
        out["classes"] = [[k, v] for k, v in labels.classes.items()]
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, Path):
        return str(value)
    return value


def _arg(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


_QUERY_FLAGS = {
    "tags": "--tag",
    "category": "--category",
    "min_duration": "--min-duration",
    "max_duration": "--max-duration",
    "resolution": "--resolution",
    "min_height": "--min-height",
    "max_height": "--max-source-height",
    "codec": "--codec",
    "domain": "--domain",
    "added_after": "--added-after",
    "added_before": "--added-before",
    "min_scenes": "--min-scenes",
    "max_scenes": "--max-scenes",
}


def _query_args(q: Query) -> list[str]:
    args: list[str] = []
    for name, flag in _QUERY_FLAGS.items():
        value = getattr(q, name)
        for v in value if isinstance(value, list) else [value]:
            if v is not None:
                args += [flag, _arg(v)]
    if q.has_audio is not None:
        args.append("--with-audio" if q.has_audio else "--without-audio")
    return args
