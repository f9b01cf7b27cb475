"""The WebSocket transport: one WsConnection per socket once the handshake is done.

A WsConnection is an asyncio.Protocol that parses client frames as bytes arrive (protocol.wsparser, no
task per connection or per message) and calls its handler (a chat Session, or Echo) directly. Output is
queued as pre-encoded frames — the same `Outbound` for every member of a room, its WebSocket framing
built once and kept on it — and written once per loop iteration (transports/writer.py). Backpressure
follows transports/backpressure.py; heartbeats and shutdown come from transports/connections.py. The
handshake itself is done by transports/front.py or, for unusual requests, by aiohttp (transports/upgrade.py).
"""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from parley.config import Settings
from parley.protocol import CloseCode, Outbound
from parley.protocol.wsframe import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    close_payload,
    encode_frame,
)
from parley.protocol.wsparser import NO_STATUS, FrameParser
from parley.transports.backpressure import SLOW_GRACE, OutputLimit, Verdict
from parley.transports.connections import Connections, Liveness, TransportMetrics
from parley.transports.sink import SLOW_CONSUMER, Disconnect
from parley.transports.writer import Flusher, flusher

log = logging.getLogger("parley.ws")

NAME = "websocket"
PING = encode_frame(b"", OP_PING)
CLOSE_TIMEOUT = 5.0  # seconds to wait for the peer's close frame after sending ours


class Handler(Protocol):
    """What a connection drives: a chat Session, or the echo handler."""

    @property
    def user(self) -> str | None:
        """Who is on the other end, once known (for logs)."""

    def handle(self, data: str) -> None: ...

    def handle_binary(self, data: bytes) -> None: ...

    def close(self) -> None:
        """The connection is gone."""


class WsConnection(asyncio.Protocol):
    """One WebSocket connection after the handshake: frame parsing in, coalesced frames out."""

    __slots__ = ("_buf", "_flusher", "_transport", "close_code", "closing", "connections", "failed", "handler",
                 "limit", "liveness", "metrics", "opened", "parser", "peer", "quiet")

    def __init__(self, transport: asyncio.Transport, settings: Settings, connections: Connections, peer: str,
                 make_handler: Callable[["WsConnection"], Handler]) -> None:
        self._transport: asyncio.Transport | None = transport
        self._buf: list[bytes] = []
        self._flusher: Flusher = flusher()
        self.connections = connections
        self.metrics: TransportMetrics = connections.transport(NAME)
        self.peer = peer
        self.parser = FrameParser(settings.max_frame)
        self.limit = OutputLimit(settings.max_pending)
        self.liveness = Liveness()
        self.closing = False
        self.quiet = False  # shutting down: requests are no longer read
        self.failed = False  # a protocol violation: nothing more from the peer is parsed
        self.close_code: int | None = None
        self.opened = time.monotonic()
        self.handler: Handler = make_handler(self)

    # input ----------------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.failed:
            return  # discarded until the peer closes (see _fail)
        events = self.parser.feed(data)
        if events:  # a complete frame (a pong among them) is a sign of life; a byte of an unfinished one is not
            self.liveness.heard()
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
            asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self._abort)
        else:
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._buf.clear()
        self.connections.remove(self)
        self.handler.close()
        log.info("ws close %s user=%s code=%s after %.1fs", self.peer, self.handler.user,
                 self.close_code if self.close_code is not None else 1006, time.monotonic() - self.opened)

    def eof_received(self) -> bool:
        return False  # close our side too

    # output (Sink) --------------------------------------------------------------------------------

    def write(self, out: Outbound) -> None:
        buf = self._buf
        if not buf:
            if self._transport is None or self.closing:
                return
            self._flusher.mark(self)
        frame = out.ws
        if frame is None:  # the first connection to send this frame builds its framing for all the others
            frame = out.ws = encode_frame(out.data)
        buf.append(frame)

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
        if size > self.limit.max_pending:
            self._judge(self.limit.after_write(size))

    def discard(self) -> None:
        self._buf.clear()
        self._abort()

    # backpressure ---------------------------------------------------------------------------------

    def pause_writing(self) -> None:
        """The peer is not reading what we send: stop reading its requests until it catches up."""
        if self._transport is not None:
            self._transport.pause_reading()
        self._judge(self.limit.over())

    def resume_writing(self) -> None:
        self.limit.drained()
        if self._transport is not None and not self.failed and not self.quiet and not self._transport.is_reading():
            self._transport.resume_reading()

    def _judge(self, verdict: Verdict) -> None:
        if verdict is Verdict.WATCH:
            asyncio.get_running_loop().call_later(SLOW_GRACE, self._recheck_slow, self.limit.over_since)
        elif verdict is Verdict.DROP:
            self._drop_slow()

    def _recheck_slow(self, stamp: float) -> None:
        transport = self._transport
        if transport is not None and self.limit.recheck(stamp, transport.get_write_buffer_size()) is Verdict.DROP:
            self._drop_slow()

    def _drop_slow(self) -> None:
        """Dropped without a close frame: it would wait behind the unsent output. The client sees 1006."""
        size = self._transport.get_write_buffer_size() if self._transport is not None else 0
        log.warning("dropping slow consumer %s: %d bytes unsent", self.peer, size)
        self.metrics.slow_drops += 1
        self.abort(SLOW_CONSUMER)

    # closing --------------------------------------------------------------------------------------

    def _send_close(self, code: int, reason: str) -> None:
        if self._transport is not None:
            self._transport.write(encode_frame(close_payload(code, reason), OP_CLOSE))

    def ping(self) -> None:
        self.write_raw(PING)

    def pause(self) -> None:
        self.quiet = True
        if self._transport is not None and self._transport.is_reading():
            self._transport.pause_reading()

    def close(self, disconnect: Disconnect) -> None:
        """Start the closing handshake after whatever is queued; drop the peer if it does not answer."""
        if self.closing or self._transport is None:
            return
        self.flush()
        self.closing = True
        self.close_code = disconnect.code
        self._send_close(disconnect.code, disconnect.reason)
        if not self._transport.is_reading() and not self.failed:
            self._transport.resume_reading()  # (paused by backpressure) the peer's close frame must be read
        asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self._close_expired,
                                              self._transport.get_write_buffer_size() + 1)

    def _close_expired(self, pending_before: int) -> None:
        """CLOSE_TIMEOUT after our close frame: give a peer still taking what was queued before it more time
        (a shutdown bounds the total, transports/connections.py); drop one that takes nothing."""
        transport = self._transport
        if transport is None:
            return
        pending = transport.get_write_buffer_size()
        if 0 < pending < pending_before:
            asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self._close_expired, pending)
            return
        self._abort()

    def abort(self, disconnect: Disconnect) -> None:
        """Drop the socket now; `disconnect.code` is what the logs show (the peer sees 1006)."""
        self.close_code = disconnect.code
        self._abort()

    def _abort(self) -> None:
        self.closing = True
        if self._transport is not None:
            self._transport.abort()


def accept(transport: asyncio.Transport, tail: bytes, settings: Settings, connections: Connections,
           make_handler: Callable[[WsConnection], Handler]) -> WsConnection:
    """Make `transport`, whose handshake is done, a WsConnection; `tail` is what followed the handshake."""
    peername = transport.get_extra_info("peername")
    peer = str(peername[0]) if peername else "?"
    conn = WsConnection(transport, settings, connections, peer, make_handler)
    transport.set_write_buffer_limits(high=settings.max_pending)  # pause_writing/resume_writing around it
    transport.set_protocol(conn)
    connections.add(conn, conn.metrics)
    log.info("ws open %s", peer)
    if tail:
        conn.data_received(tail)
    if not transport.is_reading():
        transport.resume_reading()
    return conn
