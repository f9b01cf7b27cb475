"""A client that stops reading is dropped once its unsent output stays over the cap: the server aborts the
TCP connection (no close frame could get through the full send buffer; 4408 is only what the server logs),
so the client sees an abnormal closure, 1006. The drop is counted in /metrics; everyone else keeps chatting."""

import asyncio
import socket

import pytest
import websockets
from websockets.frames import CloseCode

from tests.support import Client, http, register, unique


async def test_reader_that_stops_reading_is_dropped(make_server):
    server = make_server("--rate", "0", "--max-pending", "65536")
    room = unique("slow")
    _, t_slow = register(server)
    _, t_fast = register(server)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    slow_ws = await websockets.connect(server.ws_url, sock=sock, max_size=None, max_queue=1)
    slow = Client(slow_ws)
    await slow.send({"type": "auth", "token": t_slow})
    await slow.expect("ready")
    await slow.join(room)
    # stop reading: the websockets library stops reading from the socket once its queue (1) is full
    fast = await Client.connect(server, t_fast)
    await fast.join(room)
    text = "x" * 4000
    for i in range(3000):
        await fast.send({"type": "send", "room": room, "text": text, "client_id": f"m{i}"})
        if i % 100 == 99:
            await fast.expect("ack", client_id=f"m{i}", timeout=30)
            _, metrics = http("GET", server.http + "/metrics")
            if "parley_slow_consumer_drops_total 1.0" in metrics:
                break
    for _ in range(100):
        _, metrics = http("GET", server.http + "/metrics")
        if "parley_slow_consumer_drops_total 1.0" in metrics:
            break
        await asyncio.sleep(0.1)
    assert "parley_slow_consumer_drops_total 1.0" in metrics
    # the slow client's connection is gone; draining what was buffered ends without a close frame
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(slow_ws.recv(), 10)
    assert closed.value.rcvd is None, f"the server sent a close frame ({closed.value.rcvd}); it should abort"
    assert slow_ws.close_code == CloseCode.ABNORMAL_CLOSURE  # 1006: closed with no close frame received
    # the fast client was not affected and the server still serves
    ack = await fast.say(room, "still here")
    assert ack["seq"] > 0
    await fast.close()
