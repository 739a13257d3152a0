"""Embedding speed: sentences per second with the bundled all-MiniLM-L6-v2 on this machine, batched
(as the embed stage sends them: ``[Embeddings] BatchSize`` texts per model call, across videos) and
one at a time (as a naive per-passage loop would), and the largest difference between the two
vectors of one sentence.

    .venv/bin/python benchmarks/embed.py [--sentences 512] [--single 128] [--device cpu]

Sentences are generated (transcript-like, 8-25 words). Numbers go into the README section
"Embeddings and videokit reindex"; nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from videokit.index.embedder import BUNDLED, EmbedOptions, load_embedder  # noqa: E402

SUBJECTS = ["the fisherman", "a small child", "the old bridge", "our guide", "the orchestra", "a red kite", "the chef"]
VERBS = ["walks past", "looks at", "talks about", "slowly crosses", "points towards", "waits beside", "films"]
OBJECTS = ["the harbour", "a crowded market", "the snowy mountain", "an empty stage", "the river bank", "a wooden boat"]
TAILS = [
    "in the early morning light",
    "while the rain keeps falling",
    "before the crowd arrives",
    "",
    "again and again",
]


def sentences(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = [rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(TAILS)]
        if rng.random() < 0.5:  # some longer, two-clause sentences
            parts += ["and then", rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS)]
        out.append(" ".join(p for p in parts if p).capitalize() + ".")
    return out


def rate(fn, count: int, repeats: int) -> tuple[float, float]:
    """(sentences per wall-clock second, sentences per CPU-second of this process), medians of
    ``repeats``; the second is steadier when other programs share the cores."""
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return count / statistics.median(walls), count / statistics.median(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=int, default=512, help="sentences embedded batched")
    ap.add_argument("--single", type=int, default=128, help="sentences embedded one at a time")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: every core this process may use)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    options = EmbedOptions(model=BUNDLED, device=args.device, threads=args.threads or len(os.sched_getaffinity(0)))
    embedder = load_embedder(options)
    load = time.perf_counter() - t0
    import torch

    texts = sentences(args.sentences)
    words = statistics.mean(len(t.split()) for t in texts)
    print(
        f"model {embedder.model_id} on {embedder.device}, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(f"load (imports + weights): {load:.2f} s; {len(texts)} sentences of {words:.1f} words on average")
    embedder.encode(texts[:64], 64)  # warm-up

    single = texts[: args.single]
    one, one_cpu = rate(lambda: [embedder.encode([t], 1) for t in single], len(single), args.repeats)
    print(f"one at a time  : {one:8.1f} sentences/s, {one_cpu:8.1f} per CPU-second")
    results = {}
    for size in (16, 64, 128):
        wall, cpu = rate(lambda size=size: embedder.encode(texts, size), len(texts), args.repeats)
        results[size] = wall
        print(
            f"batched by {size:<4}: {wall:8.1f} sentences/s, {cpu:8.1f} per CPU-second "
            f"({wall / one:.1f}x one at a time; {cpu / one_cpu:.1f}x per CPU-second)"
        )

    batched = embedder.encode(single, 64)
    alone = [embedder.encode([t], 1)[0] for t in single]
    diff = max(abs(a - b) for u, v in zip(batched, alone, strict=True) for a, b in zip(u, v, strict=True))
    print(f"largest difference batched vs alone, any component: {diff:.2e}")
    print(f"ratio batched (BatchSize 64) / one at a time: {results[64] / one:.1f}x")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
