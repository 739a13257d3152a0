"""Read an MP4 file's sample table without a subprocess: how many video frames a clip holds.

A cut clip is an MP4 that ffmpeg just wrote; its ``moov`` box lists every sample of every track
(``stsz``: one entry per sample), so the frame count is one small read near the end of the file
instead of an ``ffprobe -count_packets`` (about 60 ms of process start-up per clip, more than a
stream-copied clip takes to cut). Only what that needs is parsed: the box tree
``moov/trak/mdia/{hdlr,minf/stbl/stsz|stz2}``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

_MAX_MOOV = 256 << 20  # a moov box larger than this is not one of our clips


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes in ``data[start:end]``."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for k, s, e in _boxes(data, start, end):
        if k == kind:
            return s, e
    return None


def _read_moov(path: Path) -> bytes | None:
    """The payload of the file's top-level ``moov`` box; None when it has none."""
    with open(path, "rb") as fh:
        size_total = fh.seek(0, 2)
        pos = 0
        while pos + 8 <= size_total:
            fh.seek(pos)
            head = fh.read(16)
            if len(head) < 8:
                return None
            size, kind = struct.unpack_from(">I4s", head)
            header = 8
            if size == 1 and len(head) == 16:
                (size,) = struct.unpack_from(">Q", head, 8)
                header = 16
            elif size == 0:
                size = size_total - pos
            if size < header:
                return None
            if kind == b"moov":
                if size > _MAX_MOOV:
                    return None
                fh.seek(pos + header)
                return fh.read(size - header)
            pos += size
    return None


def video_frames(path: Path) -> int | None:
    """The number of samples (frames) of the first video track of the MP4/MOV file ``path``;
    0 for a file whose video track is empty, None when the file has no readable sample table."""
    try:
        moov = _read_moov(path)
    except OSError:
        return None
    if moov is None:
        return None
    for kind, start, end in _boxes(moov):
        if kind != b"trak":
            continue
        mdia = _child(moov, start, end, b"mdia")
        if mdia is None:
            continue
        hdlr = _child(moov, *mdia, b"hdlr")
        if hdlr is None or moov[hdlr[0] + 8 : hdlr[0] + 12] != b"vide":  # version/flags, pre_defined, handler
            continue
        minf = _child(moov, *mdia, b"minf")
        stbl = _child(moov, *minf, b"stbl") if minf else None
        if stbl is None:
            return None
        table = _child(moov, *stbl, b"stsz") or _child(moov, *stbl, b"stz2")
        if table is None or table[1] - table[0] < 12:
            return None
        # stsz: version/flags, sample_size, sample_count; stz2: version/flags, reserved+field_size, sample_count
        (count,) = struct.unpack_from(">I", moov, table[0] + 8)
        return int(count)
    return None
