"""The model instruction: ``[QwenVL] DefaultInstruction`` + priority keywords + questions +
the JSON answer format. The text is deterministic for a given request (it is part of the
cache key)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from videokit.analysis.base import AnalysisRequest, FrameRef

SENTIMENT_LABELS = ("positive", "neutral", "negative")
TRANSCRIPT_CHARS = 2000  # of what is said, given to the model as context


def build_prompt(request: AnalysisRequest) -> str:
    """The full instruction text for one request."""
    return compose_prompt(
        request.instruction,
        keywords=request.priority_keywords,
        questions=request.questions,
        categories=request.categories,
        per_scene=request.per_scene,
        frames=request.frames,
        transcript=request.record.transcript.text if request.record.transcript else "",
    )


def compose_prompt(
    instruction: str,
    *,
    keywords: Sequence[str] = (),
    questions: Sequence[str] = (),
    categories: Sequence[str] = (),
    per_scene: bool = False,
    frames: Sequence[FrameRef] = (),
    transcript: str = "",
) -> str:
    lines = [instruction.strip()]
    said = trim_words(" ".join(transcript.split()), TRANSCRIPT_CHARS)
    if said:
        lines.append(f"What is said in the video (transcript): {said}")
    kws = [k.strip() for k in keywords if k.strip()]
    if kws:
        lines.append("Focus on these aspects: " + ", ".join(kws) + ".")
    qs = [q.strip() for q in questions if q.strip()]
    if qs:
        lines.append("Answer these questions about the video:")
        lines += [f"{i}. {q}" for i, q in enumerate(qs, 1)]
    if per_scene and frames:
        lines.append("The frames come from these scenes (in time order):")
        for scene, times in _scene_times(frames):
            lines.append(f"- scene {scene}: frames at " + ", ".join(f"{t:.1f}s" for t in times))
    lines.append("Reply with one JSON object and nothing else, using exactly these keys:")
    lines.append(_schema(qs, list(categories), per_scene and bool(frames)))
    return "\n".join(lines)


def trim_words(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters (``...`` marks the cut)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 3].rsplit(" ", 1)[0]
    return cut + "..."


def _scene_times(frames: Sequence[FrameRef]) -> list[tuple[int, list[float]]]:
    by_scene: dict[int, list[float]] = {}
    for f in sorted(frames, key=lambda f: f.time):
        by_scene.setdefault(f.scene, []).append(f.time)
    return sorted(by_scene.items())


def _schema(questions: list[str], categories: list[str], per_scene: bool) -> str:
    schema: dict[str, object] = {
        "description": "a detailed description of the whole video",
        "answers": {q: "your answer" for q in questions},
        "sentiment": {
            "label": "|".join(SENTIMENT_LABELS),
            "score": "a number from -1 (very negative) to 1 (very positive)",
            "reason": "one line",
        },
        "tags": ["short descriptive tags, 3 to 10"],
        "category": "one of: " + ", ".join(categories) if categories else "a one or two word genre",
    }
    if per_scene:
        schema["scenes"] = {"<scene number>": "a one or two sentence description of that scene"}
    return json.dumps(schema, ensure_ascii=False, indent=1)
