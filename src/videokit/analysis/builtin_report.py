"""Turns the builtin analyzer's measurements into a description, tags, answers, per-scene
descriptions, a category suggestion and a text-derived sentiment. Every sentence states a
measurement; a question no measurement answers gets :data:`NOT_ANSWERABLE`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from videokit.analysis.base import AnalysisRequest
from videokit.analysis.builtin_faces import face_confidence
from videokit.analysis.builtin_questions import NOT_ANSWERABLE, topic
from videokit.analysis.builtin_vision import brightness_facts, color_facts, frame_change
from videokit.record import Sentiment, Tag

PREFIX = "Builtin analyzer (no vision-language model):"


class TextSentiment:
    """VADER over text; built once per process (it loads its lexicon)."""

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._vader = SentimentIntensityAnalyzer()

    def score(self, text: str) -> float:
        return float(self._vader.polarity_scores(text)["compound"])


@dataclass(slots=True)
class FrameMeasure:
    """What was measured on one sampled frame: its RGB still (None when unreadable), the
    confirmed frontal faces in it and the on-screen text lines read there."""

    time: float
    scene: int
    still: np.ndarray | None
    faces: int | None = None
    text: list[str] = field(default_factory=list)


class Report:
    def __init__(
        self,
        request: AnalysisRequest,
        facts: dict[str, Any],
        ocr_text: str,
        origin: str,
        sentiment: TextSentiment,
        frames: Sequence[FrameMeasure] = (),
    ) -> None:
        self.request = request
        self.facts = facts
        self.ocr_text = ocr_text
        self.origin = origin
        self._sentiment = sentiment
        self.frames = list(frames)

    # -- description -------------------------------------------------------------------
    def description(self) -> str:
        parts = [PREFIX]
        m = self.request.record.media
        if m and m.duration:
            res = f" {m.resolution}" if m.resolution else ""
            parts.append(f"a {m.duration:.1f}-second{res} video.")
        picture = [w for w in (self._light_phrase(), self._colour_phrase()) if w]
        if picture:
            parts.append("Picture: " + "; ".join(picture) + ".")
        camera = self._camera_phrase()
        if camera:
            parts.append(camera)
        faces = self._faces_phrase()
        if faces:
            parts.append(faces)
        pace = self.facts["pace"]
        if pace.get("cuts_per_minute") is not None:
            n = pace["scene_count"]
            parts.append(
                f"{n} scene{'s' if n != 1 else ''}, {pace['cuts_per_minute']:g} cuts per minute ({pace['level']} pace)."
            )
        parts.append(self._audio_phrase())
        if self.ocr_text:
            shown = " / ".join(self.ocr_text.splitlines())
            parts.append(f'On-screen text reads: "{_clip(shown, 300)}".')
        return " ".join(parts)

    def _light_phrase(self) -> str | None:
        level = self.facts["brightness"].get("level")
        return {
            "dark": "dark, low-light footage (night-time or an unlit scene)",
            "dim": "dim lighting",
            "bright": "bright, high-key footage",
            "normal": "normal exposure",
        }.get(level or "")

    def _colour_phrase(self) -> str | None:
        c = self.facts["colors"]
        if c.get("level") is None:
            return None
        names = [d["name"] for d in c.get("dominant", [])[:3]]
        return c["level"] + (f" colours, mostly {', '.join(names)}" if names else " colours")

    def _camera_phrase(self) -> str | None:
        cam = self.facts["camera_motion"]
        label = cam.get("label")
        level = self.facts["motion"].get("level")
        if label is None:
            return None
        text = {
            "static": "the camera is static",
            "pan": f"the camera pans {cam.get('direction')}",
            "tilt": f"the camera tilts {cam.get('direction')}",
            "zoom": f"the camera zooms {cam.get('direction')}",
            "moving subject": "a static camera on moving subjects",
            "handheld or mixed": "handheld or mixed camera movement",
        }.get(label, label)
        return f"Camera: {text} ({level} motion)."

    def _faces_phrase(self) -> str | None:
        f = self.facts.get("faces") or {}
        n = int(f.get("frames") or 0)
        if not f.get("available") or n == 0:
            return None
        hits = int(f.get("frames_with_faces") or 0)
        frames = f"{n} sampled frame{'s' if n != 1 else ''}"
        if hits == 0:
            return f"Faces: no frontal face detected in the {frames}."
        if hits == 1 and n > 1:
            return f"Faces: a possible frontal face in 1 of the {frames}, seen in no other (not tagged)."
        most = int(f.get("max_faces") or 0)
        at_once = f"{most} at once" if most > 1 else "one at a time"
        return f"Faces: a frontal face is visible in {hits} of the {frames} ({at_once})."

    def _audio_phrase(self) -> str:
        a = self.facts["audio"]
        if not a.get("has_audio"):
            return "No audio track."
        if a.get("silent"):
            return "The audio track is silent."
        return f"Audio: {a['loudness']} ({a['mean_volume_db']} dB mean), {a['character']}."

    # -- tags --------------------------------------------------------------------------
    def tags(self) -> list[Tag]:
        out: list[tuple[str, float]] = []
        b, c, cam, mo, a = (self.facts[k] for k in ("brightness", "colors", "camera_motion", "motion", "audio"))
        if b.get("level") == "dark":
            out += [("Low Light", 0.85), ("Night", 0.5)]
        elif b.get("level") == "bright":
            out.append(("Bright", 0.7))
        if c.get("level") == "grayscale":
            out.append(("Black and White", 0.8))
        elif c.get("level") == "very colourful":
            out.append(("Colourful", 0.7))
        conf = float(cam.get("confidence") or 0)
        label = cam.get("label")
        named = {"static": "Static Shot", "pan": "Camera Pan", "tilt": "Camera Tilt", "zoom": "Camera Zoom"}
        if label in named and conf >= 0.5:
            out.append((named[label], round(0.4 + 0.5 * conf, 2)))
        if mo.get("level") == "high":
            out.append(("High Motion", 0.7))
        if self.ocr_text:
            out.append(("On-screen Text", 0.8))
        face_conf = face_confidence(self.facts.get("faces") or {})
        if face_conf > 0:
            out.append(("Faces", face_conf))
        if not a.get("has_audio") or a.get("silent"):
            out.append(("Silent", 0.9 if a.get("has_audio") else 1.0))
        else:
            char = a.get("character")
            named_audio = {"speech-like": "Speech", "music-like": "Music", "steady tone": "Steady Tone"}
            if char in named_audio:
                out.append((named_audio[char], float(a.get("character_confidence") or 0.3)))
        return [Tag(name=n, origin=self.origin, confidence=c) for n, c in out]

    def category(self) -> str | None:
        """Only a signal the measurements support: sustained high motion with fast cutting."""
        if "Action" not in self.request.categories:
            return None
        mo, pace, cam = self.facts["motion"], self.facts["pace"], self.facts["camera_motion"]
        fast = (pace.get("cuts_per_minute") or 0) > 20
        if mo.get("level") == "high" and fast and cam.get("label") not in (None, "static"):
            return "Action"
        return None

    # -- sentiment ---------------------------------------------------------------------
    def sentiment(self) -> Sentiment:
        transcript = self.request.record.transcript
        texts = [transcript.text] if transcript is not None and transcript.text else []
        texts += [self.ocr_text] if self.ocr_text else []
        for s in self.request.record.sources:
            texts += [t for t in (s.title, s.description) if t]
        media = self.request.record.media
        if media:
            texts += [media.tags[k] for k in ("title", "description", "comment") if media.tags.get(k)]
        text = " ".join(texts).strip()
        if not text:
            return Sentiment("neutral", 0.0, "no spoken, on-screen or source text to judge", "text-derived")
        score = self._sentiment.score(text)
        label = "positive" if score >= 0.05 else "negative" if score <= -0.05 else "neutral"
        return Sentiment(
            label, round(score, 3), f"VADER over spoken, on-screen and source text: {_clip(text, 80)!r}", "text-derived"
        )

    # -- answers -----------------------------------------------------------------------
    def answers(self) -> tuple[dict[str, str], list[str]]:
        """(an answer for every question, the questions that got :data:`NOT_ANSWERABLE`)."""
        got = {q: self.answer(q) for q in self.request.questions}
        return got, [q for q, a in got.items() if a == NOT_ANSWERABLE]

    def answer(self, question: str) -> str:
        """The measurement that answers ``question`` when the whole question is about one,
        else :data:`NOT_ANSWERABLE`."""
        about = topic(question)
        answer = {
            "light": self._answer_light,
            "text": self._answer_text,
            "faces": self._answer_faces,
            "camera": self._answer_camera,
            "colors": self._answer_colors,
            "speech": lambda: self._answer_audio("speech-like", "speech"),
            "music": lambda: self._answer_audio("music-like", "music"),
            "sound": self._audio_phrase,
            "scenes": self._answer_scenes,
            "duration": self._answer_duration,
        }.get(about or "")
        return answer() if answer is not None else NOT_ANSWERABLE

    def _answer_light(self) -> str:
        b = self.facts["brightness"]
        if b.get("level") is None:
            return "Brightness could not be measured: no sampled frame was readable."
        dark = f"{b.get('dark_frames')} of {b.get('frames')} sampled frames dark"
        measured = f"mean brightness {b['mean_luma']:g} of 255, {dark}"
        if b["level"] == "dark":
            return (
                f"The picture is dark ({measured}): night-time or an unlit scene; brightness alone cannot tell which."
            )
        return f"The picture is not dark: {self._light_phrase()} ({measured})."

    def _answer_text(self) -> str:
        ocr = self.facts.get("ocr") or {}
        if ocr.get("available") is False:
            return f"On-screen text could not be checked: {ocr.get('reason') or 'OCR is not available'}."
        if self.ocr_text:
            return f'On-screen text (OCR) reads: "{_clip(" / ".join(self.ocr_text.splitlines()), 300)}".'
        return f"No readable on-screen text was found by OCR in {_frames(len(self.request.frames))}."

    def _answer_faces(self) -> str:
        phrase = self._faces_phrase()
        if phrase is None:
            return "Faces could not be checked: no sampled frame was readable."
        return phrase + " Only frontal faces are counted: people seen from the side or behind, or small, are not."

    def _answer_camera(self) -> str:
        phrase = self._camera_phrase()
        if phrase is None:
            return "Camera motion could not be measured: no frames could be decoded for optical flow."
        mo = self.facts["motion"]
        return f"{phrase} Median optical-flow speed {mo.get('intensity'):g} frame widths per second."

    def _answer_colors(self) -> str:
        c = self.facts["colors"]
        if c.get("level") is None:
            return "Colours could not be measured: no sampled frame was readable."
        shares = ", ".join(f"{d['name']} {round(100 * d['share'])}%" for d in c.get("dominant", [])[:4])
        return f"Colours: {c['level']} (colourfulness {c['colorfulness']:g}); share of the pixels: {shares}."

    def _answer_audio(self, character: str, what: str) -> str:
        a = self.facts["audio"]
        if not a.get("has_audio"):
            return f"No {what}: the video has no audio track."
        if a.get("silent"):
            return f"No {what}: the audio track is silent."
        heard = a.get("character")
        guess = f"(an energy and spectrum heuristic, confidence {a.get('character_confidence')})"
        if heard == character:
            lead = f"Possibly: the audio was classed as {character} {guess}."
        else:
            lead = f"Not detected: the audio was classed as {heard}, not {character} {guess}."
        return f"{lead} {self._audio_phrase()}"

    def _answer_scenes(self) -> str:
        p = self.facts["pace"]
        if p.get("cuts_per_minute") is None:
            return "Scenes were not measured: scene detection did not run on this video."
        n = int(p["scene_count"])
        cuts = f"{n - 1} cut{'s' if n != 2 else ''}"
        return (
            f"{n} scene{'s' if n != 1 else ''} ({cuts}), {p['cuts_per_minute']:g} cuts per minute ({p['level']} pace)."
        )

    def _answer_duration(self) -> str:
        m = self.request.record.media
        if not m or not m.duration:
            return "The duration is not known: the file's metadata does not give it."
        return f"{m.duration:.1f} seconds."

    # -- per scene -----------------------------------------------------------------------
    def scene_facts(self) -> dict[str, dict[str, Any]]:
        """Per scene (by index), what was measured on the sampled frames that fall in it."""
        scenes = self.request.record.scenes
        faces_tagged = face_confidence(self.facts.get("faces") or {}) > 0
        ocr = self.facts.get("ocr") or {}
        out: dict[str, dict[str, Any]] = {}
        for s in scenes.scenes if scenes else []:
            mine = sorted((m for m in self.frames if m.scene == s.index), key=lambda m: m.time)
            readable = [m for m in mine if m.still is not None]
            facts: dict[str, Any] = {"sampled_frames": len(mine), "frames": len(readable)}
            if readable:
                stills = [m.still for m in readable if m.still is not None]
                b, c = brightness_facts(stills), color_facts(stills)
                counts = [m.faces for m in readable if m.faces is not None]
                facts.update(
                    times=[round(m.time, 3) for m in readable],
                    brightness={"mean_luma": b["mean_luma"], "level": b["level"]},
                    colors={"level": c.get("level"), "dominant": c.get("dominant", [])[:3]},
                    change=frame_change(stills),
                    faces={
                        "frames": len(counts),
                        "frames_with_faces": sum(n > 0 for n in counts),
                        "max_faces": max(counts, default=0),
                        "tagged": faces_tagged,
                    },
                    text=_unique(line for m in readable for line in m.text) if ocr.get("available") else None,
                )
            out[str(s.index)] = facts
        return out

    def scene_descriptions(self, facts: dict[str, dict[str, Any]] | None = None) -> dict[str, str]:
        """Per scene, one sentence of what was measured there (``facts``: :meth:`scene_facts`)."""
        facts = self.scene_facts() if facts is None else facts
        return {index: f"{PREFIX} {scene_sentence(f, self.facts.get('ocr') or {})}" for index, f in facts.items()}


def scene_sentence(f: dict[str, Any], ocr: dict[str, Any]) -> str:
    """What was measured in one scene, from its :meth:`Report.scene_facts` entry."""
    if not f.get("sampled_frames"):
        return "no sampled frame falls in this scene, so nothing was measured in it."
    if not f.get("frames"):
        return f"the {_frames(f['sampled_frames'])} of this scene could not be read, so nothing was measured in it."
    n = f["frames"]
    b, c, ch, fa = f["brightness"], f["colors"], f["change"], f["faces"]
    light = {"dark": "dark", "dim": "dim", "bright": "bright", "normal": "normal exposure"}[b["level"]]
    parts = [f"{light} (mean brightness {b['mean_luma']:g} of 255)"]
    names = [d["name"] for d in c.get("dominant", [])]
    if c.get("level"):
        parts.append(c["level"] + (f", mostly {', '.join(names)}" if names else ""))
    if ch.get("level") is None:
        parts.append("motion not measured (one frame)")
    else:
        word = {"still": "little", "some": "some", "large": "large"}[ch["level"]]
        parts.append(f"{word} change between its frames ({100 * ch['mean_change']:.1f}% mean pixel difference)")
    hits = fa["frames_with_faces"]
    if hits == 0:
        parts.append("no frontal face detected")
    elif not fa["tagged"]:
        parts.append(
            f"a possible frontal face in {hits} of its {n} frames (seen in no other sampled frame; not tagged)"
        )
    else:
        most = fa["max_faces"]
        parts.append(f"a frontal face in {hits} of its {n} frames" + (f", {most} at once" if most > 1 else ""))
    text = f.get("text")
    if text is None:
        parts.append(f"on-screen text not checked ({ocr.get('reason') or 'OCR not available'})")
    elif text:
        parts.append(f'on-screen text reads "{_clip(" / ".join(text), 200)}"')
    else:
        parts.append("no readable on-screen text")
    return f"measured on {_frames(n)} of this scene: " + "; ".join(parts) + "."


def _frames(n: int) -> str:
    return f"{n} sampled frame{'s' if n != 1 else ''}"


def _unique(lines: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for line in lines:
        key = " ".join(line.casefold().split())
        if key not in seen:
            seen.add(key)
            out.append(line)
    return out


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"
