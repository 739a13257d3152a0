"""The web UI in a real browser: headless Chromium (Debian's, through chromium-driver) against
``videokit serve``'s application on 127.0.0.1, over a library made from generated videos.

One server and one browser serve the whole module. Screenshots of each step are saved under
``$VIDEOKIT_ARTIFACTS`` (or the pytest temporary folder) as test artifacts.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import browser
from browser import screenshot, wait_for
from httpserver import TestServer
from media import ffmpeg, make_scenes_video, make_video
from videokit import api
from videokit.config import Config, load_config

pytestmark = pytest.mark.skipif(browser.missing() is not None, reason=str(browser.missing()))

CUES = [
    (0.5, 3.0, "Welcome to the harbour at dawn."),
    (3.5, 6.0, "The boats come back with the night's catch."),
    (6.5, 9.5, "The fish market opens at six."),
]


def make_subtitled_video(path: Path, cues: list[tuple[float, float, str]], duration: float = 10.0) -> Path:
    """A clip with a text subtitle stream (mov_text): its transcript, read instead of a speech model."""

    def stamp(t: float) -> str:
        return f"00:00:{int(t):02d},{round(t % 1 * 1000):03d}"

    srt = path.with_suffix(".srt")
    srt.write_text("".join(f"{i}\n{stamp(a)} --> {stamp(b)}\n{text}\n\n" for i, (a, b, text) in enumerate(cues, 1)))
    ffmpeg(
        *("-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={duration}"),
        *("-f", "lavfi", "-i", f"sine=frequency=330:duration={duration}", "-i", str(srt)),
        *(
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-map",
            "2:s",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ),
        *("-c:a", "aac", "-c:s", "mov_text", "-metadata:s:s:0", "language=eng", str(path)),
    )
    return path


@dataclass
class Site:
    url: str
    config: Config
    key: str
    files: TestServer  # serves videos to submit on the jobs page
    artifacts: Path
    harbour: str  # video ids
    city: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    import uvicorn

    from videokit.web.app import create_app
    from videokit.web.keys import KeyStore
    from videokit.web.options import ServerOptions

    media = tmp_path_factory.mktemp("browser-media")
    harbour = make_subtitled_video(media / "Harbour at dawn.mp4", CUES)
    city = make_scenes_video(
        media / "City at night.mp4", ["smptebars", "testsrc2", "mandelbrot", "rgbtestsrc"], seg=1.5
    )
    library = tmp_path_factory.mktemp("browser-lib")
    # the transcript comes from the harbour clip's subtitles; no embedding model: text search is enough here
    config = load_config(
        None, env={}, overrides={("Library", "Location"): str(library), ("Embeddings", "Enabled"): "false"}
    )
    result = api.run([str(harbour), str(city)], config)
    assert result.ok, result.failures
    ids = {r.title: r.id or "" for r in result.records}
    keys = KeyStore(config.library)
    key = keys.create("browser tests", "write").key
    keys.close()

    options = ServerOptions(port=_free_port(), rate_limit="", allow_private_urls=True)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config, options), host="127.0.0.1", port=options.port, log_level="warning", lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    wait_for(lambda: server.started, 20, "the server to start")
    artifacts = Path(os.environ.get("VIDEOKIT_ARTIFACTS") or tmp_path_factory.mktemp("artifacts")) / "browser"
    with TestServer() as files:
        try:
            yield Site(
                f"http://127.0.0.1:{options.port}",
                config,
                key,
                files,
                artifacts,
                ids["Harbour at dawn"],
                ids["City at night"],
            )
        finally:
            server.should_exit = True
            thread.join(15)


@pytest.fixture(scope="module")
def chromium(site: Site) -> Iterator[Any]:
    driver = browser.start_chromium()
    try:
        driver.get(site.url + "/")  # not signed in: the sign-in form, which leads back here
        wait_for(lambda: "/signin" in driver.current_url, what="the sign-in form")
        driver.find_element("id", "key").send_keys(site.key)
        driver.find_element("css selector", ".signin button[type=submit]").click()
        wait_for(lambda: driver.current_url.rstrip("/") == site.url, what="the library after signing in")
        yield driver
    finally:
        driver.quit()


def player_time(driver: Any) -> float:
    return float(driver.execute_script("return document.getElementById('player').currentTime"))


def ready(driver: Any) -> bool:
    return bool(driver.execute_script("var v = document.getElementById('player'); return v && v.readyState >= 1"))


def test_search_then_open_a_video_from_the_grid(site: Site, chromium: Any) -> None:
    chromium.get(site.url + "/")
    box = chromium.find_element("id", "q")
    box.send_keys("harbour")
    box.submit()
    wait_for(lambda: "harbour" in chromium.find_element("css selector", ".summary").text, what="the search results")
    titles = [a.text for a in chromium.find_elements("css selector", ".card .title")]
    assert titles == ["Harbour at dawn"]
    moments = chromium.find_elements("css selector", ".moments a")
    assert moments and f"/videos/{site.harbour}?t=" in moments[0].get_attribute("href")
    screenshot(chromium, site.artifacts, "search")
    chromium.find_element("css selector", ".card .title").click()
    wait_for(
        lambda: chromium.find_element("css selector", "h1.video-title").text == "Harbour at dawn", what="the video page"
    )
    wait_for(lambda: ready(chromium), what="the player to load the video")
    duration = chromium.execute_script("return document.getElementById('player').duration")
    assert abs(duration - api.get(site.config, site.harbour).media.duration) < 0.2
    screenshot(chromium, site.artifacts, "video")


def test_a_click_on_a_scene_moves_the_player_there(site: Site, chromium: Any) -> None:
    chromium.get(f"{site.url}/videos/{site.city}")
    wait_for(lambda: ready(chromium), what="the player to load the video")
    scenes = chromium.find_elements("css selector", ".strip .scene")
    assert len(scenes) == 4
    wait_for(
        lambda: all(
            i.get_attribute("naturalWidth") != "0" for i in chromium.find_elements("css selector", ".strip img")
        ),
        what="the scene thumbnails",
    )
    third = scenes[2]
    start = float(third.get_attribute("data-seek"))
    assert 2.9 <= start <= 3.1
    third.click()
    wait_for(lambda: abs(player_time(chromium) - start) < 0.05, what=f"currentTime {start}")
    wait_for(lambda: "current" in third.get_attribute("class"), what="the scene marked as the current one")
    screenshot(chromium, site.artifacts, "scene-clicked")


def test_the_transcript_follows_the_player_and_a_click_seeks(site: Site, chromium: Any) -> None:
    start = 4.0  # inside the second cue
    chromium.get(f"{site.url}/videos/{site.harbour}?t={start:.2f}")
    wait_for(lambda: abs(player_time(chromium) - start) < 0.05, what="?t= to open the video there")
    segments = chromium.find_elements("css selector", ".segments .segment")
    assert [s.find_element("css selector", ".text").text for s in segments] == [text for _, _, text in CUES]
    wait_for(lambda: "current" in segments[1].get_attribute("class"), what="the sentence said at 0:04 highlighted")
    segments[2].click()
    wait_for(lambda: abs(player_time(chromium) - 6.5) < 0.05, what="the click to seek to 6.5 s")
    wait_for(
        lambda: "current" in segments[2].get_attribute("class") and "current" not in segments[1].get_attribute("class"),
        what="the highlight to follow the player",
    )


def test_a_question_asked_on_the_page_is_answered_and_kept(site: Site, chromium: Any) -> None:
    page = f"{site.url}/videos/{site.city}"
    chromium.get(page)
    chromium.find_element("id", "question").send_keys("Is it filmed at night?")
    chromium.find_element("css selector", "form.ask button").click()
    answer = wait_for(lambda: chromium.find_element("id", "answer").text, 60, "the answer")
    assert answer.startswith("Is it filmed at night?") and len(answer) > len("Is it filmed at night?") + 5
    chromium.get(page)  # kept with the video
    assert "Is it filmed at night?" in chromium.find_element("css selector", ".answers").text


def test_a_tag_added_on_the_page_is_still_there_after_a_reload(site: Site, chromium: Any) -> None:
    page = f"{site.url}/videos/{site.city}"
    chromium.get(page)
    chromium.find_element("id", "add-tag").send_keys("Night walk")
    chromium.find_element("css selector", ".add-tag button").click()
    wait_for(lambda: "Night walk" in chromium.find_element("css selector", ".tag-list").text, what="the new tag")
    chromium.get(page)  # a reload: what the page shows comes from the library
    mine = [t for t in chromium.find_elements("css selector", ".tag.origin-user") if "Night walk" in t.text]
    assert mine and "user" in mine[0].find_element("css selector", ".origin").text
    assert any(t.name == "Night walk" and t.origin == "user" for t in api.get(site.config, site.city).tags)
    mine[0].find_element("css selector", "button.remove").click()
    wait_for(lambda: "Night walk" not in chromium.find_element("css selector", ".tag-list").text, what="the tag to go")
    chromium.get(page)
    assert "Night walk" not in chromium.find_element("css selector", ".tag-list").text


def test_a_url_submitted_on_the_jobs_page_is_processed_while_the_page_watches(
    site: Site, chromium: Any, tmp_path: Path
) -> None:
    clip = make_video(tmp_path / "lighthouse.mp4", duration=2.0, source="smptebars", title="Lighthouse at noon")
    site.files.add_file("/lighthouse.mp4", clip.read_bytes())
    url = site.files.url("/lighthouse.mp4")
    chromium.get(site.url + "/jobs")
    chromium.find_element("id", "inputs").send_keys(url)
    chromium.find_element("css selector", "form.submit button[type=submit]").click()
    wait_for(lambda: url in chromium.find_element("id", "progress").text, what="the submitted URL in the progress list")
    screenshot(chromium, site.artifacts, "jobs-running")
    row = wait_for(
        lambda: next(
            (r for r in chromium.find_elements("css selector", "tr.job") if r.get_attribute("data-status") == "done"),
            None,
        ),
        60,
        "the job to finish (the page updates itself)",
    )
    screenshot(chromium, site.artifacts, "jobs-done")
    row.find_element("css selector", "a.open").click()
    wait_for(
        lambda: chromium.find_element("css selector", "h1.video-title").text == "Lighthouse at noon",
        what="the new video's page",
    )
    assert site.files.requests("/lighthouse.mp4")
