"""The web UI's pages through an HTTP client: what a person sees and can do on each page.

The library is made up (``tests/ui_library.py``: thirty records with known tags, categories,
sizes, lengths, sources and dates), so every count the pages show is checked against it.
The browser tests (``test_web_browser.py``) drive the same pages in Chromium on real videos.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

import ui_library  # noqa: E402
from httpserver import TestServer  # noqa: E402
from ui_library import HOSTILE, rid  # noqa: E402
from videokit.config import Config  # noqa: E402
from videokit.store import open_store  # noqa: E402
from videokit.web.app import create_app  # noqa: E402
from videokit.web.keys import KeyStore  # noqa: E402
from videokit.web.options import ServerOptions  # noqa: E402

OPTIONS = ServerOptions(rate_limit="")


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return ui_library.build(tmp_path / "lib")


@pytest.fixture
def keys(config: Config) -> dict[str, str]:
    store = KeyStore(config.library)
    try:
        return {scope: store.create(f"{scope} user", scope).key for scope in ("read", "write", "admin")}
    finally:
        store.close()


@pytest.fixture
def app_client(config: Config) -> Iterator[TestClient]:
    with TestClient(create_app(config, OPTIONS), base_url="http://127.0.0.1") as client:
        yield client


def sign_in(client: TestClient, key: str) -> None:
    """Sign in the way a person does: the form on /signin, with its CSRF token."""
    page = client.get("/signin")
    r = client.post("/signin", data={"key": key, "next": "/", "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303, r.text


@pytest.fixture
def client(app_client: TestClient, keys: dict[str, str]) -> TestClient:
    sign_in(app_client, keys["write"])
    return app_client


def csrf_of(page: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert m, "the page has no form with a CSRF token"
    return m.group(1)


def text_of(page: str) -> str:
    """What a person reads: tags removed, entities decoded, spaces collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def titles(page: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'<a class="title" href="[^"]+">([^<]*)</a>', page)]


def facet(page: str, name: str) -> dict[str, tuple[int, str]]:
    """``label -> (count, link)`` of one facet of the library page."""
    m = re.search(rf'<section class="facet" data-facet="{name}">(.*?)</section>', page, flags=re.S)
    assert m, f"no {name} facet"
    out = {}
    for href, label, count in re.findall(
        r'<li><a href="([^"]+)"[^>]*><span class="facet-label">([^<]*)</span><span class="count">(\d+)</span>',
        m.group(1),
    ):
        out[html.unescape(label)] = (int(count), html.unescape(href))
    return out


# -- signing in -----------------------------------------------------------------------------------


def test_pages_send_a_browser_that_is_not_signed_in_to_the_sign_in_form(app_client: TestClient) -> None:
    for path in ("/", "/videos/" + rid(1), "/jobs", "/dashboard"):
        r = app_client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/signin?next=" + path[:2]), path
    assert "API key" in text_of(app_client.get("/signin").text)


def test_signing_in_leads_back_to_the_page_asked_for(app_client: TestClient, keys: dict[str, str]) -> None:
    page = app_client.get("/dashboard")  # redirected to the form, remembering where to go
    assert urlsplit(str(page.url)).path == "/signin"
    nxt = parse_qs(urlsplit(str(page.url)).query)["next"][0]
    r = app_client.post("/signin", data={"key": keys["read"], "next": nxt, "csrf_token": csrf_of(page.text)})
    assert r.status_code == 200 and urlsplit(str(r.url)).path == "/dashboard"
    assert "Dashboard" in text_of(r.text) and "read user" in text_of(r.text)


# -- the library page -------------------------------------------------------------------------------


def test_library_page_shows_a_grid_with_durations_tags_and_pages(client: TestClient) -> None:
    page = client.get("/").text
    words = text_of(page)
    assert "30 videos · page 1 of 2" in words
    assert len(titles(page)) == 24 and titles(page)[0].startswith("Harbour walk")  # newest first
    assert "0:45" in words and "11:40" in words  # durations on the thumbnails
    card = re.search(r'<li class="card">.*?</li>\s*</ul>\s*</div>\s*</li>', page, flags=re.S)
    assert card and "H.264 Codec" in card.group(0) and "/videos/" + rid(1) in card.group(0)
    assert '<p class="meta">1080p · Nature · youtube.com</p>' in card.group(0)
    second = client.get("/?page=2").text
    assert len(titles(second)) == 6 and not set(titles(second)) & set(titles(page))
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert len(titles(client.get("/?page=99").text)) == 6  # past the end: the last page
    assert len(titles(client.get("/?page=x").text)) == 24  # not a number: the first


def test_facets_count_the_library_and_each_one_filters_it(client: TestClient) -> None:
    page = client.get("/").text
    tags = facet(page, "tag")
    assert tags["H.264 Codec"][0] == 30 and tags["Harbour"][0] == 10 and tags["Night-time Filming"][0] == 10
    assert {k: v[0] for k, v in facet(page, "category").items()} == {"Nature": 10, "Sports": 10, "Unclassified": 10}
    assert {k: v[0] for k, v in facet(page, "resolution").items()} == {"1080p": 10, "720p": 20}
    assert {k: v[0] for k, v in facet(page, "duration").items()} == {
        "under 30 s": 10,
        "30 s – 2 min": 10,
        "10 – 30 min": 10,
    }
    assert {k: v[0] for k, v in facet(page, "domain").items()} == {"youtube.com": 10, "vimeo.com": 10}
    added = {k: v[0] for k, v in facet(page, "added").items()}
    assert added["last 7 days"] == 10 and added["last 365 days"] == 30

    # a click on a facet value shows exactly the videos it counted, and the other facets narrow
    sports = client.get(facet(page, "category")["Sports"][1]).text
    assert "10 videos" in text_of(sports) and all(t.startswith("City clip") for t in titles(sports))
    assert {k: v[0] for k, v in facet(sports, "domain").items()} == {"vimeo.com": 10}
    short_night = client.get(facet(sports, "tag")["Night-time Filming"][1]).text
    assert sorted(titles(short_night)) == ["City clip 15", "City clip 21", "City clip 27"]
    long = client.get(facet(page, "duration")["10 – 30 min"][1]).text
    assert "10 videos" in text_of(long) and "0:12" not in text_of(long)
    week = client.get(facet(page, "added")["last 7 days"][1]).text
    assert "10 videos" in text_of(week) and all(t.startswith("Harbour") for t in titles(week))
    # the active filters are listed, each removable
    assert "tag: Night-time Filming" in text_of(short_night) and "category: Sports" in text_of(short_night)
    undo = re.search(r'<a class="chip removable" href="([^"]+)"[^>]*>tag: Night-time Filming', short_night)
    assert undo and "10 videos" in text_of(client.get(html.unescape(undo.group(1))).text)


def test_the_search_box_finds_by_title_and_keeps_the_filters(client: TestClient) -> None:
    page = client.get("/", params={"q": "harbour", "mode": "text"}).text
    assert "10 videos for “harbour”" in text_of(page)
    assert all("Harbour" in t for t in titles(page))
    with_filter = client.get("/", params={"q": "harbour", "mode": "text", "tag": "Night-time Filming"}).text
    assert sorted(titles(with_filter)) == ["Harbour walk 3", "Harbour walk 6", "Harbour walk 9"]
    assert '<input type="hidden" name="tag" value="Night-time Filming">' in with_filter  # a new search keeps it
    assert "0 videos" in text_of(client.get("/", params={"q": "zeppelin", "mode": "text"}).text)


def test_text_from_the_web_is_shown_as_text_never_as_markup(client: TestClient) -> None:
    for page in (
        client.get("/").text,
        client.get("/", params={"q": "harbour", "mode": "text"}).text,
        client.get("/videos/" + rid(5)).text,
        client.get("/dashboard").text,
    ):
        assert "<script>alert" not in page and "&lt;script&gt;" in page
        assert HOSTILE in text_of(page)
        assert re.findall(r"<script\b[^>]*>", page) == ['<script src="/static/videokit.js" defer>']


def test_a_search_the_library_cannot_do_is_one_line_on_the_page(client: TestClient, config: Config) -> None:
    r = client.get("/", params={"q": "boats at dawn", "mode": "semantic"})  # no embeddings in this library
    assert r.status_code == 200
    said = re.search(r'<p class="notice error" role="alert">([^<]*)</p>', r.text)
    assert said and "reindex" in said.group(1) and str(config.library) not in r.text
    assert "0 videos" in text_of(r.text)


# -- the video page -------------------------------------------------------------------------------------


def test_video_page_shows_player_scenes_transcript_details_and_analysis(client: TestClient) -> None:
    page = client.get("/videos/" + rid(5)[:8]).text  # an id prefix is enough
    words = text_of(page)
    assert f'src="/api/v1/videos/{rid(5)}/file"' in page and 'data-start="0.0"' in page
    assert page.count('class="scene"') == 3 and 'data-seek="15.0"' in page
    segments = re.findall(r'<button type="button" class="segment" data-seek="([\d.]+)" data-end="([\d.]+)">', page)
    assert segments == [("0.0", "4.0"), ("4.0", "9.5"), ("9.5", "15.0")]
    assert "0:04 Boats come in at dawn" in words and "The fish market opens at six." in words
    assert "A calm harbour at dawn." in words and "Sentiment: positive (0.62) text-derived — calm words" in words
    assert "Is it night? No, it is filmed at dawn." in words
    assert "Duration 0:45 (45.0 s)" in words and "Size 1920×1080 (1080p)" in words
    assert "Category Nature 80%" in words
    assert "Harbour rule:harbour · 0.90" in words and "H.264 Codec builtin:h264" in words  # origins shown
    assert 'href="https://youtube.com/watch/5"' in page


def test_t_opens_the_video_at_that_time(client: TestClient) -> None:
    assert 'data-start="12.5"' in client.get(f"/videos/{rid(5)}?t=12.5").text
    assert 'data-start="62.0"' in client.get(f"/videos/{rid(5)}?t=1:02").text
    for bad in ("-3", "soon", "nan", "1:2:3:4"):
        assert 'data-start="0.0"' in client.get(f"/videos/{rid(5)}", params={"t": bad}).text


def test_an_unknown_video_is_a_page_saying_so(client: TestClient) -> None:
    r = client.get("/videos/ffffffffffff")
    assert r.status_code == 404 and "No video with id 'ffffffffffff' in this library." in text_of(r.text)
    assert str(client.app.state.service.config.library) not in r.text  # no server path shown


def test_user_tags_are_added_and_removed_and_stay(client: TestClient, config: Config) -> None:
    page = client.get("/videos/" + rid(2)).text
    token = csrf_of(page)
    r = client.post(f"/videos/{rid(2)}/tags", data={"add": "  my   favourite ", "csrf_token": token})
    assert r.status_code == 200 and urlsplit(str(r.url)).path == f"/videos/{rid(2)}"
    assert "my favourite user" in text_of(client.get("/videos/" + rid(2)).text)  # after a reload
    with open_store(config) as store:
        stored = store.get(rid(2))
    assert stored is not None and {(t.name, t.origin) for t in stored.tags} >= {("my favourite", "user")}
    assert "my favourite" in facet(client.get("/").text, "tag")  # and the library counts it

    r = client.post(f"/videos/{rid(2)}/tags", data={"remove": "my favourite", "csrf_token": token})
    assert r.status_code == 200 and "my favourite" not in text_of(r.text)
    # a tag a rule put there is changed by changing the rule: said on the page, nothing changed
    r = client.post(f"/videos/{rid(2)}/tags", data={"remove": "H.264 Codec", "csrf_token": token})
    assert r.status_code == 400
    said = re.search(r'class="notice error" role="alert">([^<]*)<', r.text)
    assert said and "'H.264 Codec' comes from builtin:" in html.unescape(said.group(1))
    assert "H.264 Codec builtin:" in text_of(client.get("/videos/" + rid(2)).text)


def test_forms_without_this_browsers_token_are_refused(client: TestClient) -> None:
    for path, data in (
        (f"/videos/{rid(2)}/tags", {"add": "x"}),
        (f"/videos/{rid(2)}/tags", {"add": "x", "csrf_token": "0" * 64}),
        (f"/videos/{rid(2)}/ask", {"question": "Is it night?"}),
        ("/jobs", {"inputs": "https://example.com/v.mp4"}),
    ):
        r = client.post(path, data=data)
        assert r.status_code == 403, path
    assert "x user" not in text_of(client.get("/videos/" + rid(2)).text)


def test_a_read_key_sees_the_pages_but_cannot_change_anything(app_client: TestClient, keys: dict[str, str]) -> None:
    sign_in(app_client, keys["read"])
    page = app_client.get("/videos/" + rid(2))
    assert page.status_code == 200
    r = app_client.post(f"/videos/{rid(2)}/tags", data={"add": "mine", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 403 and "mine" not in text_of(app_client.get("/videos/" + rid(2)).text)


# -- the dashboard ----------------------------------------------------------------------------------------


def chart(page: str, title: str) -> dict[str, int]:
    m = re.search(rf"<figcaption>{re.escape(title)}</figcaption>(.*?)</figure>", page, flags=re.S)
    assert m, f"no chart {title!r}"
    return {html.unescape(k): int(v) for k, v in re.findall(r"<title>([^<]*): (\d+)</title>", m.group(1))}


def test_dashboard_charts_count_the_library(client: TestClient) -> None:
    page = client.get("/dashboard").text
    words = text_of(page)
    assert "30 videos" in words and "3 sources" in words
    assert chart(page, "Videos by category") == {"Nature": 10, "Sports": 10, "Unclassified": 10}
    tags = chart(page, "Most used tags")
    assert tags["H.264 Codec"] == 30 and tags["Harbour"] == 10
    assert chart(page, "By source") == {"youtube.com": 10, "vimeo.com": 10, "local": 10}
    assert chart(page, "Duration")["10 – 30 min"] == 10 and chart(page, "Duration")["over 30 min"] == 0
    assert chart(page, "Resolution") == {"1080p": 10, "720p": 20}
    days = chart(page, "Added per day (last 30 days)")
    assert len(days) == 30 and sum(days.values()) == 10  # the other twenty are older than 30 days
    # each bar of a count is a link to those videos
    link = re.search(r'<a href="(/\?category=Sports)">', page)
    assert link and "10 videos" in text_of(client.get(link.group(1)).text)


# -- the jobs page ------------------------------------------------------------------------------------------


def test_jobs_page_refuses_what_is_not_a_public_url_and_says_why(client: TestClient) -> None:
    page = client.get("/jobs")
    lines = "/etc/passwd\nfile:///etc/passwd\n# a comment\n\nhttp://127.0.0.1:9/v.mp4\nhttp://0x7f000001/v.mp4\n"
    r = client.post("/jobs", data={"inputs": lines, "priority": "high", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 400
    said = text_of(re.search(r'<p class="notice error" role="alert">.*?</p>', r.text, flags=re.S).group(0))
    assert said.startswith("4 refused: /etc/passwd: not a URL")
    box = html.unescape(re.search(r'<textarea id="inputs"[^>]*>(.*?)</textarea>', r.text, flags=re.S).group(1))
    assert box.splitlines() == [
        "/etc/passwd",
        "file:///etc/passwd",
        "http://127.0.0.1:9/v.mp4",
        "http://0x7f000001/v.mp4",
    ]
    assert client.app.state.service.jobs.local_jobs() == []  # nothing was submitted
    r = client.post("/jobs", data={"inputs": "\n# only a comment\n", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 400 and "Give at least one URL" in text_of(r.text)


def poll(client: TestClient, until: str, timeout: float = 60.0) -> str:
    """The jobs page's progress part, fetched again (as the page does) until it shows ``until``."""
    deadline = time.monotonic() + timeout
    while True:
        part = client.get("/jobs/progress").text
        if until in text_of(part):
            return part
        assert time.monotonic() < deadline, f"jobs never showed {until!r}: {text_of(part)}"
        time.sleep(0.2)


def test_a_failed_job_shows_its_reason_and_the_retry_button_runs_it_again(
    config: Config, keys: dict[str, str], http_server: TestServer
) -> None:
    http_server.add_status("/gone.mp4", 404)
    url = http_server.url("/gone.mp4")
    app = create_app(config, ServerOptions(rate_limit="", allow_private_urls=True))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        sign_in(client, keys["write"])
        page = client.get("/jobs")
        r = client.post("/jobs", data={"inputs": url, "priority": "normal", "csrf_token": csrf_of(page.text)})
        assert r.status_code == 200 and urlsplit(str(r.url)).path == "/jobs"
        part = poll(client, "Failures")
        assert f"{url} permanent in fetch" in text_of(part) and "404" in text_of(part)
        assert re.search(r'<tr class="job status-failed" data-status="failed">', part)
        r = client.post("/jobs/retry", data={"csrf_token": csrf_of(part)})
        assert r.status_code == 200 and "retry of the failed inputs" in text_of(r.text)
        part = poll(client, "after 2 attempts")
        assert len(http_server.requests("/gone.mp4")) == 2


def test_a_search_lists_the_moments_it_matched_as_links_into_the_video(client: TestClient) -> None:
    page = client.get("/", params={"q": "fish market"}).text
    moments = re.search(r'<section class="moments".*?</section>', page, flags=re.S)
    assert moments, "no moments listed"
    links = re.findall(r'<a href="([^"]+)"><span class="when">([^<]*)</span>', moments.group(0))
    assert links and links[0][0].startswith(f"/videos/{rid(5)}?t=")
    start = float(parse_qs(urlsplit(html.unescape(links[0][0])).query)["t"][0])
    assert start <= 9.5 and "The fish market opens at six." in text_of(moments.group(0))
    opened = client.get(html.unescape(links[0][0])).text
    assert f'data-start="{start:.1f}"' in opened or f'data-start="{start}"' in opened


def test_similar_videos_are_listed_nearest_first(client: TestClient) -> None:
    page = client.get("/videos/" + rid(1)).text
    similar = re.search(r'<section class="similar".*?</section>', page, flags=re.S)
    assert similar
    names = [html.unescape(t) for t in re.findall(r'<span class="title">([^<]*)</span>', similar.group(0))]
    assert names == ["Harbour walk 2", "Harbour walk 3", "City clip 11"]
    assert f'href="/videos/{rid(2)}"' in similar.group(0)
    assert "None found." in client.get("/videos/" + rid(20)).text  # a video without embeddings


def test_a_question_about_a_video_whose_file_is_gone_says_so(client: TestClient, config: Config) -> None:
    page = client.get("/videos/" + rid(4))
    r = client.post(f"/videos/{rid(4)}/ask", data={"question": "Is it night?", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 400
    said = re.search(r'<p class="notice error" role="alert">([^<]*)</p>', r.text)
    assert said and "/videos/4.mp4" in html.unescape(said.group(1)) and str(config.library) not in r.text


def test_past_the_facet_limit_counts_say_so_and_every_page_is_still_reachable(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from videokit.web import ui

    monkeypatch.setattr(ui, "FACET_LIMIT", 5)
    page = client.get("/").text
    assert "Counts cover the first 5 matches." in text_of(page) and "30 videos · page 1 of 2" in text_of(page)
    assert sum(n for n, _ in facet(page, "category").values()) == 5
    second = client.get("/?page=2").text
    assert sorted(titles(second)) == sorted(f"City clip {i}" for i in range(25, 31))
