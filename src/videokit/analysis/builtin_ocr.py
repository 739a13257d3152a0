"""On-screen text through the ``tesseract`` command (one process for all frames, no shell)."""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2

log = logging.getLogger(__name__)

MIN_WORD_CONF = 60.0  # tesseract word confidence (0-100) kept
OCR_WIDTH = 960  # frames are upscaled to about this width: tesseract wants ~30 px letters


def tesseract_exe() -> str | None:
    return shutil.which("tesseract")


def ocr_facts(stills: Sequence[Path], scratch: Path, lang: str = "eng") -> dict[str, Any]:
    """``{"available", "text", "lines", "frames_with_text", "per_frame"}`` for the frame images
    ``stills``; ``per_frame`` holds the lines read in each image, in the order of ``stills``
    (an empty list for an unreadable image or one without text)."""
    per_frame: list[list[str]] = [[] for _ in stills]
    exe = tesseract_exe()
    if exe is None:
        reason = "tesseract not installed (apt-get install tesseract-ocr)"
        return {"available": False, "reason": reason, "text": "", "per_frame": per_frame}
    empty: dict[str, Any] = {"available": True, "text": "", "lines": [], "frames_with_text": 0, "per_frame": per_frame}
    prepared = _prepare(stills, scratch)
    if not prepared:
        return empty
    listing = scratch / "ocr-images.txt"
    listing.write_text("\n".join(str(p) for _, p in prepared) + "\n", encoding="utf-8")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    cmd = [exe, str(listing), "stdout", "-l", lang, "--psm", "11", "tsv"]
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=30 + 10 * len(prepared), check=False, env=env)
    except subprocess.TimeoutExpired:
        log.warning("tesseract timed out on %d frames; no on-screen text recorded", len(prepared))
        return {**empty, "error": "timeout"}
    if out.returncode != 0:
        msg = out.stderr.decode("utf-8", "replace").strip().splitlines()
        log.warning("tesseract failed: %s", msg[-1] if msg else out.returncode)
        return {**empty, "error": "tesseract failed"}
    tsv = out.stdout.decode("utf-8", "replace")
    lines, pages = parse_tsv(tsv)
    by_page = page_lines(tsv)
    for page, (index, _) in enumerate(prepared, 1):  # tesseract numbers the listed images from 1
        per_frame[index] = by_page.get(page, [])
    return {**empty, "text": "\n".join(lines), "lines": lines, "frames_with_text": pages}


def _prepare(stills: Sequence[Path], scratch: Path) -> list[tuple[int, Path]]:
    """(index in ``stills``, upscaled padded image) for each readable still."""
    out = []
    for i, p in enumerate(stills):
        img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        if img is None:
            continue
        scale = max(1.0, OCR_WIDTH / img.shape[1])
        if scale > 1.0:
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        pad = max(8, img.shape[1] // 40)  # tesseract misses text that touches the border
        img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        target = scratch / f"ocr_{i:03d}.png"
        if cv2.imwrite(str(target), img):
            out.append((i, target))
    return out


def parse_tsv(tsv: str) -> tuple[list[str], int]:
    """(distinct confident text lines in reading order, number of pages with text)."""
    seen: set[str] = set()
    result: list[str] = []
    pages = page_lines(tsv)
    for lines in pages.values():
        for line in lines:
            norm = _norm(line)
            if norm not in seen:
                seen.add(norm)
                result.append(line)
    return result, len(pages)


def page_lines(tsv: str) -> dict[int, list[str]]:
    """Page number (1-based, the order of the image list) -> its distinct confident lines;
    pages without text are absent."""
    rows = csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE)
    lines: dict[tuple[str, ...], list[str]] = {}
    for r in rows:
        if r.get("level") != "5":
            continue
        text = (r.get("text") or "").strip()
        try:
            conf = float(r.get("conf") or -1)
        except ValueError:
            continue
        if conf < MIN_WORD_CONF or not _wordlike(text):
            continue
        key = tuple(r.get(k, "") for k in ("page_num", "block_num", "par_num", "line_num"))
        lines.setdefault(key, []).append(text)
    pages: dict[int, list[str]] = {}
    seen: set[tuple[str, str]] = set()
    for key, words in lines.items():
        line = " ".join(words)
        norm = _norm(line)
        if not _linelike(line) or not norm or (key[0], norm) in seen:
            continue
        seen.add((key[0], norm))
        try:
            page = int(key[0])
        except ValueError:
            continue
        pages.setdefault(page, []).append(line)
    return pages


def _norm(line: str) -> str:
    return re.sub(r"\W+", " ", line.casefold()).strip()


def _wordlike(text: str) -> bool:
    alnum = sum(c.isalnum() for c in text)
    return alnum >= 1 and alnum >= len(text) / 2


def _linelike(line: str) -> bool:
    """Drop noise: a line needs a word of 2+ letters/digits."""
    return any(sum(c.isalnum() for c in w) >= 2 for w in line.split())
