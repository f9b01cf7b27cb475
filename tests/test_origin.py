"""Cross-site WebSocket hijacking: a browser Origin other than the server's own (or one allowed with
`--allowed-origin`) is refused with HTTP 403 on the handshake; no Origin (non-browser clients) is allowed."""

import asyncio

import pytest
import websockets

from tests.support import Client, http, register


async def refused(server, origin: str) -> int:
    with pytest.raises(websockets.InvalidStatus) as info:
        await websockets.connect(server.ws_url, additional_headers={"Origin": origin})
    return info.value.response.status_code


async def works(server, token, origin: str | None) -> None:
    kwargs = {"additional_headers": {"Origin": origin}} if origin else {}
    client = await Client.connect(server, token, **kwargs)
    await client.send({"type": "ping", "ref": "o"})
    assert (await client.expect("pong"))["ref"] == "o"
    await client.close()


@pytest.mark.parametrize("origin", [
    "http://evil.example",
    "https://evil.example",
    "null",
    "http://127.0.0.1",  # own host, other port
    "http://127.0.0.1:1",
    "http://127.0.0.1.evil.example",
    "http://localhost",
])
async def test_a_foreign_origin_is_refused_with_403(shared_server, users, origin):
    assert await refused(shared_server, origin) == 403
    await works(shared_server, users[0][1], None)  # and the server keeps serving


async def test_no_origin_is_allowed(shared_server, users):
    await works(shared_server, users[0][1], None)


async def test_the_servers_own_origin_is_allowed(shared_server, users):
    await works(shared_server, users[0][1], f"http://127.0.0.1:{shared_server.port}")
    await works(shared_server, users[0][1], f"HTTP://127.0.0.1:{shared_server.port}/")


async def test_allowed_origin_admits_other_origins(make_server):
    srv = make_server("--allowed-origin", "https://app.example.com", "--allowed-origin", "http://localhost:3000")
    _, token = register(srv)
    await works(srv, token, "https://app.example.com")
    await works(srv, token, "http://localhost:3000")
    await works(srv, token, f"http://127.0.0.1:{srv.port}")  # its own origin still works
    await works(srv, token, None)
    assert await refused(srv, "https://evil.example") == 403
    assert await refused(srv, "https://app.example.com.evil.example") == 403
    refusals = [line for line in srv.logs().splitlines() if "refused WebSocket" in line]
    assert len(refusals) == 2 and "https://evil.example" in refusals[0]  # logged with what to act on


def test_a_refused_handshake_is_a_plain_http_403(shared_server):
    status, body = http("GET", shared_server.ws_url.replace("ws://", "http://"), headers={
        "Origin": "http://evil.example", "Upgrade": "websocket", "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"})
    assert status == 403
    assert "origin" in str(body).lower()


@pytest.mark.parametrize("origin", [
    "https://127.0.0.1:{port}",  # right host and port, but the page was not served over https
    "file://127.0.0.1:{port}",
    "chrome-extension://127.0.0.1:{port}",
    "ws://127.0.0.1:{port}",
])
async def test_the_own_origin_must_match_the_scheme_too(shared_server, users, origin):
    assert await refused(shared_server, origin.format(port=shared_server.port)) == 403


async def test_behind_a_tls_proxy_the_forwarded_scheme_counts(shared_server, users):
    own = f"127.0.0.1:{shared_server.port}"
    client = await Client.connect(shared_server, users[0][1],
                                  additional_headers={"Origin": f"https://{own}", "X-Forwarded-Proto": "https"})
    await client.close()
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(shared_server.ws_url, additional_headers={"Origin": f"http://{own}",
                                                                            "X-Forwarded-Proto": "https"})


async def test_allowed_host_refuses_other_host_headers(make_server):
    srv = make_server("--allowed-host", "127.0.0.1", "--allowed-host", "chat.example.com")
    _, token = register(srv)
    await works(srv, token, None)  # Host 127.0.0.1:port: the name is allowed on any port
    status, _ = http("GET", srv.http + "/healthz", headers={"Host": "chat.example.com"})
    assert status == 200
    status, _ = http("GET", srv.http + "/healthz", headers={"Host": "rebound.evil.example"})
    assert status == 421
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(b"GET /ws HTTP/1.1\r\nHost: rebound.evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"HTTP/1.1 421")
    writer.close()


async def test_browsers_offering_extensions_take_the_fast_path_and_chat(shared_server, users):
    """Browsers always offer permessage-deflate; the server declines it and the chat works (the auth frame
    sent right behind the handshake included)."""
    client = await Client.connect(shared_server, users[0][1], compression="deflate")
    assert client.ws.response.headers.get("Sec-WebSocket-Extensions") is None
    await client.send({"type": "ping", "ref": "x"})
    assert (await client.expect("pong"))["ref"] == "x"
    await client.close()
