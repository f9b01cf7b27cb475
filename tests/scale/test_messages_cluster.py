"""Message changes across nodes: an edit, a reaction, a delete and a read marker made through node A reach
the clients on node B once each, in seq order with the messages, and B's history shows the final state. A
file uploaded through one node is served by the other (kept in PostgreSQL: no shared disk), and a call placed
through one node rings and is answered through the other."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.scale.conftest import MakeNode
from tests.support import Client, download, http, register, rest_events, rest_messages, unique, upload

pytestmark = pytest.mark.services


async def test_changes_made_on_one_node_reach_the_other_once(make_node: MakeNode) -> None:
    a, b = make_node(), make_node()
    alice, bob = register(a), register(a)
    room = unique("x")
    on_a = await Client.connect(a, alice[1])
    on_b = await Client.connect(b, bob[1])
    alice_on_b = await Client.connect(b, alice[1])  # alice's second device, on the other node
    await on_a.join(room)
    await on_b.join(room)
    seq = (await on_a.say(room, "first"))["seq"]
    url = f"{a.http}/api/rooms/{room}/messages/{seq}"
    assert http("PATCH", url, {"text": "first, edited"}, token=alice[1])[0] == 200
    assert http("POST", url + "/reactions", {"emoji": "👀"}, token=bob[1])[0] == 200
    second = (await on_a.say(room, "second"))["seq"]
    assert http("DELETE", f"{a.http}/api/rooms/{room}/messages/{second}", token=alice[1])[0] == 200
    assert http("POST", f"{a.http}/api/rooms/{room}/read", {"seq": second}, token=alice[1])[0] == 204

    seen = []
    while len(seen) < 5:
        frame = await on_b.next_where(lambda f: f.get("room") == room and "seq" in f and f["type"] != "ack")
        seen.append((frame["type"], frame["seq"]))
    assert [t for t, _ in seen] == ["message", "edit", "reaction", "message", "delete"], seen
    assert [s for _, s in seen] == sorted(s for _, s in seen)
    await on_b.nothing(0.5, "edit")  # nothing twice
    assert (await alice_on_b.expect("read", room=room))["seq"] == second
    history = {m["seq"]: m for m in rest_messages(b, bob[1], room)}
    assert history[seq]["text"] == "first, edited" and history[seq]["reactions"] == {"👀": [bob[0]]}
    assert history[second]["deleted"] is True

    # a file uploaded through A reaches B's client once and is served by B; deleted through B, A has it no more
    data = bytes(range(256)) * 5000  # 1.28 MB: more than one stored part
    status, sent = await asyncio.to_thread(upload, a, alice[1], room, data, "data.bin")
    assert status == 201, sent
    live = await on_b.expect("message", room=room)
    assert live["file"] == sent["file"]
    await on_b.nothing(0.3, "message")
    path = f"/api/files/{sent['file']['id']}"
    status, _, body = await asyncio.to_thread(download, b, bob[1], path)
    assert (status, body) == (200, data)
    assert http("DELETE", f"{b.http}/api/rooms/{room}/messages/{sent['seq']}", token=alice[1])[0] == 200
    assert (await asyncio.to_thread(download, a, bob[1], path))[0] == 404

    # a call placed through A rings bob on B; his answer reaches alice on A; the record is in the log
    status, body = http("POST", f"{a.http}/api/dms", {"users": [bob[0]]}, token=alice[1])
    assert status in (200, 201), body
    dm, cid = body["name"], uuid.uuid4().hex
    offer, answer = {"type": "offer", "sdp": "v=0\r\n"}, {"type": "answer", "sdp": "v=0\r\n"}
    await on_a.send({"type": "signal", "room": dm, "call_id": cid, "party_id": "a", "kind": "invite",
                     "media": "video", "sdp": offer})
    ring = await on_b.next_where(lambda f: f.get("type") == "signal" and f.get("kind") == "invite")
    assert (ring["from"], ring["call_id"]) == (alice[0], cid)
    await on_b.send({"type": "signal", "room": dm, "call_id": cid, "party_id": "b", "kind": "answer",
                     "to": alice[0], "sdp": answer})
    answered = await on_a.next_where(lambda f: f.get("type") == "signal" and f.get("kind") == "answer")
    assert answered["from"] == bob[0]
    await on_a.send({"type": "signal", "room": dm, "call_id": cid, "party_id": "a", "kind": "hangup"})
    await on_b.next_where(lambda f: f.get("type") == "signal" and f.get("kind") == "hangup")
    log = [(e["from"], e["action"]) for e in rest_events(b, bob[1], dm) if e.get("type") == "call"]
    assert log == [(alice[0], "started"), (bob[0], "joined"), (alice[0], "ended")]
    await asyncio.gather(on_a.close(), on_b.close(), alice_on_b.close())
