"""A client that stops reading is dropped (close 4408) once its unsent output stays over the cap, and
the drop is counted in /metrics; everyone else keeps chatting."""

import asyncio
import socket

import websockets

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
    closed_with = None
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
    # the slow client's connection is gone; draining what was buffered ends in the close
    try:
        while True:
            await asyncio.wait_for(slow_ws.recv(), 10)
    except websockets.ConnectionClosed as exc:
        closed_with = exc.rcvd.code if exc.rcvd else None
    assert closed_with in (None, 4408)  # an aborted socket carries no close frame
    # the fast client was not affected and the server still serves
    ack = await fast.say(room, "still here")
    assert ack["seq"] > 0
    await fast.close()
