"""The ``api`` analyzer against a local server speaking the chat-completions protocol."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from media import make_video
from videokit.analysis import api as api_mod
from videokit.analysis.api import ApiAnalyzer
from videokit.analysis.stage import AnalyzeStage
from videokit.config import load_config
from videokit.errors import ConfigError, TransientError
from videokit.pipeline import Context
from videokit.probe import media_info
from videokit.record import FileInfo, Record

GOOD = {
    "description": "A drone flies over a beach at sunset.",
    "answers": {"Is there a drone?": "Yes, one drone."},
    "sentiment": {"label": "positive", "score": 0.7, "reason": "calm and warm"},
    "tags": ["Drone", "Beach", "Sunset"],
    "category": "Nature",
}


@dataclass
class Reply:
    status: int = 200
    content: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class ChatServer:
    """Replays queued replies (the last one repeats) and records every request; ``peak`` is
    the most requests it was answering at the same time."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[dict] = []
        self.in_flight = 0
        self.peak = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                with server.lock:
                    server.in_flight += 1
                    server.peak = max(server.peak, server.in_flight)
                try:
                    self._answer()
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with server.lock:
                    server.requests.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
                    reply = server.replies.pop(0) if len(server.replies) > 1 else server.replies[0]
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status == 200:
                    payload = {
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": reply.content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 1200, "completion_tokens": 80, "total_tokens": 1280},
                    }
                else:
                    payload = {"error": {"message": f"canned {reply.status}"}}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = ChatServer()
    yield s
    s.close()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("api") / "clip.mp4", duration=2.0)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff sleeps are recorded, not slept."""
    got: list[float] = []
    monkeypatch.setattr(api_mod, "_sleep", got.append)
    return got


def config(tmp_path: Path, server: ChatServer, **extra: object):
    over = {
        ("Library", "Location"): str(tmp_path / "lib"),
        ("Analysis", "Backend"): "api",
        ("QwenVL", "PublicEndpoint"): server.base,
        ("QwenVL", "ApiModel"): "qwen2-vl-7b-instruct",
        ("QwenVL", "ApiKeyEnv"): "VIDEOKIT_TEST_KEY",
        ("Analysis", "Questions"): ["Is there a drone?"],
        ("Analysis", "MaxFrames"): 3,
        ("QwenVL", "Retries"): 2,
        ("QwenVL", "Timeout"): 5.0,
    }
    over.update({tuple(k.split(".")): v for k, v in extra.items()})  # type: ignore[misc]
    return load_config(None, env={}, overrides=over)


def record_for(clip: Path) -> Record:
    return Record(
        id="c" * 64, file=FileInfo(str(clip), clip.name, clip.stat().st_size, "c" * 64), media=media_info(clip)
    )


def run_stage(cfg, clip: Path, keywords: list[str] | None = None, refresh: bool = False) -> Record:
    """A fresh stage each time, as in a new process."""
    stage = AnalyzeStage(priority_keywords=keywords or [], categories=None)
    ctx = Context(cfg, extras={"refresh": refresh})
    rec = record_for(clip)
    stage.process(rec, ctx)
    stage.close()
    return rec


def test_request_carries_model_images_key_and_instruction(tmp_path, server, clip, monkeypatch):
    monkeypatch.setenv("VIDEOKIT_TEST_KEY", "sk-secret-123")
    server.replies = [Reply(content=json.dumps(GOOD))]
    rec = run_stage(config(tmp_path, server), clip, keywords=["drones", "coastline"])
    (req,) = server.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == "Bearer sk-secret-123"
    body = req["body"]
    assert body["model"] == "qwen2-vl-7b-instruct"
    parts = body["messages"][0]["content"]
    images = [p for p in parts if p["type"] == "image_url"]
    assert len(images) == 3 and all(p["image_url"]["url"].startswith("data:image/jpeg;base64,") for p in images)
    text = next(p["text"] for p in parts if p["type"] == "text")
    assert "Focus on these aspects: drones, coastline." in text
    assert "Is there a drone?" in text and text.startswith("Describe this video")
    a = rec.analysis
    assert a.description == GOOD["description"]
    assert a.answers == {"Is there a drone?": "Yes, one drone."}
    assert a.sentiment.label == "positive" and a.category == "Nature"
    assert [t.name for t in a.tags] == ["Drone", "Beach", "Sunset"]
    assert a.tags[0].origin == "analyzer:api/qwen2-vl-7b-instruct"
    assert a.usage["total_tokens"] == 1280 and not a.warnings


def test_key_is_never_logged(tmp_path, server, clip, monkeypatch, caplog):
    monkeypatch.setenv("VIDEOKIT_TEST_KEY", "sk-secret-123")
    server.replies = [Reply(status=503), Reply(content=json.dumps(GOOD))]
    caplog.set_level("DEBUG", logger="videokit")
    monkeypatch.setattr(api_mod, "_sleep", lambda s: None)
    run_stage(config(tmp_path, server), clip)
    assert "sk-secret-123" not in caplog.text


def test_malformed_json_becomes_description_with_warning(tmp_path, server, clip):
    server.replies = [Reply(content="The video shows a beach {broken json")]
    rec = run_stage(config(tmp_path, server), clip)
    assert rec.analysis.description == "The video shows a beach {broken json"
    assert any("not valid JSON" in w for w in rec.analysis.warnings)


def test_429_then_success_honours_retry_after(tmp_path, server, clip, sleeps):
    server.replies = [Reply(status=429, headers={"Retry-After": "3"}), Reply(content=json.dumps(GOOD))]
    rec = run_stage(config(tmp_path, server), clip)
    assert len(server.requests) == 2
    assert sleeps == [3.0]
    assert rec.analysis.description == GOOD["description"]


def test_500s_give_a_transient_error_after_the_retries(tmp_path, server, clip, sleeps):
    server.replies = [Reply(status=500)]
    with pytest.raises(TransientError, match="gave up after 3 attempts.*HTTP 500"):
        run_stage(config(tmp_path, server), clip)
    assert len(server.requests) == 3 and len(sleeps) == 2


def test_timeout_is_transient(tmp_path, server, clip, sleeps):
    server.replies = [Reply(content=json.dumps(GOOD), delay=1.5)]
    cfg = config(tmp_path, server, **{"QwenVL.Timeout": 0.3, "QwenVL.Retries": 1})
    with pytest.raises(TransientError, match="no reply within"):
        run_stage(cfg, clip)


def test_missing_endpoint_is_a_config_error_at_setup(tmp_path, server):
    cfg = config(tmp_path, server, **{"QwenVL.PublicEndpoint": ""})
    with pytest.raises(ConfigError, match=r"\[QwenVL\] PublicEndpoint"):
        ApiAnalyzer(cfg).setup()


def test_use_vpc_switches_endpoint(tmp_path, server, clip):
    server.replies = [Reply(content=json.dumps(GOOD))]
    cfg = config(
        tmp_path,
        server,
        **{"QwenVL.PublicEndpoint": "http://127.0.0.1:9/v1", "QwenVL.VpcEndpoint": server.base, "QwenVL.UseVpc": True},
    )
    rec = run_stage(cfg, clip)
    assert rec.analysis.description == GOOD["description"] and len(server.requests) == 1


# -- cache ---------------------------------------------------------------------------------


def test_second_identical_run_makes_no_model_call(tmp_path, server, clip):
    server.replies = [Reply(content=json.dumps(GOOD))]
    cfg = config(tmp_path, server)
    first = run_stage(cfg, clip, keywords=["drones"])
    second = run_stage(cfg, clip, keywords=["drones"])
    assert len(server.requests) == 1
    assert second.analysis.description == first.analysis.description
    assert second.analysis.cache_key == first.analysis.cache_key
    assert list((tmp_path / "lib" / "cache" / "analysis").glob("*.json"))


def test_changed_keywords_or_questions_or_refresh_call_again(tmp_path, server, clip):
    server.replies = [Reply(content=json.dumps(GOOD))]
    cfg = config(tmp_path, server)
    run_stage(cfg, clip, keywords=["drones"])
    run_stage(cfg, clip, keywords=["boats"])
    assert len(server.requests) == 2
    run_stage(config(tmp_path, server, **{"Analysis.Questions": ["What colour is the sky?"]}), clip, keywords=["boats"])
    assert len(server.requests) == 3
    run_stage(cfg, clip, keywords=["drones"], refresh=True)
    assert len(server.requests) == 4


# -- through the CLI -----------------------------------------------------------------------


def test_cli_run_and_ask_against_the_server(tmp_path, server, clip, monkeypatch):
    from videokit._cli import main
    from videokit.store import open_store

    server.replies = [Reply(content=json.dumps(GOOD))]
    lib = tmp_path / "lib"
    monkeypatch.setenv("VIDEOKIT_QWENVL_PUBLICENDPOINT", server.base)
    runner = CliRunner()
    res = runner.invoke(main, ["-q", "--library", str(lib), "run", "--analyzer", "api", "--skip", "scenes", str(clip)])
    assert res.exit_code == 0, res.output
    assert len(server.requests) == 1
    answer = {**GOOD, "answers": {"How many drones?": "Exactly one."}}
    server.replies = [Reply(content=json.dumps(answer))]
    res = runner.invoke(main, ["--library", str(lib), "ask", "--analyzer", "api", str(clip), "How many drones?"])
    assert res.exit_code == 0, res.output
    assert "Exactly one." in res.output
    cfg = load_config(None, env={}, overrides={("Library", "Location"): str(lib)})
    with open_store(cfg) as store:
        (rec,) = store.search(__import__("videokit.store", fromlist=["Query"]).Query())
    assert rec.analysis.description == GOOD["description"]
    assert rec.analysis.answers["How many drones?"] == "Exactly one."
