"""WebSocket upgrades that take aiohttp's full path: its handshake, then the socket handed to a WsConnection.

Plain upgrades are answered before aiohttp sees them (transports/front.py); this path serves the rest
(subprotocols, extensions, odd headers) and every refusal, with aiohttp's HTTP errors. It relies on
private aiohttp hooks (`_post_start`, the request handler's `_message_tail` and `transport`), so the
aiohttp version is pinned in pyproject.toml and tests/test_aiohttp_hooks.py fails loudly if they change.
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from parley.config import Settings
from parley.transports.connections import Connections
from parley.transports.origin import origin_allowed
from parley.transports.websocket import Handler, WsConnection, accept

log = logging.getLogger("parley.ws")


class _Collect:
    """Stands in for aiohttp's frame reader: keeps the bytes that follow the handshake for the WsConnection."""

    def __init__(self) -> None:
        self.data = bytearray()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.data += data
        return False, b""

    def feed_eof(self) -> None:
        pass


class _Upgrade(web.WebSocketResponse):
    """aiohttp's handshake, then hand the socket over instead of running aiohttp's frame reader."""

    def __init__(self, on_upgraded: Callable[[asyncio.Transport, bytes], object]) -> None:
        super().__init__(autoping=False, autoclose=False, compress=False)
        self._on_upgraded = on_upgraded
        self._handed_over = False
        self._collect = _Collect()

    def _post_start(self, request: Any, protocol: Any, writer: Any) -> None:
        self._ws_protocol = protocol
        self._writer = writer
        request.protocol.keep_alive(False)
        # Frames a client sent right behind its handshake (and any that arrive before the hand-over) are
        # collected here; without a reader aiohttp would parse them as the next HTTP request and lose them.
        request.protocol.set_parser(self._collect)

    async def write_eof(self) -> None:  # type: ignore[override]
        """Called by aiohttp once the handler has returned: detach the socket from aiohttp."""
        if self._handed_over:
            return
        self._handed_over = True
        http = self._req.protocol if self._req is not None else None  # aiohttp's RequestHandler
        transport = http.transport if http is not None else None
        if http is None or transport is None or transport.is_closing():
            return
        tail = bytes(self._collect.data) + bytes(http._message_tail)
        http._message_tail = b""
        http.transport = None  # so aiohttp's cleanup leaves the socket open
        http.connection_lost(None)  # releases aiohttp's per-connection state
        self._on_upgraded(transport, tail)

    async def close(self, *, code: int = 1000, message: bytes = b"", drain: bool = True) -> bool:
        return False  # the connection belongs to WsConnection


async def serve_websocket(request: web.Request, settings: Settings, connections: Connections,
                          make_handler: Callable[[WsConnection], Handler]) -> web.StreamResponse:
    """Check the Origin, complete the upgrade, and hand the socket to a new WsConnection."""
    origin = request.headers.get("Origin")
    if not origin_allowed(origin, request.host, settings, request.headers.get("X-Forwarded-Proto")):
        log.warning("refused WebSocket from origin %s (peer %s)", origin, request.remote)
        raise web.HTTPForbidden(text="origin not allowed\n")
    ws = _Upgrade(lambda transport, tail: accept(transport, tail, settings, connections, make_handler))
    await ws.prepare(request)
    return ws
