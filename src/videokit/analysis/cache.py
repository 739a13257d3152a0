"""Analysis results cached on disk so an identical re-run makes no model call.

The key is the SHA-256 of (content id, backend, model, backend version and settings, prompt
text, frame-sampling parameters): changing the questions, the priority keywords, the
instruction or the sampling changes the key. Files live in ``<library>/cache/analysis/``
and are written atomically (temp name in the same folder, then ``os.replace``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from videokit.record import Analysis, Record

if TYPE_CHECKING:
    from videokit.analysis.base import AnalysisRequest, Analyzer

log = logging.getLogger(__name__)

KEY_VERSION = 1


def cache_key(analyzer: Analyzer, request: AnalysisRequest) -> str:
    """The cache key of ``request`` analysed by ``analyzer``."""
    content = request.record.id or (request.record.file.sha256 if request.record.file else None)
    parts = {
        "v": KEY_VERSION,
        "content": content or str(request.video.resolve()),
        "backend": analyzer.name,
        "backend_version": analyzer.version,
        "model": analyzer.model,
        "params": analyzer.cache_params(),
        "prompt": request.prompt,
        "sampling": request.sampling,
        "frames": [[round(f.time, 3), f.scene] for f in request.frames],
    }
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class AnalysisCache:
    """JSON files keyed by :func:`cache_key`."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> Analysis | None:
        p = self.path(key)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            analysis = Record.from_dict({"analysis": data}).analysis
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as e:
            log.warning("ignoring unreadable analysis cache entry %s: %s", p, e)
            return None
        return analysis

    def put(self, key: str, analysis: Analysis) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        data = json.dumps(dataclasses.asdict(analysis), ensure_ascii=False)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data)
            os.replace(tmp, self.path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
