"""A lean WebSocket client for `parley bench`: one asyncio.Protocol per connection, no task per connection.

It performs the RFC 6455 opening handshake itself, then speaks Parley's protocol (an `auth` that carries the
room, then send) and reads server frames straight from the receive buffer. The generator is Python and has
to keep up with a fan-out server, so the hot path does the least it can:

- a `message` frame is counted by a bytes search for `"type":"message"` inside the frame, without
  decoding it (quotes inside a message's text are JSON-escaped, so the bare token can only be a type);
- only publishers (to see their own messages come back and move their window) and sampled members (to
  measure end-to-end latency from the timestamp inside the text) decode a message, with msgspec;
- all frames found in one read are handled in one pass and the delivery count is added once per read.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import sys
import time
from collections import Counter
from typing import Any

import msgspec

from parley.protocol.handshake import accept_key
from parley.protocol.wsframe import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT
from parley.protocol.wsframe import mask_in_place as _mask_in_place

MESSAGE = b'"type":"message"'
ERROR = b'"type":"error"'
MAX_HEADERS = 64 * 1024
NO_LIMIT = sys.maxsize

# connection states
UPGRADING, AUTHENTICATING, JOINING, JOINED, CLOSING, CLOSED = range(6)

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class _Text(msgspec.Struct):
    text: str


class _Error(msgspec.Struct):
    code: str = "?"
    message: str = ""


_decode_text = msgspec.json.Decoder(_Text).decode
_decode_error = msgspec.json.Decoder(_Error).decode


def now_ms() -> float:
    return time.perf_counter() * 1000.0


def client_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    """One final, masked client frame (RFC 6455 section 5.3: clients mask every frame)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    mask = random.getrandbits(32).to_bytes(4, "big")
    body = bytearray(payload)
    _mask_in_place(mask, body)
    return head + mask + body


class BenchError(Exception):
    """A run cannot go on: the server refused, closed or broke a connection, or a phase stalled."""


class Tally:
    """What every client of a run adds to; the runner waits on `finished` during the publish phase."""

    __slots__ = ("deliveries", "ended", "error", "error_text", "errors", "expected", "failed", "finished",
                 "latency", "pending", "sent", "stop_sending", "target")

    def __init__(self) -> None:
        self.deliveries = 0
        self.target: float = float("inf")  # deliveries that end the publish phase, known once sending ends
        self.expected = 0  # deliveries owed by the publishers that have finished
        self.sent = 0
        self.failed = 0
        self.latency: list[float] = []
        self.errors: Counter[str] = Counter()
        self.error_text: dict[str, str] = {}  # first message seen per error code
        self.error: str | None = None
        self.stop_sending = False  # set when a --duration ends
        self.pending = 0  # publishers that have not finished
        self.finished: asyncio.Future[None] | None = None  # resolved: every delivery arrived, or an error
        self.ended = 0.0  # perf_counter() when `finished` resolved

    def publisher_done(self, owed: int) -> None:
        """A publisher has nothing left in flight; its successful sends owe `owed` deliveries."""
        self.expected += owed
        self.pending -= 1
        if self.pending <= 0:
            self.target = self.expected
            if self.deliveries >= self.target:
                self.reached()

    def reached(self) -> None:
        if self.finished is not None and not self.finished.done():
            self.ended = time.perf_counter()
            self.finished.set_result(None)

    def fail(self, why: str) -> None:
        if self.error is None:
            self.error = why
        self.reached()

    def record_error(self, frame: bytes) -> None:
        try:
            err = _decode_error(frame)
        except msgspec.DecodeError:
            err = _Error()
        self.record(err.code, err.message)

    def record(self, code: str, message: str) -> None:
        """One refusal by the server (an error frame, or an HTTP error answer), by its code."""
        self.errors[code] += 1
        self.error_text.setdefault(code, message)


class BenchClient(asyncio.Protocol):
    """One bench connection: handshake, auth, join; then counting deliveries and, for publishers, sending."""

    __slots__ = ("_buf", "_key", "close_started", "closed", "done", "failed", "finished", "gone", "host", "index",
                 "limit", "members", "opened_at", "path", "publisher", "ready", "room", "run_id", "sampled",
                 "sent", "size", "started", "state", "tally", "token", "transport", "window")

    def __init__(self, index: int, room: str, token: str, tally: Tally, host: str, path: str, *,
                 sampled: bool, run_id: str) -> None:
        self.index = index
        self.room = room
        self.token = token
        self.tally = tally
        self.host = host
        self.path = path
        self.sampled = sampled
        self.run_id = run_id
        self.publisher = False
        self.finished = False
        self.members = 0
        self.window = 1
        self.limit = 0
        self.size = 0
        self.sent = 0
        self.done = 0  # own messages seen again, plus sends answered with an error
        self.failed = 0
        self.transport: asyncio.Transport | None = None
        self.state = UPGRADING
        self._buf = bytearray()
        self._key = base64.b64encode(os.urandom(16))
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[tuple[float, float]] = loop.create_future()  # (handshake ms, ready ms)
        self.gone: asyncio.Future[None] = loop.create_future()
        self.started = now_ms()
        self.opened_at = 0.0
        self.close_started = 0.0
        self.closed = 0.0

    # setup ----------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        request = (f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {self._key.decode()}\r\n"
                   "Sec-WebSocket-Version: 13\r\nUser-Agent: parley-bench\r\n\r\n")
        transport.write(request.encode())  # type: ignore[attr-defined]

    def _not_ready(self, why: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(BenchError(f"client {self.index}: {why}"))
            self.ready.exception()  # awaited by the connect phase, unless it has already given up
        if self.transport is not None:
            self.transport.abort()

    def _upgrade(self, data: bytes) -> bytes | None:
        """Collect the handshake response; the bytes after it, or None while it is incomplete."""
        buf = self._buf
        buf += data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEADERS:
                self._not_ready("handshake response headers too long")
            return None
        head, rest = bytes(buf[:end]).decode("latin-1"), bytes(buf[end + 4:])
        buf.clear()
        status, *lines = head.split("\r\n")
        if status.split(" ")[1:2] != ["101"]:
            self._not_ready(f"the server answered the WebSocket upgrade with {status.partition(' ')[2]!r}"
                            f" (is {self.path!r} the WebSocket path?) {rest[:200].decode(errors='replace')}")
            return None
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        accept = accept_key(self._key.decode())
        if headers.get("sec-websocket-accept") != accept:
            self._not_ready("wrong Sec-WebSocket-Accept in the handshake response")
            return None
        self.opened_at = now_ms()
        self.state = AUTHENTICATING
        self.send({"type": "auth", "token": self.token, "rooms": [{"room": self.room}]})  # ready in one round trip
        return rest

    def _setup_frame(self, payload: bytes) -> None:
        """A text frame before `joined`: drive auth, then join."""
        try:
            frame = _decode(payload)
        except msgspec.DecodeError:
            self._not_ready(f"server sent a frame that is not JSON: {payload[:200]!r}")
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "error":
            self._not_ready(f"error before joining: {frame.get('code')}: {frame.get('message')}")
        elif kind == "ready" and self.state == AUTHENTICATING:
            self.state = JOINING  # the auth frame carried the room: `joined` follows without asking
        elif kind == "joined" and self.state == JOINING and frame.get("room") == self.room:
            self.state = JOINED
            if not self.ready.done():
                done = now_ms()
                self.ready.set_result((self.opened_at - self.started, done - self.started))

    # frames in ------------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.state == UPGRADING:
            rest = self._upgrade(data)
            if not rest:
                return
            data = rest
        buf = self._buf
        if buf:
            buf += data
            view: bytes | bytearray = buf
        else:
            view = data
        end = len(view)
        pos = 0
        count = own = 0
        now = 0.0
        decode = self.sampled or self.publisher
        while end - pos >= 2:
            b0 = view[pos]
            n = view[pos + 1]
            head = 2
            if n >= 126:
                if n == 126:
                    if end - pos < 4:
                        break
                    n = (view[pos + 2] << 8) | view[pos + 3]
                    head = 4
                elif n == 127:
                    if end - pos < 10:
                        break
                    n = int.from_bytes(view[pos + 2:pos + 10], "big")
                    head = 10
                else:
                    self._broken("server sent a masked frame")
                    return
            start = pos + head
            stop = start + n
            if stop > end:
                break
            pos = stop
            op = b0 & 0x0F
            if b0 & 0x80 == 0 or op == 0:
                self._broken("server sent a fragmented message, which the bench does not read")
                return
            if op == OP_TEXT:
                if self.state == JOINED:
                    if view.find(MESSAGE, start, stop) >= 0:
                        count += 1
                        if decode:
                            if not now:
                                now = now_ms()
                            own += self._message(bytes(view[start:stop]), now)
                    elif view.find(ERROR, start, stop) >= 0:
                        own += self._error(bytes(view[start:stop]))
                elif self.state < JOINED:
                    self._setup_frame(bytes(view[start:stop]))
            elif op == OP_PING:
                self.write_frame(client_frame(bytes(view[start:stop]), OP_PONG))
            elif op == OP_CLOSE:
                self._close_frame(bytes(view[start:stop]))
                return
        if view is buf:
            del buf[:pos]
        elif pos < end:
            buf += view[pos:]
        if count:
            tally = self.tally
            tally.deliveries += count
            if tally.deliveries >= tally.target:
                tally.reached()
        if own:
            self.done += own
            self.pump()

    def _message(self, frame: bytes, now: float) -> int:
        """A decoded message (publishers and sampled members): latency sample; 1 if it is our own."""
        try:
            p, _, t, _ = _decode_text(frame).text.split(" ", 3)
            sender, stamp = int(p), float(t)
        except (msgspec.DecodeError, ValueError):
            return 0  # not a bench message
        if self.sampled:
            self.tally.latency.append(now - stamp)
        return 1 if self.publisher and sender == self.index else 0

    def _error(self, frame: bytes) -> int:
        """An error frame after joining: the only frames we send then are sends, so one of ours failed."""
        self.tally.record_error(frame)
        if not self.publisher:
            return 0
        self.failed += 1
        self.tally.failed += 1
        return 1

    def _close_frame(self, payload: bytes) -> None:
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
        reason = payload[2:].decode(errors="replace")
        if self.state == CLOSING:  # the server answered our close
            if self.transport is not None:
                self.transport.close()
            return
        previous, self.state = self.state, CLOSING
        self.write_frame(client_frame(payload[:2], OP_CLOSE))
        if self.transport is not None:
            self.transport.close()
        why = f"the server closed the connection: {code} {reason}".rstrip()
        if previous != JOINED:
            self._not_ready(why)
        else:
            self.tally.fail(f"client {self.index}: {why}")

    def _broken(self, why: str) -> None:
        if self.state != JOINED:
            self._not_ready(why)
        else:
            self.tally.fail(f"client {self.index}: {why}")
        if self.transport is not None:
            self.transport.abort()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.closed = now_ms()
        if self.state < JOINED:
            self._not_ready(f"connection lost during setup ({exc or 'closed by the server'})")
        elif self.state == JOINED:
            self.tally.fail(f"client {self.index}: connection lost ({exc or 'closed by the server'})")
        self.state = CLOSED
        if not self.gone.done():
            self.gone.set_result(None)

    # frames out -----------------------------------------------------------------------------------

    def write_frame(self, frame: bytes) -> None:
        if self.transport is not None:
            self.transport.write(frame)

    def send(self, frame: dict[str, Any]) -> None:
        self.write_frame(client_frame(_encode(frame)))

    def make_publisher(self, window: int, limit: int, size: int, members: int) -> None:
        """Publish `limit` messages of `size` bytes, `window` in flight, to a room of `members` clients."""
        self.publisher = True
        self.window = window
        self.limit = limit
        self.size = size
        self.members = members

    def pump(self) -> None:
        """Keep `window` messages in flight until the limit (or the end of the duration); then report done."""
        tally = self.tally
        if self.state != JOINED:
            return
        out = []
        while self.sent < self.limit and self.sent - self.done < self.window and not tally.stop_sending:
            self.sent += 1
            head = f"{self.index} {self.sent} {now_ms():.3f} "
            text = head + "x" * (self.size - len(head))
            out.append(client_frame(_encode({"type": "send", "room": self.room, "text": text,
                                             "client_id": f"{self.run_id}-{self.index}-{self.sent}"})))
        if out:
            tally.sent += len(out)
            self.write_frame(out[0] if len(out) == 1 else b"".join(out))
        elif not self.finished and self.done >= self.sent and (self.sent >= self.limit or tally.stop_sending):
            self.finished = True
            tally.publisher_done((self.sent - self.failed) * self.members)

    def close(self) -> None:
        """Start the closing handshake (1000); `gone` resolves when the server has closed the TCP connection."""
        self.close_started = now_ms()
        if self.transport is None:
            return
        self.state = CLOSING
        self.write_frame(client_frame((1000).to_bytes(2, "big"), OP_CLOSE))
