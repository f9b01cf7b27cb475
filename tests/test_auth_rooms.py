"""`auth` carrying the rooms to join: ready to chat after one round trip (issue 16), with each room answered
exactly as its own `join` frame would be — `joined`, the replay after `since`, live events, errors by ref."""

import asyncio
import contextlib

import websockets

from tests.support import Client, ServerProcess, close_all, connect_all, http, register, unique


async def auth_with_rooms(server: ServerProcess, token: str, rooms: list[dict]) -> Client:
    client = await Client.connect(server)
    await client.send({"type": "auth", "token": token, "rooms": rooms, "ref": "a1"})
    return client


async def test_auth_joins_the_rooms_it_carries_and_replays_after_since(shared_server, users):
    (ua, ta) = users[0]
    old, new = unique("r"), unique("R")  # a name in capitals: rooms ignore case, as in `join`
    (b,) = await connect_all(shared_server, users[1])
    await b.join(old)
    head = (await b.join(old))["last_seq"]
    for text in ("one", "two", "three"):
        await b.say(old, text)

    a = await auth_with_rooms(shared_server, ta, [{"room": old, "since": head + 1, "ref": "j-old"},
                                                  {"room": new, "ref": "j-new"}])
    first = await a.recv()
    assert first["type"] == "ready" and first["user"] == ua and first["ref"] == "a1"
    joined_old = await a.expect("joined", room=old)
    assert joined_old["ref"] == "j-old"
    assert joined_old["last_seq"] >= head + 3
    # Only what came after `since`: "two" and "three" (a's own joining line follows them).
    replay = [(await a.expect("message", room=old))["text"] for _ in range(2)]
    assert replay == ["two", "three"]
    joined_new = await a.expect("joined", room=new.lower())
    assert joined_new["ref"] == "j-new"

    # Live in both: the rooms are joined for good, not only answered.
    await b.join(new.lower())
    await b.say(old, "live in the old one")
    await b.say(new.lower(), "live in the new one")
    assert (await a.expect("message", room=old))["text"] == "live in the old one"
    assert (await a.expect("message", room=new.lower()))["text"] == "live in the new one"
    ack = await a.say(new.lower(), "and a answers")
    assert ack["seq"] > 0
    assert (await b.expect("message", room=new.lower(), text="and a answers"))["from"] == ua
    await close_all(a, b)


async def test_a_room_refused_answers_its_own_ref_and_the_others_are_joined(shared_server, users):
    (_, ta), (_, tb) = users[:2]
    secret, open_room = unique("secret"), unique("r")
    status, body = await asyncio.to_thread(http, "POST", shared_server.http + "/api/rooms",
                                           {"name": secret, "visibility": "private"}, tb)
    assert status == 201, body

    a = await auth_with_rooms(shared_server, ta, [{"room": secret, "ref": "j-secret"},
                                                  {"room": open_room, "ref": "j-open"},
                                                  {"room": open_room, "ref": "j-again"}])
    assert (await a.expect("ready"))["ref"] == "a1"
    refused = await a.expect("error", ref="j-secret")
    assert refused["code"] == "not_found"
    assert (await a.expect("joined", room=open_room))["ref"] == "j-open"
    again = await a.expect("error", ref="j-again")
    assert again["code"] == "bad_request" and "already joining" in again["message"]
    # The refused room is not followed: sending there is refused; the joined one works.
    await a.send({"type": "send", "room": secret, "text": "no", "client_id": unique("c"), "ref": "s1"})
    assert (await a.expect("error", ref="s1"))["code"] == "not_joined"
    assert (await a.say(open_room, "fine"))["seq"] > 0
    await close_all(a)


async def test_bad_rooms_in_auth_are_refused_and_the_connection_may_authenticate_again(shared_server, users):
    (ua, ta) = users[0]
    bad = [
        ("rooms is not a list", {"rooms": "general"}),
        ("an entry is not an object", {"rooms": ["general"]}),
        ("an entry has no room", {"rooms": [{"since": 3}]}),
        ("a room name is invalid", {"rooms": [{"room": "no spaces allowed"}]}),
        ("since is negative", {"rooms": [{"room": "general", "since": -1}]}),
    ]
    c = await Client.connect(shared_server)
    for why, extra in bad:
        await c.send({"type": "auth", "token": ta, "ref": why, **extra})
        reply = await c.expect(None)
        assert reply["type"] == "error" and reply["code"] == "bad_request" and reply["ref"] == why, (why, reply)
    # Still not authenticated, still open: a good auth works afterwards.
    await c.send({"type": "join", "room": "general", "ref": "early"})
    assert (await c.expect("error", ref="early"))["code"] == "unauthenticated"
    await c.send({"type": "auth", "token": ta, "rooms": [], "ref": "ok"})
    assert (await c.expect("ready"))["user"] == ua
    await close_all(c)


async def test_more_rooms_than_a_connection_may_follow_is_refused_whole(make_server):
    server = make_server("--max-rooms", "3")
    _, token = await asyncio.to_thread(register, server)
    c = await Client.connect(server)
    rooms = [{"room": unique("r")} for _ in range(4)]
    await c.send({"type": "auth", "token": token, "rooms": rooms, "ref": "too-many"})
    reply = await c.expect(None)
    assert reply["type"] == "error" and reply["code"] == "bad_request" and "at most 3 rooms" in reply["message"]
    await c.send({"type": "auth", "token": token, "rooms": rooms[:3], "ref": "three"})
    await c.expect("ready")
    for r in rooms[:3]:
        await c.expect("joined", room=r["room"])
    await close_all(c)


async def test_a_bad_token_with_rooms_joins_nothing(shared_server, users):
    c = await Client.connect(shared_server)
    await c.send({"type": "auth", "token": "not-a-token", "rooms": [{"room": unique("r")}], "ref": "x"})
    frames = []
    with contextlib.suppress(websockets.ConnectionClosed):
        while True:
            frames.append(await c.recv())
    assert [(f["type"], f.get("code")) for f in frames] == [("error", "unauthenticated")]  # nothing joined
    assert c.ws.close_code == 4401


async def test_resume_rejoins_only_rooms_the_user_is_still_a_member_of(shared_server, users):
    """A reconnecting client resumes its rooms; one it left on another device meanwhile stays left."""
    ta = users[0][1]
    kept, left = unique("kept"), unique("left")
    owner, other_device = await connect_all(shared_server, users[1], users[0])
    for room in (kept, left):
        await owner.join(room)  # the owner: the last owner of a room may not leave it
        await other_device.join(room)
    await other_device.send({"type": "manage", "room": left, "action": "leave", "ref": "bye"})
    await other_device.expect("managed", ref="bye")

    a = await auth_with_rooms(shared_server, ta, [{"room": kept, "resume": True, "ref": "j-kept"},
                                                  {"room": left, "resume": True, "ref": "j-left"}])
    await a.expect("ready")
    assert (await a.expect("joined", room=kept))["ref"] == "j-kept"
    refused = await a.expect("error", ref="j-left")
    assert refused["code"] == "not_joined" and "no longer a member" in refused["message"]
    # The same through a plain join frame; and without `resume` the public room may be joined again.
    await a.send({"type": "join", "room": left, "resume": True, "ref": "j2"})
    assert (await a.expect("error", ref="j2"))["code"] == "not_joined"
    status, mine = await asyncio.to_thread(http, "GET", shared_server.http + "/api/me/rooms", None, ta)
    names = [r["name"] for r in mine["rooms"]]
    assert status == 200 and left not in names and kept in names
    assert (await a.join(left))["room"] == left
    await close_all(a, other_device, owner)
