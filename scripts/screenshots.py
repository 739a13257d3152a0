"""Make the README's screenshots of the web UI: docs/screenshots/library.png and video.png.

Builds a demo-like library (the demo's three sample videos from scripts/make_sample.sh plus a few
more generated clips, processed by the default pipeline: builtin analyzer, transcription,
embeddings), serves it on 127.0.0.1 and photographs the pages in headless Chromium (Debian's
chromium + chromium-driver; nothing is downloaded)::

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--work /tmp/videokit-shots]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the Selenium helpers of the browser tests

# (file name, title, lavfi picture, seconds, tone Hz or None)
EXTRA = [
    ("mountain_lake.mp4", "Mountain lake, early light", "mandelbrot=size=1280x720:rate=25", 6, None),
    ("cycling_finish.mp4", "Cycling race: the final sprint", "testsrc2=size=1920x1080:rate=50", 5, 660),
    ("market_day.mp4", "Street market on a Saturday", "rgbtestsrc=size=1280x720:rate=25", 4, 330),
    ("signal_test.mp4", "Broadcast test card", "smptehdbars=size=1920x1080:rate=25", 3, 1000),
    ("life_timelapse.mp4", "Cells: a time-lapse", "life=size=640x360:rate=25:mold=10:ratio=0.3", 8, None),
]


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-nostdin", *args], check=True)


def make_media(folder: Path) -> None:
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "make_sample.sh"), str(folder)], check=True, stdout=subprocess.DEVNULL
    )
    for name, title, picture, seconds, tone in EXTRA:
        args = ["-f", "lavfi", "-t", str(seconds), "-i", picture]
        if tone:
            args += ["-f", "lavfi", "-i", f"sine=frequency={tone}:duration={seconds}", "-c:a", "aac"]
        args += ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-metadata", f"title={title}"]
        _ffmpeg(*args, str(folder / name))
    make_tour(folder)


TOUR = (
    "Welcome to the old harbour. The fishing boats come back at dawn with the night's catch. "
    "At six the fish market opens, and the first buyers arrive from the city."
)


def make_tour(folder: Path) -> Path:
    """A narrated clip of three shots with hard cuts: the video page's example."""
    speech = folder / "tour.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(speech), TOUR], check=True, capture_output=True)
    shots = ["mandelbrot=size=1280x720:rate=25", "testsrc2=size=1280x720:rate=25", "smptehdbars=size=1280x720:rate=25"]
    args: list[str] = []
    for shot in shots:
        args += ["-f", "lavfi", "-t", "4", "-i", shot]
    chain = ";".join(f"[{i}:v]format=yuv420p,setsar=1[v{i}]" for i in range(3))
    out = folder / "harbour_tour.mp4"
    _ffmpeg(
        *args,
        *("-i", str(speech), "-filter_complex", f"{chain};[v0][v1][v2]concat=n=3:v=1:a=0[v]"),
        *("-map", "[v]", "-map", "3:a", "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", "-shortest"),
        *("-metadata", "title=A walk around the old harbour", str(out)),
    )
    speech.unlink()
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--work", type=Path, default=None, help="where the library is built (default: a temp folder)")
    args = parser.parse_args()

    import uvicorn

    import browser
    from videokit import api
    from videokit.config import load_config
    from videokit.store import Query
    from videokit.web.app import create_app
    from videokit.web.keys import KeyStore
    from videokit.web.options import ServerOptions

    if (why := browser.missing()) is not None:
        print(f"cannot take screenshots: {why}", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="videokit-shots-"))
    shutil.rmtree(work / "library", ignore_errors=True)
    (work / "media").mkdir(parents=True, exist_ok=True)
    make_media(work / "media")
    config = load_config(None, env={}, overrides={("Library", "Location"): str(work / "library")})
    result = api.run([str(work / "media")], config)
    if not result.ok:
        print(f"some videos failed: {result.failures}", file=sys.stderr)
    tour = _id([r for r in api.search(config, Query()) if r.title == "A walk around the old harbour"], "harbour tour")
    api.edit_tags(config, tour, add=["Walking tour", "Favourite"])
    api.ask(config, tour, "Is it filmed at night?")
    keys = KeyStore(config.library)
    key = keys.create("screenshots", "admin").key
    keys.close()

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(config, ServerOptions(port=port, rate_limit="")), host="127.0.0.1", port=port)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    browser.wait_for(lambda: server.started, 30, "the server")
    site = f"http://127.0.0.1:{port}"
    driver = browser.start_chromium(1360, 860)
    try:
        driver.get(site + "/signin")
        driver.find_element("id", "key").send_keys(key)
        driver.find_element("css selector", ".signin button[type=submit]").click()
        browser.wait_for(lambda: driver.current_url.rstrip("/") == site, what="the library page")
        _images_loaded(driver, browser)
        args.out.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(args.out / "library.png"))

        driver.get(f"{site}/videos/{tour}?t=5")
        browser.wait_for(
            lambda: driver.execute_script("var v = document.getElementById('player'); return v.readyState >= 2"),
            what="the player",
        )
        _images_loaded(driver, browser)
        time.sleep(0.5)
        browser.screenshot(driver, args.out, "video")
    finally:
        driver.quit()
        server.should_exit = True
        thread.join(15)
    print(f"wrote {args.out / 'library.png'} and {args.out / 'video.png'} (library in {work})")
    return 0


def _id(records: list, what: str) -> str:
    if not records or not records[0].id:
        raise SystemExit(f"no {what} video in the demo library")
    return records[0].id


def _images_loaded(driver: object, browser: object) -> None:
    script = "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
    browser.wait_for(lambda: driver.execute_script(script), 20, "the thumbnails")  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())
