"""The storage settings (``[Storage]``, ``[Dropbox]``), read once into typed options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from videokit.config import Config

MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class StorageOptions:
    """How files travel to and from object storage."""

    s3_endpoint: str = ""  # an S3-compatible endpoint (MinIO, moto...); "" for AWS or AWS_ENDPOINT_URL
    part_size: int = 8 * MIB  # bytes per uploaded part and per ranged read
    concurrency: int = 4  # parts in flight per file
    retries: int = 5  # attempts after the first, per part, on network trouble and 5xx
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    state_dir: Path | None = None  # where unfinished uploads are remembered (resumable); None: not remembered
    cache_dir: Path | None = None  # local copies of cloud inputs
    cache_bytes: int = 10 * 1024 * MIB

    @classmethod
    def from_config(cls, config: Config) -> StorageOptions:
        cache = config.path_setting("Storage", "CacheDirectory") or config.library / "cache"
        return cls(
            s3_endpoint=config.get("Storage", "S3Endpoint"),
            part_size=max(5 * MIB, int(config.get("Storage", "PartSizeMB") * MIB)),
            concurrency=config.get("Storage", "Concurrency"),
            retries=config.get("Storage", "Retries"),
            backoff_base=config.get("Download", "BackoffBase"),
            backoff_max=config.get("Download", "BackoffMax"),
            state_dir=config.library / "uploads",
            cache_dir=cache,
            cache_bytes=int(config.get("Storage", "CacheSizeMB") * MIB),
        )


@dataclass(frozen=True, slots=True)
class DropboxOptions:
    """The ``[Dropbox]`` section; the token comes from the environment (:mod:`videokit.storage.dropbox`)."""

    folder: str = "/videokit"  # where dropbox:// keys and uploads go
    upload: str = "none"  # none | originals: upload each fetched video
    chunk_size: int = 8 * MIB  # upload-session chunk (files larger than one chunk use a session)
    retries: int = 5  # attempts after the first on 429 / 5xx / network trouble
    backoff_base: float = 0.5
    backoff_max: float = 30.0

    @classmethod
    def from_config(cls, config: Config) -> DropboxOptions:
        folder = "/" + str(config.get("Dropbox", "Folder")).strip().strip("/")
        return cls(
            folder=folder.rstrip("/") or "/",
            upload=config.get("Dropbox", "Upload"),
            chunk_size=max(64 * 1024, int(config.get("Dropbox", "ChunkSizeMB") * MIB)),
            retries=config.get("Dropbox", "Retries"),
            backoff_base=config.get("Download", "BackoffBase"),
            backoff_max=config.get("Download", "BackoffMax"),
        )
