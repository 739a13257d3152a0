"""A local HTTP server for tests: files with Range support, redirects, pages, and failures.

Use the ``http_server`` fixture (a fresh :class:`TestServer` per test)::

    def test_x(http_server):
        http_server.add_file("/v.mp4", data)
        fetch(http_server.url("/v.mp4"), ...)
        assert http_server.requests("/v.mp4")[0].range is None

Routes are registered by path (query strings are ignored when matching). Every request is
recorded in :attr:`TestServer.log` with the bytes of body actually written.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

CHUNK = 16 * 1024


@dataclass
class Request:
    """One request as the server saw it."""

    method: str
    path: str
    range: str | None
    status: int = 0
    bytes_sent: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


@dataclass
class Failure:
    """A canned error response served before the real one."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Route:
    kind: str  # file | redirect | status
    data: bytes = b""
    content_type: str | None = "video/mp4"
    headers: dict[str, str] = field(default_factory=dict)
    ranges: bool = True
    length: str | int = "exact"  # exact | none (close-delimited) | an int to claim instead
    failures: list[Failure] = field(default_factory=list)  # consumed one per request
    drop_after: int | None = None  # close the connection after this many body bytes...
    drops_left: int | None = None  # ...this many times (None: every time)
    stall_after: int | None = None  # send this many bytes then wait for release()...
    stalls_left: int = 0  # ...this many times
    chunk_delay: float = 0.0  # seconds between body chunks (a slow server)
    chunk_size: int = CHUNK  # bytes per body chunk (1 with chunk_delay=1: one byte a second)
    location: str = ""
    status: int = 200
    etag: str | None = None


class TestServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 with a random port."""

    __test__ = False  # not a test class

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.log: list[Request] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> TestServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> TestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    # -- routes ------------------------------------------------------------------------
    def add_file(
        self,
        path: str,
        data: bytes,
        *,
        content_type: str | None = "video/mp4",
        headers: dict[str, str] | None = None,
        ranges: bool = True,
        length: str | int = "exact",
        fail: list[Failure] | None = None,
        drop_after: int | None = None,
        drops: int | None = None,
        stall_after: int | None = None,
        stalls: int = 1,
        chunk_delay: float = 0.0,
        chunk_size: int = CHUNK,
        etag: str | None = None,
    ) -> Route:
        """Serve ``data``. ``length``: "exact", "none" (no Content-Length, close-delimited)
        or an int to claim. ``fail``: error responses served first, one per request.
        ``drop_after``/``drops``: cut the body after N bytes the first ``drops`` times (None: always).
        ``stall_after``/``stalls``: send N bytes then hang until :meth:`release` (the first ``stalls`` times).
        ``chunk_size``/``chunk_delay``: send the body in pieces of that size, that many seconds apart."""
        route = Route(
            "file",
            data=data,
            content_type=content_type,
            headers=dict(headers or {}),
            ranges=ranges,
            length=length,
            failures=list(fail or []),
            drop_after=drop_after,
            drops_left=drops,
            stall_after=stall_after,
            stalls_left=stalls if stall_after is not None else 0,
            chunk_delay=chunk_delay,
            chunk_size=chunk_size,
            etag=etag,
        )
        self.routes[path] = route
        return route

    def add_page(self, path: str, html: str, *, content_type: str = "text/html; charset=utf-8") -> Route:
        return self.add_file(path, html.encode("utf-8"), content_type=content_type, ranges=False)

    def add_video_page(self, path: str, video_path: str, *, title: str, form: str = "video") -> Route:
        """An HTML page embedding ``video_path``: form is "video" (<video src>),
        "source" (<video><source src>) or "js" (URL only inside a script)."""
        video_url = self.url(video_path)
        if form == "video":
            body = f'<video controls src="{video_path}" width="320"></video>'
        elif form == "source":
            body = f'<video controls width="320">\n  <source src="{video_path}" type="video/mp4">\n</video>'
        elif form == "js":
            body = (
                '<div id="player"></div>\n<script>\n'
                f'  var player = new Player("player", {{file: "{video_url}", autoplay: false}});\n'
                "</script>"
            )
        else:
            raise ValueError(f"unknown page form {form!r}")
        html = (
            "<!DOCTYPE html>\n<html><head>\n"
            f"<title>{title}</title>\n"
            f'<meta property="og:description" content="Description of {title}">\n'
            f"</head><body>\n<h1>{title}</h1>\n{body}\n</body></html>\n"
        )
        return self.add_page(path, html)

    def add_redirect(self, path: str, target: str, status: int = 302) -> Route:
        route = Route("redirect", location=target, status=status)
        self.routes[path] = route
        return route

    def add_status(self, path: str, status: int, headers: dict[str, str] | None = None) -> Route:
        route = Route("status", status=status, headers=dict(headers or {}), data=f"status {status}\n".encode())
        self.routes[path] = route
        return route

    def release(self) -> None:
        """Let stalled responses finish (also done by stop())."""
        self._release.set()

    # -- inspection --------------------------------------------------------------------
    def requests(self, path: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.log if path is None or urlsplit(r.path).path == path]

    def _record(self, req: Request) -> None:
        with self._lock:
            self.log.append(req)


def unused_url(path: str = "/v.mp4") -> str:
    """A URL on a local port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """(start, end) inclusive, None when absent/unusable, "bad" when unsatisfiable."""
    if not header or not header.startswith("bytes="):
        return None
    spec = header[len("bytes=") :].split(",")[0].strip()
    start_s, _, end_s = spec.partition("-")
    try:
        if start_s == "":
            n = int(end_s)
            start, end = max(size - n, 0), size - 1
        else:
            start = int(start_s)
            end = int(end_s) if end_s else size - 1
    except ValueError:
        return None
    if start >= size or start > end:
        return "bad"
    return start, min(end, size - 1)


def _handler_for(server: TestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_HEAD(self) -> None:
            self._serve(head=True)

        def do_GET(self) -> None:
            self._serve(head=False)

        # ------------------------------------------------------------------------------
        def _serve(self, *, head: bool) -> None:
            req = Request(self.command, self.path, self.headers.get("Range"), headers=dict(self.headers.items()))
            server._record(req)
            self.close_connection = True
            route = server.routes.get(urlsplit(self.path).path)
            if route is None:
                self._simple(req, 404, b"not found\n")
                return
            if route.kind == "redirect":
                self._simple(req, route.status, b"", {"Location": route.location})
                return
            if route.kind == "status":
                self._simple(req, route.status, route.data, route.headers)
                return
            with server._lock:
                failure = route.failures.pop(0) if route.failures else None
            if failure is not None:
                self._simple(req, failure.status, f"status {failure.status}\n".encode(), failure.headers)
                return
            self._file(req, route, head)

        def _simple(self, req: Request, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            req.status = status
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
                req.bytes_sent = len(body)

        def _file(self, req: Request, route: Route, head: bool) -> None:
            data = route.data
            size = len(data)
            status, start, end = 200, 0, size - 1
            rng = _parse_range(req.range, size) if route.ranges else None
            if route.ranges and route.etag and self.headers.get("If-Range") not in (None, route.etag):
                rng = None  # validator changed: send the whole entity
            if rng == "bad":
                self._simple(req, 416, b"", {"Content-Range": f"bytes */{size}"})
                return
            if isinstance(rng, tuple):
                status, (start, end) = 206, rng
            body = data[start : end + 1]
            req.status = status
            self.send_response(status)
            if route.content_type:
                self.send_header("Content-Type", route.content_type)
            if route.ranges:
                self.send_header("Accept-Ranges", "bytes")
            if route.etag:
                self.send_header("ETag", route.etag)
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            if route.length == "exact":
                self.send_header("Content-Length", str(len(body)))
            elif isinstance(route.length, int):
                self.send_header("Content-Length", str(route.length))
            for k, v in route.headers.items():
                self.send_header(k, v)
            self.send_header("Connection", "close")
            self.end_headers()
            if head:
                return
            limit, stall = len(body), False
            with server._lock:
                if route.drop_after is not None and (route.drops_left is None or route.drops_left > 0):
                    limit = min(limit, route.drop_after)
                    if route.drops_left is not None:
                        route.drops_left -= 1
                if route.stall_after is not None and route.stalls_left > 0:
                    route.stalls_left -= 1
                    stall = True
            try:
                self._write(req, body[:limit], route, stall)
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                if limit < len(body) or stall:
                    self._drop()

        def _write(self, req: Request, body: bytes, route: Route, stall: bool) -> None:
            cut = route.stall_after if stall and route.stall_after is not None else None
            for pos in range(0, len(body), route.chunk_size):
                if cut is not None and pos >= cut:
                    break
                piece = body[pos : min(pos + route.chunk_size, cut if cut is not None else len(body))]
                self.wfile.write(piece)
                self.wfile.flush()
                req.bytes_sent += len(piece)
                if route.chunk_delay:
                    time.sleep(route.chunk_delay)
            if stall:
                server._release.wait(30)

        def _drop(self) -> None:
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    return Handler


@pytest.fixture
def http_server() -> Iterator[TestServer]:
    with TestServer() as server:
        yield server
