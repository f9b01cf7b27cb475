"""Idempotent sends: the same (user, client_id) again — over WebSocket or REST, at once or later, even after a
restart — gets the same ack (or the same stored message), and is stored and broadcast only once."""

from tests.support import Client, connect_all, http, in_room, kinds, register, rest_events, rest_messages, unique


def post(server, token, room, text, client_id):
    return http("POST", f"{server.http}/api/rooms/{room}/messages", {"text": text, "client_id": client_id},
                token=token)


async def test_a_repeated_client_id_gets_the_same_ack_and_is_stored_once(shared_server, users):
    _, ta = users[0]
    room = unique("r")
    a, b = await in_room(shared_server, room, *users[:2])
    cid = unique("retry-")
    first = await a.say(room, "only once", client_id=cid)
    again = await a.say(room, "only once", client_id=cid)
    assert first.get("duplicate", False) is False
    assert again["duplicate"] is True
    assert {k: again[k] for k in ("room", "client_id", "seq", "ts")} == {
        k: first[k] for k in ("room", "client_id", "seq", "ts")}
    assert [m["client_id"] for m in await b.messages(1, room)] == [cid]
    assert await b.nothing(0.3, kind="message") == []  # not broadcast twice
    assert len(await a.messages(1, room)) == 1
    assert await a.nothing(0.1, kind="message") == []
    assert [m["client_id"] for m in rest_messages(shared_server, ta, room)] == [cid]
    nxt = await a.say(room, "next")
    assert nxt["seq"] == first["seq"] + 1  # the duplicate did not use up a seq
    await a.close()
    await b.close()


async def test_a_duplicate_sent_before_the_first_is_acked_is_stored_once(shared_server, users):
    """Both copies may land in the same group commit: still one message, and two identical acks."""
    _, ta = users[0]
    room = unique("r")
    a, = await connect_all(shared_server, users[0])
    head = (await a.join(room))["last_seq"]
    cid = unique("c")
    for _ in range(3):
        await a.send({"type": "send", "room": room, "text": "burst", "client_id": cid})
    acks = [await a.expect("ack", client_id=cid) for _ in range(3)]
    assert {ack["seq"] for ack in acks} == {head + 1}
    assert sum(not ack.get("duplicate", False) for ack in acks) == 1
    assert len(await a.messages(1, room)) == 1
    assert await a.nothing(0.3, kind="message") == []
    assert len(rest_messages(shared_server, ta, room)) == 1
    assert [e["seq"] for e in rest_events(shared_server, ta, room)] == list(range(1, head + 2))
    await a.close()


async def test_the_original_text_wins_over_a_changed_retry(shared_server, users):
    _, ta = users[0]
    room = unique("r")
    a, = await in_room(shared_server, room, users[0])
    cid = unique("c")
    first = await a.say(room, "original", client_id=cid)
    again = await a.say(room, "edited retry", client_id=cid)
    assert again["seq"] == first["seq"]
    assert [m["text"] for m in rest_messages(shared_server, ta, room)] == ["original"]
    await a.close()


async def test_a_client_id_reused_in_another_room_is_still_the_first_message(shared_server, users):
    """Idempotency is per (user, client_id), whatever the room: the retry is answered with the original."""
    _, ta = users[0]
    a = await Client.connect(shared_server, ta)
    r1, r2 = unique("r"), unique("r")
    await a.join(r1)
    await a.join(r2)
    cid = unique("c")
    first = await a.say(r1, "here", client_id=cid)
    again = await a.say(r2, "there", client_id=cid)
    assert again["duplicate"] is True and again["room"] == r1 and again["seq"] == first["seq"]
    assert rest_messages(shared_server, ta, r2) == []
    await a.close()


async def test_the_same_client_id_from_two_users_is_two_messages(shared_server, users):
    _, ta = users[0]
    room = unique("r")
    a, b = await connect_all(shared_server, *users[:2])
    await a.join(room)
    head = (await b.join(room))["last_seq"]
    cid = unique("shared-")
    assert (await a.say(room, "from a", client_id=cid))["seq"] == head + 1
    assert (await b.say(room, "from b", client_id=cid))["seq"] == head + 2
    assert [m["text"] for m in rest_messages(shared_server, ta, room)] == ["from a", "from b"]
    await a.close()
    await b.close()


async def test_rest_post_with_a_repeated_client_id_returns_the_stored_message(shared_server, users):
    ua, ta = users[0]
    room = unique("r")
    b, = await connect_all(shared_server, users[1])
    head = (await b.join(room))["last_seq"]
    cid = unique("bot-")
    status, first = post(shared_server, ta, room, "deploy finished", cid)
    assert status == 201, first
    status, again = post(shared_server, ta, room, "deploy finished", cid)
    assert status == 200, again
    assert again == first
    assert first["from"] == ua and first["seq"] == head + 2  # the first post joined ua to the room first
    joined = await b.expect("member", user=ua)
    assert (joined["action"], joined["seq"]) == ("joined", head + 1)
    assert [m["client_id"] for m in await b.messages(1, room)] == [cid]
    assert await b.nothing(0.3, kind="message") == []
    assert await b.nothing(0.1, kind="member") == []  # the retry joins nobody again
    assert kinds(rest_events(shared_server, ta, room)) == [(1, "member", "created"), (2, "member", "joined"),
                                                           (3, "message", "deploy finished")]
    await b.close()


async def test_idempotency_holds_across_websocket_and_rest(shared_server, users):
    _, ta = users[0]
    room = unique("r")
    a, = await in_room(shared_server, room, users[0])
    cid = unique("c")
    ack = await a.say(room, "over ws", client_id=cid)
    status, body = post(shared_server, ta, room, "over ws", cid)
    assert status == 200, body
    assert (body["seq"], body["ts"], body["client_id"]) == (ack["seq"], ack["ts"], cid)

    cid2 = unique("c")
    status, body = post(shared_server, ta, room, "over rest", cid2)
    assert status == 201, body
    again = await a.say(room, "over rest", client_id=cid2)
    assert again["duplicate"] is True and again["seq"] == body["seq"] and again["ts"] == body["ts"]
    assert len(await a.messages(2, room)) == 2
    assert await a.nothing(0.3, kind="message") == []
    await a.close()


async def test_a_retry_after_a_restart_is_still_recognised(server):
    _, token = register(server)
    a = await Client.connect(server, token)
    room = unique("r")
    await a.join(room)
    cid = unique("c")
    first = await a.say(room, "before restart", client_id=cid)
    await a.close()
    server.restart()
    a = await Client.connect(server, token)
    await a.join(room)
    again = await a.say(room, "before restart", client_id=cid)
    assert again["duplicate"] is True and again["seq"] == first["seq"] and again["ts"] == first["ts"]
    assert len(rest_messages(server, token, room)) == 1
    await a.close()
