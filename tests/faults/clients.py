"""The clients of the fault scenarios: honest chatters that record what they saw, a slow reader, an attacker.

- `FaultChatter` is tests/scale/cluster.py's `Chatter` (steady sends, resend of unacked client_ids,
  reconnect and resume with `since`) that also records how each connection ended (close codes), the
  duplicate acks it got, and the presence frames about other chatters.
- `RawWs` is a WebSocket client on a bare socket: it sends any frame, valid or not, and reads the server's
  frames only when asked (or never: a consumer that stops reading).
- `SlowReader` joins the room, asks for history over and over and never reads: the slow consumer.
- `Attacker` floods garbage: bytes that are not HTTP, frames before auth, forged tokens, malformed JSON,
  wrong types, unknown rooms, oversize and invalid frames, NUL characters, deep nesting; it counts the
  error codes and close codes it gets back.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from tests.scale.cluster import Chatter

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING = 0x0, 0x1, 0x2, 0x8, 0x9


class FaultChatter(Chatter):
    """A Chatter that also records close codes, duplicate acks and presence frames."""

    def __init__(self, user: str, token: str, url: Callable[[], str], room: str, rate: float = 8.0) -> None:
        super().__init__(user, token, url, room, rate)
        self.closes: Counter[str] = Counter()  # how each connection ended: a close code, or what failed
        self.duplicate_acks = 0
        self.duplicate_ids: list[str] = []
        self.offline_seen: Counter[str] = Counter()  # presence "online": false about a user, by user
        self.connected_urls: Counter[str] = Counter()

    @property
    def sent_ids(self) -> set[str]:
        return set(self.outcomes)

    def ack_waits(self) -> list[float]:
        """Seconds from the first send of each client_id to its first ack."""
        out = []
        for outcome in self.outcomes.values():
            acks = [t for t, reply in outcome.replies if reply == "ack"]
            if acks:
                out.append(acks[0] - outcome.first_sent)
        return out

    def _connected(self, url: str) -> None:
        self.connected_urls[url] += 1

    def _connect_failed(self, exc: BaseException) -> None:
        self.closes[f"connect: {type(exc).__name__}"] += 1

    def _ended(self, ws: Any) -> None:
        self.closes[str(ws.close_code)] += 1

    def _frame(self, frame: dict[str, Any]) -> None:
        super()._frame(frame)
        kind = frame.get("type")
        if kind == "ack" and frame.get("duplicate"):
            self.duplicate_acks += 1
            self.duplicate_ids.append(str(frame.get("client_id")))
        elif kind == "presence" and frame.get("room") == self.room and frame.get("online") is False:
            self.offline_seen[str(frame.get("user"))] += 1


# a WebSocket client on a bare socket ---------------------------------------------------------------------


def client_frame(op: int, payload: bytes, fin: bool = True, rsv: int = 0, masked: bool = True) -> bytes:
    """One client frame; `masked=False`, a reserved `op` or `rsv` bits make it a protocol violation."""
    mask = os.urandom(4) if masked else b""
    n = len(payload)
    b0 = (0x80 if fin else 0) | rsv | op
    bit = 0x80 if masked else 0
    if n < 126:
        head = bytes((b0, bit | n))
    elif n < 65536:
        head = bytes((b0, bit | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, bit | 127)) + n.to_bytes(8, "big")
    if masked:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + payload


class RawWs:
    """A WebSocket connection on a non-blocking socket; frames are written as given and read on demand."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.close_code: int | None = None
        self.closed = False

    @classmethod
    async def open(cls, port: int, rcvbuf: int | None = None, timeout: float = 5) -> RawWs:
        sock = socket.socket()
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), timeout)
            key = base64.b64encode(os.urandom(16)).decode()
            await loop.sock_sendall(sock, (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
            ws = cls(sock)
            deadline = time.monotonic() + timeout
            while b"\r\n\r\n" not in ws.buffer:
                chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), max(deadline - time.monotonic(), 0.01))
                if not chunk:
                    raise ConnectionError("closed during the handshake")
                ws.buffer += chunk
        except BaseException:
            sock.close()
            raise
        head, _, ws.buffer = ws.buffer.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            sock.close()
            raise ConnectionError(f"upgrade refused: {head.splitlines()[0]!r}")
        return ws

    async def send_raw(self, data: bytes, timeout: float = 2) -> bool:
        """Write bytes; False when the connection is gone or the peer stopped taking them."""
        if self.closed:
            return False
        try:
            await asyncio.wait_for(asyncio.get_running_loop().sock_sendall(self.sock, data), timeout)
        except (OSError, TimeoutError):
            return False
        return True

    async def send(self, frame: dict[str, Any] | str | bytes, op: int = OP_TEXT, timeout: float = 2) -> bool:
        text = frame if isinstance(frame, str | bytes) else json.dumps(frame)
        payload = text if isinstance(text, bytes) else text.encode()
        return await self.send_raw(client_frame(op, payload), timeout)

    async def read(self, timeout: float) -> list[tuple[int, bytes]]:
        """Frames arriving within `timeout` (the connection's end sets `closed` and `close_code`)."""
        loop = asyncio.get_running_loop()
        frames: list[tuple[int, bytes]] = []
        deadline = time.monotonic() + timeout
        while not self.closed:
            frames += self._parse()
            if self.closed:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                chunk = await asyncio.wait_for(loop.sock_recv(self.sock, 65536), left)
            except TimeoutError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                self.closed = True
                self.close_code = self.close_code or 1006
                break
            self.buffer += chunk
        return frames

    def _parse(self) -> list[tuple[int, bytes]]:
        out = []
        while len(self.buffer) >= 2:
            b0, b1 = self.buffer[0], self.buffer[1]
            n, at = b1 & 0x7F, 2
            if n == 126:
                if len(self.buffer) < 4:
                    break
                n, at = int.from_bytes(self.buffer[2:4], "big"), 4
            elif n == 127:
                if len(self.buffer) < 10:
                    break
                n, at = int.from_bytes(self.buffer[2:10], "big"), 10
            if len(self.buffer) < at + n:
                break
            op, payload = b0 & 0x0F, self.buffer[at:at + n]
            self.buffer = self.buffer[at + n:]
            if op == OP_CLOSE:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.closed = True
            out.append((op, payload))
        return out

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()


def error_codes(frames: list[tuple[int, bytes]]) -> Counter[str]:
    """The `code` of every `error` frame among `frames` (and "ack" for each ack)."""
    out: Counter[str] = Counter()
    for op, payload in frames:
        if op == OP_TEXT:
            with contextlib.suppress(ValueError):
                frame = json.loads(payload)
                if isinstance(frame, dict) and frame.get("type") == "error":
                    out[str(frame.get("code"))] += 1
                elif isinstance(frame, dict) and frame.get("type") == "ack":
                    out["ack"] += 1
    return out


# the slow consumer -----------------------------------------------------------------------------------------


class SlowReader:
    """Joins the room, then asks for history again and again and never reads a byte (tiny receive buffer)."""

    def __init__(self, port: int, token: str, room: str) -> None:
        self.port, self.token, self.room = port, token, room
        self.requests = 0
        self.ws: RawWs | None = None
        self.blocked_after: float | None = None  # seconds until the server stopped taking its requests
        self.close_code: int | None = None
        self._t0 = 0.0

    async def flood(self, seconds: float) -> None:
        """Ask for history until the server stops taking the requests (it stopped reading), or `seconds`."""
        self.ws = ws = await RawWs.open(self.port, rcvbuf=4096)
        await ws.send({"type": "auth", "token": self.token})
        await ws.send({"type": "join", "room": self.room, "since": 0})
        self._t0 = time.monotonic()
        while time.monotonic() - self._t0 < seconds:
            if not await ws.send({"type": "history", "room": self.room, "limit": 100}, timeout=0.5):
                self.blocked_after = time.monotonic() - self._t0
                return
            self.requests += 1
            await asyncio.sleep(0.002)

    async def finish(self) -> None:
        """Read what is left, to the end of the connection (or 30 s), to see how it ended."""
        assert self.ws is not None
        deadline = time.monotonic() + 30
        while not self.ws.closed and time.monotonic() < deadline:
            await self.ws.read(1)
        self.close_code = self.ws.close_code if self.ws.closed else None
        self.ws.close()


# the attacker -----------------------------------------------------------------------------------------------


def nested(depth: int) -> str:
    return '{"type":"send","room":"x","text":' + "[" * depth + "]" * depth + "}"


class Attacker:
    """Floods one server with garbage for a while, reconnecting whenever it is thrown out; counts what it gets."""

    def __init__(self, port: int, token: str, room: str) -> None:
        self.port, self.token, self.room = port, token, room
        self.frames = 0  # hostile frames (or raw writes) sent
        self.connections = 0
        self.errors: Counter[str] = Counter()  # error codes received
        self.closes: Counter[str] = Counter()  # close codes received (1006: no close frame)
        self.refused: Counter[str] = Counter()  # connections that did not get to the WebSocket stage
        self._n = 0

    def _unique(self) -> str:
        self._n += 1
        return f"atk-{self._n}"

    def in_session(self) -> list[str | bytes]:
        """Malformed or refused frames an authenticated connection gets `error` frames for (it stays open)."""
        room = self.room
        return [
            "not json", "[1,2,3]", "{}", '{"type":"nope"}', '{"type":"send"}', '{"type":"join","room":"../etc"}',
            '{"type":"join","room":5}', json.dumps({"type": "send", "room": room, "text": "", "client_id": "e"}),
            json.dumps({"type": "send", "room": "not-joined-room", "text": "x", "client_id": self._unique()}),
            json.dumps({"type": "send", "room": room, "text": "x" * 5000, "client_id": self._unique()}),
            json.dumps({"type": "history", "room": room, "before": "x"}),
            json.dumps({"type": "send", "room": room, "text": "nul \u0000 in text", "client_id": self._unique()}),
            json.dumps({"type": "send", "room": room, "text": "nul in client_id",
                        "client_id": f"{self._unique()}\u0000"}),
            json.dumps({"type": "auth", "token": self.token}),  # auth twice
            b"\x00\x01binary",  # a binary frame
            nested(30_000),
            '{"type":"ping","ref":' + "9" * 5000 + "}",
        ]

    async def _session(self, until: float) -> None:
        ws = await RawWs.open(self.port)
        self.connections += 1
        try:
            await ws.send({"type": "auth", "token": self.token})
            await ws.send({"type": "join", "room": self.room})
            while time.monotonic() < until and not ws.closed:
                for frame in self.in_session():
                    op = OP_BINARY if isinstance(frame, bytes) else OP_TEXT
                    if not await ws.send(frame, op):
                        break
                    self.frames += 1
                self.errors.update(error_codes(await ws.read(0.02)))
            self.errors.update(error_codes(await ws.read(0.2)))
            if ws.closed:
                self.closes[str(ws.close_code)] += 1
        finally:
            ws.close()

    async def _fatal(self, name: str, data: bytes, authenticate: bool) -> None:
        """One connection ended by a protocol violation; records the close code the server sends."""
        ws = await RawWs.open(self.port)
        self.connections += 1
        try:
            if authenticate:
                await ws.send({"type": "auth", "token": self.token})
            await ws.send_raw(data)
            self.frames += 1
            frames = await ws.read(2)
            self.errors.update(error_codes(frames))
            self.closes[f"{ws.close_code} ({name})" if ws.closed else f"open ({name})"] += 1
        finally:
            ws.close()

    async def _not_http(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", self.port)), 2)
            await loop.sock_sendall(sock, data)
            self.frames += 1
            answer = await asyncio.wait_for(loop.sock_recv(sock, 200), 2)
            self.refused[answer.split(b"\r\n")[0].decode(errors="replace")[:40] or "closed"] += 1
        except (OSError, TimeoutError) as exc:
            self.refused[type(exc).__name__] += 1
        finally:
            sock.close()

    async def run(self, seconds: float) -> None:
        """Attack for `seconds` at once: flooding sessions, connections the server must end, bytes that are not
        HTTP — each kind in its own loop."""
        until = time.monotonic() + seconds
        fatal: list[tuple[str, bytes, bool]] = [
            ("invalid utf-8", client_frame(OP_TEXT, b'{"type":"ping","x":"\xff\xfe"}'), True),
            ("oversize", client_frame(OP_TEXT, b"x" * 70_000), True),
            ("reserved opcode", client_frame(0x3, b""), True),
            ("unmasked", client_frame(OP_TEXT, b'{"type":"ping"}', masked=False), True),
            ("rsv bit", client_frame(OP_TEXT, b'{"type":"ping"}', rsv=0x40), True),
            ("stray continuation", client_frame(OP_CONT, b"x"), True),
            ("forged token", client_frame(OP_TEXT, json.dumps({"type": "auth", "token": forged_token()}).encode()),
             False),
            ("frame before auth", client_frame(OP_TEXT, b'{"type":"join","room":"general"}'), False),
        ]
        garbage: list[bytes] = [
            b"\x00" + random.Random(10).randbytes(511),  # (a first byte that cannot start a request: answered at once)
            b"HELLO\r\n\r\n",
            b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",  # no Host
            b"POST /api/login HTTP/1.1\r\nContent-Length: 5\r\n\r\n{\"a\":",
        ]

        async def loop(attack: Callable[[int], Awaitable[None]]) -> None:
            i = 0
            while time.monotonic() < until:
                try:
                    await attack(i)
                except (OSError, TimeoutError, ConnectionError) as exc:
                    self.refused[type(exc).__name__] += 1
                    await asyncio.sleep(0.05)
                i += 1

        await asyncio.gather(
            loop(lambda i: self._session(until)),
            loop(lambda i: self._fatal(*fatal[i % len(fatal)])),
            loop(lambda i: self._not_http(garbage[i % len(garbage)])),
        )


def forged_token() -> str:
    """A JWT signed with a key the server does not have, for an existing-looking user."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"sub": "admin", "exp": int(time.time()) + 3600}).encode())
    return f"{head}.{body}.{b64(os.urandom(32))}"
