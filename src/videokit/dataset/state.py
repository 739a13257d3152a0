"""A dataset folder's own state: which settings built it, which clips are cut, who is writing it.

Everything lives in the hidden folder ``OUT/.videokit/``::

    state.json     the settings the dataset is built with (and their hash), whether it is complete
    lock           held (flock) by the one build writing the folder
    clips/         every cut clip once, named <clip key>.mp4 (formats hard-link them into their layout)
    clips.jsonl    the journal: one line per finished clip (key, SHA-256, real span, frames, size)
    outputs.txt    the files builds wrote or placed in OUT (noted before they are written)

A clip is in the journal only once its file is whole in ``clips/`` (the cutter writes under a
temporary name and renames), so a build killed at any moment and run again cuts only what the
journal lacks; a line cut short by the kill is ignored. Files placed in a format's layout are
linked under a temporary name and renamed, so no half-written file is ever visible.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from videokit.dataset.model import Clip, ClipPlan
from videokit.errors import UsageError
from videokit.tempfiles import is_stale, remove_stale, temp_path

log = logging.getLogger(__name__)

STATE_DIR = ".videokit"
STATE_VERSION = 1


def settings_hash(settings: dict[str, Any]) -> str:
    """A stable hash of JSON-able settings (key order does not matter)."""
    text = json.dumps(settings, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` under a temporary name, then rename: never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@dataclass(slots=True)
class Done:
    """A journaled clip: what the cutter produced for one clip key."""

    key: str
    sha256: str
    real_start: float
    real_end: float
    frames: int | None
    size: int
    meta: dict[str, Any]

    def clip(self, plan: ClipPlan, path: str) -> Clip:
        return Clip(plan, path, self.real_start, self.real_end, self.sha256, self.frames, dict(self.meta))


class DatasetFolder:
    """The output folder of one build, locked for it. Use :meth:`open` as a context manager."""

    def __init__(self, out: Path, lock: IO[str]) -> None:
        self.out = out
        self.dir = out / STATE_DIR
        self.pool = self.dir / "clips"
        self.journal_path = self.dir / "clips.jsonl"
        self.outputs_path = self.dir / "outputs.txt"  # every file a build wrote or placed, relative to OUT
        self._lock = lock
        self._journal: IO[str] | None = None
        self.state: dict[str, Any] = {}

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, out: Path, settings: dict[str, Any], cut_settings: dict[str, Any], overwrite: bool) -> DatasetFolder:
        """Lock ``out`` and make it ready for a build with ``settings``: a new or empty folder
        is started; one built with the same settings is resumed; one built with other settings
        is refused (UsageError naming them) unless ``overwrite``, which replaces it (the clips
        already cut are kept when ``cut_settings`` are unchanged); one whose build stopped before
        cutting any clip is simply started again. A folder that holds other
        files and no dataset is always refused: nothing that videokit did not write is removed."""
        if out.exists() and not out.is_dir():
            raise UsageError(f"{out} is a file; give a folder for the dataset")
        state_file = out / STATE_DIR / "state.json"
        if out.is_dir() and not state_file.is_file() and _has_other_entries(out):
            raise UsageError(f"{out} is not empty and holds no videokit dataset; give a new or empty folder")
        (out / STATE_DIR).mkdir(parents=True, exist_ok=True)
        lock = open(out / STATE_DIR / "lock", "a+", encoding="utf-8")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise UsageError(f"another 'videokit dataset' is writing {out}; wait for it to finish") from None
        folder = cls(out, lock)
        try:
            folder._prepare(settings, cut_settings, overwrite)
        except BaseException:
            folder.close()
            raise
        return folder

    def _prepare(self, settings: dict[str, Any], cut_settings: dict[str, Any], overwrite: bool) -> None:
        new_hash, cut_hash = settings_hash(settings), settings_hash(cut_settings)
        old = self._read_state()
        if old is not None and old.get("settings_hash") != new_hash:
            started = bool(old.get("complete")) or _size(self.journal_path) not in (None, 0)
            if started and not overwrite:  # a build that cut nothing yet (a bad option stopped it) is no dataset
                changed = _differences(old.get("settings") or {}, settings)
                raise UsageError(
                    f"{self.out} holds a dataset built with other settings ({', '.join(changed) or 'another version'}); "
                    "add --overwrite to replace it, or choose another folder"
                )
            self._wipe(keep_clips=old.get("cut_hash") == cut_hash)
            old = None
        if old is None:
            self.state = {
                "version": STATE_VERSION,
                "settings_hash": new_hash,
                "cut_hash": cut_hash,
                "settings": settings,
                "complete": False,
            }
            self.save()
        else:
            self.state = old
        self.pool.mkdir(parents=True, exist_ok=True)
        remove_stale(self.pool)
        remove_stale(self.dir)

    def _read_state(self) -> dict[str, Any] | None:
        path = self.dir / "state.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise UsageError(f"{path} cannot be read ({e}); add --overwrite to build the dataset again") from None
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            return {"settings_hash": None, "settings": {}}  # another version: other settings
        return data

    def _wipe(self, keep_clips: bool) -> None:
        """Remove the previous dataset: the files its builds wrote, and its state but the lock
        (and the cut clips when they are still valid). Files videokit did not write stay."""
        for path in self._outputs():
            path.unlink(missing_ok=True)
        keep = {self.dir / "lock"} | ({self.pool, self.journal_path} if keep_clips else set())
        for inner in list(self.dir.iterdir()):
            if inner not in keep:
                _remove(inner)
        for dirpath, _dirnames, _filenames in sorted(os.walk(self.out), key=lambda t: -len(t[0])):
            here = Path(dirpath)
            if here != self.out and self.dir not in (here, *here.parents):
                try:
                    here.rmdir()
                except OSError:
                    pass  # not empty
        log.info(
            "%s: replaced the previous dataset (--overwrite)%s", self.out, "; cut clips kept" if keep_clips else ""
        )

    def save(self) -> None:
        write_atomic(self.dir / "state.json", json.dumps(self.state, indent=1, sort_keys=True) + "\n")

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        self._lock.close()

    def __enter__(self) -> DatasetFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the journal of cut clips --------------------------------------------------------
    def journal(self) -> dict[str, Done]:
        """The journaled clips whose file is still whole in the pool, by key. (A clip the cutter
        could not cut is not journaled: it is tried again, in case a full disk was the cause.)"""
        found: dict[str, Done] = {}
        try:
            fh = open(self.journal_path, encoding="utf-8")  # noqa: SIM115
        except FileNotFoundError:
            return found
        with fh:
            for line in fh:
                try:
                    d = json.loads(line)
                    item = Done(
                        d["key"], d["sha256"], d["real_start"], d["real_end"], d.get("frames"), d["size"], d["meta"]
                    )
                except (ValueError, KeyError, TypeError):
                    continue  # the line a kill cut short
                found[item.key] = item
        return {k: d for k, d in found.items() if _size(self.clip_file(k)) == d.size}

    def clip_file(self, key: str) -> Path:
        return self.pool / f"{key}.mp4"

    def record(self, clips: Iterable[Clip]) -> list[Done]:
        """Journal freshly cut clips (their files already whole in the pool)."""
        if self._journal is None:
            self._journal = open(self.journal_path, "a", encoding="utf-8")  # noqa: SIM115
        out = []
        lines = []
        for c in clips:
            size = self.clip_file(c.plan.key).stat().st_size
            d = Done(c.plan.key, c.sha256, c.real_start, c.real_end, c.frames, size, c.meta)
            out.append(d)
            lines.append(json.dumps(_done_dict(d), sort_keys=True, ensure_ascii=False) + "\n")
        self._journal.write("".join(lines))
        self._journal.flush()
        os.fsync(self._journal.fileno())
        return out

    # -- placing clips in a format's layout ------------------------------------------------
    def place(self, key: str, target: Path) -> bool:
        """Make ``target`` the clip ``key`` (a hard link to the pool's file, a copy where links
        are not possible), atomically; False when it already was."""
        src = self.clip_file(key)
        st = src.stat()
        try:
            tst = target.stat()
            if tst.st_ino == st.st_ino and tst.st_dev == st.st_dev:
                return False
        except FileNotFoundError:
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path(target)
        try:
            try:
                os.link(src, tmp)
            except OSError as e:
                if e.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK, errno.EOPNOTSUPP):
                    raise
                shutil.copyfile(src, tmp)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return True

    # -- what the dataset is made of -----------------------------------------------------
    def will_write(self, paths: Iterable[Path]) -> None:
        """Note files about to be written or placed in the folder (before they are), so that a
        later build removes them when they no longer belong, even after a kill."""
        lines = [self._relative(p) + "\n" for p in paths]
        if lines:
            with open(self.outputs_path, "a", encoding="utf-8") as fh:
                fh.write("".join(lines))
                fh.flush()
                os.fsync(fh.fileno())

    def prune(self, keep: set[Path]) -> int:
        """Remove the files an earlier build (or this one) wrote that are not in ``keep`` (the
        files of the dataset as built now: a clip whose split changed with the library, the
        loose input of a format's shards), the temporary files of killed runs, and the folders
        left empty; then note ``keep`` as the dataset's files. A file videokit did not write is
        never removed. Returns how many files were removed."""
        removed = 0
        for path in self._outputs():
            if path not in keep and path.is_file():
                path.unlink()
                removed += 1
        for dirpath, dirnames, filenames in os.walk(self.out):
            here = Path(dirpath)
            dirnames[:] = [d for d in dirnames if here / d != self.dir]
            for name in filenames:
                if is_stale(here / name):  # a kill's leftover: .<name>.tmp-<host>-<pid>-...
                    (here / name).unlink(missing_ok=True)
        for dirpath, _dirnames, _filenames in sorted(os.walk(self.out), key=lambda t: -len(t[0])):
            here = Path(dirpath)
            if here != self.out and self.dir not in (here, *here.parents):
                try:
                    here.rmdir()
                except OSError:
                    pass  # not empty
        write_atomic(self.outputs_path, "".join(sorted(self._relative(p) + "\n" for p in keep)))
        return removed

    def _outputs(self) -> Iterator[Path]:
        try:
            fh = open(self.outputs_path, encoding="utf-8")  # noqa: SIM115
        except FileNotFoundError:
            return
        with fh:
            for line in fh:
                rel = line.rstrip("\n")
                if rel and not rel.startswith("/") and ".." not in Path(rel).parts:
                    yield self.out / rel

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.out).as_posix()


def _done_dict(d: Done) -> dict[str, Any]:
    return {
        "key": d.key,
        "sha256": d.sha256,
        "real_start": d.real_start,
        "real_end": d.real_end,
        "frames": d.frames,
        "size": d.size,
        "meta": d.meta,
    }


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _has_other_entries(folder: Path) -> bool:
    """Anything in ``folder`` but a state folder (left by a build killed before its first save)."""
    return any(e.name != STATE_DIR for e in _scandir(folder))


def _scandir(folder: Path) -> Iterator[os.DirEntry[str]]:
    with os.scandir(folder) as it:
        yield from it


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The names of the settings that differ (nested ones as ``clips.mode``)."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            out += [f"{key}.{k}" for k in _differences(a, b)]
        else:
            out.append(key)
    return out
