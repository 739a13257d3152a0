"""SHA-256 of files: a video's content id and the downloader's integrity check."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def sha256_hasher(path: Path, upto: int | None = None) -> hashlib._Hash:
    """A sha256 object fed the first ``upto`` bytes of ``path`` (all of it when None), ready to
    be fed more (a download resuming after those bytes)."""
    h = hashlib.sha256()
    left = upto
    with open(path, "rb") as fh:
        while left is None or left > 0:
            block = fh.read(CHUNK if left is None else min(CHUNK, left))
            if not block:
                break
            h.update(block)
            if left is not None:
                left -= len(block)
    return h


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of the whole file ``path``."""
    return sha256_hasher(path).hexdigest()
