"""Dataset formats (plug-ins in the entry-point group ``videokit.formats``).

Built-ins: ``folder`` (Hugging Face video folder / torchvision Kinetics layout), ``kinetics``
(Kinetics CSV files), ``mmaction`` (MMAction2 annotation lists), ``webdataset`` (tar shards as
video2dataset writes them) and ``parquet`` (one row per clip). :mod:`.base` holds the interface
every format implements and what they share.
"""

from videokit.dataset.formats.base import (
    DEFAULT_SPLIT,
    UNLABELED,
    DatasetFormat,
    DatasetInfo,
    clip_metadata,
    clip_names,
    formats,
    get_format,
    safe_name,
)

__all__ = [
    "DEFAULT_SPLIT",
    "UNLABELED",
    "DatasetFormat",
    "DatasetInfo",
    "clip_metadata",
    "clip_names",
    "formats",
    "get_format",
    "safe_name",
]
