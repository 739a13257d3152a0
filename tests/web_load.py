"""A load driver for the server (loopback only): synthetic libraries and concurrent clients.

Used by ``tests/test_web_load.py`` (small and short) and ``benchmarks/web_load.py`` (10,000
videos, 30 s). Each client is one keep-alive connection running search, thumbnail and video
Range requests in a loop, optionally paced; every response is one :class:`Sample`.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from videokit.config import Config
from videokit.record import Classification, Record, Tag
from videokit.store import open_store

_BASE = (
    "harbour sunset aerial city night river forest beach storm snow market train bridge crowd "
    "mountain desert festival kitchen studio interview drone traffic garden ocean lake"
).split()
# 400 title words: a one-word search matches about 0.75% of a synthetic library
WORDS = [
    f"{w}{suffix}" if suffix else w
    for suffix in (
        "",
        "s",
        "side",
        "line",
        "land",
        "fall",
        "way",
        "field",
        "wood",
        "port",
        "gate",
        "hill",
        "view",
        "work",
        "light",
        "time",
    )
    for w in _BASE
]


def fill_library(config: Config, n: int, seed: int = 7) -> list[str]:
    """``n`` synthetic videos in the library of ``config``, copies of the one stored video (its
    file, thumbnails and contact sheet) with their own ids, titles, tags and durations."""
    rng = random.Random(seed)
    ids: list[str] = []
    with open_store(config) as store:
        (base,) = store.search(store_query())
        template = base.to_dict()
        for i in range(n):
            rec = Record.from_dict(template)
            rec.id = hashlib.sha256(f"synthetic-{seed}-{i}".encode()).hexdigest()
            words = rng.sample(WORDS, 3)
            rec.sources[-1].title = f"{' '.join(words).title()} {i}"
            rec.added_at = (
                f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i // 60) % 60:02d}+00:00"
            )
            rec.sources[-1].input = f"https://videos.example/{rec.id[:12]}.mp4"
            rec.sources[-1].domain = rng.choice(["videos.example", "cdn.example", "media.example"])
            if rec.media:
                rec.media.duration = round(rng.uniform(2, 600), 1)
            rec.tags = [*rec.tags, *(Tag(w.title(), "user") for w in rng.sample(_BASE, 2))]
            rec.classification = Classification(rng.choice(["Nature", "Urban", "People", "Action"]), 0.8)
            store.upsert(rec)
            ids.append(rec.id)
    return ids


def store_query():  # noqa: ANN201 - a Query for the one real video
    from videokit.store import Query

    return Query(limit=1)


@dataclass(frozen=True, slots=True)
class Plan:
    """One client: its key and the seconds it waits between requests (0: as fast as it can)."""

    key: str
    pace: float = 0.0
    group: str = "normal"


@dataclass(slots=True)
class Sample:
    group: str
    kind: str  # search | thumbnail | range
    status: int  # 0: a transport error
    ms: float


@dataclass(slots=True)
class LoadResult:
    samples: list[Sample] = field(default_factory=list)
    seconds: float = 0.0

    def of(self, kind: str | None = None, group: str | None = None) -> list[Sample]:
        return [s for s in self.samples if (kind is None or s.kind == kind) and (group is None or s.group == group)]

    def percentile(self, p: float, kind: str | None = None, status: int | None = 200) -> float:
        values = sorted(s.ms for s in self.of(kind) if status is None or s.status == status)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

    def summary(self) -> dict[str, object]:
        out: dict[str, object] = {"requests": len(self.samples), "seconds": round(self.seconds, 1)}
        out["per_second"] = round(len(self.samples) / self.seconds, 1) if self.seconds else None
        for kind in ("search", "thumbnail", "range"):
            ok = [s for s in self.of(kind) if s.status == 200 or s.status == 206]
            out[kind] = {
                "ok": len(ok),
                "p50_ms": round(self.percentile(50, kind, None if kind == "range" else 200), 1),
                "p95_ms": round(self.percentile(95, kind, None if kind == "range" else 200), 1),
            }
        statuses: dict[int, int] = {}
        for s in self.samples:
            statuses[s.status] = statuses.get(s.status, 0) + 1
        out["statuses"] = dict(sorted(statuses.items()))
        return out


def run_load(base: str, plans: list[Plan], seconds: float, video_id: str, video_size: int, seed: int = 1) -> LoadResult:
    """Run every plan's client against ``base`` for ``seconds``."""
    return asyncio.run(_run(base, plans, seconds, video_id, video_size, seed))


async def _run(base: str, plans: list[Plan], seconds: float, vid: str, size: int, seed: int) -> LoadResult:
    result = LoadResult()
    started = time.perf_counter()
    stop = started + seconds
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [
        httpx.AsyncClient(base_url=base, headers={"X-API-Key": p.key}, timeout=30.0, limits=limits) for p in plans
    ]
    try:
        await asyncio.gather(
            *(
                _client(c, p, stop, vid, size, random.Random(seed + i), result)
                for i, (c, p) in enumerate(zip(clients, plans, strict=True))
            )
        )
    finally:
        for c in clients:
            await c.aclose()
    result.seconds = time.perf_counter() - started
    return result


async def _client(
    c: httpx.AsyncClient, plan: Plan, stop: float, vid: str, size: int, rng: random.Random, out: LoadResult
) -> None:
    while time.perf_counter() < stop:
        roll = rng.random()
        headers: dict[str, str] = {}
        if roll < 0.6:
            kind, url = "search", f"/api/v1/search?q={rng.choice(WORDS)}&limit=20"
        elif roll < 0.8:
            kind, url = "thumbnail", f"/api/v1/videos/{vid}/contact-sheet"
        else:
            start = rng.randrange(0, max(1, size - 65536))
            kind, url = "range", f"/api/v1/videos/{vid}/file"
            headers["Range"] = f"bytes={start}-{min(size - 1, start + 65535)}"
        t0 = time.perf_counter()
        try:
            resp = await c.get(url, headers=headers)
            await resp.aread()
            status = resp.status_code
        except httpx.HTTPError:
            status = 0
        out.samples.append(Sample(plan.group, kind, status, (time.perf_counter() - t0) * 1000))
        if plan.pace:
            await asyncio.sleep(plan.pace)


def video_facts(config: Config) -> tuple[str, int]:
    """(id, size) of the one real video, the target of media requests."""
    with open_store(config) as store:
        (rec,) = store.search(store_query())
    assert rec.id and rec.file
    return rec.id, Path(rec.file.path).stat().st_size
