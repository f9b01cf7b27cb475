"""aiohttp internals Parley relies on, checked against the installed aiohttp (pyproject pins the range).

`_Upgrade` (transports/upgrade.py) lets aiohttp answer an unusual upgrade
and then takes the socket:
aiohttp's `WebSocketResponse.prepare` calls `_post_start(request, protocol, writer)`, which Parley replaces
(it sets `_ws_protocol` and `_writer` and calls `request.protocol.keep_alive(False)`, and installs no
aiohttp frame reader); aiohttp calls `write_eof()` once the handler has returned, where Parley reads
`_req.protocol` (aiohttp's RequestHandler), takes its `_message_tail`, sets its `transport` to None and
calls its `connection_lost(None)`. `close(*, code, message, drain)` is overridden too.
transports/front.py (`FrontSite`) starts a `TCPSite` itself from `_runner`, `_host`, `_port`,
`_ssl_context`, `_backlog`, `_reuse_address`, `_reuse_port` and `_server`, after `BaseSite.start`.
protocol/wsframe.py unmasks client frames with `aiohttp._websocket.helpers.websocket_mask` (aiohttp >= 3.11).

Each failure names the hook. Everything runs in-process on 127.0.0.1 in well under a second.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import logging
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from parley.transports.upgrade import _Upgrade

ADVICE = ("aiohttp changed a private hook Parley relies on; re-check transports/upgrade.py before widening the pin"
          " (the upgrade hand-over, _Upgrade, is in transports/upgrade.py; FrontSite in transports/front.py)")


def broken(hook: str, detail: str) -> str:
    return f"{hook}: {detail}. {ADVICE} (aiohttp {aiohttp.__version__})"


def parameters(hook: str, function: Callable[..., Any]) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError) as exc:
        raise AssertionError(broken(hook, f"no inspectable signature ({exc})")) from None


def assert_positional(hook: str, function: Callable[..., Any], names: list[str]) -> None:
    got = [p.name for p in parameters(hook, function)]
    assert got == names, broken(hook, f"parameters are now {got}, Parley's override takes {names}")


UPGRADED = web.AppKey("upgraded", asyncio.Future)  # (transport, tail) handed over by HandOver.write_eof
RESPONSES = web.AppKey("responses", list)


async def upgrade(request: web.Request) -> web.StreamResponse:
    upgraded = request.app[UPGRADED]
    ws = HandOver(lambda transport, tail: upgraded.set_result((transport, tail)))
    request.app[RESPONSES].append(ws)
    await ws.prepare(request)
    return ws


@pytest.fixture
async def runner() -> AsyncIterator[web.AppRunner]:
    app = web.Application()
    app[UPGRADED] = asyncio.get_running_loop().create_future()
    app[RESPONSES] = []
    app.router.add_get("/ws", upgrade)
    app_runner = web.AppRunner(app, access_log=None)
    await app_runner.setup()
    yield app_runner
    await app_runner.cleanup()


# WebSocketResponse ------------------------------------------------------------------------------------


def test_post_start_takes_request_protocol_writer():
    hook = "aiohttp.web.WebSocketResponse._post_start"
    assert callable(getattr(web.WebSocketResponse, "_post_start", None)), broken(hook, "gone")
    assert_positional(hook, web.WebSocketResponse._post_start, ["self", "request", "protocol", "writer"])


def test_prepare_calls_post_start():
    hook = "aiohttp.web.WebSocketResponse.prepare -> _post_start(request, protocol, writer)"
    try:
        source = inspect.getsource(web.WebSocketResponse.prepare)
    except (OSError, TypeError):  # pragma: no cover - no source installed; the hand-over test still covers it
        pytest.skip("aiohttp's source is not installed")
    assert "self._post_start(request, protocol, writer)" in source, broken(hook, "prepare no longer calls it so")


def test_write_eof_and_close_keep_the_signatures_parley_overrides():
    hook = "aiohttp.web.WebSocketResponse.write_eof"
    assert inspect.iscoroutinefunction(web.WebSocketResponse.write_eof), broken(hook, "no longer a coroutine")
    assert_positional(hook, web.WebSocketResponse.write_eof, ["self"])
    hook = "aiohttp.web.WebSocketResponse.close"
    assert inspect.iscoroutinefunction(web.WebSocketResponse.close), broken(hook, "no longer a coroutine")
    params = parameters(hook, web.WebSocketResponse.close)
    got = {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert [p.name for p in params if p.kind is not inspect.Parameter.KEYWORD_ONLY] == ["self"], broken(
        hook, f"positional parameters changed: {params}")
    assert got == {"code": 1000, "message": b"", "drain": True}, broken(
        hook, f"keyword parameters are now {got}, Parley's override takes code=1000, message=b'', drain=True")


def test_websocket_response_state_attributes():
    ws = web.WebSocketResponse(autoping=False, autoclose=False, compress=False)
    for name in ("_ws_protocol", "_writer", "_req"):
        assert hasattr(ws, name), broken(f"aiohttp.web.WebSocketResponse.{name}", "attribute gone")
    assert ws._req is None and ws._writer is None, broken("aiohttp.web.WebSocketResponse._req/_writer",
                                                        "no longer None before prepare")
    # aiohttp reads back what Parley's _post_start sets
    ws._writer = object()  # type: ignore[assignment]
    assert ws.prepared, broken("aiohttp.web.WebSocketResponse._writer", "`prepared` no longer reads it")
    ws._ws_protocol = "chat"
    assert ws.ws_protocol == "chat", broken("aiohttp.web.WebSocketResponse._ws_protocol",
                                            "`ws_protocol` no longer reads it")


# RequestHandler (request.protocol) -----------------------------------------------------------------------


async def test_request_handler_hooks(runner: web.AppRunner):
    assert runner.server is not None
    http = runner.server()  # a real RequestHandler, as aiohttp makes one per connection
    assert isinstance(http, RequestHandler), broken("aiohttp.web.Server() -> RequestHandler",
                                                    f"got {type(http).__name__}")
    hook = "aiohttp RequestHandler._message_tail"
    assert isinstance(getattr(http, "_message_tail", None), bytes), broken(hook, "gone or no longer bytes")
    http._message_tail = b"kept"
    assert http._message_tail == b"kept", broken(hook, "not settable")
    http._message_tail = b""
    hook = "aiohttp RequestHandler.transport"
    assert hasattr(http, "transport") and http.transport is None, broken(hook, "gone, or not None unconnected")
    http.transport = None  # Parley detaches the socket this way before connection_lost
    hook = "aiohttp RequestHandler.connection_lost"
    assert_positional(hook, http.connection_lost, ["exc"])
    hook = "aiohttp RequestHandler.set_parser"
    assert_positional(hook, http.set_parser, ["parser", "data_received_cb"])
    hook = "aiohttp RequestHandler.keep_alive"
    assert_positional(hook, http.keep_alive, ["val"])
    hook = "aiohttp.web.BaseRequest.protocol"
    assert isinstance(inspect.getattr_static(web.BaseRequest, "protocol", None), property), broken(
        hook, "no longer a property")


# the whole hand-over, through transports/upgrade.py's _Upgrade ----------------------------------


class HandOver(_Upgrade):
    """Parley's own _Upgrade (parley/transports/upgrade.py), recording what aiohttp passes to _post_start."""

    def __init__(self, on_upgraded: Callable[[asyncio.Transport, bytes], None]) -> None:
        super().__init__(on_upgraded)
        self.post_start: tuple[Any, ...] | None = None

    def _post_start(self, request: Any, protocol: Any, writer: Any) -> None:
        self.post_start = (request, protocol, writer)
        super()._post_start(request, protocol, writer)


class Collect(asyncio.Protocol):
    def __init__(self) -> None:
        self.data = bytearray()
        self.got = asyncio.Event()
        self.lost = False

    def data_received(self, data: bytes) -> None:
        self.data += data
        self.got.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.got.set()


async def test_aiohttp_hands_the_upgraded_socket_over(runner: web.AppRunner, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.WARNING, logger="aiohttp")
    upgraded, responses = runner.app[UPGRADED], runner.app[RESPONSES]
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101"), head
        try:
            transport, tail = await asyncio.wait_for(upgraded, 5)
        except TimeoutError:
            raise AssertionError(broken("aiohttp RequestHandler.finish_response -> WebSocketResponse.write_eof",
                                        "write_eof was not called after the handler returned")) from None
        ws = responses[0]
        assert ws.post_start is not None, broken("aiohttp.web.WebSocketResponse.prepare -> _post_start",
                                                 "prepare did not call _post_start")
        request, protocol, ws_writer = ws.post_start
        assert isinstance(request, web.BaseRequest) and protocol is None and ws_writer is not None, broken(
            "aiohttp.web.WebSocketResponse._post_start", f"called with {ws.post_start!r}")
        assert tail == b""
        # the socket is Parley's now: aiohttp neither closed it nor reads from it
        mine = Collect()
        transport.set_protocol(mine)
        if not transport.is_reading():
            transport.resume_reading()
        await asyncio.sleep(0.05)
        assert not transport.is_closing(), broken("aiohttp RequestHandler.transport = None + connection_lost(None)",
                                                  "aiohttp closed the handed-over socket")
        writer.write(b"\x81\x80abcd")  # an empty masked text frame
        await asyncio.wait_for(mine.got.wait(), 5)
        assert bytes(mine.data) == b"\x81\x80abcd" and not mine.lost, broken(
            "aiohttp RequestHandler hand-over", f"Parley's protocol got {bytes(mine.data)!r}, lost={mine.lost}")
        transport.write(b"\x81\x02hi")
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"\x81\x02hi"
        transport.close()
    finally:
        writer.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, broken("aiohttp RequestHandler hand-over", f"aiohttp logged {errors}")


# transports/front.py's FrontSite ------------------------------------------------------------------------


async def test_tcp_site_internals_front_site_starts_from(runner: web.AppRunner):
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=64, reuse_address=True, reuse_port=False)
    for name in ("_runner", "_host", "_port", "_ssl_context", "_backlog", "_reuse_address", "_reuse_port",
                 "_server"):
        assert hasattr(site, name), broken(f"aiohttp.web.TCPSite.{name}", "attribute gone")
    assert (site._runner, site._host, site._port, site._ssl_context, site._backlog, site._reuse_address,
            site._reuse_port, site._server) == (runner, "127.0.0.1", 0, None, 64, True, False, None), broken(
        "aiohttp.web.TCPSite attributes", "no longer hold the constructor's arguments")
    hook = "aiohttp.web.BaseSite.start"
    assert inspect.iscoroutinefunction(web.BaseSite.start), broken(hook, "no longer a coroutine")
    await web.BaseSite.start(site)
    assert site in runner.sites, broken(hook, "no longer registers the site with its runner")
    assert runner.server is not None
    http = runner.server
    site._server = await asyncio.get_running_loop().create_server(
        lambda: http(), site._host, site._port, ssl=site._ssl_context, backlog=site._backlog,
        reuse_address=site._reuse_address, reuse_port=site._reuse_port)
    port = site._server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"HTTP/1.1 404"), broken(
        "aiohttp.web.AppRunner.server as a protocol factory", "does not answer HTTP")
    writer.close()
    # runner.cleanup() (the fixture) stops the site through BaseSite.stop, which closes site._server


# protocol/wsframe.py --------------------------------------------------------------------------------------


def test_websocket_mask():
    hook = "aiohttp._websocket.helpers.websocket_mask"
    try:
        from aiohttp._websocket.helpers import websocket_mask
    except ImportError as exc:
        raise AssertionError(broken(hook, f"cannot import it ({exc}); protocol/wsframe.py would fall back to a "
                                          "slow pure-Python unmasking")) from None
    data = bytearray(b"\x00\x00\x00\x00\x00\x00\xff")
    assert websocket_mask(b"\x01\x02\x03\x04", data) is None, broken(hook, "no longer works in place")
    assert bytes(data) == b"\x01\x02\x03\x04\x01\x02\xfc", broken(hook, f"masked to {bytes(data)!r}")


# the defect this path had: frames sent in the same packet as an unusual handshake were lost --------


async def test_frames_sent_with_an_aiohttp_path_handshake_are_not_lost(make_server):
    """An upgrade that asks for a subprotocol takes aiohttp's path (transports/upgrade.py); a client that sends
    its first frames without waiting for the 101 (allowed by RFC 6455) still gets them answered."""
    import json

    from parley.protocol.wsframe import encode_frame
    from tests.support import register

    server = make_server()
    _, token = register(server)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    key = base64.b64encode(os.urandom(16)).decode()
    head = (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n")

    def masked(text: str) -> bytes:
        payload, mask = bytearray(text.encode()), os.urandom(4)
        for i in range(len(payload)):
            payload[i] ^= mask[i % 4]
        frame = bytearray(encode_frame(bytes(payload)))
        frame[1] |= 0x80
        header = len(frame) - len(payload)
        return bytes(frame[:header]) + mask + bytes(frame[header:])

    writer.write(head.encode() + masked(json.dumps({"type": "auth", "token": token, "ref": 1}))
                 + masked(json.dumps({"type": "ping", "ref": 2})))
    response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert response.startswith(b"HTTP/1.1 101"), response
    got = []
    for _ in range(2):
        first = await asyncio.wait_for(reader.readexactly(2), 5)
        size = first[1] & 0x7F
        if size == 126:
            size = int.from_bytes(await reader.readexactly(2), "big")
        got.append(json.loads(await reader.readexactly(size)))
    assert [(f["type"], f["ref"]) for f in got] == [("ready", 1), ("pong", 2)]
    writer.close()
