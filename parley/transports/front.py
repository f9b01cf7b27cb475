"""The first reader of every accepted connection: plain WebSocket upgrades are answered here, in one
step, and everything else is handed to aiohttp with the bytes read so far.

aiohttp's per-request machinery (request objects, routing, its WebSocket response) costs more than the
rest of a connection's set-up; a chat server takes thousands of upgrades a second after a restart, so
the common case skips it. Unusual requests (subprotocols, extensions, odd headers, refused origins)
still take the full aiohttp path and get its complete HTTP answers.
"""

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

from parley.protocol.handshake import MAX_HEAD, parse_upgrade, response_101
from parley.transports.origin import host_allowed, origin_allowed

# path -> what to do with a transport whose handshake is answered: (transport, bytes after the head)
Routes = dict[str, Callable[[asyncio.Transport, bytes], Any]]


class FrontProtocol(asyncio.Protocol):
    __slots__ = ("_buf", "_http", "_routes", "_settings", "_timer", "_transport")

    def __init__(self, http: Callable[[], asyncio.Protocol], routes: Routes, settings: Any) -> None:
        self._http = http
        self._routes = routes
        self._settings = settings
        self._buf = b""
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        # a socket that never completes a request head would otherwise hold a file descriptor forever (after
        # the first request aiohttp's keep-alive timeout, set to the same, bounds the wait for the next head)
        self._timer = asyncio.get_running_loop().call_later(self._settings.request_timeout,
                                                            transport.abort)  # type: ignore[attr-defined]

    def _handed_over(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def data_received(self, data: bytes) -> None:
        buf = self._buf + data if self._buf else data
        if buf.find(b"\r\n\r\n") < 0:
            if len(buf) < MAX_HEAD and buf[:1].isupper():  # a request line in progress (any method)
                self._buf = buf
                return
            self._to_http(buf)  # aiohttp answers what is not HTTP, or a head that is too big
            return
        upgrade = parse_upgrade(buf) if buf.startswith(b"GET ") else None
        route = self._routes.get(upgrade.path) if upgrade is not None else None
        settings = self._settings
        if (upgrade is None or route is None or not host_allowed(upgrade.host, settings)
                or not origin_allowed(upgrade.origin, upgrade.host, settings, upgrade.forwarded_proto)):
            self._to_http(buf)
            return
        transport = self._transport
        assert transport is not None
        self._handed_over()
        transport.write(response_101(upgrade.key))
        route(transport, buf[upgrade.head_size:])

    def _to_http(self, buf: bytes) -> None:
        transport = self._transport
        assert transport is not None
        self._handed_over()
        protocol = self._http()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(buf)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._handed_over()
        self._transport = None


class FrontSite(web.TCPSite):
    """aiohttp's TCPSite with FrontProtocol in front of aiohttp's HTTP protocol."""

    def __init__(self, runner: web.AppRunner, routes: Routes, settings: Any, **kwargs: Any) -> None:
        super().__init__(runner, **kwargs)
        self._routes = routes
        self._settings = settings

    async def start(self) -> None:
        await web.BaseSite.start(self)
        http = self._runner.server
        assert http is not None
        routes, settings = self._routes, self._settings
        self._server = await asyncio.get_running_loop().create_server(
            lambda: FrontProtocol(http, routes, settings), self._host, self._port, ssl=self._ssl_context,
            ssl_handshake_timeout=settings.request_timeout if self._ssl_context else None,
            backlog=self._backlog, reuse_address=self._reuse_address, reuse_port=self._reuse_port)
