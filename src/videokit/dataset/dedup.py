"""Near-duplicate videos: perceptual hashes of scene thumbnails, matched through an index.

Each stored video is described by the 64-bit perceptual hashes (``imagehash.phash``) of its
scene thumbnails, cached in ``<library>/cache/phash/<id>.json`` (recomputed when a thumbnail
file changes). A thumbnail with no structure to compare (a flat, near-uniform picture: black,
one colour) gives no hash, so dark openings do not make unrelated videos duplicates.

Two hashes *match* when at most ``max_distance`` of their bits differ. Matches are found by
multi-index hashing, not by comparing all pairs: the 64 bits are cut into three bands, and two
hashes within ``max_distance`` agree within ``max_distance // 3`` bits on at least one band
(pigeonhole), so each hash only meets the stored hashes whose band is that close — looked up in
a sorted table per band — and only those candidates are verified (Hamming distance).

Two videos are near-duplicates when at least ``min_shared`` of the scenes of one of them match a
scene of the other (re-encoded, resized, trimmed or re-uploaded footage keeps its scenes; a
trimmed copy loses the middle frame of its first and last scene at most). Their *similarity* is
``1 - mean distance / 64`` over the scenes of the better-covered video, each scene taking its
nearest counterpart: 1.0 for the same pictures. Groups are the connected components (union-find)
of near-duplicate pairs; a group's similarity is that of its weakest pair.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from videokit.errors import ConfigError, UsageError
from videokit.record import Analysis, Record
from videokit.tempfiles import temp_path

if TYPE_CHECKING:
    from videokit.store.base import Store

log = logging.getLogger(__name__)

BITS = 64
MAX_DISTANCE = 8  # default: bits of 64 that may differ between two matching thumbnails
MIN_SHARED = 0.5  # default: share of one video's scenes that must match the other's
DISTANCE_LIMIT = 12  # beyond this the index probes too many neighbours to stay fast
FLAT_STD = 4.0  # grey-level standard deviation (0-255) under which a thumbnail has nothing to compare
CACHE_VERSION = 1
_BANDS = ((0, 22), (22, 21), (43, 21))  # (shift, bits): three bands cover the 64 bits
_REBUILD_AFTER = 4096  # hashes added since the index was built, compared one by one until then
_DENSE_FROM = 4096  # lookups of at least this many keys use a table of every key (2^bits entries)


def _imagehash() -> ModuleType:
    try:
        import imagehash
    except ImportError:
        raise ConfigError("near-duplicate detection needs the dataset extra: pip install 'videokit[dataset]'") from None
    return imagehash


def check_thresholds(max_distance: int, min_shared: float) -> None:
    """UsageError (one line) unless ``max_distance`` is 0..12 bits and ``min_shared`` in (0, 1]."""
    if not 0 <= max_distance <= DISTANCE_LIMIT:
        raise UsageError(f"--max-distance {max_distance}: use 0 to {DISTANCE_LIMIT} (bits of 64 that may differ)")
    if not 0.0 < min_shared <= 1.0:
        raise UsageError(f"--min-shared {min_shared:g}: use a share of scenes above 0 and at most 1, e.g. 0.5")


# -- hashes of one video ------------------------------------------------------------------------


def phash_file(path: Path) -> int | None:
    """The 64-bit perceptual hash of the picture at ``path``; None when it is flat or unreadable."""
    imagehash = _imagehash()
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            grey = np.asarray(image.convert("L").resize((32, 32)), dtype=np.float32)
            if float(grey.std()) < FLAT_STD:
                return None
            return int(str(imagehash.phash(image)), 16)
    except (OSError, UnidentifiedImageError, ValueError) as e:
        log.debug("%s: no perceptual hash (%s)", path, e)
        return None


def cache_path(library: Path, video_id: str) -> Path:
    """Where the perceptual hashes of video ``video_id`` are cached."""
    return Path(library) / "cache" / "phash" / f"{video_id}.json"


def _thumbnails(record: Record, library: Path) -> list[tuple[str, Path]]:
    scenes = record.scenes.scenes if record.scenes else []
    out = []
    for scene in scenes:
        if scene.thumbnail:
            p = Path(scene.thumbnail)
            out.append((scene.thumbnail, p if p.is_absolute() else Path(library) / p))
    return out


def _stamp(path: Path) -> list[int]:
    try:
        st = path.stat()
    except OSError:
        return [-1, -1]
    return [st.st_size, st.st_mtime_ns]


def video_hashes(record: Record, library: Path) -> list[int]:
    """Perceptual hashes of the record's scene thumbnails, in scene order (flat ones left out).

    Read from ``<library>/cache/phash/<id>.json`` while every thumbnail file is the one hashed
    (same size and modification time), else computed and cached (a cache that cannot be
    written costs a recomputation next time, not the result)."""
    thumbs = _thumbnails(record, library)
    if not thumbs:
        return []
    entries = [[rel, *_stamp(path)] for rel, path in thumbs]
    cache = cache_path(library, record.id) if record.id else None
    if cache is not None:
        cached = _read_cache(cache, entries)
        if cached is not None:
            return cached
    hashes = [phash_file(path) if stamp[1] >= 0 else None for (_, path), stamp in zip(thumbs, entries, strict=True)]
    if cache is not None:
        _write_cache(cache, entries, hashes)
    return [h for h in hashes if h is not None]


def _read_cache(cache: Path, entries: list[list[Any]]) -> list[int] | None:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning("ignoring unreadable perceptual-hash cache %s: %s", cache, e)
        return None
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or data.get("thumbnails") != entries:
        return None
    return [int(h, 16) for h in data.get("hashes", []) if isinstance(h, str)]


def _write_cache(cache: Path, entries: list[list[Any]], hashes: list[int | None]) -> None:
    data = {
        "version": CACHE_VERSION,
        "thumbnails": entries,
        "hashes": [f"{h:016x}" if h is not None else None for h in hashes],
    }
    tmp = temp_path(cache)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, cache)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        log.warning("cannot write the perceptual-hash cache %s: %s", cache, e)


# -- the index ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DupPair:
    """Two near-duplicate videos: the share of scenes matched and how alike they look."""

    a: str
    b: str
    similarity: float  # 1 - mean distance / 64 over the better-covered video's scenes
    shared: float  # share of that video's scenes with a match in the other


@dataclass(slots=True)
class DupGroup:
    """Videos of the same footage: their ids (sorted) and the similarity of the weakest pair."""

    ids: list[str]
    similarity: float
    pairs: list[DupPair] = field(default_factory=list)


def _popcount(x: np.ndarray) -> np.ndarray:
    counter = getattr(np, "bitwise_count", None)
    if counter is not None:
        return counter(x).astype(np.int64)
    table = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)  # numpy < 2
    return table[x.view(np.uint8).reshape(-1, 8)].sum(axis=1)


def _flips(bits: int, radius: int) -> np.ndarray:
    """Every value of ``bits`` bits with at most ``radius`` bits set (the masks to probe with)."""
    out = [0]
    for r in range(1, radius + 1):
        out += [sum(1 << b for b in combo) for combo in combinations(range(bits), r)]
    return np.array(out, dtype=np.int64)


class _Band:
    """One band of the stored hashes, sorted, for exact lookups of many keys at once."""

    def __init__(self, keys: np.ndarray, bits: int) -> None:
        self.bits = bits
        self.order = np.argsort(keys, kind="stable")
        self.keys, self.start, self.count = np.unique(keys[self.order], return_index=True, return_counts=True)
        self._offsets: np.ndarray | None = None

    def _dense(self) -> np.ndarray:
        """Where each key's stored hashes start in :attr:`order` (one entry per possible key):
        built for large lookups, where it beats a binary search per key."""
        if self._offsets is None:
            offsets = np.zeros((1 << self.bits) + 1, dtype=np.int64)
            offsets[self.keys + 1] = self.count
            self._offsets = np.cumsum(offsets).astype(np.int32 if len(self.order) < 2**31 else np.int64)
        return self._offsets

    def lookup(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query position, stored hash index) for every stored key equal to a query key."""
        empty = np.empty(0, dtype=np.int64)
        if not len(self.keys) or not len(queries):
            return empty, empty
        if len(queries) >= _DENSE_FROM:
            offsets = self._dense()
            first, count = offsets[queries], offsets[queries + 1] - offsets[queries]
            found = np.nonzero(count)[0]
            first, count = first[found], count[found]
        else:
            pos = np.minimum(np.searchsorted(self.keys, queries), len(self.keys) - 1)
            found = np.nonzero(self.keys[pos] == queries)[0]
            first, count = self.start[pos[found]], self.count[pos[found]]
        if not len(found):
            return empty, empty
        query = np.repeat(found, count)
        within = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
        return query, self.order[np.repeat(first, count) + within]


class HashIndex:
    """Videos' thumbnail hashes, indexed to find near-duplicates without comparing all pairs.

    ``candidates`` counts the hash pairs the last :meth:`groups` verified, ``all_pairs`` the
    pairs an all-pairs comparison would have verified, ``video_pairs`` the pairs of videos
    with at least one matching scene."""

    def __init__(self, hashes: dict[str, list[int]], max_distance: int = MAX_DISTANCE) -> None:
        check_thresholds(max_distance, MIN_SHARED)
        self.max_distance = max_distance
        self.radius = max_distance // len(_BANDS)
        self.videos: dict[str, list[int]] = {}
        self.candidates = 0
        self.video_pairs = 0
        self._pending: list[tuple[str, list[int]]] = []
        self._flips = {bits: _flips(bits, self.radius) for _, bits in _BANDS}
        self._build({k: v for k, v in hashes.items() if v})

    @property
    def all_pairs(self) -> int:
        n = len(self._hashes) + sum(len(h) for _, h in self._pending)
        return n * (n - 1) // 2

    def _build(self, hashes: dict[str, list[int]]) -> None:
        self.videos.update(hashes)
        self._ids = sorted(self.videos)
        owner = [(k, h) for k, vid in enumerate(self._ids) for h in self.videos[vid]]
        self._owner = np.array([k for k, _ in owner], dtype=np.int64)
        self._hashes = np.array([h for _, h in owner], dtype=np.uint64)
        self._keys = [self._band_keys(self._hashes, shift, bits) for shift, bits in _BANDS]
        self._bands = [_Band(keys, bits) for keys, (_, bits) in zip(self._keys, _BANDS, strict=True)]
        self._pending = []

    @staticmethod
    def _band_keys(hashes: np.ndarray, shift: int, bits: int) -> np.ndarray:
        return ((hashes >> np.uint64(shift)) & np.uint64((1 << bits) - 1)).astype(np.int64)

    def add(self, video_id: str, hashes: Sequence[int]) -> None:
        """Index one more video (compared one by one until enough are added to rebuild)."""
        if not hashes:
            return
        self._pending = [(v, h) for v, h in self._pending if v != video_id]
        self._pending.append((video_id, list(hashes)))
        if sum(len(h) for _, h in self._pending) >= _REBUILD_AFTER:
            self._build(dict(self._pending))

    # -- matching ----------------------------------------------------------------------------
    def _self_matches(self) -> tuple[np.ndarray, np.ndarray]:
        """Hash index pairs (i < j, of different videos) within ``max_distance``."""
        close_i: list[np.ndarray] = []
        close_j: list[np.ndarray] = []
        self.candidates = 0
        for b, (keys, band, (_, bits)) in enumerate(zip(self._keys, self._bands, _BANDS, strict=True)):
            for flip in self._flips[bits]:
                i, j = band.lookup(keys ^ flip)
                keep = (i < j) & (self._owner[i] != self._owner[j])
                for earlier in self._keys[:b]:  # a pair an earlier band found is not verified twice
                    keep &= _popcount(earlier[i] ^ earlier[j]) > self.radius
                i, j = i[keep], j[keep]
                self.candidates += len(i)
                close = _popcount(self._hashes[i] ^ self._hashes[j]) <= self.max_distance
                close_i.append(i[close])
                close_j.append(j[close])
        if not close_i:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        return np.concatenate(close_i), np.concatenate(close_j)

    def _matches_of(self, hashes: Sequence[int]) -> set[str]:
        """Ids of the indexed videos with a hash within ``max_distance`` of one of ``hashes``."""
        query = np.array(list(hashes), dtype=np.uint64)
        hits: set[int] = set()
        for (shift, bits), band in zip(_BANDS, self._bands, strict=True):
            flips = self._flips[bits]
            keys = np.repeat(self._band_keys(query, shift, bits), len(flips)) ^ np.tile(flips, len(query))
            q, s = band.lookup(keys)
            close = _popcount(query[q // len(flips)] ^ self._hashes[s]) <= self.max_distance
            hits.update(int(k) for k in np.unique(self._owner[s[close]]))
        found = {self._ids[k] for k in hits}
        for vid, pending in self._pending:
            if _close_any(query, np.array(pending, dtype=np.uint64), self.max_distance):
                found.add(vid)
        return found

    def pair(self, a: str, b: str, hashes_a: Sequence[int] | None = None) -> DupPair:
        """How alike videos ``a`` and ``b`` are (``hashes_a``: a's hashes when it is not indexed)."""
        ha = np.array(list(hashes_a if hashes_a is not None else self._hashes_of(a)), dtype=np.uint64)
        hb = np.array(self._hashes_of(b), dtype=np.uint64)
        dist = _popcount((ha[:, None] ^ hb[None, :]).ravel()).reshape(len(ha), len(hb))
        best = []
        for nearest in (dist.min(axis=1), dist.min(axis=0)):  # each of a's scenes; each of b's
            best.append((float((nearest <= self.max_distance).mean()), 1.0 - float(nearest.mean()) / BITS))
        shared, similarity = max(best)
        x, y = sorted((a, b))
        return DupPair(x, y, round(similarity, 4), round(shared, 4))

    def _hashes_of(self, video_id: str) -> list[int]:
        for vid, hashes in self._pending:
            if vid == video_id:
                return hashes
        return self.videos[video_id]

    def query(
        self, hashes: Sequence[int], *, exclude: str | None = None, min_shared: float = MIN_SHARED
    ) -> list[DupPair]:
        """The indexed near-duplicates of a video with ``hashes``: pairs (the video as ``a`` when
        it sorts first), most similar first."""
        if not hashes:
            return []
        me = exclude or ""
        pairs = [self.pair(me, other, hashes) for other in sorted(self._matches_of(hashes)) if other != exclude]
        pairs = [p for p in pairs if p.shared >= min_shared]
        return sorted(pairs, key=lambda p: (-p.similarity, p.b if p.a == me else p.a))

    def groups(self, min_shared: float = MIN_SHARED) -> list[DupGroup]:
        """Groups of near-duplicate videos (two or more each), most similar first."""
        check_thresholds(self.max_distance, min_shared)
        if self._pending:
            self._build(dict(self._pending))
        i, j = self._self_matches()
        pairs = [self.pair(self._ids[a], self._ids[b]) for a, b in self._sharing(i, j, min_shared)]
        return _components(p for p in pairs if p.shared >= min_shared)

    def _sharing(self, i: np.ndarray, j: np.ndarray, min_shared: float) -> list[tuple[int, int]]:
        """Video pairs (by position) whose matching hashes ``i``-``j`` cover ``min_shared`` of
        one of the two videos' scenes."""
        if not len(i):
            return []
        v = len(self._ids)
        lower, upper = self._owner[i], self._owner[j]  # hashes are laid out by video: lower < upper
        pair = np.concatenate([lower * v + upper] * 2)
        hashes = np.concatenate([i, j])
        order = np.lexsort((hashes, pair))
        pair, hashes = pair[order], hashes[order]
        first = np.ones(len(pair), dtype=bool)
        first[1:] = (pair[1:] != pair[:-1]) | (hashes[1:] != hashes[:-1])
        pair, hashes = pair[first], hashes[first]  # each matched hash once per video pair
        keys, where = np.unique(pair, return_inverse=True)
        on_lower = (self._owner[hashes] == pair // v).astype(np.float64)
        matched_lower = np.bincount(where, weights=on_lower, minlength=len(keys))
        matched_upper = np.bincount(where, weights=1.0 - on_lower, minlength=len(keys))
        sizes = np.bincount(self._owner, minlength=v).astype(np.float64)
        shared = np.maximum(matched_lower / sizes[keys // v], matched_upper / sizes[keys % v])
        self.video_pairs = len(keys)
        return [(int(k // v), int(k % v)) for k in keys[shared >= min_shared - 1e-9]]


def _close_any(query: np.ndarray, stored: np.ndarray, max_distance: int) -> bool:
    return bool((_popcount((query[:, None] ^ stored[None, :]).ravel()) <= max_distance).any())


def _components(pairs: Iterable[DupPair]) -> list[DupGroup]:
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    edges = list(pairs)
    for p in edges:
        ra, rb = root(p.a), root(p.b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[str, list[str]] = {}
    for x in parent:
        members.setdefault(root(x), []).append(x)
    by_root: dict[str, list[DupPair]] = {}
    for p in edges:
        by_root.setdefault(root(p.a), []).append(p)
    groups = [
        DupGroup(sorted(ids), min(p.similarity for p in by_root[r]), sorted(by_root[r], key=lambda p: (p.a, p.b)))
        for r, ids in members.items()
    ]
    return sorted(groups, key=lambda g: (-g.similarity, g.ids))


def near_duplicate_groups(
    hashes: dict[str, list[int]], max_distance: int = MAX_DISTANCE, min_shared: float = MIN_SHARED
) -> list[DupGroup]:
    """Groups of near-duplicate videos among ``hashes`` (video id -> its thumbnail hashes),
    found through :class:`HashIndex`; most similar first."""
    return HashIndex(hashes, max_distance).groups(min_shared)


# -- what to keep ---------------------------------------------------------------------------------


def _quality(record: Record) -> tuple[int, int, float]:
    m = record.media
    if m is None:
        return (0, 0, 0.0)
    return ((m.width or 0) * (m.height or 0), m.bit_rate or 0, m.duration or 0.0)


def dedup_keep(groups: Iterable[DupGroup], records: dict[str, Record]) -> set[str]:
    """The ids of ``records`` to keep: every video outside a group, and one per group of
    copies — the highest resolution (then the higher bit rate, the longer, the smaller id).

    In a group chained through partial matches (A like B, B like C, A unlike C) a video is left
    out only when it is itself a near-duplicate of a video kept: the best is kept, its
    near-duplicates dropped, and so on with the best of the rest (a group given without its
    pairs counts as copies of each other)."""
    keep = set(records)
    for group in groups:
        present = sorted((vid for vid in group.ids if vid in records), key=lambda vid: _rank(records[vid], vid))
        linked: dict[str, set[str]] = {vid: set(present) - {vid} if not group.pairs else set() for vid in present}
        for p in group.pairs:
            if p.a in linked and p.b in linked:
                linked[p.a].add(p.b)
                linked[p.b].add(p.a)
        dropped: set[str] = set()
        for vid in present:  # best first
            if vid not in dropped:
                dropped |= linked[vid]
        keep -= dropped
    return keep


def _rank(record: Record, vid: str) -> tuple[int, int, float, str]:
    pixels, bit_rate, duration = _quality(record)
    return (-pixels, -bit_rate, -duration, vid)


# -- the analyze stage: a near-duplicate of an analysed video is not analysed again ---------------

COPIED = "copied_from"  # key of Analysis.facts naming the video whose analysis was copied


def is_copied(analysis: Analysis) -> bool:
    """Whether ``analysis`` was copied from a near-duplicate (not made for its own video)."""
    return COPIED in analysis.facts


def copy_analysis(source: Record, pair: DupPair) -> Analysis:
    """``source``'s analysis for its near-duplicate, saying where it comes from. Per-scene
    descriptions are left out: the scenes of the two videos are not the same."""
    assert source.analysis is not None and source.id is not None
    data = copy.deepcopy(source.analysis)
    data.scene_descriptions = {}
    data.cache_key = None
    data.facts = {**data.facts, COPIED: {"id": source.id, "similarity": pair.similarity, "shared": pair.shared}}
    data.warnings = [
        *data.warnings,
        f"copied from near-duplicate {source.id} (similarity {pair.similarity:.2f}), not analysed again; "
        "run with --refresh to analyse this video itself",
    ]
    return data


class AnalysedDuplicates:
    """The analysed videos of a library, indexed by their thumbnail hashes (built on first use
    from ``store``; videos analysed since are added with :meth:`add`)."""

    def __init__(
        self, store: Store, library: Path, *, max_distance: int = MAX_DISTANCE, min_shared: float = MIN_SHARED
    ) -> None:
        _imagehash()  # ConfigError now, not at the first video, when the dataset extra is missing
        self.store = store
        self.library = Path(library)
        self.max_distance = max_distance
        self.min_shared = min_shared
        self._index: HashIndex | None = None

    @property
    def index(self) -> HashIndex:
        if self._index is None:
            hashes: dict[str, list[int]] = {}
            for record in self.store.iter_records():
                if record.id and record.analysis is not None and not is_copied(record.analysis):
                    found = video_hashes(record, self.library)
                    if found:
                        hashes[record.id] = found
            self._index = HashIndex(hashes, self.max_distance)
            log.debug("perceptual index of %d analysed video(s)", len(hashes))
        return self._index

    def find(
        self,
        record: Record,
        *,
        backend: str | None = None,
        model: str | None = None,
        questions: Iterable[str] = (),
    ) -> tuple[Record, DupPair] | None:
        """The most similar stored near-duplicate of ``record`` analysed by ``backend``/``model``
        (when given) whose answers cover ``questions``, with how alike they are; None when none."""
        hashes = video_hashes(record, self.library)
        if not hashes:
            return None
        wanted = {q.strip() for q in questions if q.strip()}
        for pair in self.index.query(hashes, exclude=record.id, min_shared=self.min_shared):
            other = pair.b if pair.a == (record.id or "") else pair.a
            source = self.store.get(other)
            a = source.analysis if source is not None else None
            if source is None or a is None or is_copied(a):
                continue
            if (backend is not None and a.backend != backend) or (model is not None and a.model != model):
                continue
            if not wanted <= set(a.answers):
                continue
            return source, pair
        return None

    def add(self, record: Record) -> None:
        """Index ``record`` (just analysed) for the videos that follow."""
        if record.id and record.analysis is not None and not is_copied(record.analysis):
            self.index.add(record.id, video_hashes(record, self.library))


def analysed_duplicate(record: Record, store: Store, library: Path) -> Record | None:
    """The stored, analysed near-duplicate of ``record`` most like it (any analyzer), or None."""
    found = AnalysedDuplicates(store, library).find(record)
    return found[0] if found else None
