"""The pipeline stage: scenes, thumbnails, contact sheet and analysis frames per record."""

from __future__ import annotations

import logging
from pathlib import Path

from videokit.damage import apply_decoded, describe
from videokit.errors import InputError
from videokit.pipeline import Context, Stage
from videokit.record import Record
from videokit.scenes import SceneOptions, detect_scenes

log = logging.getLogger(__name__)


class ScenesStage(Stage):
    """Scenes, pictures, and the decoded frame count: where it disagrees with the header (a file
    cut short), ``record.media`` keeps the decoded values and is marked damaged."""

    name = "scenes"
    required = False  # a video whose scenes fail can still be tagged and searched
    optional = True
    after = "probe"
    needs = frozenset({"file", "media"})
    provides = frozenset({"scenes", "frames"})

    def __init__(self, options: SceneOptions | None = None) -> None:
        self.options = options

    def setup(self, ctx: Context) -> None:
        if self.options is None:
            self.options = SceneOptions.from_config(ctx.config)

    def process(self, record: Record, ctx: Context) -> None:
        if record.file is None:
            raise InputError(f"{record.id or '?'}: no video file to find scenes in")
        if self.options is None:
            self.setup(ctx)
        out_dir = ctx.config.processed_dir / (record.id or Path(record.file.path).stem)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        info = detect_scenes(
            ctx.abspath(record.file.path), self.options, out_dir=out_dir, relpath=ctx.relpath, media=record.media
        )
        if info.decode_errors:
            log.warning(
                "%s: %d decoder errors (damaged packets); scenes may be incomplete",
                record.file.path,
                info.decode_errors,
            )
        record.scenes = info
        media = record.media
        if media is not None:
            known = media.damaged  # the probe stage said so already
            if apply_decoded(media, info.frames_decoded, info.decoded_duration) and not known:
                log.warning("%s: %s", record.file.path, describe(media))
