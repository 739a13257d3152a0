"""Object storage for the library's files and for inputs: S3, Google Cloud Storage, Azure Blob, Dropbox.

* :mod:`~videokit.storage.location`: ``s3://`` ``gs://`` ``az://`` ``dropbox://`` URLs, the fsspec
  filesystem of each provider (credentials from the environment only), errors naming the provider;
* :mod:`~videokit.storage.transfer`: one file up (resumable parts, whole or invisible, SHA-256
  checked) or down (ranged reads, resumable);
* :mod:`~videokit.storage.files`: :class:`Storage`, files by relative key under one root;
* :mod:`~videokit.storage.places`: :func:`open_storage` for a URL or path, :func:`library_files`
  (where the library's files go, ``[Storage] LibraryFiles``), a bucket's videos, exports uploaded;
* :mod:`~videokit.storage.publish`: a folder built locally published below a prefix, its marker
  file (a dataset's manifest) removed first and uploaded last;
* :mod:`~videokit.storage.cache`: a bounded local cache of cloud objects, LRU-evicted;
* :mod:`~videokit.storage.dropbox`: Dropbox through its official SDK;
* :mod:`~videokit.storage.sync`: a record's files pulled before and pushed after a group of stages,
  for workers that share no disk.

fsspec and the providers' drivers are imported only when a cloud location is used.
"""

from __future__ import annotations

from videokit.storage.cache import Cached, LocalCache
from videokit.storage.files import ObjectInfo, Storage
from videokit.storage.location import CREDENTIALS, PROVIDERS, Location, is_cloud_url, parse_location
from videokit.storage.options import DropboxOptions, StorageOptions
from videokit.storage.places import library_files, list_videos, open_storage
from videokit.storage.transfer import Transferred, download, upload

__all__ = [
    "CREDENTIALS",
    "PROVIDERS",
    "Cached",
    "DropboxOptions",
    "LocalCache",
    "Location",
    "ObjectInfo",
    "Storage",
    "StorageOptions",
    "Transferred",
    "download",
    "is_cloud_url",
    "library_files",
    "list_videos",
    "open_storage",
    "parse_location",
    "upload",
]
