"""Probe the real videos in the shared media folder (skipped when it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from videokit.probe import media_info, resolution_label


def test_probe_shared_media(shared_media: Path) -> None:
    videos = sorted(p for p in shared_media.iterdir() if p.suffix in {".mp4", ".mkv", ".webm"})
    assert videos
    for path in videos:
        info = media_info(path)
        assert info.width and info.height and info.duration and info.fps, path.name
    rot = media_info(shared_media / "issue-134-rotate.mp4")
    assert rot.rotation in (90, 270) and rot.height > rot.width  # dimensions as displayed
    mkv = media_info(shared_media / "issue-236-split-copy.mkv")
    assert mkv.resolution == "1080p"
    assert mkv.subtitle_streams == 3 and mkv.subtitle_languages == ["eng", "por", "spa"]
    delayed = media_info(shared_media / "delayed_start.mp4")
    assert delayed.start_time == pytest.approx(1.075, abs=0.01)
    vfr = media_info(shared_media / "goldeneye-vfr-drop3.mp4")
    assert vfr.audio_streams == 0 and vfr.audio_codec is None


@pytest.mark.parametrize(
    ("w", "h", "label"),
    [
        (3840, 2160, "4K"),
        (4096, 1716, "4K"),
        (2560, 1440, "1440p"),
        (1920, 1080, "1080p"),
        (1920, 800, "1080p"),
        (1080, 1920, "1080p"),
        (1280, 720, "720p"),
        (854, 480, "480p"),
        (640, 480, "480p"),
        (320, 240, "SD"),
        (None, 5, None),
    ],
)
def test_resolution_labels(w: int | None, h: int, label: str | None) -> None:
    assert resolution_label(w, h) == label
