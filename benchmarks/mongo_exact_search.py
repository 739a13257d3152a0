"""How fast the MongoDB store's exact vector search scans passages (no Atlas: mongomock, SecantusDB).

Fills a fresh database through ``MongoStore.upsert`` with synthetic videos (random unit vectors,
384 dimensions like all-MiniLM-L6-v2), then times semantic searches, semantic searches with a tag
filter, and moments, and prints passages scanned per second.

    python benchmarks/mongo_exact_search.py [--videos 2000] [--passages 10] [--queries 5] [--backends secantusdb]

SecantusDB (the ``secantusdb`` dev package) is started on a free loopback port in a temporary
folder, without access control, and stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mongomock
import numpy as np
import pymongo

from videokit.record import Embeddings, MediaInfo, Passage, Record, Source, Tag
from videokit.store.base import Query
from videokit.store.mongo import MongoStore

DIM, MODEL = 384, "bench/random-384"


def records(n: int, per: int, rng: np.random.Generator) -> list[Record]:
    out = []
    for i in range(n):
        vecs = rng.standard_normal((per, DIM)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        passages = [
            Passage("transcript", str(j), f"video {i} chunk {j} words", j * 10.0, j * 10.0 + 9.0, vecs[j].tolist())
            for j in range(per)
        ]
        r = Record(
            id=f"{i:064x}",
            sources=[Source(input=f"/v/{i}.mp4", kind="file", title=f"Video {i}")],
            media=MediaInfo(duration=60.0, height=720, resolution="720p", video_codec="h264"),
            tags=[Tag("Even" if i % 2 == 0 else "Odd", "user")],
            embeddings=Embeddings(MODEL, DIM, passages, digest=f"d{i}"),
        )
        out.append(r)
    return out


def run(store: MongoStore, recs: list[Record], queries: int, rng: np.random.Generator) -> dict[str, float]:
    t = time.perf_counter()
    for r in recs:
        store.upsert(r)
    fill = time.perf_counter() - t
    out = {"fill_s": fill}
    for name, kw, call in (
        ("semantic", {"limit": 10}, store.search),
        ("semantic + tag filter", {"tags": ["even"], "limit": 10}, store.search),
        ("moments (semantic)", {"limit": 10}, store.moments),
    ):
        times, scanned = [], 0
        for _ in range(queries):
            v = rng.standard_normal(DIM)
            v /= np.linalg.norm(v)
            query = Query(text="video", mode="semantic", vector=v.tolist(), vector_model=MODEL, **kw)
            t = time.perf_counter()
            call(query)
            times.append(time.perf_counter() - t)
            scanned = store.scanned
        med = statistics.median(times)
        out[f"{name}: median s"] = med
        out[f"{name}: passages scanned"] = scanned
        out[f"{name}: passages/s"] = scanned / med
    return out


def secantus(folder: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (folder / "c.toml").touch()
    cmd = [sys.executable, "-m", "secantus", "--config", str(folder / "c.toml"), "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--storage-path", str(folder / "data"), "--standalone", "--log-level", "WARNING"]
    proc = subprocess.Popen(cmd, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f"mongodb://127.0.0.1:{port}/"
    with pymongo.MongoClient(uri, serverSelectionTimeoutMS=250) as c:
        for _ in range(300):
            try:
                c.admin.command("ping")
                return proc, uri
            except pymongo.errors.PyMongoError:
                time.sleep(0.1)
    proc.kill()
    raise SystemExit("secantusdb did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=2000)
    ap.add_argument("--passages", type=int, default=10)
    ap.add_argument("--queries", type=int, default=5)
    ap.add_argument("--backends", default="secantusdb", help="comma-separated: secantusdb, mongomock (slow to fill)")
    a = ap.parse_args()
    rng = np.random.default_rng(7)
    recs = records(a.videos, a.passages, rng)
    print(f"{a.videos} videos x {a.passages} passages, {DIM} dims; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        proc, uri = secantus(Path(tmp))
        try:
            clients = {"mongomock": mongomock.MongoClient, "secantusdb": lambda: pymongo.MongoClient(uri)}
            for name in a.backends.split(","):
                client = clients[name]()
                store = MongoStore(client, "bench", "videos")
                print(f"\n[{name}] vector search: {store.vector_search_mode}")
                for key, value in run(store, recs, a.queries, rng).items():
                    print(f"  {key:40s} {value:,.3f}" if isinstance(value, float) else f"  {key:40s} {value:,}")
                client.drop_database("bench")
                client.close()
        finally:
            proc.terminate()
            proc.wait(15)


if __name__ == "__main__":
    main()
