"""The ``upload`` stage: each fetched video's original copied to Dropbox (``[Dropbox] Upload = originals``).

The original goes to ``<[Dropbox] Folder>/originals/<id:16>_<name>`` (its content id keeps two
videos of the same name apart, and makes a re-run overwrite the same file, not add one), in an
upload session when it is larger than one chunk, rate limits honoured
(:mod:`videokit.storage.dropbox`). Off by default; optional (``--skip upload``). A failed upload
is that record's error; the later stages still run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from videokit.pipeline import Context, Stage
from videokit.record import Record

if TYPE_CHECKING:
    from videokit.config import Config
    from videokit.storage.options import DropboxOptions


def original_key(record: Record) -> str:
    """Where the original of ``record`` goes below the Dropbox folder."""
    assert record.file is not None and record.id is not None
    return f"originals/{record.id[:16]}_{record.file.name}"


class UploadStage(Stage):
    """Upload the original video to the ``[Dropbox] Folder``."""

    name = "upload"
    after = "fetch"
    optional = True
    required = False
    needs = frozenset({"file", "id"})
    resources = frozenset({"io"})

    def __init__(self, options: DropboxOptions) -> None:
        self.options = options

    @classmethod
    def from_config(cls, config: Config) -> UploadStage | None:
        from videokit.storage.options import DropboxOptions

        options = DropboxOptions.from_config(config)
        return cls(options) if options.upload == "originals" else None

    def process(self, record: Record, ctx: Context) -> None:
        from videokit.storage.dropbox import DropboxStorage
        from videokit.storage.location import Location

        if record.file is None:
            return
        storage = DropboxStorage(Location("dropbox", "", self.options.folder), dropbox_options=self.options)
        storage.put(ctx.abspath(record.file.path), original_key(record))
