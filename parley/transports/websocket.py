"""The WebSocket transport: aiohttp performs the HTTP upgrade, then Parley owns the connection.

After the 101 response the socket is handed from aiohttp's HTTP protocol to a WsConnection, an
asyncio.Protocol that parses client frames as bytes arrive (protocol.wsparser, no task per connection
or per message) and calls its handler (a chat Session, or Echo) directly. Output is queued as pre-built
frames — the same bytes for every member of a room — and written once per loop iteration. A connection
whose unsent output stays over `max_pending` is dropped (close 4408) instead of growing without bound.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiohttp import web

from parley.config import Settings
from parley.protocol import CloseCode
from parley.protocol.wsframe import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Outbound,
    close_payload,
    encode_frame,
)
from parley.protocol.wsparser import NO_STATUS, FrameParser
from parley.transports.writer import Flusher, flusher

log = logging.getLogger("parley.ws")

PING = encode_frame(b"", OP_PING)
SLOW_GRACE = 5.0  # seconds a connection may stay over max_pending before it is dropped
HARD_LIMIT = 4  # unsent output over HARD_LIMIT x max_pending drops the connection at once
CLOSE_TIMEOUT = 5.0  # seconds to wait for the peer's close frame after sending ours


class Handler(Protocol):
    """What a connection drives: a chat Session, or the echo handler."""

    user: str | None

    def handle(self, data: str) -> None: ...

    def handle_binary(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class WsConnection(asyncio.Protocol):
    """One WebSocket connection after the handshake: frame parsing in, coalesced frames out."""

    __slots__ = ("_buf", "_flusher", "_transport", "close_code", "closing", "failed", "handler", "missed",
                 "opened", "over_since", "parser", "peer", "registry", "settings")

    def __init__(self, transport: asyncio.Transport, settings: Settings, registry: "Connections", peer: str,
                 make_handler: Callable[["WsConnection"], Handler]) -> None:
        self._transport: asyncio.Transport | None = transport
        self._buf: list[bytes] = []
        self._flusher: Flusher = flusher()
        self.settings = settings
        self.registry = registry
        self.peer = peer
        self.parser = FrameParser(settings.max_frame)
        self.closing = False
        self.failed = False  # a protocol violation: nothing more from the peer is parsed
        self.close_code: int | None = None
        self.missed = 0  # pings sent since the peer was last heard from
        self.over_since = 0.0
        self.opened = time.monotonic()
        self.handler: Handler = make_handler(self)

    # input ----------------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.failed:
            return  # discarded until the peer closes (see _fail)
        events = self.parser.feed(data)
        self.missed = 0
        handler = self.handler
        for op, payload in events:
            if self.closing and op != OP_CLOSE:
                continue  # after our close frame only the peer's close matters
            if op == OP_TEXT:
                handler.handle(payload)
            elif op == OP_BINARY:
                handler.handle_binary(payload)
            elif op == OP_PING:
                self.write_raw(encode_frame(payload, OP_PONG))
            elif op == OP_CLOSE:
                self._peer_closed(*payload)
                return
        if self.parser.error is not None:
            self._fail(self.parser.error.code, self.parser.error.reason)

    def _peer_closed(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code = code
        if not self.closing:  # the peer started the closing handshake: answer with its code
            self.closing = True
            self.flush()
            self._send_close(CloseCode.NORMAL if code == NO_STATUS else code, "")
        if self._transport is not None:
            self._transport.close()

    def _fail(self, code: int, reason: str) -> None:
        """A protocol violation: send a close frame with `code` and drop the connection.

        The socket is half-closed after the close frame and whatever the peer still sends is discarded
        until it closes (at most CLOSE_TIMEOUT): closing with unread input makes the kernel reset the
        connection, and the peer could lose the close frame and see 1006 instead of `code`.
        """
        log.info("ws %s protocol error %d: %s", self.peer, code, reason)
        self.close_code = code
        self.closing = True
        self.failed = True
        self.flush()  # replies to the messages that came before the violation
        self._send_close(code, reason)
        self.handler.close()  # the session ends now (presence, rooms), not when the peer gets round to closing
        transport = self._transport
        if transport is None:
            return
        if transport.can_write_eof():
            transport.write_eof()
            asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self.abort)
        else:
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._buf.clear()
        self.registry.open.pop(self, None)
        self.handler.close()
        log.info("ws close %s user=%s code=%s after %.1fs", self.peer, self.handler.user,
                 self.close_code if self.close_code is not None else 1006, time.monotonic() - self.opened)

    def eof_received(self) -> bool:
        return False  # close our side too

    # output ---------------------------------------------------------------------------------------

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
        size = transport.get_write_buffer_size()
        if size > self.settings.max_pending:
            if size > HARD_LIMIT * self.settings.max_pending:
                self._drop_slow(size)
            else:
                self.check_slow()

    def discard(self) -> None:
        self._buf.clear()
        self.abort()

    def pause_writing(self) -> None:
        """The peer is not reading what we send: stop reading its requests until it catches up."""
        if self._transport is not None:
            self._transport.pause_reading()
        self.check_slow()

    def resume_writing(self) -> None:
        self.over_since = 0.0
        if self._transport is not None and not self.failed and not self._transport.is_reading():
            self._transport.resume_reading()

    def check_slow(self) -> None:
        """Over the cap: if it is still over, without a break, SLOW_GRACE seconds from now, drop it."""
        if not self.over_since:
            stamp = self.over_since = time.monotonic()
            asyncio.get_running_loop().call_later(SLOW_GRACE, self._recheck_slow, stamp)

    def _recheck_slow(self, stamp: float) -> None:
        transport = self._transport
        if transport is None or self.over_since != stamp:
            return  # gone, or it drained below the cap meanwhile (resume_writing)
        size = transport.get_write_buffer_size()
        if size > self.settings.max_pending:
            self._drop_slow(size)
        else:
            self.over_since = 0.0

    def _drop_slow(self, size: int) -> None:
        log.warning("dropping slow consumer %s: %d bytes unsent", self.peer, size)
        self.registry.slow_drops += 1
        self.close_code = CloseCode.SLOW_CONSUMER
        self.abort()

    def _send_close(self, code: int, reason: str) -> None:
        if self._transport is not None:
            self._transport.write(encode_frame(close_payload(code, reason), OP_CLOSE))

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake after whatever is queued; drop the peer if it does not answer."""
        if self.closing or self._transport is None:
            return
        self.flush()
        self.closing = True
        self.close_code = code
        self._send_close(code, reason)
        asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self.abort)

    def abort(self) -> None:
        self.closing = True
        if self._transport is not None:
            self._transport.abort()



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
        """Close every connection with 1001 and wait (briefly) for them to go."""
        if self._task:
            self._task.cancel()
            self._task = None
        for conn in list(self.open):
            conn.close(CloseCode.GOING_AWAY, "server shutting down")
        for _ in range(50):
            if not self.open:
                return
            await asyncio.sleep(0.05)
        for conn in list(self.open):
            conn.abort()

    async def _heartbeat(self) -> None:
        interval = self.settings.heartbeat
        while True:
            await asyncio.sleep(interval)
            for conn in list(self.open):
                if conn.missed >= 2:
                    log.info("ws %s missed two pongs; dropping", conn.peer)
                    self.heartbeat_drops += 1
                    conn.close_code = CloseCode.HEARTBEAT
                    conn.abort()
                    continue
                conn.missed += 1
                conn.write_raw(PING)


class _Upgrade(web.WebSocketResponse):
    """aiohttp's handshake, then hand the socket over instead of running aiohttp's frame reader."""

    def __init__(self, on_upgraded: Callable[[asyncio.Transport, bytes], object]) -> None:
        super().__init__(autoping=False, autoclose=False, compress=False)
        self._on_upgraded = on_upgraded
        self._handed_over = False

    def _post_start(self, request: Any, protocol: Any, writer: Any) -> None:
        # No aiohttp parser: bytes that follow the handshake wait in the HTTP protocol's tail buffer.
        self._ws_protocol = protocol
        self._writer = writer
        request.protocol.keep_alive(False)

    async def write_eof(self) -> None:  # type: ignore[override]
        """Called by aiohttp once the handler has returned: detach the socket from aiohttp."""
        if self._handed_over:
            return
        self._handed_over = True
        http = self._req.protocol if self._req is not None else None  # aiohttp's RequestHandler
        transport = http.transport if http is not None else None
        if http is None or transport is None or transport.is_closing():
            return
        tail, http._message_tail = bytes(http._message_tail), b""
        http.transport = None  # so aiohttp's cleanup leaves the socket open
        http.connection_lost(None)  # releases aiohttp's per-connection state
        self._on_upgraded(transport, tail)

    async def close(self, *, code: int = 1000, message: bytes = b"", drain: bool = True) -> bool:
        return False  # the connection belongs to WsConnection


def origin_allowed(origin: str | None, host: str, settings: Settings) -> bool:
    """No Origin (a non-browser client), the server's own origin (same host:port as the Host header), or
    one listed with --allowed-origin."""
    if origin is None:
        return True
    allowed = settings.allowed_origins
    if "*" in allowed or origin.rstrip("/").lower() in (a.rstrip("/").lower() for a in allowed):
        return True
    netloc = urlsplit(origin).netloc.lower() if origin != "null" else ""
    return bool(netloc) and netloc == host.lower()


def accept(transport: asyncio.Transport, tail: bytes, settings: Settings, registry: Connections,
           make_handler: Callable[[WsConnection], Handler]) -> WsConnection:
    """Make `transport`, whose handshake is done, a WsConnection; `tail` is what followed the handshake."""
    peername = transport.get_extra_info("peername")
    peer = str(peername[0]) if peername else "?"
    conn = WsConnection(transport, settings, registry, peer, make_handler)
    transport.set_write_buffer_limits(high=settings.max_pending)  # pause_writing/resume_writing around it
    transport.set_protocol(conn)
    registry.open[conn] = None
    registry.total += 1
    log.info("ws open %s", peer)
    if tail:
        conn.data_received(tail)
    if not transport.is_reading():
        transport.resume_reading()
    return conn


async def serve_websocket(request: web.Request, settings: Settings, registry: Connections,
                          make_handler: Callable[[WsConnection], Handler]) -> web.StreamResponse:
    """Check the Origin, complete the upgrade, and hand the socket to a new WsConnection.

    Plain upgrades are answered before aiohttp sees them (transports/front.py); this path serves the rest
    (and every refusal, with aiohttp's HTTP errors).
    """
    origin = request.headers.get("Origin")
    if not origin_allowed(origin, request.host, settings):
        log.warning("refused WebSocket from origin %s (peer %s)", origin, request.remote)
        raise web.HTTPForbidden(text="origin not allowed\n")
    ws = _Upgrade(lambda transport, tail: accept(transport, tail, settings, registry, make_handler))
    await ws.prepare(request)
    return ws


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
