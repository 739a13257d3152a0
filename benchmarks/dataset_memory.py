"""Memory of ``videokit dataset`` in the number of clips: a 1,000-clip and a 10,000-clip export.

Builds a library of synthetic records that all point at one small real video (100 s, 64x48,
a keyframe every second), then exports N records x 100 one-second windows (stream copy) to the
folder, parquet and webdataset formats, each export in a fresh process; prints the clips, the
seconds and the peak RSS of each. The builder keeps a small plan per clip, never a record or a
clip's bytes, so the peak should hardly move between 1,000 and 10,000 clips.

    python benchmarks/dataset_memory.py [--records 10 100] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import hashlib, json, resource, sys, time
from pathlib import Path
from videokit import api
from videokit.config import load_config
from videokit.dataset.clips import ClipOptions
from videokit.dataset.labels import LabelOptions
from videokit.store import Query

lib, out, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
cfg = load_config(None, env={}, overrides={("Library", "Location"): str(lib)})
ids = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]
options = api.DatasetOptions(
    clips=ClipOptions(clips="windows", window=1.0, min_len=1.0, mode="copy"),
    labels=LabelOptions(source="csv"),
    formats=("folder", "parquet", "webdataset"),
)
t = time.perf_counter()
report = api.build_dataset(cfg, out, options, Query(ids=ids))
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"clips": report.clips, "written": report.written, "seconds": seconds, "peak_mb": peak}))
"""


def make_library(folder: Path, records: int) -> Path:
    from videokit.config import load_config
    from videokit.hashing import sha256_file
    from videokit.probe import media_info
    from videokit.record import FileInfo, Record, Source
    from videokit.store import open_store

    video = folder / "source.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=100"]
        + ["-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p", str(video)],
        check=True,
    )
    media = media_info(video)
    lib = folder / "lib"
    cfg = load_config(None, env={}, overrides={("Library", "Location"): str(lib)})
    size, digest = video.stat().st_size, sha256_file(video)
    with open_store(cfg) as store:
        for i in range(records):
            store.upsert(
                Record(
                    id=hashlib.sha256(str(i).encode()).hexdigest(),  # content ids differ from the start
                    sources=[Source(str(video), path=str(video), user_fields={"label": f"class{i % 10}"})],
                    file=FileInfo(str(video), video.name, size, digest),
                    media=media,
                )
            )
    return lib


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, nargs="+", default=[10, 100], help="records per run (100 clips each)")
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        lib = make_library(work, max(args.records))
        print(f"{'clips':>7} {'seconds':>8} {'clips/s':>8} {'peak RSS MB':>12}")
        for n in args.records:
            out = work / f"ds-{n}"
            t = time.perf_counter()
            res = subprocess.run(
                [sys.executable, "-c", CHILD, str(lib), str(out), str(n)], capture_output=True, text=True, check=True
            )
            row = json.loads(res.stdout.strip().splitlines()[-1])
            wall = time.perf_counter() - t
            print(
                f"{row['clips']:>7} {row['seconds']:>8.1f} {row['clips'] / row['seconds']:>8.0f} {row['peak_mb']:>12.0f}"
            )
            print(f"        (process wall time {wall:.1f} s)")


if __name__ == "__main__":
    main()
