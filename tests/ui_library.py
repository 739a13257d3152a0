"""A made-up library for the web UI tests: records written straight to the store (no media).

Thirty videos with known tags, categories, resolutions, durations, source domains and dates,
so every count the pages show can be checked; one of them carries a title, a description, a
transcript and a tag holding ``<script>`` (text from the web).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from videokit.config import Config, load_config
from videokit.record import (
    Analysis,
    Classification,
    Embeddings,
    FileInfo,
    MediaInfo,
    Passage,
    Record,
    Scene,
    SceneInfo,
    Sentiment,
    Source,
    Tag,
    Transcript,
    TranscriptSegment,
)
from videokit.store import open_store

HOSTILE = '<script>alert("x")</script>'
# No speech model and no embedding model: these records have no media, and the jobs tests
# only need the pipeline to fetch (and fail).
QUICK = {("Transcription", "Enabled"): "false", ("Embeddings", "Enabled"): "false"}
NOW = _dt.datetime.now(_dt.UTC).replace(microsecond=0)


def rid(i: int) -> str:
    return f"{i:02d}" * 32


def make_record(
    i: int,
    *,
    title: str,
    tags: list[Tag],
    category: str,
    height: int,
    resolution: str,
    duration: float,
    domain: str | None,
    days_ago: float,
) -> Record:
    added = (NOW - _dt.timedelta(days=days_ago)).isoformat()
    url = f"https://{domain}/watch/{i}" if domain else None
    source = Source(url or f"/videos/{i}.mp4", kind="url" if url else "file", url=url, domain=domain, title=title)
    source.added_at = added
    scenes = [
        Scene(k, k * duration / 3, (k + 1) * duration / 3, k * 75, (k + 1) * 75, thumbnail=None) for k in range(3)
    ]
    return Record(
        id=rid(i),
        sources=[source],
        file=FileInfo(f"/videos/{i}.mp4", f"{i}.mp4", 1000 + i, rid(i)),
        media=MediaInfo(
            container="mov,mp4",
            duration=duration,
            width=height * 16 // 9,
            height=height,
            resolution=resolution,
            fps=25.0,
            video_codec="h264",
            audio_codec="aac",
            audio_streams=1,
            audio_channels=2,
        ),
        scenes=SceneInfo(scenes=scenes, scene_count=3),
        tags=tags,
        classification=Classification(category, 0.8 if category != "Unclassified" else 0.0),
        added_at=added,
    )


def build(library: Path) -> Config:
    """Write the thirty records into ``library``; the config that opens it."""
    config = load_config(None, env={}, overrides={("Library", "Location"): str(library), **QUICK})
    records: list[Record] = []
    for i in range(1, 31):
        # 10 "Harbour" videos (Nature, 1080p, youtube.com, 45 s, this week), the rest alternate
        harbour = i <= 10
        tags = [Tag("H.264 Codec", "builtin:h264", 1.0, "video_codec == h264")]
        if harbour:
            tags.append(Tag("Harbour", "rule:harbour", 0.9, "keyword 'harbour'"))
        if i % 3 == 0:
            tags.append(Tag("Night-time Filming", "analyzer:builtin/none", 0.7))
        records.append(
            make_record(
                i,
                title=f"Harbour walk {i}" if harbour else f"City clip {i}",
                tags=tags,
                category="Nature" if harbour else ("Sports" if i % 2 else "Unclassified"),
                height=1080 if harbour else 720,
                resolution="1080p" if harbour else "720p",
                duration=45.0 if harbour else (12.0 if i % 2 else 700.0),
                domain="youtube.com" if harbour else ("vimeo.com" if i % 2 else None),
                days_ago=2 if harbour else 60 + i,
            )
        )
    # made-up embeddings (not the configured model's) on four videos, for "similar videos":
    # 2 and 3 lie near 1, 11 far from it
    for i, vector in ((1, [1.0, 0.0, 0.0]), (2, [0.9, 0.1, 0.0]), (3, [0.8, 0.3, 0.0]), (11, [0.0, 0.2, 1.0])):
        title = records[i - 1].title
        records[i - 1].embeddings = Embeddings("made-up", 3, [Passage("title", "", title, vector=vector)])
    hostile = records[4]  # video 5
    hostile.sources[0].title = f"Harbour {HOSTILE} night"
    hostile.tags.append(Tag(f"tag {HOSTILE}", "user", 1.0))
    hostile.transcript = Transcript(
        origin="model:faster-whisper/tiny.en",
        language="en",
        segments=[
            TranscriptSegment(0.0, 4.0, "Welcome to the harbour."),
            TranscriptSegment(4.0, 9.5, f"Boats come in at dawn {HOSTILE}."),
            TranscriptSegment(9.5, 15.0, "The fish market opens at six."),
        ],
        model="tiny.en",
    )
    hostile.analysis = Analysis(
        backend="builtin",
        description=f"A calm harbour at dawn. {HOSTILE}",
        answers={"Is it night?": "No, it is filmed at dawn."},
        sentiment=Sentiment("positive", 0.62, "calm words", "text-derived"),
    )
    with open_store(config) as store:
        for r in records:
            store.upsert(r)
    return config
