"""Turns the builtin analyzer's measurements into a description, tags, answers, a
category suggestion and a text-derived sentiment. Every sentence states a measurement."""

from __future__ import annotations

import re
from typing import Any

from videokit.analysis.base import AnalysisRequest
from videokit.analysis.builtin_faces import face_confidence
from videokit.record import Sentiment, Tag

PREFIX = "Builtin analyzer (no vision-language model):"


class TextSentiment:
    """VADER over text; built once per process (it loads its lexicon)."""

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._vader = SentimentIntensityAnalyzer()

    def score(self, text: str) -> float:
        return float(self._vader.polarity_scores(text)["compound"])


class Report:
    def __init__(
        self, request: AnalysisRequest, facts: dict[str, Any], ocr_text: str, origin: str, sentiment: TextSentiment
    ) -> None:
        self.request = request
        self.facts = facts
        self.ocr_text = ocr_text
        self.origin = origin
        self._sentiment = sentiment

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
        texts = [self.ocr_text] if self.ocr_text else []
        for s in self.request.record.sources:
            texts += [t for t in (s.title, s.description) if t]
        media = self.request.record.media
        if media:
            texts += [media.tags[k] for k in ("title", "description", "comment") if media.tags.get(k)]
        text = " ".join(texts).strip()
        if not text:
            return Sentiment("neutral", 0.0, "no on-screen or source text to judge", "text-derived")
        score = self._sentiment.score(text)
        label = "positive" if score >= 0.05 else "negative" if score <= -0.05 else "neutral"
        return Sentiment(
            label, round(score, 3), f"VADER over on-screen and source text: {_clip(text, 80)!r}", "text-derived"
        )

    # -- answers -----------------------------------------------------------------------
    def answers(self) -> tuple[dict[str, str], list[str]]:
        got: dict[str, str] = {}
        missing: list[str] = []
        for q in self.request.questions:
            a = self.answer(q)
            if a is None:
                missing.append(q)
            else:
                got[q] = a
        return got, missing

    def answer(self, question: str) -> str | None:
        """An answer from the measurements when the question is about one, else None."""
        q = question.casefold()
        f = self.facts
        if _any(q, "night", "dark", "light", "bright", "exposure"):
            b = f["brightness"]
            return f"Mean brightness {b.get('mean_luma')} of 255: {self._light_phrase() or 'unknown'}."
        if _any(q, "text", "written", "writing", "caption", "title card", "sign", "say on screen", "read"):
            return (
                f'On-screen text: "{_clip(" / ".join(self.ocr_text.splitlines()), 300)}".'
                if self.ocr_text
                else "No readable on-screen text was found."
            )
        if _any(q, "face", "people", "person", "persons", "human", "crowd"):
            return self._faces_phrase() or "Faces could not be checked (no frame was readable)."
        if _any(q, "sound", "audio", "music", "speech", "speak", "talk", "voice", "silent", "noise", "loud", "quiet"):
            return self._audio_phrase()
        if _any(q, "camera", "pan", "tilt", "zoom", "motion", "moving", "move", "static", "still", "fast", "action"):
            return self._camera_phrase() or "Camera motion could not be measured."
        if _any(q, "colour", "color"):
            return (self._colour_phrase() or "unknown") + "."
        if _any(q, "how long", "duration", "length"):
            m = self.request.record.media
            return f"{m.duration:.1f} seconds." if m and m.duration else None
        if _any(q, "cuts", "scenes", "pace", "editing"):
            p = f["pace"]
            if p.get("cuts_per_minute") is None:
                return None
            return f"{p['scene_count']} scenes, {p['cuts_per_minute']:g} cuts per minute ({p['level']} pace)."
        return None

    def scene_descriptions(self) -> dict[str, str]:
        """Per scene: which sampled frames fall in it and their brightness; honest and short."""
        scenes = self.request.record.scenes
        out: dict[str, str] = {}
        for s in scenes.scenes if scenes else []:
            out[str(s.index)] = f"{PREFIX} scene {s.index}, {s.start:.1f}-{s.end:.1f} s ({s.end - s.start:.1f} s)."
        return out


def _any(text: str, *words: str) -> bool:
    return any(re.search(rf"\b{re.escape(w)}", text) for w in words)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"
