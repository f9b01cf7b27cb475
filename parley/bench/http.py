"""A lean HTTP/1.1 client connection for `parley bench --transport poll`: one asyncio.Protocol per keep-alive
connection, one request at a time, no task and no future per request.

Thousands of pollers each turn every delivery into one response and one new request, so the generator's
cost per request decides whether it or the server is measured. This connection writes a prepared request
with one `transport.write`, finds the end of the head and the body length with bytes searches (status,
`Content-Length`, `Transfer-Encoding: chunked`, `Connection: close`; nothing else is parsed) and hands the
status and body to its owner's `answered` callback; `lost` reports the end of the connection. Owners are
the pollers and publishers (parley.bench.poll) and `Requester`, which awaits one answer at a time.
"""

from __future__ import annotations

import asyncio
from ssl import SSLContext
from typing import Protocol

MAX_HEAD = 64 * 1024


class HttpError(Exception):
    """The server's answer could not be read as HTTP/1.1."""


class Owner(Protocol):
    def answered(self, conn: HttpConnection, status: int, body: bytes) -> None: ...

    def lost(self, conn: HttpConnection, exc: Exception | None) -> None: ...


class HttpConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; `request` writes a complete request, `owner.answered` gets its answer."""

    __slots__ = ("_body", "_buf", "_chunked", "_close", "_error", "_need", "_status", "busy", "owner", "transport")

    def __init__(self, owner: Owner) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.busy = False  # a request is written and its answer not yet read
        self._buf = bytearray()
        self._status = 0  # of the answer being read; 0 while its head is incomplete
        self._need = -1  # body bytes still expected (-1: until the connection ends)
        self._chunked = False
        self._close = False
        self._body = bytearray()
        self._error: HttpError | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def request(self, data: bytes) -> bool:
        """Write one complete request; False when the connection is gone."""
        if self.transport is None or self.transport.is_closing():
            return False
        self.busy = True
        self.transport.write(data)
        return True

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # answers in -----------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        try:
            while buf:
                if not self._status and not self._head():
                    return
                if self._chunked:
                    if not self._chunks():
                        return
                    body = bytes(self._body)
                    self._body.clear()
                elif self._need < 0:
                    return  # the body lasts until the connection ends (connection_lost)
                elif len(buf) < self._need:
                    return
                else:
                    body = bytes(buf[:self._need])
                    del buf[:self._need]
                self._answer(body)
        except HttpError as exc:  # reported by connection_lost
            self._buf.clear()
            self._error = exc
            self.abort()

    def _head(self) -> bool:
        """Read a complete response head; False while it is incomplete."""
        buf = self._buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                raise HttpError("response head over 64 KiB")
            return False
        head = bytes(buf[:end]).lower()
        del buf[:end + 4]
        if not head.startswith(b"http/1."):
            raise HttpError(f"not an HTTP/1.x response: {head[:80]!r}")
        try:
            status = int(head[9:12])
        except ValueError:
            raise HttpError(f"bad status line: {head[:80]!r}") from None
        if status < 200:  # 100 Continue and friends: no body, the real answer follows
            return self._head() if buf else False
        self._status = status
        self._chunked = _header(head, b"transfer-encoding").find(b"chunked") >= 0
        self._close = _header(head, b"connection").find(b"close") >= 0 or head.startswith(b"http/1.0")
        length = _header(head, b"content-length")
        if self._chunked:
            self._need = 0
        elif length:
            try:
                self._need = int(length)
            except ValueError:
                raise HttpError(f"bad Content-Length: {length!r}") from None
        elif status in (204, 304):
            self._need = 0
        else:
            self._need = -1
        return True

    def _chunks(self) -> bool:
        """Move complete chunks into the body; True once the last chunk (and its trailer) has arrived."""
        buf = self._buf
        while True:
            if self._need > 0:  # inside a chunk: its data and CRLF
                if len(buf) < self._need + 2:
                    return False
                self._body += buf[:self._need]
                del buf[:self._need + 2]
                self._need = 0
            line_end = buf.find(b"\r\n")
            if line_end < 0:
                return False
            if self._need < 0:  # the trailer after the last chunk, up to an empty line
                del buf[:line_end + 2]
                if line_end == 0:
                    return True
                continue
            try:
                size = int(bytes(buf[:line_end]).split(b";", 1)[0], 16)
            except ValueError:
                raise HttpError(f"bad chunk size line: {bytes(buf[:line_end][:40])!r}") from None
            del buf[:line_end + 2]
            self._need = size if size else -1

    def _answer(self, body: bytes) -> None:
        status, close = self._status, self._close
        self._status, self._need, self._chunked, self._close = 0, -1, False, False
        self.busy = False
        if close:
            self.close()
        self.owner.answered(self, status, body)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self._status and self._need < 0 and not self._chunked:  # a body delimited by the end of the connection
            body = bytes(self._buf)
            self._buf.clear()
            self._answer(body)
        self.owner.lost(self, self._error or exc)


def _header(head: bytes, name: bytes) -> bytes:
    """The value of header `name` in a lower-cased response head (b"" when absent)."""
    at = head.find(b"\r\n" + name + b":")
    if at < 0:
        return b""
    start = at + len(name) + 3
    end = head.find(b"\r\n", start)
    return head[start:end if end >= 0 else len(head)].strip()


def build_request(method: str, target: str, host: str, token: str | None = None, body: bytes | None = None) -> bytes:
    """A complete HTTP/1.1 request (JSON body when `body` is given)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "User-Agent: parley-bench"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if body is not None:
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body)}")
    elif method in ("POST", "PUT"):
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


class Requester:
    """An HTTP connection used one awaited request at a time (the close phase's DELETEs)."""

    def __init__(self) -> None:
        self.conn = HttpConnection(self)
        self._waiting: asyncio.Future[tuple[int, bytes]] | None = None

    async def open(self, host: str, port: int, ssl: SSLContext | None = None) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: self.conn, host, port, ssl=ssl)

    async def request(self, data: bytes) -> tuple[int, bytes]:
        """Status and body of the answer to `data`; OSError when the connection is gone."""
        self._waiting = asyncio.get_running_loop().create_future()
        if not self.conn.request(data):
            raise ConnectionResetError("the connection is closed")
        return await self._waiting

    def answered(self, conn: HttpConnection, status: int, body: bytes) -> None:
        if self._waiting is not None and not self._waiting.done():
            self._waiting.set_result((status, body))

    def lost(self, conn: HttpConnection, exc: Exception | None) -> None:
        if self._waiting is not None and not self._waiting.done():
            self._waiting.set_exception(exc if isinstance(exc, OSError) else ConnectionResetError(str(exc or "closed")))

    def close(self) -> None:
        self.conn.close()
