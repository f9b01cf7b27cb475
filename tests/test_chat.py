"""Live chat over WebSocket: join/joined, send/ack/message in seq order for every member, leave, typing,
presence (join, leave, close and a dropped connection), ref echoing and the application-level ping."""

import asyncio
import time

from tests.support import (
    Client,
    all_rooms,
    close_all,
    connect_all,
    in_room,
    kinds,
    rest_events,
    send_all,
    unique,
)


async def test_two_users_see_each_others_messages_in_seq_order(shared_server, users):
    (ua, _), (ub, _) = users[:2]
    room = unique("r")
    a, b = await connect_all(shared_server, *users[:2])
    await a.join(room)
    head = (await b.join(room))["last_seq"]  # the room's creation and b's joining come first
    script = [(a, "hi bob"), (b, "hi alice"), (a, "how are you?"), (a, "still there?"), (b, "yes!")]
    for who, text in script:
        await who.say(room, text)
    expected = [(head + i + 1, (ua if who is a else ub), text) for i, (who, text) in enumerate(script)]
    for viewer in (a, b):
        got = await viewer.messages(len(script), room)
        assert [(m["seq"], m["from"], m["text"]) for m in got] == expected
        assert await viewer.nothing(0.2, kind="message") == []
    await close_all(a, b)


async def test_ack_and_message_carry_the_contract_fields(shared_server, users):
    room = unique("r")
    a, b = await connect_all(shared_server, *users[:2])
    await a.join(room)
    head = (await b.join(room))["last_seq"]
    cid = unique("cid-")
    ack = await a.say(room, "fields", client_id=cid)
    assert ack["type"] == "ack" and ack["room"] == room and ack["client_id"] == cid and ack["seq"] == head + 1
    assert abs(ack["ts"] / 1000 - time.time()) < 3600  # Unix time in milliseconds
    (msg,) = await b.messages(1, room)
    assert msg == {"type": "message", "room": room, "seq": head + 1, "from": users[0][0], "text": "fields",
                   "ts": ack["ts"], "client_id": cid}
    (own,) = await a.messages(1, room)
    assert own == msg
    await close_all(a, b)


async def test_every_connection_of_the_sender_gets_the_message(shared_server, users):
    room = unique("r")
    a1, a2 = await in_room(shared_server, room, users[0], users[0])
    ack = await a1.say(room, "to myself")
    for conn in (a1, a2):
        (m,) = await conn.messages(1, room)
        assert m["seq"] == ack["seq"] and m["text"] == "to myself"
    assert await a2.nothing(0.2, kind="ack") == []  # the ack goes to the sending connection only
    await close_all(a1, a2)


async def test_only_members_of_the_room_receive_its_messages(shared_server, users):
    a, b, c = await connect_all(shared_server, *users)
    room, other = unique("r"), unique("r")
    await a.join(room)
    await b.join(other)  # b is in another room, c in none
    await a.say(room, "members only")
    assert len(await a.messages(1, room)) == 1
    assert await b.nothing(0.3, kind="message") == []
    assert await c.nothing(0.1, kind="message") == []
    await close_all(a, b, c)


async def test_seq_is_per_room_starts_at_1_and_never_skips(shared_server, users):
    (ua, ta), = users[:1]
    a, = await connect_all(shared_server, users[0])
    r1, r2 = unique("r"), unique("r")
    # each room's log starts with its creation, at seq 1
    assert (await a.join(r1))["last_seq"] == (await a.join(r2))["last_seq"] == 1
    seqs = {r1: [], r2: []}
    for room in (r1, r2, r2, r1, r2, r1, r1):
        seqs[room].append((await a.say(room, "x"))["seq"])
    assert seqs == {r1: [2, 3, 4, 5], r2: [2, 3, 4]}
    assert kinds(rest_events(shared_server, ta, r1)) == [(1, "member", "created")] + [
        (s, "message", "x") for s in range(2, 6)]
    assert [e["user"] for e in rest_events(shared_server, ta, r2) if e["type"] == "member"] == [ua]
    await a.close()


async def test_concurrent_senders_get_gap_free_seqs_delivered_in_order(shared_server, users):
    """Four connections send 25 messages each at once: acks cover 1..100 once, members see 1..100 in order."""
    room = unique("r")
    listener, = await connect_all(shared_server, users[2])
    await listener.join(room)
    senders = await connect_all(shared_server, users[0], users[0], users[1], users[1])
    for s in senders:
        head = (await s.join(room))["last_seq"]  # after the room's creation and the senders' joining
    acks = await asyncio.gather(*(send_all(s, room, [f"{i}-{k}" for k in range(25)])
                                  for i, s in enumerate(senders)))
    assert sorted(a["seq"] for batch in acks for a in batch) == list(range(head + 1, head + 101))
    for i, batch in enumerate(acks):  # one connection's messages keep their order
        assert [a["seq"] for a in batch] == sorted(a["seq"] for a in batch), i
    got = await listener.messages(100, room)
    assert [m["seq"] for m in got] == list(range(head + 1, head + 101))
    by_seq = {a["seq"]: a["client_id"] for batch in acks for a in batch}
    assert all(by_seq[m["seq"]] == m["client_id"] for m in got)
    await close_all(listener, *senders)


async def test_joined_reports_last_seq_and_who_is_online(shared_server, users):
    (ua, _), (ub, _) = users[:2]
    a, b = await connect_all(shared_server, *users[:2])
    room = unique("r")
    joined = await a.join(room)
    assert joined["last_seq"] == 1 and joined["online"] == [ua]  # seq 1: a created the room
    acks = await send_all(a, room, ["one", "two", "three"])
    assert [ack["seq"] for ack in acks] == [2, 3, 4]
    joined = await b.join(room)
    assert joined["last_seq"] == 5  # b's joining is stored before `joined` answers
    assert sorted(joined["online"]) == sorted([ua, ub])
    await close_all(a, b)


async def test_a_room_exists_from_its_first_join(shared_server, users):
    a, = await connect_all(shared_server, users[0])
    room = unique("r")
    assert room not in [r["name"] for r in all_rooms(shared_server, users[0][1])]
    await a.join(room)
    listed = [r for r in all_rooms(shared_server, users[0][1]) if r["name"] == room]
    assert listed == [{"name": room, "topic": "", "members": 1, "last_seq": 1}]  # seq 1: its creation
    await a.close()


async def test_leave_answers_left_and_stops_delivery(shared_server, users):
    (ua, _), _ = users[:2]
    room = unique("r")
    a, b = await in_room(shared_server, room, *users[:2])
    await b.send({"type": "leave", "room": room, "ref": "bye"})
    left = await b.expect("left")
    assert left == {"type": "left", "room": room, "ref": "bye"}
    await a.say(room, "after you left")
    assert await b.nothing(0.3, kind="message") == []
    await b.send({"type": "send", "room": room, "text": "can I?", "client_id": unique("c")})
    assert (await b.expect("error"))["code"] == "not_joined"
    # leaving a room one is not in is harmless
    await b.send({"type": "leave", "room": unique("r")})
    await b.expect("left")
    msgs = await a.messages(1, room)
    assert [m["from"] for m in msgs] == [ua]
    await close_all(a, b)


async def test_joining_again_resyncs_without_duplicates(shared_server, users):
    room = unique("r")
    a, b = await in_room(shared_server, room, *users[:2])
    await a.expect("presence", user=users[1][0], online=True)
    first = (await a.say(room, "first"))["seq"]
    assert [m["seq"] for m in await b.messages(1, room)] == [first]
    joined = await b.join(room, since=0)  # join again on the same connection
    assert joined["last_seq"] == first
    replay = [await b.expect_any("member", "message") for _ in range(first)]  # the whole log, once
    assert kinds(replay) == [(1, "member", "created"), (2, "member", "joined"), (first, "message", "first")]
    second = (await a.say(room, "second"))["seq"]
    assert second == first + 1
    assert [m["seq"] for m in await b.messages(1, room)] == [second]  # live, once
    assert await b.nothing(0.3, kind="message") == []
    assert await b.nothing(0.1, kind="member") == []
    assert await a.nothing(0.1, kind="presence") == []  # b never went offline
    await close_all(a, b)


async def test_text_round_trips_exactly(shared_server, users):
    room = unique("r")
    a, b = await in_room(shared_server, room, *users[:2])
    texts = ["héllo wörld", "emoji 🎉👍🏽", 'quotes " and \\ backslash', "line\nbreak\ttab", "日本語", "<b>&amp;</b>",
             " spaced "]
    await send_all(a, room, texts)
    assert [m["text"] for m in await b.messages(len(texts), room)] == texts
    await close_all(a, b)


async def test_send_without_client_id_gets_one_assigned(shared_server, users):
    room = unique("r")
    a, = await connect_all(shared_server, users[0])
    head = (await a.join(room))["last_seq"]
    await a.send({"type": "send", "room": room, "text": "no id", "ref": 7})
    ack = await a.expect("ack")
    assert ack["ref"] == 7 and ack["seq"] == head + 1 and isinstance(ack["client_id"], str) and ack["client_id"]
    (m,) = await a.messages(1, room)
    assert m["client_id"] == ack["client_id"]
    await a.close()


async def test_replies_echo_the_ref(shared_server, users):
    a, = await connect_all(shared_server, users[0])
    room = unique("r")
    await a.send({"type": "join", "room": room, "ref": "j1"})
    assert (await a.expect("joined"))["ref"] == "j1"
    await a.send({"type": "send", "room": room, "text": "x", "client_id": unique("c"), "ref": 42})
    assert (await a.expect("ack"))["ref"] == 42
    await a.send({"type": "history", "room": room, "ref": "h"})
    assert (await a.expect("history"))["ref"] == "h"
    await a.send({"type": "ping", "ref": "p"})
    assert (await a.expect("pong"))["ref"] == "p"
    await a.send({"type": "leave", "room": room, "ref": 9})
    assert (await a.expect("left"))["ref"] == 9
    await a.send({"type": "typing", "room": room, "ref": "e"})
    error = await a.expect("error")
    assert error["code"] == "not_joined" and error["ref"] == "e"
    await a.send({"type": "nonsense", "ref": "bad"})
    assert (await a.expect("error"))["ref"] == "bad"
    await a.close()


async def test_ping_gets_pong(shared_server, users):
    a, = await connect_all(shared_server, users[0])
    await a.send({"type": "ping"})
    assert (await a.expect("pong"))["type"] == "pong"
    await a.close()


# typing -------------------------------------------------------------------------------------------


async def test_typing_reaches_other_members_only_and_is_not_stored(shared_server, users):
    (ua, ta), _, _ = users
    a, b, c = await connect_all(shared_server, *users)
    room, other = unique("r"), unique("r")
    await a.join(room)
    await b.join(room)
    await c.join(other)
    await a.send({"type": "typing", "room": room})
    assert await b.expect("typing") == {"type": "typing", "room": room, "user": ua}
    assert await a.nothing(0.3, kind="typing") == []
    assert await c.nothing(0.1, kind="typing") == []
    await a.send({"type": "history", "room": room})
    # the log holds the room's creation and b's joining, nothing of the typing
    assert [(e["type"], e["action"]) for e in (await a.expect("history"))["messages"]] == [
        ("member", "created"), ("member", "joined")]
    assert [r["last_seq"] for r in all_rooms(shared_server, ta) if r["name"] == room] == [2]
    await close_all(a, b, c)


async def test_typing_is_not_sent_to_the_typists_other_connections(shared_server, users):
    _, token = users[0]
    a1 = await Client.connect(shared_server, token)
    a2 = await Client.connect(shared_server, token)
    b, = await connect_all(shared_server, users[1])
    room = unique("r")
    for conn in (a1, a2, b):
        await conn.join(room)
    await a1.send({"type": "typing", "room": room})
    assert (await b.expect("typing"))["user"] == users[0][0]
    assert await a2.nothing(0.3, kind="typing") == []
    await close_all(a1, a2, b)


# presence -----------------------------------------------------------------------------------------


async def test_presence_online_when_a_user_joins_and_offline_when_they_leave(shared_server, users):
    _, (ub, _) = users[:2]
    room = unique("r")
    a, b = await in_room(shared_server, room, *users[:2])
    assert await a.expect("presence") == {"type": "presence", "room": room, "user": ub, "online": True}
    assert await b.nothing(0.2, kind="presence") == []  # no presence about oneself
    await b.send({"type": "leave", "room": room})
    assert await a.expect("presence") == {"type": "presence", "room": room, "user": ub, "online": False}
    await b.join(room)
    assert (await a.expect("presence"))["online"] is True
    await close_all(a, b)


async def test_presence_counts_connections_first_in_last_out(shared_server, users):
    _, (ub, tb) = users[:2]
    room = unique("r")
    a, = await in_room(shared_server, room, users[0])
    b1 = await Client.connect(shared_server, tb)
    b2 = await Client.connect(shared_server, tb)
    await b1.join(room)
    assert (await a.expect("presence", user=ub))["online"] is True
    await b2.join(room)
    assert await a.nothing(0.3, kind="presence") == []  # a second connection is no news
    await b1.close()
    assert await a.nothing(0.3, kind="presence") == []  # b is still online through b2
    await b2.close()
    assert await a.expect("presence", user=ub) == {"type": "presence", "room": room, "user": ub, "online": False}
    await a.close()


async def test_presence_goes_offline_when_a_connection_drops_without_a_close(shared_server, users):
    _, (ub, tb) = users[:2]
    room = unique("r")
    a, = await in_room(shared_server, room, users[0])
    b = await Client.connect(shared_server, tb)
    await b.join(room)
    await a.expect("presence", user=ub, online=True)
    b.ws.transport.abort()  # the TCP connection is reset: no close frame
    assert await a.expect("presence", user=ub) == {"type": "presence", "room": room, "user": ub, "online": False}
    # and the dropped user is no longer listed as online
    c, = await connect_all(shared_server, users[2])
    assert ub not in (await c.join(room))["online"]
    await close_all(a, c)


async def test_presence_is_per_room(shared_server, users):
    _, (ub, _), _ = users
    a, b = await connect_all(shared_server, *users[:2])
    r1, r2 = unique("r"), unique("r")
    await a.join(r1)
    await a.join(r2)
    await b.join(r1)
    await b.join(r2)
    assert {(p["room"], p["online"]) for p in [await a.expect("presence"), await a.expect("presence")]} == {
        (r1, True), (r2, True)}
    await b.send({"type": "leave", "room": r1})
    assert await a.expect("presence") == {"type": "presence", "room": r1, "user": ub, "online": False}
    assert await a.nothing(0.3, kind="presence") == []
    await b.close()
    assert await a.expect("presence") == {"type": "presence", "room": r2, "user": ub, "online": False}
    await a.close()
