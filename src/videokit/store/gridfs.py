"""Video files kept in MongoDB GridFS, one per content id (``[MongoDB] StoreVideos``).

The GridFS file ``_id`` is the record's content id, so storing the same video twice is a
no-op. GridFS writes the chunks first and the ``files`` document last, so a reader never
sees a half-uploaded file; chunks orphaned by a writer that died mid-upload are removed
before the next attempt.

Uses the classic ``gridfs.GridFS`` API (put/get/exists/delete), which MongoDB Atlas, Azure
Cosmos DB for MongoDB and mongomock all provide.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO

import gridfs
from pymongo.database import Database


class VideoFiles:
    """GridFS bucket ``<collection>_videos`` holding one file per content id."""

    def __init__(self, db: Database, bucket: str) -> None:
        self.bucket = bucket
        self._db = db
        self._gridfs: gridfs.GridFS | None = None
        self._files = db[f"{bucket}.files"]
        self._chunks = db[f"{bucket}.chunks"]

    @property
    def _fs(self) -> gridfs.GridFS:
        # Built on first use, so a store with StoreVideos off never touches GridFS.
        if self._gridfs is None:
            self._gridfs = gridfs.GridFS(self._db, collection=self.bucket)
        return self._gridfs

    def exists(self, id: str) -> bool:
        return self._files.count_documents({"_id": id}, limit=1) > 0

    def put(self, id: str, path: Path) -> bool:
        """Upload ``path`` under ``id``. False when that content is already stored."""
        if self.exists(id):
            return False
        # Chunks without a files document are leftovers of an upload that died midway.
        self._chunks.delete_many({"files_id": id})
        with open(path, "rb") as fh:
            self._fs.put(fh, _id=id, filename=path.name)
        return True

    def open(self, id: str) -> IO[bytes] | None:
        """A readable stream of the stored video, or None."""
        if not self.exists(id):
            return None
        try:
            return self._fs.get(id)
        except gridfs.errors.NoFile:
            return None

    def save(self, id: str, dest: Path) -> bool:
        """Write the stored video to ``dest`` (atomically). False when none is stored."""
        stream = self.open(id)
        if stream is None:
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(1 << 20):
                    out.write(chunk)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True

    def delete(self, id: str) -> None:
        if self.exists(id) or self._chunks.count_documents({"files_id": id}, limit=1):
            self._fs.delete(id)
