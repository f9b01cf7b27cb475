"""The WebSocket transport: aiohttp does the handshake and parses client frames; Parley writes.

Each connection queues pre-built frames (the same bytes for every member of a room) and writes them
once per loop iteration. A connection whose unsent output stays over `max_pending` is dropped
(close 4408) rather than allowed to grow memory without bound.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from parley.config import Settings
from parley.protocol import CloseCode
from parley.protocol.wsframe import OP_BINARY, OP_PING, OP_PONG, Outbound, encode_frame, valid_close_code
from parley.transports.writer import Flusher, flusher

log = logging.getLogger("parley.ws")

PING = encode_frame(b"", OP_PING)
SLOW_GRACE = 5.0  # seconds a connection may stay over max_pending before it is dropped


class WsConnection:
    """One WebSocket connection's output side; the Sink its Session writes to."""

    __slots__ = ("__weakref__", "_buf", "_close_task", "_flusher", "_transport", "_ws", "closing", "missed",
                 "over_since", "peer", "registry", "settings")

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport, settings: Settings,
                 registry: "Connections", peer: str) -> None:
        self._ws = ws
        self._transport: asyncio.Transport | None = transport
        self._buf: list[bytes] = []
        self._flusher: Flusher = flusher()
        self._close_task: asyncio.Task[bool] | None = None
        self.settings = settings
        self.registry = registry
        self.peer = peer
        self.closing = False
        self.missed = 0  # pings sent since the peer was last heard from
        self.over_since = 0.0

    def write(self, out: Outbound) -> None:
        buf = self._buf
        if not buf:
            if self._transport is None or self.closing:
                return
            self._flusher.mark(self)
        buf.append(out.ws)

    def write_raw(self, frame: bytes) -> None:
        if not self._buf:
            if self._transport is None or self.closing:
                return
            self._flusher.mark(self)
        self._buf.append(frame)

    def flush(self) -> None:
        buf = self._buf
        transport = self._transport
        if not buf or transport is None:
            buf.clear()
            return
        transport.write(buf[0] if len(buf) == 1 else b"".join(buf))
        buf.clear()
        if transport.get_write_buffer_size() > self.settings.max_pending:
            self.check_slow()

    def check_slow(self) -> None:
        """Drop the connection if its unsent output has stayed over the cap for SLOW_GRACE seconds."""
        transport = self._transport
        if transport is None:
            return
        if transport.get_write_buffer_size() <= self.settings.max_pending:
            self.over_since = 0.0
            return
        now = time.monotonic()
        if not self.over_since:
            self.over_since = now
        elif now - self.over_since > SLOW_GRACE:
            log.warning("dropping slow consumer %s: %d bytes unsent", self.peer, transport.get_write_buffer_size())
            self.registry.slow_drops += 1
            self.abort()

    def close(self, code: int, reason: str) -> None:
        """Send a close frame after whatever is queued, then wait for the peer's close."""
        if self.closing or self._transport is None:
            return
        self.flush()
        self.closing = True
        self._close_task = asyncio.get_running_loop().create_task(
            self._ws.close(code=code, message=reason.encode()[:123]))

    def abort(self) -> None:
        self.closing = True
        if self._transport is not None:
            self._transport.abort()
            self._transport = None

    async def closed(self) -> None:
        """Wait for a close handshake this side started."""
        if self._close_task is not None:
            await asyncio.shield(self._close_task)
        self._transport = None


class Connections:
    """Every open WebSocket of this process, for heartbeats, metrics and shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.open: dict[WsConnection, None] = {}
        self.slow_drops = 0
        self.heartbeat_drops = 0
        self.total = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._heartbeat(), name="parley-heartbeat")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        for conn in list(self.open):
            conn.close(CloseCode.GOING_AWAY, "server shutting down")
        await asyncio.gather(*(c.closed() for c in list(self.open)), return_exceptions=True)

    async def _heartbeat(self) -> None:
        interval = self.settings.heartbeat
        while True:
            await asyncio.sleep(interval)
            for conn in list(self.open):
                if conn.missed >= 2:
                    log.info("ws %s missed two pongs; dropping", conn.peer)
                    self.heartbeat_drops += 1
                    conn.abort()
                    continue
                conn.missed += 1
                conn.write_raw(PING)
                if conn.over_since:
                    conn.check_slow()


def origin_allowed(origin: str | None, request: web.Request, settings: Settings) -> bool:
    """No Origin (a non-browser client), the server's own origin, or one listed with --allowed-origin."""
    if origin is None:
        return True
    allowed = settings.allowed_origins
    if "*" in allowed or origin.rstrip("/").lower() in (a.rstrip("/").lower() for a in allowed):
        return True
    netloc = urlsplit(origin).netloc.lower() if origin != "null" else ""
    return bool(netloc) and netloc == request.host.lower()


class Handler(Protocol):
    """What the read loop drives: a chat Session, or the echo handler."""

    user: str | None

    def handle(self, data: str) -> None: ...

    def handle_binary(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class Echo:
    """Sends every message back unchanged: the conformance endpoint (--echo-path) on the same write path."""

    user = None

    def __init__(self, conn: WsConnection) -> None:
        self.conn = conn

    def handle(self, data: str) -> None:
        self.conn.write(Outbound(data.encode()))

    def handle_binary(self, data: bytes) -> None:
        self.conn.write_raw(encode_frame(data, OP_BINARY))

    def close(self) -> None:
        pass


async def serve_websocket(request: web.Request, settings: Settings, registry: Connections,
                          make_handler: Callable[[WsConnection], Handler]) -> web.StreamResponse:
    """Run one WebSocket connection: handshake, read loop, close; `make_session` builds its Session."""
    if not origin_allowed(request.headers.get("Origin"), request, settings):
        log.warning("refused WebSocket from origin %s (peer %s)", request.headers.get("Origin"), request.remote)
        raise web.HTTPForbidden(text="origin not allowed\n")
    ws = web.WebSocketResponse(autoping=False, autoclose=False, max_msg_size=settings.max_frame, compress=False)
    await ws.prepare(request)
    transport = request.transport
    assert transport is not None
    peer = f"{request.remote}"
    conn = WsConnection(ws, transport, settings, registry, peer)
    session = make_handler(conn)
    registry.open[conn] = None
    registry.total += 1
    started = time.monotonic()
    log.info("ws open %s", peer)
    handle = session.handle
    code: int | None = None
    try:
        while True:
            msg = await ws.receive()
            conn.missed = 0
            kind = msg.type
            if kind is WSMsgType.TEXT:
                handle(msg.data)
            elif kind is WSMsgType.BINARY:
                session.handle_binary(msg.data)
            elif kind is WSMsgType.PING:
                conn.write_raw(encode_frame(msg.data, OP_PONG))
            elif kind is WSMsgType.PONG:
                pass
            elif kind is WSMsgType.CLOSE:
                code = msg.data
                reply = code if valid_close_code(code) else CloseCode.PROTOCOL_ERROR
                if code == 0:  # a close frame with no code
                    reply = CloseCode.NORMAL
                conn.flush()
                conn.closing = True
                await ws.close(code=reply)
                break
            else:  # CLOSING (we started the close), CLOSED, ERROR (aiohttp already sent 1007/1009/1002)
                if kind is WSMsgType.ERROR:
                    code = ws.close_code
                break
    finally:
        session.close()
        registry.open.pop(conn, None)
        await conn.closed()
        log.info("ws close %s user=%s code=%s after %.1fs", peer, session.user,
                 code if code is not None else ws.close_code, time.monotonic() - started)
    return ws
