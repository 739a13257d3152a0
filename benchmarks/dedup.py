"""Perceptual dedup of 10,000 videos' thumbnail hashes through the index (not all pairs).

Synthetic library: each video has 1-16 scenes (64-bit hashes, random bits); 10% of the videos are
near-duplicates of another (re-encoded: up to 6 bits flipped per hash; trimmed: first or last
scene lost, and up to 12 bits on the new end scene); 30% of the videos of 3 scenes or more open
with one of 40 shared pictures (channel intros: the same picture in unrelated videos, which must
not make them duplicates). Prints the time to group them, the hash pairs verified against all pairs, and
whether every planted duplicate was found (and what else was: a trimmed two-scene copy whose
remaining scenes are the shared intro and one more matches, by the definition, every video that
opens with that intro), and what hashing one thumbnail costs (once per scene: hashes are cached).

    python benchmarks/dedup.py [--videos 10000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from videokit.dataset.dedup import MAX_DISTANCE, MIN_SHARED, HashIndex, phash_file


def flip(h: int, bits: int, rng: random.Random) -> int:
    for b in rng.sample(range(64), bits):
        h ^= 1 << b
    return h


def library(videos: int, seed: int) -> tuple[dict[str, list[int]], set[tuple[str, str]]]:
    rng = random.Random(seed)
    shared = [rng.getrandbits(64) for _ in range(40)]
    hashes: dict[str, list[int]] = {}
    for i in range(videos):
        scenes = [rng.getrandbits(64) for _ in range(rng.randint(1, 16))]
        if len(scenes) >= 3 and rng.random() < 0.3:  # a channel intro opens it
            scenes[0] = flip(rng.choice(shared), rng.randint(0, 3), rng)
        hashes[f"v{i:06d}"] = scenes
    planted: set[tuple[str, str]] = set()
    ids = sorted(hashes)
    for k in rng.sample(range(videos), videos // 10):
        original = ids[k]
        copy = [flip(h, rng.randint(0, 6), rng) for h in hashes[original]]
        if len(copy) > 2:
            copy = copy[1:] if rng.random() < 0.5 else copy[:-1]  # trimmed: a scene lost
            copy[0] = flip(copy[0], rng.randint(0, 12), rng)  # and its new first scene's middle moved
        name = f"d{k:06d}"
        hashes[name] = copy
        planted.add((original, name))
    return hashes, planted


def hashing_cost(n: int = 200) -> float:
    """Seconds to hash one 320x180 JPEG thumbnail (what a library pays once per scene; cached)."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for k in range(n):
            small = rng.integers(0, 256, (9, 16, 3), dtype=np.uint8)  # smooth pictures: upscaled noise
            path = Path(tmp) / f"scene-{k:04d}.jpg"
            Image.fromarray(small).resize((320, 180), Image.Resampling.BICUBIC).save(path, quality=85)
            paths.append(path)
        t0 = time.perf_counter()
        for path in paths:
            phash_file(path)
        return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-distance", type=int, default=MAX_DISTANCE)
    ap.add_argument("--min-shared", type=float, default=MIN_SHARED)
    args = ap.parse_args()

    hashes, planted = library(args.videos, args.seed)
    n_hashes = sum(len(h) for h in hashes.values())
    t0 = time.perf_counter()
    index = HashIndex(hashes, args.max_distance)
    t1 = time.perf_counter()
    groups = index.groups(args.min_shared)
    t2 = time.perf_counter()

    found = {tuple(sorted((p.a, p.b))) for g in groups for p in g.pairs}
    wanted = {tuple(sorted(p)) for p in planted}
    video_pairs = len(hashes) * (len(hashes) - 1) // 2
    print(
        f"videos: {len(hashes)} ({args.videos} + {len(planted)} planted near-duplicates), thumbnail hashes: {n_hashes}"
    )
    print(f"index built in {t1 - t0:.2f} s, groups found in {t2 - t1:.2f} s: total {t2 - t0:.2f} s")
    print(
        f"hash pairs verified: {index.candidates:,} of {index.all_pairs:,} "
        f"({index.candidates / max(index.all_pairs, 1):.2e} of all pairs); "
        f"video pairs with a matching scene: {index.video_pairs:,} of {video_pairs:,}"
    )
    print(
        f"groups: {len(groups)}; planted pairs found: {len(found & wanted)}/{len(wanted)}; "
        f"pairs found that were not planted: {len(found - wanted)}; largest group: "
        f"{max((len(g.ids) for g in groups), default=0)} videos"
    )
    print(f"hashing a thumbnail (once, then cached): {hashing_cost() * 1000:.2f} ms")


if __name__ == "__main__":
    main()
