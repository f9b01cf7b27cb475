"""Call signalling over WebSocket and REST, on both stores: a direct call rings every device of the callee and
the caller picks one; candidates, answers and hang-ups reach only their addressee; a room call is joined leg by
leg; declined and unanswered calls are recorded as such; each call leaves its record in the room's log; ICE
servers come with TURN credentials coturn accepts; and bad signalling is refused without disturbing anyone."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import Client, ServerProcess, http, register, rest_events, unique

STUN = "stun:stun.example.org:3478"
TURN = "turn:turn.example.org:3478?transport=udp"
SECRET = "coturn-shared-secret"
OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}
ANSWER = {"type": "answer", "sdp": "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}
CANDIDATES = [{"candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host", "sdpMid": "0",
               "sdpMLineIndex": 0}, {"candidate": ""}]


@pytest.fixture(scope="module")
def call_server(shared_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the module: calls ring for 1.5 s, one STUN and one TURN server with a secret."""
    srv = ServerProcess(shared_db_url, "--ring-timeout", "1.5", "--ice-server", STUN, "--ice-server", TURN,
                        "--turn-secret", SECRET, log=tmp_path_factory.mktemp("calls-log") / "server.log")
    srv.start()
    yield srv
    srv.stop()


def call_id() -> str:
    return uuid.uuid4().hex


def dm(server: ServerProcess, token: str, other: str) -> str:
    status, body = http("POST", f"{server.http}/api/dms", {"users": [other]}, token=token)
    assert status in (200, 201), body
    return str(body["name"])


async def signal(client: Client, ref: str | None = None, **frame: Any) -> dict[str, Any] | None:
    """Send a `signal` frame; with a ref, its answer (`signaled` or an error)."""
    body = {"type": "signal", **frame}
    if ref is None:
        await client.send(body)
        return None
    await client.send({**body, "ref": ref})
    return await client.next_where(lambda f: f.get("ref") == ref)


async def got(client: Client, kind: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
    """The next `signal` frame of that kind (and matching `match`) that reaches `client`."""
    return await client.next_where(lambda f: f.get("type") == "signal" and f.get("kind") == kind
                                   and all(f.get(k) == v for k, v in match.items()), timeout)


def call_log(server: ServerProcess, token: str, room: str) -> list[tuple[str, str, str | None]]:
    return [(e["from"], e["action"], e.get("media")) for e in rest_events(server, token, room)
            if e.get("type") == "call"]


async def test_a_direct_call_rings_every_device_and_the_caller_picks_one(call_server: ServerProcess) -> None:
    (alice, a_tok), (bob, b_tok), (_, c_tok) = (register(call_server) for _ in range(3))
    room = dm(call_server, a_tok, bob)
    caller = await Client.connect(call_server, a_tok)
    phone, laptop = await Client.connect(call_server, b_tok), await Client.connect(call_server, b_tok)
    stranger = await Client.connect(call_server, c_tok)
    cid = call_id()

    ok = await signal(caller, "i", room=room, call_id=cid, party_id="alice-1", kind="invite", media="video",
                      sdp=OFFER)
    assert ok == {"type": "signaled", "call_id": cid, "ref": "i"}
    for device in (phone, laptop):
        ring = await got(device, "invite")
        assert (ring["from"], ring["room"], ring["call_id"], ring["party_id"], ring["media"], ring["sdp"]) == (
            alice, room, cid, "alice-1", "video", OFFER)
    await signal(caller, room=room, call_id=cid, party_id="alice-1", kind="candidates", to=bob,
                 candidates=CANDIDATES)
    assert (await got(laptop, "candidates"))["candidates"] == CANDIDATES

    # the phone answers; the caller selects it, which tells the laptop to stop ringing
    assert (await signal(phone, "a", room=room, call_id=cid, party_id="bob-phone", kind="answer", to=alice,
                         to_party="alice-1", sdp=ANSWER))["type"] == "signaled"
    answer = await got(caller, "answer")
    assert (answer["from"], answer["party_id"], answer["to_party"], answer["sdp"]) == (bob, "bob-phone", "alice-1",
                                                                                      ANSWER)
    await signal(caller, room=room, call_id=cid, party_id="alice-1", kind="select_answer", to=bob,
                 selected_party_id="bob-phone")
    for device in (phone, laptop):
        assert (await got(device, "select_answer"))["selected_party_id"] == "bob-phone"
    await signal(phone, room=room, call_id=cid, party_id="bob-phone", kind="candidates", to=alice,
                 candidates=CANDIDATES[:1])
    assert (await got(caller, "candidates"))["from"] == bob

    await asyncio.sleep(0.3)
    await signal(caller, room=room, call_id=cid, party_id="alice-1", kind="hangup", reason="user_hangup")
    for device in (phone, laptop):
        assert (await got(device, "hangup"))["reason"] == "user_hangup"
    await stranger.nothing(0.3, "signal")  # nobody else heard any of it

    assert call_log(call_server, a_tok, room) == [(alice, "started", "video"), (bob, "joined", None),
                                                  (alice, "ended", None)]
    ended = [e for e in rest_events(call_server, b_tok, room) if e.get("type") == "call"][-1]
    assert 200 <= ended["duration_ms"] < 10_000
    # the call is over: more signalling for it is refused
    late = await signal(phone, "late", room=room, call_id=cid, party_id="bob-phone", kind="candidates", to=alice,
                        candidates=CANDIDATES)
    assert (late["type"], late["code"]) == ("error", "not_found")
    await asyncio.gather(*(c.close() for c in (caller, phone, laptop, stranger)))


async def test_declined_and_unanswered_calls_are_recorded_and_end_for_everyone(call_server: ServerProcess) -> None:
    (alice, a_tok), (bob, b_tok) = register(call_server), register(call_server)
    room = dm(call_server, a_tok, bob)
    caller, callee = await Client.connect(call_server, a_tok), await Client.connect(call_server, b_tok)

    declined = call_id()
    await signal(caller, room=room, call_id=declined, party_id="a", kind="invite", media="voice", sdp=OFFER)
    await got(callee, "invite")
    await signal(callee, room=room, call_id=declined, party_id="b", kind="reject", to=alice)
    assert (await got(caller, "reject"))["from"] == bob

    unanswered = call_id()
    await signal(caller, room=room, call_id=unanswered, party_id="a", kind="invite", media="voice", sdp=OFFER)
    await got(callee, "invite", call_id=unanswered)
    for side in (caller, callee):  # after the ring timeout (1.5 s here), both sides are told it is over
        hangup = await got(side, "hangup", call_id=unanswered, timeout=10)
        assert hangup["reason"] == "invite_timeout"
    assert call_log(call_server, b_tok, room) == [
        (alice, "started", "voice"), (bob, "declined", None), (bob, "missed", None),
        (alice, "started", "voice"), (alice, "missed", None)]
    await asyncio.gather(caller.close(), callee.close())


async def test_a_room_call_is_joined_leg_by_leg_and_ends_when_one_is_left(call_server: ServerProcess) -> None:
    people = [register(call_server) for _ in range(3)]
    (alice, _), (bob, _), (carol, _) = people
    room = unique("call")
    a, b, c = [await Client.connect(call_server, tok) for _, tok in people]
    for client in (a, b, c):
        await client.join(room)
    cid = call_id()
    await signal(a, room=room, call_id=cid, party_id="a", kind="invite", media="video", sdp=OFFER)
    for client in (b, c):  # nobody rings in a room: members see the call start and join it
        started = await client.expect("call", room=room)
        assert (started["from"], started["action"], started["call_id"], started["media"]) == (alice, "started", cid,
                                                                                             "video")
    await b.nothing(0.2, "signal")
    await signal(b, room=room, call_id=cid, party_id="b", kind="invite", to=alice, sdp=OFFER)
    assert (await got(a, "invite"))["from"] == bob
    for to in (alice, bob):
        await signal(c, room=room, call_id=cid, party_id="c", kind="invite", to=to, sdp=OFFER)
    assert (await got(a, "invite"))["from"] == carol
    assert (await got(b, "invite"))["from"] == carol
    for who, party in ((b, "b"), (a, "a")):  # one after the other; then carol is alone and the call is over
        answer = await signal(who, party, room=room, call_id=cid, party_id=party, kind="hangup")
        assert answer["type"] == "signaled", answer
    await got(c, "hangup", **{"from": alice})  # (after bob's)
    actions = [(who, what) for who, what, _ in call_log(call_server, people[0][1], room)]
    assert actions == [(alice, "started"), (bob, "joined"), (carol, "joined"), (bob, "left"), (alice, "ended")]
    await asyncio.gather(a.close(), b.close(), c.close())


async def test_bad_signalling_is_refused_and_disturbs_nobody(call_server: ServerProcess) -> None:
    (alice, a_tok), (bob, b_tok), (eve, e_tok) = (register(call_server) for _ in range(3))
    room = dm(call_server, a_tok, bob)
    public = unique("call")
    a, b, e = [await Client.connect(call_server, t) for t in (a_tok, b_tok, e_tok)]
    await a.join(public)
    await e.join(public)
    cid = call_id()
    await signal(a, room=room, call_id=cid, party_id="a", kind="invite", media="voice", sdp=OFFER)
    await got(b, "invite")

    def leg(**frame: Any) -> dict[str, Any]:
        return {"room": room, "call_id": cid, "party_id": "x", "kind": "candidates", "to": alice,
                "candidates": CANDIDATES, **frame}

    cases = [
        (e, leg(), "not_found"),  # an outsider of the DM
        (b, leg(call_id=call_id()), "not_found"),  # a call that does not exist
        (a, leg(room=public, to=eve), "not_found"),  # the call belongs to another room
        (e, {**leg(room=public, call_id=call_id()), "to": alice}, "not_found"),  # no such call in that room
        (a, leg(to="nobody-here"), "not_found"),  # to a user who is not a member
        (a, leg(kind="invite", sdp=None), "bad_request"),  # an invite without its offer
        (a, leg(kind="invite", sdp=ANSWER), "bad_request"),
        (a, leg(kind="answer", to=None, sdp=ANSWER), "bad_request"),  # no addressee
        (a, leg(sdp={"type": "offer", "sdp": "x" * 40_000}, kind="negotiate"), "bad_request"),  # oversized SDP
        (a, leg(candidates=[{"candidate": 123}]), "bad_request"),
        (a, leg(candidates=[{"candidate": "c", "sdpMLineIndex": -1}]), "bad_request"),
        (a, leg(candidates=CANDIDATES * 30), "bad_request"),  # more than 50 in one frame
        (a, leg(call_id="short"), "bad_request"),
        (a, leg(kind="ring"), "bad_request"),
    ]
    for i, (who, frame, code) in enumerate(cases):
        answer = await signal(who, f"bad{i}", **frame)
        assert answer is not None and (answer["type"], answer.get("code")) == ("error", code), (i, frame, answer)

    # eve is in the public room but not in alice's call there
    public_call = call_id()
    await signal(a, "started", room=public, call_id=public_call, party_id="a", kind="invite", media="voice",
                 sdp=OFFER)
    answer = await signal(e, "notin", room=public, call_id=public_call, party_id="e", kind="answer", to=alice,
                          sdp=ANSWER)
    assert (answer["type"], answer["code"]) == ("error", "forbidden")

    # a flood is cut off with rate_limited; bob, in the middle of the call, is not disturbed
    for i in range(260):
        await e.send({"type": "signal", "room": public, "call_id": call_id(), "party_id": "e", "kind": "candidates",
                      "to": alice, "candidates": CANDIDATES, "ref": f"f{i}"})
    codes = [(await e.next_where(lambda f, i=i: f.get("ref") == f"f{i}"))["code"] for i in range(260)]
    assert "rate_limited" in codes and set(codes) <= {"rate_limited", "not_found"}
    await b.nothing(0.3, "signal")
    await a.send({"type": "ping", "ref": "p"})
    assert (await a.next_where(lambda f: f.get("ref") == "p"))["type"] == "pong"
    await signal(a, room=room, call_id=cid, party_id="a", kind="hangup")
    assert (await got(b, "hangup"))["from"] == alice
    await asyncio.gather(a.close(), b.close(), e.close())


async def test_ice_servers_come_with_turn_credentials_coturn_accepts(call_server: ServerProcess) -> None:
    name, token = register(call_server)
    status, body = http("GET", f"{call_server.http}/api/ice", token=token)
    assert status == 200, body
    stun, turn = body["ice_servers"]
    assert stun == {"urls": [STUN]} and turn["urls"] == [TURN]
    expiry, _, user = turn["username"].partition(":")
    assert user == name and abs(int(expiry) - (time.time() + body["ttl"])) < 60
    expected = base64.b64encode(hmac.new(SECRET.encode(), turn["username"].encode(), hashlib.sha1).digest())
    assert turn["credential"] == expected.decode()
    assert http("GET", f"{call_server.http}/api/ice")[0] == 401


async def test_signalling_over_rest_reaches_a_websocket_and_is_checked_the_same(call_server: ServerProcess) -> None:
    (alice, a_tok), (bob, b_tok) = register(call_server), register(call_server)
    room = dm(call_server, a_tok, bob)
    callee = await Client.connect(call_server, b_tok)
    url = f"{call_server.http}/api/rooms/{room}/signal"
    cid = call_id()
    assert http("POST", url, {"call_id": cid, "party_id": "a", "kind": "invite", "media": "video", "sdp": OFFER},
                token=a_tok)[0] == 204
    ring = await got(callee, "invite")
    assert (ring["from"], ring["call_id"]) == (alice, cid)
    status, body = http("POST", url, {"call_id": cid, "party_id": "a", "kind": "nonsense"}, token=a_tok)
    assert (status, body["error"]) == (400, "bad_request")
    status, body = http("POST", url, {"call_id": call_id(), "party_id": "a", "kind": "hangup"}, token=a_tok)
    assert (status, body["error"]) == (404, "not_found")
    assert http("POST", url, {"call_id": cid, "party_id": "a", "kind": "hangup"}, token=a_tok)[0] == 204
    await got(callee, "hangup")
    await callee.close()

    # a callee who can only poll hears the call ring too
    head = max(e["seq"] for e in rest_events(call_server, b_tok, room))

    def poll_once() -> tuple[int, Any]:
        return http("GET", f"{call_server.http}/api/poll?rooms={room}:{head}&timeout=10&client=tab1", token=b_tok)

    waiting = asyncio.create_task(asyncio.to_thread(poll_once))
    await asyncio.sleep(0.5)
    again = call_id()
    assert http("POST", url, {"call_id": again, "party_id": "a", "kind": "invite", "sdp": OFFER}, token=a_tok)[0] == 204
    frames: list[dict[str, Any]] = []
    for _ in range(3):  # the call's record in the log may come in one answer, the ring in the next
        status, body = await waiting
        assert status == 200, body
        frames += body["frames"]
        head = body["cursors"][room]
        if any(f["type"] == "signal" for f in frames):
            break
        waiting = asyncio.create_task(asyncio.to_thread(poll_once))
    rings = [f for f in frames if f["type"] == "signal"]
    assert [(f["kind"], f["call_id"], f["from"]) for f in rings] == [("invite", again, alice)]
