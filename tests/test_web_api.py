"""The REST API (``/api/v1``) through an HTTP client, on a library built from a generated video."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import httpx
import mongomock
import mongomock.store
import pytest

from videokit import api
from videokit.config import Config
from videokit.record import Transcript, TranscriptSegment
from videokit.store import open_store
from web_helpers import (  # noqa: F401
    QUICK,
    auth,
    built_library,
    cfg,
    client,
    config_for,
    key,
    lib,
    only_id,
    servers,
    threaded_server,
)


def test_search_with_text_filters_and_pages(cfg: Config) -> None:
    k = key(cfg)
    with client(cfg) as c:
        got = c.get("/api/v1/search", params={"q": "sample"}, headers=auth(k)).json()
        assert got["total"] == 1 and [r["title"] for r in got["results"]] == ["Sample Clip"]
        hit = got["results"][0]
        assert hit["resolution"] and hit["duration"] == pytest.approx(2.0, abs=0.1)
        assert hit["thumbnail"].startswith(f"/api/v1/videos/{hit['id']}/thumbnails/")
        assert c.get(hit["thumbnail"], headers=auth(k)).headers["content-type"] == "image/jpeg"

        none = c.get("/api/v1/search", params={"q": "sample", "min_height": 1000}, headers=auth(k)).json()
        assert none["total"] == 0 and none["results"] == []
        filtered = c.get(
            "/api/v1/search", params={"resolution": "sd", "has_audio": "true", "max_duration": 5}, headers=auth(k)
        ).json()
        assert filtered["total"] == 1
        page2 = c.get("/api/v1/search", params={"offset": 1}, headers=auth(k)).json()
        assert (page2["total"], page2["results"], page2["offset"]) == (1, [], 1)

        bad = c.get("/api/v1/search", params={"mode": "psychic"}, headers=auth(k))
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"
        assert "text, semantic, hybrid" in bad.json()["error"]["message"]
        bad = c.get("/api/v1/search", params={"resolution": "8K"}, headers=auth(k))
        assert bad.status_code == 400 and "1080p" in bad.json()["error"]["message"]
        bad = c.get("/api/v1/search", params={"limit": 1000}, headers=auth(k))
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
        assert "limit" in bad.json()["error"]["message"]


def test_search_moments_go_through_the_library_api(cfg: Config) -> None:
    if not hasattr(api, "moments"):
        pytest.skip("api.moments (Step 8 search) is not in this tree yet")
    k = key(cfg)
    with client(cfg) as c:
        got = c.get("/api/v1/search", params={"q": "sample", "moments": "true"}, headers=auth(k))
        assert got.status_code == 200 and isinstance(got.json()["moments"], list)
        assert c.get("/api/v1/search", params={"moments": "true"}, headers=auth(k)).status_code == 400


def test_a_video_its_scenes_tags_and_transcript(cfg: Config) -> None:
    k = key(cfg)
    rid = only_id(cfg)
    with client(cfg) as c:
        rec = c.get(f"/api/v1/videos/{rid[:8]}", headers=auth(k)).json()
        assert rec["id"] == rid and rec["title"] == "Sample Clip" and rec["links"]["file"].endswith("/file")

        scenes = c.get(f"/api/v1/videos/{rid}/scenes", headers=auth(k)).json()
        assert scenes["scene_count"] >= 1 and scenes["scenes"][0]["start"] == 0
        assert c.get(scenes["scenes"][0]["thumbnail_url"], headers=auth(k)).status_code == 200
        sheet = c.get(scenes["contact_sheet"], headers=auth(k))
        assert sheet.status_code == 200 and sheet.content[:2] == b"\xff\xd8"

        tags = c.get(f"/api/v1/videos/{rid}/tags", headers=auth(k)).json()
        assert tags["tags"] and all(t["origin"] for t in tags["tags"])  # provenance on every tag

        none = c.get(f"/api/v1/videos/{rid}/transcript", headers=auth(k))
        assert none.status_code == 404 and none.json()["error"]["code"] == "not_found"
        with open_store(cfg) as store:
            record = store.get(rid)
            record.transcript = Transcript("subtitles:0:en", "en", segments=[TranscriptSegment(0.5, 1.5, "Hello")])
            store.upsert(record)
        said = c.get(f"/api/v1/videos/{rid}/transcript", headers=auth(k)).json()
        assert said["text"] == "Hello" and said["segments"][0]["start"] == 0.5 and said["language"] == "en"

        missing = c.get("/api/v1/videos/ffffffffffff", headers=auth(k))
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "video_not_found"
        assert str(cfg.library) not in missing.text  # the server's folders are not the client's business
        for sub in ("scenes", "tags", "file", "contact-sheet", "similar"):
            assert c.get(f"/api/v1/videos/ffffffffffff/{sub}", headers=auth(k)).status_code == 404


def test_edit_tags_needs_write_and_persists(cfg: Config) -> None:
    read, write = key(cfg), key(cfg, "write")
    rid = only_id(cfg)
    with client(cfg) as c:
        refused = c.patch(f"/api/v1/videos/{rid}/tags", json={"add": ["Action"]}, headers=auth(read))
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        done = c.patch(f"/api/v1/videos/{rid}/tags", json={"add": ["Action"]}, headers=auth(write))
        assert done.status_code == 200, done.text
        assert done.json()["added"] == ["Action"] and done.json()["category"] == "Action"
        user_tags = [t for t in done.json()["tags"] if t["origin"] == "user"]
        assert [t["name"] for t in user_tags] == ["Action"]
        extra = c.patch(f"/api/v1/videos/{rid}/tags", json={"add": ["x"], "colour": "red"}, headers=auth(write))
        assert extra.status_code == 422
    assert "Action" in api.get(cfg, rid).tag_names()


def test_ask_stores_the_answer(cfg: Config) -> None:
    rid = only_id(cfg)
    with client(cfg) as c:
        got = c.post(
            f"/api/v1/videos/{rid}/ask", json={"question": "Is there any sound?"}, headers=auth(key(cfg, "write"))
        )
        assert got.status_code == 200, got.text
        assert got.json()["answer"] and got.json()["stored"] is True
        empty = c.post(f"/api/v1/videos/{rid}/ask", json={"question": ""}, headers=auth(key(cfg, "write")))
        assert empty.status_code == 422
    assert api.get(cfg, rid).analysis.answers["Is there any sound?"] == got.json()["answer"]


def test_similar_goes_through_the_library_api(cfg: Config) -> None:
    if not hasattr(api, "similar"):
        pytest.skip("api.similar (Step 8 search) is not in this tree yet")
    rid = only_id(cfg)
    with client(cfg) as c:
        got = c.get(f"/api/v1/videos/{rid}/similar", params={"limit": 5}, headers=auth(key(cfg)))
        assert got.status_code == 200 and isinstance(got.json()["similar"], list)


def test_the_video_file_with_ranges(cfg: Config) -> None:
    k = key(cfg)
    rid = only_id(cfg)
    data = Path(api.get(cfg, rid).file.path).read_bytes()
    with client(cfg) as c:
        whole = c.get(f"/api/v1/videos/{rid}/file", headers=auth(k))
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["accept-ranges"] == "bytes" and whole.headers["content-type"] == "video/mp4"
        part = c.get(f"/api/v1/videos/{rid}/file", headers={**auth(k), "Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == data[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
        tail = c.get(f"/api/v1/videos/{rid}/file", headers={**auth(k), "Range": "bytes=-50"})
        assert tail.status_code == 206 and tail.content == data[-50:]
        beyond = c.get(f"/api/v1/videos/{rid}/file", headers={**auth(k), "Range": f"bytes={len(data) + 10}-"})
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{len(data)}"


def test_media_go_out_by_sendfile_never_through_python(cfg: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import httpx

    rid = only_id(cfg)
    data = Path(api.get(cfg, rid).file.path).read_bytes()
    calls: list[tuple[int, int]] = []
    real = os.sendfile

    def spy(out_fd: int, in_fd: int, offset: int, count: int) -> int:
        calls.append((offset, count))
        return real(out_fd, in_fd, offset, count)

    monkeypatch.setattr(os, "sendfile", spy)
    monkeypatch.setattr("anyio.AsyncFile.read", None)  # reading the file into Python would fail
    with threaded_server(cfg) as url, httpx.Client(base_url=url, headers=auth(key(cfg))) as c:
        part = c.get(f"/api/v1/videos/{rid}/file", headers={"Range": "bytes=1000-99999"})
        assert part.status_code == 206 and part.content == data[1000:100000]
        whole = c.get(f"/api/v1/videos/{rid}/file")
        assert whole.status_code == 200 and whole.content == data
        sheet = c.get(f"/api/v1/videos/{rid}/contact-sheet")
        assert sheet.status_code == 200 and sheet.content[:2] == b"\xff\xd8"
        assert c.get("/api/v1/search").status_code == 200  # the connection is still usable after
        beyond = c.get(f"/api/v1/videos/{rid}/file", headers={"Range": f"bytes={len(data)}-"})
        assert beyond.status_code == 416 and beyond.json()["error"]["code"] == "range_not_satisfiable"
    assert sum(n for _, n in calls if n) >= 99000 + len(data)
    assert calls[0][0] == 1000


def test_head_on_media_routes_gives_the_headers_without_a_body(cfg: Config) -> None:
    """A player or a cache asks HEAD first: the same status and headers as GET, no body; on
    the test client and on the server's own (sendfile) HTTP protocol alike."""
    import httpx

    rid = only_id(cfg)
    rec = api.get(cfg, rid)
    size = rec.file.size
    thumb = rec.scenes.scenes[0].thumbnail
    routes = [
        f"/api/v1/videos/{rid}/file",
        f"/api/v1/videos/{rid}/thumbnails/{rec.scenes.scenes[0].index}",
        f"/api/v1/videos/{rid}/contact-sheet",
        f"/api/v1/media/{thumb}",
    ]
    k = key(cfg)
    with client(cfg, rate_limit="") as tc, threaded_server(cfg, rate_limit="") as url, httpx.Client(base_url=url) as hc:
        for c in (tc, hc):
            for path in routes:
                get, head = c.get(path, headers=auth(k)), c.head(path, headers=auth(k))
                assert head.status_code == 200 and head.content == b"", path
                for name in ("content-type", "content-length", "accept-ranges", "etag", "last-modified"):
                    assert head.headers.get(name) == get.headers.get(name), (path, name)
            part = c.head(f"/api/v1/videos/{rid}/file", headers={**auth(k), "Range": "bytes=100-199"})
            assert part.status_code == 206 and part.content == b""
            assert part.headers["content-range"] == f"bytes 100-199/{size}" and part.headers["content-length"] == "100"
            assert c.head(f"/api/v1/videos/{rid}/file").status_code == 401  # no key: refused, as GET
            assert c.head(f"/api/v1/videos/{rid}/thumbnails/999", headers=auth(k)).status_code == 404
            assert c.get("/api/v1/search", headers=auth(k)).status_code == 200  # the connection stays usable


def test_export_streams_a_filtered_set(cfg: Config) -> None:
    k = key(cfg)
    with client(cfg) as c:
        got = c.get("/api/v1/export", params={"format": "csv", "q": "sample"}, headers=auth(k))
        assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
        assert [row["title"] for row in csv.DictReader(io.StringIO(got.text))] == ["Sample Clip"]
        lines = c.get("/api/v1/export", params={"format": "jsonl"}, headers=auth(k)).text.splitlines()
        assert [json.loads(line)["title"] for line in lines] == ["Sample Clip"]
        nothing = c.get("/api/v1/export", params={"format": "csv", "min_height": 5000}, headers=auth(k))
        assert nothing.status_code == 200 and len(nothing.text.splitlines()) <= 1
        bad = c.get("/api/v1/export", params={"format": "xml"}, headers=auth(k))
        assert bad.status_code == 400 and "jsonl" in bad.json()["error"]["message"]


def test_jobs_run_in_the_background_and_report_status(tmp_path: Path, sample_video: Path, http_server) -> None:
    cfg = config_for(tmp_path / "lib", QUICK)
    http_server.add_file("/clip.mp4", sample_video.read_bytes())
    http_server.add_status("/gone.mp4", 404)
    k = key(cfg, "write")
    with client(cfg, allow_private_urls=True, rate_limit="") as c:
        sent = c.post(
            "/api/v1/jobs",
            json={"inputs": [http_server.url("/clip.mp4"), http_server.url("/gone.mp4")], "priority": "high"},
            headers=auth(k),
        )
        assert sent.status_code == 202, sent.text
        job_id = sent.json()["job"]["id"]
        assert sent.json()["via"] == "local" and sent.json()["refused"] == []
        job = _wait_for_job(c, job_id, k)
        assert job["status"] == "failed"  # one of the two inputs failed; the other is stored
        by_input = {r["input"]: r for r in job["records"]}
        assert by_input[http_server.url("/clip.mp4")]["ok"] is True
        gone = by_input[http_server.url("/gone.mp4")]
        assert gone["ok"] is False and "404" in gone["errors"][0]["message"]

        status = c.get("/api/v1/jobs", headers=auth(k)).json()
        assert status["jobs"]["done"] == 1 and status["jobs"]["failed"] == 1
        assert [f["input"] for f in status["failures"]] == [http_server.url("/gone.mp4")]
        assert status["local_jobs"][0]["id"] == job_id
        assert c.get("/api/v1/search", params={"q": "sample"}, headers=auth(k)).json()["total"] == 1

        http_server.add_file("/gone.mp4", sample_video.read_bytes()[:-10] + b"0123456789")
        again = c.post("/api/v1/jobs/retry", json={}, headers=auth(k))
        assert again.status_code == 202
        assert _wait_for_job(c, again.json()["job"]["id"], k)["status"] == "done"
        assert c.get("/api/v1/jobs", headers=auth(k)).json()["jobs"]["failed"] == 0

        bad = c.post(
            "/api/v1/jobs", json={"inputs": [http_server.url("/clip.mp4")], "priority": "urgent"}, headers=auth(k)
        )
        assert bad.status_code == 400 and "high, normal, low" in bad.json()["error"]["message"]
        assert c.post("/api/v1/jobs", json={"inputs": []}, headers=auth(k)).status_code == 422
        assert c.get("/api/v1/jobs/nope", headers=auth(k)).status_code == 404


SERVE_QUICK = {
    "VIDEOKIT_ANALYSIS_BACKEND": "none",
    "VIDEOKIT_TRANSCRIPTION_ENABLED": "false",
    "VIDEOKIT_EMBEDDINGS_ENABLED": "false",
    "VIDEOKIT_SERVER_ALLOWPRIVATEURLS": "true",
    "VIDEOKIT_SERVER_RATELIMIT": "0",
}


def test_jobs_queued_when_the_server_stops_run_exactly_once_after_a_restart(
    tmp_path: Path, sample_video: Path, http_server
) -> None:
    """Submitted jobs are in the job ledger from the moment the POST is answered: a server
    stopped before it ran them runs them when it starts again, each input once."""
    from videokit.ledger import Ledger

    lib = tmp_path / "lib"
    cfg = config_for(lib)
    k = key(cfg, "write")
    data = sample_video.read_bytes()
    http_server.add_file("/busy.mp4", data, stall_after=1000)  # holds the job runner until released
    names = ["a", "b", "c"]
    for i, name in enumerate(names):
        http_server.add_file(f"/{name}.mp4", data[:-10] + f"{i:010d}".encode())  # three different videos
    headers = auth(k)
    with servers(lib, 1, env=SERVE_QUICK) as (first,):
        busy = httpx.post(first.url + "/api/v1/jobs", json={"inputs": [http_server.url("/busy.mp4")]}, headers=headers)
        assert busy.status_code == 202
        deadline = time.monotonic() + 30
        while not http_server.requests("/busy.mp4"):
            assert time.monotonic() < deadline, "the first job did not start"
            time.sleep(0.05)
        ids = []
        for name in names:
            sent = httpx.post(
                first.url + "/api/v1/jobs", json={"inputs": [http_server.url(f"/{name}.mp4")]}, headers=headers
            )
            assert sent.status_code == 202, sent.text
            ids.append(sent.json()["job"]["id"])
        queued = httpx.get(first.url + f"/api/v1/jobs/{ids[0]}", headers=headers).json()
        assert queued["status"] == "queued"
    assert first.returncode == 0, first.stderr
    assert not any(http_server.requests(f"/{name}.mp4") for name in names)  # none of the three ran
    http_server.release()

    with servers(lib, 1, env=SERVE_QUICK) as (second,):
        with httpx.Client(base_url=second.url, headers=headers) as c:
            for job_id in ids:
                job = _wait_for_job(c, job_id, k)
                assert job["status"] == "done", job
                assert [r["ok"] for r in job["records"]] == [True]
            total = c.get("/api/v1/search", params={"limit": 10}).json()["total"]
    assert total == 4  # the three, and the one the first server was running when it stopped
    for name in names:
        assert [r.status for r in http_server.requests(f"/{name}.mp4") if r.method == "GET"] == [200]
    with Ledger.open(cfg) as ledger:
        jobs = {j.spec: j for j in ledger.jobs()}
    for name in names:
        job = jobs[http_server.url(f"/{name}.mp4")]
        assert (job.status, job.attempts) == ("done", 1)


def test_jobs_take_only_urls(cfg: Config, sample_video: Path) -> None:
    """A path on the server's disk is never read on a client's behalf."""
    with client(cfg, allow_private_urls=True) as c:
        got = c.post(
            "/api/v1/jobs", json={"inputs": [str(sample_video), "file:///etc/passwd"]}, headers=auth(key(cfg, "write"))
        )
        assert got.status_code == 400 and got.json()["error"]["code"] == "bad_input"


def test_jobs_go_to_celery_when_a_broker_is_configured(tmp_path: Path) -> None:
    """Through the ledger: with the broker down, the input stays pending and the client hears 503."""
    cfg = config_for(tmp_path / "lib", {("Celery", "BrokerURL"): "redis://127.0.0.1:1/0"})
    with client(cfg, allow_private_urls=True) as c:  # no DNS here: the address check is another test's
        got = c.post("/api/v1/jobs", json={"inputs": ["https://videos.example/v.mp4"]}, headers=auth(key(cfg, "write")))
        assert got.status_code == 503 and got.json()["error"]["code"] == "unavailable"
        assert got.headers["Retry-After"]
    assert api.status(cfg).jobs["pending"] == 1


def _wait_for_job(c, job_id: str, k: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = c.get(f"/api/v1/jobs/{job_id}", headers=auth(k))
        assert got.status_code == 200, got.text
        job = got.json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    pytest.fail(f"job {job_id} did not finish in {timeout} s")


def test_openapi_and_swagger_describe_the_api(cfg: Config) -> None:
    with client(cfg) as c:
        spec = c.get("/openapi.json").json()
        assert {"/api/v1/search", "/api/v1/videos/{id}", "/api/v1/jobs", "/api/v1/videos/{id}/file"} <= set(
            spec["paths"]
        )
        assert "APIKeyHeader" in spec["components"]["securitySchemes"]
        docs = c.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_the_api_on_a_mongodb_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, built_library: Path) -> None:
    shared = mongomock.store.ServerStore()
    monkeypatch.setattr("pymongo.MongoClient", lambda uri=None, **kw: mongomock.MongoClient(uri, _store=shared, **kw))
    monkeypatch.setattr(
        "videokit.store.mongo.pymongo.MongoClient",
        lambda uri=None, **kw: mongomock.MongoClient(uri, _store=shared, **kw),
    )
    cfg = config_for(
        tmp_path / "lib",
        {("Library", "Store"): "mongodb", ("MongoDB", "URI"): "mongodb://db.example.net:27017/"},
    )
    with open_store(config_for(built_library)) as src, open_store(cfg) as dst:
        for rec in src.iter_records():
            dst.upsert(rec)
    k = key(cfg)
    with client(cfg, rate_limit="3/minute") as c:
        got = c.get("/api/v1/search", params={"q": "sample"}, headers=auth(k)).json()
        assert [r["title"] for r in got["results"]] == ["Sample Clip"]
        rid = got["results"][0]["id"]
        assert c.get(f"/api/v1/videos/{rid}", headers=auth(k)).json()["id"] == rid
        assert c.get(f"/api/v1/videos/{rid}/tags", headers=auth(k)).status_code == 200
        limited = c.get("/api/v1/search", headers=auth(k))
        assert limited.status_code == 429  # the counters live in the MongoDB database
    counters = mongomock.MongoClient(_store=shared)["videokit"]["videos_ratelimits"]
    assert counters.count_documents({}) == 1


def test_local_jobs_run_one_at_a_time_high_priority_first(cfg: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from videokit.web.jobs import JobRunner
    from web_helpers import options

    order: list[list[str]] = []
    first_running, release = threading.Event(), threading.Event()

    def run(inputs: list[str], config: Config) -> api.RunResult:
        order.append(list(inputs))
        first_running.set()
        assert release.wait(10)
        return api.RunResult([])

    monkeypatch.setattr(api, "run", run)
    runner = JobRunner(cfg, options(cfg))
    try:
        runner.submit(["https://videos.example/a.mp4"], "normal")
        assert first_running.wait(10)
        low = runner.submit(["https://videos.example/low.mp4"], "low")["job"]["id"]
        high = runner.submit(["https://videos.example/high.mp4"], "high")["job"]["id"]
        assert runner.job(low).status == runner.job(high).status == "queued"  # one at a time
        release.set()
        deadline = time.monotonic() + 10
        while not runner.idle():
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        release.set()
        runner.close()
    assert [o[0].rsplit("/", 1)[1] for o in order] == ["a.mp4", "high.mp4", "low.mp4"]


def test_server_processes_of_one_library_run_each_others_jobs_one_at_a_time(
    cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two job runners (as in two server processes) over one library: each input runs once,
    never two at once, and either runner reports any job from the ledger."""
    import threading

    from videokit.web.jobs import JobRunner
    from web_helpers import options

    ran: list[str] = []
    active, most = [0], [0]
    guard = threading.Lock()

    def run(inputs: list[str], config: Config) -> api.RunResult:
        with guard:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.2)
        with guard:
            ran.extend(inputs)
            active[0] -= 1
        return api.RunResult([])

    monkeypatch.setattr(api, "run", run)
    one, two = JobRunner(cfg, options(cfg)), JobRunner(cfg, options(cfg))
    urls = [f"https://videos.example/{i}.mp4" for i in range(6)]
    try:
        ids = [(one if i % 2 else two).submit([u], "normal")["job"]["id"] for i, u in enumerate(urls)]
        deadline = time.monotonic() + 30
        while not (one.idle() and two.idle()):
            assert time.monotonic() < deadline, "the jobs did not all run"
            time.sleep(0.05)
        assert [one.job(i).inputs for i in ids] == [[u] for u in urls]
        assert {two.job(i).status for i in ids} == {"failed"}  # the stand-in run stored nothing
    finally:
        one.close()
        two.close()
    assert sorted(ran) == sorted(urls) and most[0] == 1
