"""Joining edge cases: a leave and a new join while the first join is still replaying, and the cap on
rooms per connection. Each stored message must still arrive once, in order."""

import json

from tests.support import Client, http, register, unique


async def test_join_leave_join_in_one_burst_replays_once(make_server):
    server = make_server("--rate", "0")
    room = unique("race")
    _, token = register(server)
    writer = await Client.connect(server, token)
    await writer.join(room)
    acks = [await writer.say(room, f"m{i}") for i in range(30)]
    head = acks[-1]["seq"]  # the log: the room's creation, then the 30 messages
    reader = await Client.connect(server, token)
    # three frames in one go: the first join's replay is still running when the second join arrives
    await reader.ws.send(json.dumps({"type": "join", "room": room, "since": 0}))
    await reader.ws.send(json.dumps({"type": "leave", "room": room}))
    await reader.ws.send(json.dumps({"type": "join", "room": room, "since": 0}))
    await reader.expect("left", room=room)
    got = [await reader.expect_any("member", "message") for _ in range(head)]
    assert [e["seq"] for e in got] == list(range(1, head + 1))  # every event once, in order
    assert [m["seq"] for m in got if m["type"] == "message"] == [a["seq"] for a in acks]
    ack = await writer.say(room, "live")
    live = await reader.messages(1, room=room)
    assert [(m["seq"], m["text"]) for m in live] == [(ack["seq"], "live")]
    extra = await reader.nothing(0.5, kind="message")
    assert extra == []  # nothing replayed twice
    assert await reader.nothing(0.1, kind="member") == []
    await writer.close()
    await reader.close()


async def test_rooms_per_connection_are_capped(make_server):
    server = make_server("--rate", "0", "--max-rooms", "100")
    status, info = http("GET", server.http + "/api/info")
    assert status == 200 and info["max_rooms"] == 100, info  # clients learn it (1000 by default)
    _, token = register(server)
    c = await Client.connect(server, token)
    prefix = unique("cap")
    for i in range(100):
        await c.send({"type": "join", "room": f"{prefix}-{i}"})
    await c.send({"type": "join", "room": f"{prefix}-over", "ref": "over"})
    error = await c.expect("error", ref="over")
    assert error["code"] == "bad_request" and "at most 100 rooms" in error["message"]
    await c.send({"type": "leave", "room": f"{prefix}-0"})
    await c.expect("left", room=f"{prefix}-0")
    assert (await c.join(f"{prefix}-over"))["room"] == f"{prefix}-over"
    await c.close()
