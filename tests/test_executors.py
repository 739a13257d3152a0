"""One orchestration core: the same inputs through the three executors give the same records.

Sequential (`videokit run`), local worker processes (`--workers 2`) and two Celery workers all
place the stages from what the stages declare; the example plug-in's stage (declared to run
after probe) must run in each of them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from media import make_video
from test_distributed import Cluster, _records, needs_redis, wait_for
from test_plugins import plugin_env, plugin_site  # noqa: F401 - fixture
from test_resume import VIDEOKIT
from videokit import api
from videokit.config import load_config
from videokit.errors import InputError
from videokit.pipeline import Context, Stage, stages
from videokit.record import Record

SOURCES = ["testsrc2", "smptebars", "rgbtestsrc"]


def _comparable(rec: Any) -> dict[str, Any]:
    """A record as a user sees it, without the when and how long."""
    d = rec.to_dict()
    for key in ("timings", "added_at", "updated_at"):
        d.pop(key)
    for s in d["sources"]:
        s.pop("added_at")
    return d


def _by_input(records: list[Any]) -> dict[str, dict[str, Any]]:
    return {r.sources[0].input: _comparable(r) for r in records}


@needs_redis
def test_sequential_workers_and_celery_store_identical_records(plugin_site: Path, tmp_path: Path) -> None:  # noqa: F811
    clips = [
        str(make_video(tmp_path / f"c{i}.mp4", duration=1.5, source=s, title=f"clip {i}", size="240x320"))
        for i, s in enumerate(SOURCES)
    ]
    env = plugin_env(plugin_site)

    def run(lib: Path, *extra: str) -> None:
        out = subprocess.run(
            [VIDEOKIT, "--library", str(lib), "-q", "run", *clips, *extra],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr

    run(tmp_path / "seq")
    run(tmp_path / "par", "--workers", "2")
    cluster = Cluster(tmp_path / "celery", PYTHONPATH=env["PYTHONPATH"])
    (tmp_path / "celery").mkdir()
    try:
        cluster.start_redis()
        cluster.start_worker(), cluster.start_worker()
        sub = cluster.videokit("submit", *clips)
        assert sub.returncode == 0, sub.stderr
        wait_for(lambda: cluster.status()["jobs"]["done"] == len(clips), 240, "the Celery batch did not finish")
    finally:
        cluster.stop()

    seq = _by_input(_records(tmp_path / "seq"))
    assert sorted(seq) == sorted(clips)
    for rec in seq.values():
        assert rec["errors"] == []
        assert rec["extra"]["aspect"]["shape"] == "portrait"  # the plug-in stage ran here...
        assert rec["scenes"]["scene_count"] >= 1 and rec["analysis"]["description"]
    for name in ("par", "celery"):
        other = _by_input(_records(tmp_path / name if name == "par" else cluster.lib))
        assert sorted(other) == sorted(seq), name
        for key, rec in seq.items():
            for field, value in rec.items():  # ...and everything is the same, field by field
                assert other[key][field] == value, f"{name}: {key}: {field} differs"


class _Counting(Stage):
    """A batching stage: records the size of every batch it is given."""

    name = "counting"
    after = "probe"
    required = False
    batch_size = 2
    seen: list[int] = []

    def process_batch(self, records: list[Record], ctx: Context) -> list[BaseException | None]:
        self.seen.append(len(records))
        return [None if r.media else InputError("no media") for r in records]


def test_the_sequential_run_hands_a_batching_stage_batch_size_records(tmp_path: Path) -> None:
    clips = [str(make_video(tmp_path / f"b{i}.mp4", duration=0.5, source=s)) for i, s in enumerate(SOURCES * 2)]
    clips.append(str(tmp_path / "missing.mp4"))  # fails at fetch: never reaches the stage
    cfg = load_config(
        env={}, overrides={("Library", "Location"): str(tmp_path / "lib"), ("Analysis", "Backend"): "none"}
    )
    stages.register("counting")(_Counting)
    try:
        result = api.run(clips, cfg, skip=["scenes"], workers=1)
    finally:
        stages._factories.pop("counting")
    assert _Counting.seen == [2, 2, 2]
    assert len(result.records) == 7 and len(result.failures) == 1
    assert all("counting" in r.timings for r in result.records if r.ok)
