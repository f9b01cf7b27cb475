"""Heartbeat: the server pings every `--heartbeat` seconds; a peer that answers nothing for two pings is
dropped and its presence goes offline, while peers that answer pings (as WebSocket libraries and browsers
do by themselves) stay connected however long they are quiet."""

import asyncio
import json

import aiohttp
import pytest

from tests.support import Client, ServerProcess, http, register, unique

HEARTBEAT = 0.5


@pytest.fixture(scope="module")
def hb_server(shared_db_url, tmp_path_factory):
    srv = ServerProcess(shared_db_url, "--heartbeat", str(HEARTBEAT),
                        log=tmp_path_factory.mktemp("heartbeat") / "server.log")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def accounts(hb_server):
    return [register(hb_server) for _ in range(2)]


async def silent_peer(session: aiohttp.ClientSession, server: ServerProcess, token: str, room: str):
    """A client that authenticates and joins, then never answers a ping (aiohttp with autoping off)."""
    ws = await session.ws_connect(server.ws_url, autoping=False, heartbeat=None)
    await ws.send_str(json.dumps({"type": "auth", "token": token}))
    ready = json.loads((await ws.receive(timeout=10)).data)
    await ws.send_str(json.dumps({"type": "join", "room": room}))
    return ws, ready


async def test_a_peer_that_never_answers_pings_is_dropped_and_goes_offline(hb_server, accounts):
    (_, ta), (ub, tb) = accounts
    room = unique("r")
    watcher = await Client.connect(hb_server, ta)
    await watcher.join(room)
    async with aiohttp.ClientSession() as session:
        ws, ready = await silent_peer(session, hb_server, tb, room)
        assert ready["type"] == "ready" and ready["heartbeat"] == HEARTBEAT
        assert (await watcher.expect("presence", user=ub))["online"] is True

        # the silent peer sees the server's pings, answers none, and is dropped
        kinds = []
        while True:
            msg = await ws.receive(timeout=10)
            kinds.append(msg.type)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING,
                            aiohttp.WSMsgType.ERROR):
                break
        assert aiohttp.WSMsgType.PING in kinds
        assert kinds.count(aiohttp.WSMsgType.PING) >= 2

    offline = await watcher.expect("presence", user=ub, timeout=10)
    assert offline == {"type": "presence", "room": room, "user": ub, "online": False}
    assert ub not in (await watcher.join(room))["online"]  # joining again lists who is online now
    _, metrics = http("GET", hb_server.http + "/metrics")
    assert "parley_heartbeat_drops_total" in metrics
    drops = [line for line in metrics.splitlines() if line.startswith("parley_heartbeat_drops_total")]
    assert float(drops[0].split()[-1]) >= 1
    await watcher.close()


async def test_peers_that_answer_pings_or_keep_talking_stay_connected(hb_server, accounts):
    """Over several heartbeat intervals: a quiet client whose library answers pings, and a client that does
    not answer pings but sends its own application `ping` frames, both stay; nobody is reported offline."""
    (_, ta), (ub, tb) = accounts
    room = unique("r")
    watcher = await Client.connect(hb_server, ta)
    await watcher.join(room)
    quiet = await Client.connect(hb_server, tb, ping_interval=None)  # answers pings, sends none of its own
    await quiet.join(room)
    async with aiohttp.ClientSession() as session:
        chatty, _ = await silent_peer(session, hb_server, tb, room)
        for i in range(int(4 * HEARTBEAT / 0.25)):  # two missed pings would drop a peer after 3 intervals
            await chatty.send_str(json.dumps({"type": "ping", "ref": i}))
            await asyncio.sleep(0.25)
        await chatty.send_str(json.dumps({"type": "ping", "ref": "last"}))
        while True:
            msg = await chatty.receive(timeout=10)
            assert msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.PING), msg
            if msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data).get("ref") == "last":
                break
        await chatty.close()

    ack = await quiet.say(room, "still here after four heartbeat intervals of silence")
    assert ack["seq"] >= 1
    assert (await watcher.expect("message", client_id=ack["client_id"]))["from"] == ub
    assert await watcher.nothing(0.1, kind="presence", online=False) == []
    await quiet.close()
    await watcher.close()


async def test_dripping_an_unfinished_frame_does_not_keep_a_silent_peer_alive(hb_server, accounts):
    """A peer that answers no ping but sends one byte of a frame it never finishes, again and again, is
    dropped like any silent peer: only complete frames (pongs among them) count as signs of life."""
    (_, ta), _ = accounts
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(hb_server.ws_url, autoping=False, heartbeat=None)
        await ws.send_str(json.dumps({"type": "auth", "token": ta}))
        assert json.loads((await ws.receive(timeout=10)).data)["type"] == "ready"
        transport = ws._writer.transport  # type: ignore[attr-defined]  # the raw socket under aiohttp
        transport.write(bytes([0x81, 0x80 | 100]) + b"mask")  # a masked text frame of 100 bytes: its header
        closed = False
        for _ in range(int(10 * HEARTBEAT / 0.1)):  # dropped after about 3 intervals; allow 10
            if transport.is_closing():
                closed = True
                break
            transport.write(b"x")  # one more payload byte, never the whole frame
            try:
                msg = await ws.receive(timeout=0.1)
            except TimeoutError:
                continue
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                closed = True
                break
        assert closed, "the server kept a peer alive that sent only parts of a frame"
