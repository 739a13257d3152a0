"""Search latency of the SQLite store at scale: p50/p95 per mode, for videos and for moments.

A generator fills a library with synthetic videos, each with ``--per-video`` moments (passages of
a dozen words drawn from a 5,000-word vocabulary with Zipf frequencies, ``w0000``..``w4999``, and a
random 384-dim unit vector). The rows go straight into ``library.sqlite`` in large transactions (the bulk path: the
triggers still fill the passages' full-text index and the vector change log); every search then
goes through the real store code (``SQLiteStore.search`` / ``moments``). The vector index
(``library.vectors/``) is built from scratch by ``index_vectors()`` and its time reported.

Queries: two words of the vocabulary's commoner half (so the text ranking has work to do) and, for
the vector, a stored vector with noise (a query near something real). Floors: the bare Hamming scan
of the index's sign bits and the bare FTS5 query the store runs, alone, for the ratios.

    python benchmarks/search_latency.py [--videos 100000] [--per-video 10] [--queries 60] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from videokit.record import FileInfo, Record, Source
from videokit.store.base import Query
from videokit.store.sqlite import SQLiteStore, fts_query
from videokit.store.sqlite_vectors import encode, sign_bits

DIM = 384
MODEL = "bench/random-384"
VOCAB = 5000


def words(rng: np.random.Generator, n: int) -> list[str]:
    ranks = np.minimum(rng.zipf(1.3, n), VOCAB) - 1
    return [f"w{r:04d}" for r in ranks]  # fixed width: a prefix query matches one word, not w3, w30..w3999


def fill(store: SQLiteStore, videos: int, per_video: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    db = store._db  # the bulk path: straight into the tables the store reads
    start = time.perf_counter()
    batch = 2000
    for first in range(0, videos, batch):
        db.execute("BEGIN")
        vrows, frows, prows = [], [], []
        for i in range(first, min(first + batch, videos)):
            vid = f"{i:064x}"
            title = " ".join(words(rng, 4))
            rec = Record(
                id=vid,
                sources=[Source(input=f"/v/{i}.mp4", kind="file", title=title)],
                file=FileInfo(path=f"/v/{i}.mp4", name=f"{i}.mp4", size=1, sha256=vid),
                added_at=f"2026-01-01T00:00:{i % 60:02d}+00:00",
            )
            duration = float(rng.integers(10, 3600))
            vrows.append((vid, rec.to_json(), title, duration, 1080, "1080p", "h264", 1, 1, rec.added_at, rec.added_at))
            texts = [" ".join(words(rng, 12)) for _ in range(per_video)]
            frows.append((title, "", "", f"{i}.mp4", "", "\n".join(texts)))
            vecs = rng.standard_normal((per_video, DIM)).astype(np.float32)
            for j in range(per_video):
                prows.append((vid, "transcript", str(j), texts[j], j * 10.0, j * 10.0 + 10, MODEL, encode(vecs[j])))
        db.executemany(
            "INSERT INTO videos (id, record, title, duration, height, resolution, video_codec, has_audio, scene_count, "
            "added_at, updated_at, embed_model, embed_digest) VALUES (?,?,?,?,?,?,?,?,?,?,?,'" + MODEL + "','x')",
            vrows,
        )
        rowids = [
            r[0]
            for r in db.execute("SELECT rowid FROM videos WHERE id >= ? ORDER BY id LIMIT ?", (vrows[0][0], len(vrows)))
        ]
        db.executemany(
            "INSERT INTO videos_fts (rowid, title, description, tags, filename, sources, text) VALUES (?,?,?,?,?,?,?)",
            [(rid, *f) for rid, f in zip(rowids, frows, strict=True)],
        )
        db.executemany(
            'INSERT INTO passages (video_id, kind, ref, text, start, "end", model, vector) VALUES (?,?,?,?,?,?,?,?)',
            prows,
        )
        db.execute("COMMIT")
    return time.perf_counter() - start


def timed(fn: Callable[[], object], n: int) -> tuple[float, float]:
    fn()  # warm
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=100_000)
    ap.add_argument("--per-video", type=int, default=10)
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="Build the library here (and keep it) instead of a temporary folder.")
    ap.add_argument("--json", type=Path, help="Also write the numbers to this file.")
    args = ap.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="vk-search-bench-"))
    path = folder / "library.sqlite"
    fresh = not path.exists()
    store = SQLiteStore(path, vectors="index")
    fill_s = fill(store, args.videos, args.per_video, args.seed) if fresh else 0.0
    t = time.perf_counter()
    touched = store.index_vectors()
    index_s = time.perf_counter() - t
    moments = store._db.execute("SELECT count(*) FROM passages").fetchone()[0]
    videos = store._db.execute("SELECT count(*) FROM videos").fetchone()[0]
    print(
        f"library: {videos:,} videos, {moments:,} moments, {DIM}-dim vectors; vector index scanned with "
        f"{store.vectors.driver}"
    )
    print(
        f"fill (bulk rows + FTS + triggers): {fill_s:.1f} s; vector index build: {index_s:.1f} s ({touched:,} vectors)"
    )
    print(
        f"files: library.sqlite {path.stat().st_size / 1e9:.2f} GB, "
        f"vector index {store.vectors.file.stat().st_size / 1e6 if store.vectors.file else 0:.0f} MB"
    )

    rng = np.random.default_rng(args.seed + 1)
    picks = rng.integers(1, moments + 1, args.queries)
    stored = [
        np.frombuffer(store._db.execute("SELECT vector FROM passages WHERE id = ?", (int(p),)).fetchone()[0], "<f4")
        for p in picks
    ]
    vectors = [(v + 0.5 * rng.standard_normal(DIM).astype(np.float32) / np.sqrt(DIM)).tolist() for v in stored]
    texts = [f"w{rng.integers(2, 40):04d} w{rng.integers(2, 40):04d}" for _ in range(args.queries)]
    it = {"i": 0}

    def nxt() -> int:
        it["i"] = (it["i"] + 1) % args.queries
        return it["i"]

    def query(mode: str, **kw: object) -> Query:
        i = nxt()
        vec = vectors[i] if mode != "text" else None
        return Query(text=texts[i], mode=mode, vector=vec, vector_model=MODEL if vec else None, limit=10, **kw)  # type: ignore[arg-type]

    rows = []
    for what, call in (("videos", store.search), ("moments", store.moments)):
        for mode in ("text", "semantic", "hybrid"):
            p50, p95 = timed(lambda mode=mode, call=call: call(query(mode)), args.queries)
            rows.append((what, mode, "", p50, p95))
        p50, p95 = timed(lambda call=call: call(query("hybrid", max_duration=600)), args.queries)
        rows.append((what, "hybrid", "duration <= 600 s", p50, p95))

    assert store.vectors._loaded is not None
    bits = store.vectors._loaded.parts[MODEL]

    def bare_knn() -> None:
        v = np.asarray(vectors[nxt()], dtype=np.float32)
        bits.nearest(sign_bits(v.reshape(1, -1))[0], 200)

    def bare_fts() -> None:
        store._db.execute(
            "SELECT rowid FROM passages_fts WHERE passages_fts MATCH ? ORDER BY rank LIMIT 300",
            (fts_query(texts[nxt()]),),
        ).fetchall()

    floors = {"knn": timed(bare_knn, args.queries), "fts": timed(bare_fts, args.queries)}
    print()
    print("| search | mode | filter | p50 ms | p95 ms |")
    print("|---|---|---|---:|---:|")
    for what, mode, filt, p50, p95 in rows:
        print(f"| {what} | {mode} | {filt or '-'} | {p50:.1f} | {p95:.1f} |")
    print()
    print(
        f"floors: bare Hamming scan (k=200) p50 {floors['knn'][0]:.1f} ms, p95 {floors['knn'][1]:.1f} ms; "
        f"bare FTS5 passage query p50 {floors['fts'][0]:.1f} ms, p95 {floors['fts'][1]:.1f} ms"
    )
    sem = next(r for r in rows if r[:2] == ("moments", "semantic"))
    hyb = next(r for r in rows if r[:2] == ("moments", "hybrid") and not r[2])
    print(
        f"moments semantic / bare KNN (p50): {sem[3] / floors['knn'][0]:.2f}x; "
        f"moments hybrid / (bare KNN + bare FTS) (p50): {hyb[3] / (floors['knn'][0] + floors['fts'][0]):.2f}x"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "videos": videos,
                    "moments": moments,
                    "fill_s": fill_s,
                    "index_s": index_s,
                    "rows": rows,
                    "floors": floors,
                },
                indent=2,
            )
        )
    store.close()


if __name__ == "__main__":
    main()
