"""Media bytes sent by the operating system (``sendfile``), not read into Python.

Neither uvicorn nor Starlette does this on its own: Starlette's ``FileResponse`` reads 64 KiB
chunks into Python for every Range request, and uvicorn implements no ASGI extension that
would let it do otherwise. Two small pieces close the gap:

* :class:`ZeroCopyH11Protocol`, the HTTP protocol ``videokit serve`` gives uvicorn: it adds the
  ASGI zero-copy extension (``http.response.zerocopysend``) to each request's scope and answers
  that message with ``loop.sendfile`` on the connection (``os.sendfile`` underneath), telling
  h11 how many body bytes went out so its framing and keep-alive stay right;
* :class:`MediaResponse`, the ``FileResponse`` of the media routes: where the server offers the
  extension, the whole file or the one requested range goes out in one zero-copy message;
  elsewhere (another server, the test client) it behaves as ``FileResponse``. A Range beyond
  the file is answered 416 in the API's JSON error shape.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import h11
from starlette.responses import FileResponse, MalformedRangeHeader, RangeNotSatisfiable
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from videokit.web.errors import error_response

ZEROCOPY = "http.response.zerocopysend"


class _Span:
    """Stands for ``count`` body bytes in h11's framing; the bytes themselves go by sendfile."""

    __slots__ = ("count",)

    def __init__(self, count: int) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count


class ZeroCopyH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus the ASGI zero-copy send extension."""

    def handle_events(self) -> None:
        super().handle_events()
        cycle = getattr(self, "cycle", None)
        if cycle is None or getattr(cycle, "_zerocopy", False):
            return
        # The request's task is scheduled, not started: its scope and send can still change.
        cycle._zerocopy = True
        cycle.scope.setdefault("extensions", {})[ZEROCOPY] = {}
        plain_send = cycle.send

        async def send(message: Any) -> None:
            if message["type"] == ZEROCOPY and cycle.response_started and not cycle.response_complete:
                await _send_file(cycle, message)
            else:
                await plain_send(message)

        cycle.send = send


async def _send_file(cycle: Any, message: Any) -> None:
    if cycle.flow.write_paused and not cycle.disconnected:
        await cycle.flow.drain()
    if cycle.disconnected:
        return
    count = int(message.get("count") or 0)
    if count and cycle.scope["method"] != "HEAD":
        framing = cycle.conn.send_with_data_passthrough(h11.Data(data=_Span(count)))
        for piece in framing or ():
            if isinstance(piece, _Span):
                loop = asyncio.get_running_loop()
                await loop.sendfile(cycle.transport, message["file"], int(message.get("offset") or 0), count)
            else:
                cycle.transport.write(piece)
    if not message.get("more_body", False):
        cycle.response_complete = True
        cycle.message_event.set()
        cycle.transport.write(cycle.conn.send(event=h11.EndOfMessage()))
        if cycle.conn.our_state is h11.MUST_CLOSE or not cycle.keep_alive:
            cycle.conn.send(event=h11.ConnectionClosed())
            cycle.transport.close()
        cycle.on_response()


class MediaResponse(FileResponse):
    """A file, or one range of it, sent by ``sendfile`` where the server supports it."""

    _zerocopy = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._zerocopy = scope.get("type") == "http" and ZEROCOPY in scope.get("extensions", {})
        wanted = _header(scope, b"range")
        if wanted is not None and scope.get("method", "GET").upper() in ("GET", "HEAD"):
            size = os.stat(self.path).st_size
            try:
                self._parse_range_header(wanted, size)
            except MalformedRangeHeader:
                pass  # FileResponse answers 400 itself
            except RangeNotSatisfiable:
                response = error_response(
                    416,
                    "range_not_satisfiable",
                    f"the range {wanted[:60]} is beyond the file ({size} bytes)",
                    {"Content-Range": f"bytes */{size}"},
                )
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _handle_simple(self, send: Send, send_header_only: bool, send_pathsend: bool) -> None:
        if not self._zerocopy or send_header_only:
            await super()._handle_simple(send, send_header_only, send_pathsend)
            return
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await self._send_range(send, 0, os.stat(self.path).st_size)

    async def _handle_single_range(
        self, send: Send, start: int, end: int, file_size: int, send_header_only: bool
    ) -> None:
        if not self._zerocopy or send_header_only:
            await super()._handle_single_range(send, start, end, file_size, send_header_only)
            return
        headers = [(k, v) for k, v in self.raw_headers if k not in (b"content-length", b"content-range")]
        headers += [
            (b"content-range", f"bytes {start}-{end - 1}/{file_size}".encode()),
            (b"content-length", str(end - start).encode()),
        ]
        await send({"type": "http.response.start", "status": 206, "headers": headers})
        await self._send_range(send, start, end - start)

    async def _send_range(self, send: Send, offset: int, count: int) -> None:
        with open(self.path, "rb") as fh:  # noqa: ASYNC230 - opening is instant; the bytes go by sendfile
            await send({"type": ZEROCOPY, "file": fh, "offset": offset, "count": count, "more_body": False})


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k.lower() == name:
            return v.decode("latin-1")
    return None
