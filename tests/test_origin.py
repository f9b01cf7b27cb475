"""Cross-site WebSocket hijacking: a browser Origin other than the server's own (or one allowed with
`--allowed-origin`) is refused with HTTP 403 on the handshake; no Origin (non-browser clients) is allowed."""

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
