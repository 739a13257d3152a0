"""Fusing rankings, shared by every store: reciprocal-rank fusion (Cormack et al., 2009) of a
full-text ranking and a vector ranking, and the "a few moments per video" cap.

Pure functions over keys (video ids, passage ids): no store, no model.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Protocol, TypeVar

K = TypeVar("K", bound=Hashable)
RRF_K = 60  # the constant of reciprocal-rank fusion: 1 / (RRF_K + rank), ranks from 1


def rrf(rankings: Iterable[Sequence[K]], k: int = RRF_K) -> list[tuple[K, float]]:
    """Reciprocal-rank fusion: each key scores the sum over the rankings holding it of
    ``1 / (k + rank)`` (rank 1 = first); best first, ties kept in order of first appearance
    (the earlier ranking, then the better rank, wins). A key repeated in one ranking counts once,
    at its best rank."""
    scores: dict[K, float] = {}
    for ranking in rankings:
        seen: set[K] = set()
        for rank, key in enumerate(ranking, start=1):
            if key in seen:
                continue
            seen.add(key)
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    order = {key: i for i, key in enumerate(scores)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))


class _HasVideo(Protocol):
    video_id: str


T = TypeVar("T", bound=_HasVideo)


def cap_per_video(items: Iterable[T], per_video: int) -> list[T]:
    """``items`` (best first) keeping at most ``per_video`` of each video, order unchanged."""
    seen: dict[str, int] = {}
    out: list[T] = []
    for item in items:
        n = seen.get(item.video_id, 0)
        if n < per_video:
            seen[item.video_id] = n + 1
            out.append(item)
    return out


def best_per_group(scored: Iterable[tuple[K, float]], group: Callable[[K], str]) -> list[tuple[str, float]]:
    """The best score of each group (e.g. the video of each passage), best first; ``scored``
    need not be sorted. Ties keep the order of first appearance."""
    best: dict[str, float] = {}
    for key, score in scored:
        g = group(key)
        if g not in best or score > best[g]:
            best[g] = score
    order = {g: i for i, g in enumerate(best)}
    return sorted(best.items(), key=lambda kv: (-kv[1], order[kv[0]]))
