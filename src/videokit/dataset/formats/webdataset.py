"""``webdataset``: tar shards per split, as video2dataset writes them.

``OUT/<split>/{shard:05d}.tar`` holds three members per clip, ``<key>.mp4`` (the clip),
``<key>.json`` (its metadata, :func:`~videokit.dataset.formats.base.clip_metadata`) and
``<key>.txt`` (its caption), written with the ``webdataset`` package's ``TarWriter``; beside
each shard, ``{shard:05d}_stats.json`` gives video2dataset's per-shard statistics. A shard
holds at most ``max_count`` clips and stays within ``max_size`` bytes (a clip larger than that
gets a shard of its own). Shards are filled in key order, so the same clips give the same
shards; each is written under a temporary name and renamed when whole, so a shard is complete
or absent. Clips are cut to ``OUT/clips/<split>/<key>.mp4`` first: the shards' input
(:attr:`packs_clips`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from videokit.dataset.formats.base import (
    DatasetFormat,
    DatasetInfo,
    clip_metadata,
    clips_by_split,
    require,
    safe_name,
    split_of,
    write_text,
)
from videokit.dataset.model import Clip, ClipPlan
from videokit.record import Record
from videokit.tempfiles import remove_stale, temp_path

BLOCK = 512  # tar header and data blocks
RECORD = 10240  # tar files are padded to a multiple of this (Python's tarfile)
MTIME = 0  # members carry no wall-clock time: the same clips give the same bytes
_SHARD = re.compile(r"^(\d{5,})(?:\.tar|_stats\.json)$")


def _member_size(nbytes: int) -> int:
    """A tar member's bytes: its header block and its data padded to whole blocks."""
    return BLOCK + -(-nbytes // BLOCK) * BLOCK


class WebDatasetFormat(DatasetFormat):
    """Tar shards of ``{key}.mp4``, ``{key}.json`` and ``{key}.txt``, with per-shard statistics."""

    name = "webdataset"
    packs_clips = True

    def __init__(self, max_size: int = 1_000_000_000, max_count: int = 10_000) -> None:
        if max_size < 1 or max_count < 1:
            raise ValueError("max_size and max_count must be >= 1")
        self.max_size = max_size
        self.max_count = max_count

    def layout(self, plan: ClipPlan, record: Record | None = None) -> str:
        return f"clips/{safe_name(split_of(plan))}/{plan.key}.mp4"

    def write(self, clips: list[Clip], records: Mapping[str, Record], out: Path, info: DatasetInfo) -> list[str]:
        wds = require("webdataset", "the webdataset format")
        by_split = clips_by_split(clips)
        written: list[str] = []
        for split in sorted(by_split):
            folder = safe_name(split)
            remove_stale(out / folder)  # temporary shards of killed runs
            shard: _Shard | None = None
            number = 0  # of the next shard
            try:
                for clip in by_split[split]:
                    meta = clip_metadata(clip, records.get(clip.plan.video_id), out)
                    meta["path"] = f"{clip.plan.key}.mp4"  # the member; the loose clip was only the input
                    sample = {
                        "__key__": clip.plan.key,
                        "mp4": (out / clip.path).read_bytes(),
                        "json": json.dumps(meta, ensure_ascii=False, indent=2).encode("utf-8"),
                        "txt": str(meta["caption"]).encode("utf-8"),
                    }
                    need = sum(_member_size(len(sample[k])) for k in ("mp4", "json", "txt"))
                    if shard is not None and tar_size_after(shard.used, need) > self.max_size:
                        written += shard.close()
                        shard = None
                    if shard is None:
                        shard = _Shard(wds, out, folder, number)
                        number += 1
                    shard.add(sample, need, meta["duration"] or 0.0)
                    if shard.count >= self.max_count:  # full: whole on disk before the next clip is read
                        written += shard.close()
                        shard = None
                if shard is not None:
                    written += shard.close()
            except BaseException:
                if shard is not None:
                    shard.abort()
                raise
            _remove_extra_shards(out / folder, number)
        return written


def tar_size_after(used: int, need: int) -> int:
    """The tar file's size once a sample of ``need`` bytes is added to members of ``used`` bytes."""
    return -(-(used + need + 2 * BLOCK) // RECORD) * RECORD


class _Shard:
    """One ``{n:05d}.tar`` being written under a temporary name, and its statistics."""

    def __init__(self, wds: Any, out: Path, folder: str, number: int) -> None:
        self.out, self.folder, self.number = out, folder, number
        self.name = f"{folder}/{number:05d}.tar"
        self.count = 0
        self.used = 0  # bytes of members so far
        self.video_bytes = 0
        self.seconds = 0.0
        final = out / self.name
        final.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = temp_path(final)
        self._fh = open(self._tmp, "wb")  # closed by close() or abort()
        try:
            self._writer = wds.TarWriter(self._fh, encoder=False, mtime=MTIME)
        except BaseException:
            self.abort()
            raise

    def add(self, sample: dict[str, Any], need: int, seconds: float) -> None:
        try:
            self._writer.write(sample)
        except BaseException:
            self.abort()
            raise
        self.count += 1
        self.used += need
        self.video_bytes += len(sample["mp4"])
        self.seconds += seconds

    def close(self) -> list[str]:
        """Finish the tar, rename it into place and write its statistics; the files written."""
        try:
            self._writer.close()
            self._fh.close()
            os.replace(self._tmp, self.out / self.name)
        except BaseException:
            self.abort()
            raise
        stats = {  # video2dataset's keys; nothing failed: every clip given was cut
            "count": self.count,
            "successes": self.count,
            "failed_to_download": 0,
            "failed_to_subsample": 0,
            "bytes_downloaded": self.video_bytes,
            "clip_duration": round(self.seconds, 6),
            "status_dict": {"success": self.count},
        }
        stats_name = f"{self.folder}/{self.number:05d}_stats.json"
        write_text(self.out / stats_name, json.dumps(stats, indent=4) + "\n")
        return [self.name, stats_name]

    def abort(self) -> None:
        """Drop the unfinished tar."""
        self._fh.close()
        self._tmp.unlink(missing_ok=True)


def _remove_extra_shards(folder: Path, count: int) -> None:
    """Shards numbered ``count`` and above (left by an earlier, larger build) go."""
    for path in folder.iterdir():
        m = _SHARD.match(path.name)
        if m and int(m.group(1)) >= count:
            path.unlink(missing_ok=True)
