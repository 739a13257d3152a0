"""Re-tagging throughput on 10,000 synthetic records.

Measures the rules + classification engine alone, then ``retag`` end to end through a
temporary SQLite library (read, re-tag, upsert what changed). Prints records per second.

    python benchmarks/retag.py [--records 10000] [--no-store]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from videokit.config import load_config
from videokit.record import Analysis, FileInfo, MediaInfo, Record, SceneInfo, Source, Tag
from videokit.tagging import Tagger, load_rules, load_taxonomy, retag, write_examples

WORDS = (
    "drone",
    "aerial",
    "city",
    "night",
    "action",
    "football",
    "concert",
    "lecture",
    "forest",
    "kitchen",
    "car chase",
    "interview",
    "sunset",
    "news",
    "gameplay",
    "cartoon",
    "street",
    "crowd",
    "ocean",
    "bird's eye",
)
RES = [("SD", 320, 240), ("480p", 854, 480), ("720p", 1280, 720), ("1080p", 1920, 1080), ("4K", 3840, 2160)]


def make_record(i: int, rng: random.Random) -> Record:
    label, w, h = rng.choice(RES)
    if rng.random() < 0.15:
        w, h = h, w
    duration = rng.choice([8.0, 45.0, 180.0, 660.0, 1500.0])
    words = " ".join(rng.choice(WORDS) for _ in range(12))
    return Record(
        id=f"{i:064x}",
        sources=[
            Source(
                f"https://www.example{i % 7}.com/v/{i}",
                kind="url",
                domain=f"www.example{i % 7}.com",
                title=f"Video {i} {rng.choice(WORDS)}",
                user_fields={"label": rng.choice(["cat", "dog", "car"])},
            )
        ],
        file=FileInfo(f"downloads/{i}.mp4", f"clip_{i}.mp4", 1000, f"{i:064x}"),
        media=MediaInfo(
            container="mov,mp4,m4a,3gp,3g2,mj2",
            duration=duration,
            bit_rate=rng.choice([800_000, 3_000_000]),
            width=w,
            height=h,
            resolution=label,
            fps=rng.choice([24.0, 29.97, 60.0, 120.0]),
            video_codec=rng.choice(["h264", "hevc", "vp9"]),
            audio_streams=rng.choice([0, 1]),
            subtitle_streams=rng.choice([0, 0, 1]),
        ),
        scenes=SceneInfo(scene_count=rng.randint(1, 60), cuts_per_minute=rng.uniform(0, 45)),
        analysis=Analysis(
            backend="builtin",
            model=None,
            description=f"A clip with {words}.",
            ocr_text=rng.choice(["", "BREAKING NEWS", "subscribe"]),
            tags=[Tag(rng.choice(["dark", "night", "static", "pan", "faces"]), "analyzer:builtin/1", 0.7)],
            facts={"audio": {"silent": rng.random() < 0.2}},
        ),
        tags=[Tag("favourite", "user")] if i % 10 == 0 else [],
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--no-store", action="store_true", help="Only the engine, no SQLite round trip.")
    args = ap.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        write_examples(Path(tmp))
        cfg = load_config(
            None,
            env={},
            overrides={("Library", "Location"): f"{tmp}/lib", ("Rules", "CustomTagRules"): f"{tmp}/custom_tags.json"},
        )
        tagger = Tagger(load_rules(cfg), load_taxonomy(cfg))
        records = [make_record(i, rng) for i in range(args.records)]
        print(f"{len(records)} records, {len(tagger.rules)} rules, {len(tagger.taxonomy.signals)} category signals")

        t0 = time.perf_counter()
        tags = sum(len(r.tags) for r in records if tagger.apply(r) and True)
        dt = time.perf_counter() - t0
        print(f"engine: {len(records) / dt:,.0f} records/s ({dt:.2f} s, {tags / len(records):.1f} tags per record)")

        if args.no_store:
            return
        from videokit.store import open_store

        for r in records:
            r.tags = [t for t in r.tags if t.origin == "user"]
            r.classification = None
        with open_store(cfg) as store:
            t0 = time.perf_counter()
            for r in records:
                store.upsert(r)
            load = time.perf_counter() - t0
            print(f"store: loaded {len(records)} records in {load:.2f} s")
            t0 = time.perf_counter()
            report = retag(store, tagger)
            dt = time.perf_counter() - t0
            print(
                f"retag (first, every record changes): {report.records / dt:,.0f} records/s ({dt:.2f} s) - {report.summary()}"
            )
            t0 = time.perf_counter()
            report = retag(store, tagger)
            dt = time.perf_counter() - t0
            print(
                f"retag (again, nothing changes): {report.records / dt:,.0f} records/s ({dt:.2f} s) - {report.summary()}"
            )


if __name__ == "__main__":
    main()
