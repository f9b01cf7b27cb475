"""Bad input over WebSocket gets a clear answer and neither the connection nor the data suffers: malformed
frames -> `bad_request` (connection stays usable), binary -> `unsupported`, too long text -> `too_long`,
not joined -> `not_joined`; a frame over 64 KiB -> close 1009, invalid UTF-8 -> close 1007, and the server
keeps serving everyone else with the stored messages intact."""

import asyncio
import json

import pytest

from tests.support import Client, close_code, fill_room, http, in_room, register, rest_events, rest_messages, unique

MAX_FRAME = 64 * 1024
MAX_TEXT = 4000


@pytest.fixture(scope="module")
def stored_room(shared_server, users):
    """A room with five stored messages that no test here writes to: it must stay exactly as it is."""
    room = unique("kept")
    asyncio.run(fill_room(shared_server, room, 5, token=users[2][1]))
    return room


def assert_intact(server, token, room):
    """seq 1 is the room's `created` event, seqs 2..6 the five messages; after them come only the `joined`
    events of the clients below (the latest page may hold nothing else, so the whole log is read)."""
    log, after = [], 0
    while page := rest_events(server, token, room, after=after, limit=100):
        log += page
        after = page[-1]["seq"]
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    assert [(e["type"], e.get("action")) for e in log[:1]] == [("member", "created")]
    assert [(m["seq"], m["type"], m.get("text")) for m in log[1:6]] == [
        (i + 1, "message", f"m{i}") for i in range(1, 6)]
    assert {(e["type"], e.get("action")) for e in log[6:]} <= {("member", "joined")}


@pytest.fixture
async def client(shared_server, users, stored_room):
    """An authenticated connection, of an account of its own (rate limits are per user), that has joined the
    stored room and a room of its own (`client.room`)."""
    c = await Client.connect(shared_server, register(shared_server)[1])
    c.room = unique("r")
    await c.join(c.room)
    await c.join(stored_room)
    yield c
    await c.close()
    assert_intact(shared_server, users[0][1], stored_room)


async def still_usable(c: Client) -> None:
    """The connection still answers and still stores: a send is acked and delivered."""
    ack = await c.say(c.room, "still here")
    assert ack["seq"] >= 1
    assert (await c.expect("message", client_id=ack["client_id"]))["text"] == "still here"


ROOM = "ok-room"
BAD_FRAMES = {
    # not JSON
    "plain-text": "hello",
    "truncated": '{"type":"join","room":',
    "empty": "",
    "single-quotes": "{'type': 'ping'}",
    "trailing-garbage": '{"type":"ping"} x',
    # not an object
    "array": '[{"type":"ping"}]',
    "number": "42",
    "string": '"ping"',
    "null": "null",
    "true": "true",
    # type missing or unknown
    "no-type": {"room": ROOM},
    "unknown-type": {"type": "shout", "room": ROOM},
    "int-type": {"type": 1},
    "null-type": {"type": None},
    "case-type": {"type": "JOIN", "room": ROOM},
    # missing fields
    "join-no-room": {"type": "join"},
    "leave-no-room": {"type": "leave"},
    "send-no-room": {"type": "send", "text": "hi", "client_id": "c1"},
    "send-no-text": {"type": "send", "room": ROOM, "client_id": "c1"},
    "history-no-room": {"type": "history"},
    "typing-no-room": {"type": "typing"},
    # wrong-typed fields
    "room-int": {"type": "join", "room": 5},
    "room-list": {"type": "join", "room": ["a"]},
    "text-int": {"type": "send", "room": ROOM, "text": 5, "client_id": "c1"},
    "text-null": {"type": "send", "room": ROOM, "text": None, "client_id": "c1"},
    "text-object": {"type": "send", "room": ROOM, "text": {"a": 1}, "client_id": "c1"},
    "since-string": {"type": "join", "room": ROOM, "since": "3"},
    "since-negative": {"type": "join", "room": ROOM, "since": -1},
    "since-float": {"type": "join", "room": ROOM, "since": 1.5},
    "since-over-64-bit": {"type": "join", "room": ROOM, "since": 2**64},
    "before-string": {"type": "history", "room": ROOM, "before": "x"},
    "before-over-64-bit": {"type": "history", "room": ROOM, "before": 10**20},
    "before-2^63": {"type": "history", "room": ROOM, "before": 2**63},
    "limit-zero": {"type": "history", "room": ROOM, "limit": 0},
    "limit-string": {"type": "history", "room": ROOM, "limit": "10"},
    "client-id-empty": {"type": "send", "room": ROOM, "text": "hi", "client_id": ""},
    "client-id-int": {"type": "send", "room": ROOM, "text": "hi", "client_id": 7},
    "client-id-long": {"type": "send", "room": ROOM, "text": "hi", "client_id": "c" * 129},
    "ref-object": {"type": "ping", "ref": {"a": 1}},
    "ref-bool": {"type": "ping", "ref": True},
    "empty-text": {"type": "send", "room": ROOM, "text": "", "client_id": "c1"},
    # invalid room names
    "room-empty": {"type": "join", "room": ""},
    "room-space": {"type": "join", "room": "a b"},
    "room-slash": {"type": "join", "room": "a/b"},
    "room-accent": {"type": "join", "room": "café"},
    "room-65": {"type": "join", "room": "x" * 65},
    "room-newline": {"type": "join", "room": "room\n"},
    "send-bad-room": {"type": "send", "room": "no way!", "text": "hi", "client_id": "c1"},
    "history-bad-room": {"type": "history", "room": "#general"},
}


@pytest.mark.parametrize("frame", list(BAD_FRAMES.values()), ids=list(BAD_FRAMES))
async def test_malformed_frames_get_bad_request_and_the_connection_stays_usable(client, frame):
    if isinstance(frame, dict):
        frame = {**frame, "room": client.room} if frame.get("room") == ROOM else frame
    await client.send(frame if isinstance(frame, str) else json.dumps(frame))
    error = await client.expect("error")
    assert error["code"] == "bad_request"
    assert isinstance(error["message"], str) and error["message"]
    await still_usable(client)


@pytest.mark.parametrize(("frame", "words"), [
    ("hello", "JSON"),
    ("[]", "object"),
    ({"room": "x"}, "type"),
    ({"type": "shout"}, "shout"),
    ({"type": "join", "room": "a b"}, "room"),
    ({"type": "send", "room": "x", "client_id": "c"}, "text"),
    ({"type": "join", "room": "x", "since": -1}, "since"),
])
async def test_bad_request_messages_say_what_is_wrong(client, frame, words):
    await client.send(frame if isinstance(frame, str) else json.dumps(frame))
    assert words in (await client.expect("error"))["message"]


async def test_an_error_echoes_the_ref_of_the_bad_frame(client):
    await client.send({"type": "join", "room": "bad room", "ref": "r-1"})
    error = await client.expect("error")
    assert error["code"] == "bad_request" and error["ref"] == "r-1"
    await client.send({"type": "nope", "ref": 99})
    assert (await client.expect("error"))["ref"] == 99


async def test_many_bad_frames_in_a_row_then_a_good_one(client):
    for frame in list(BAD_FRAMES.values())[:20]:
        await client.send(frame if isinstance(frame, str) else json.dumps(frame))
    errors = [await client.expect("error") for _ in range(20)]
    assert {e["code"] for e in errors} == {"bad_request"}
    await still_usable(client)


async def test_a_binary_frame_is_unsupported_and_the_connection_stays_usable(client):
    await client.send(json.dumps({"type": "ping"}).encode())  # bytes go out as a binary frame
    error = await client.expect("error")
    assert error["code"] == "unsupported"
    await client.send(b"\x00\xff\x10")
    assert (await client.expect("error"))["code"] == "unsupported"
    await still_usable(client)


async def test_text_over_the_length_limit_is_too_long_and_not_stored(client, shared_server, users):
    await client.send({"type": "send", "room": client.room, "text": "x" * (MAX_TEXT + 1), "client_id": "long",
                       "ref": "L"})
    error = await client.expect("error")
    assert error["code"] == "too_long" and error["ref"] == "L"
    await still_usable(client)
    assert [m["text"] for m in rest_messages(shared_server, users[0][1], client.room)] == ["still here"]


async def test_text_at_the_length_limit_is_accepted_counting_characters_not_bytes(client):
    for text in ("x" * MAX_TEXT, "é" * MAX_TEXT, "🎉" * MAX_TEXT):
        ack = await client.say(client.room, text)
        assert (await client.expect("message", client_id=ack["client_id"]))["text"] == text


async def test_sending_to_a_room_not_joined_is_not_joined(client, shared_server, users):
    other = unique("r")
    for frame in ({"type": "send", "room": other, "text": "hi", "client_id": unique("c"), "ref": 1},
                  {"type": "typing", "room": other, "ref": 2},
                  {"type": "history", "room": other, "ref": 3}):
        await client.send(frame)
        error = await client.expect("error")
        assert error["code"] == "not_joined" and error["ref"] == frame["ref"]
    # nothing was stored, and the room was not even made: it does not exist
    status, body = http("GET", f"{shared_server.http}/api/rooms/{other}/messages", token=users[0][1])
    assert status == 404 and body["error"] == "not_found", body
    await still_usable(client)


async def test_a_frame_over_64_kib_closes_1009_and_others_are_unaffected(shared_server, users, stored_room):
    room = unique("r")
    bystander, = await in_room(shared_server, room, users[1])
    c = await Client.connect(shared_server, users[0][1])
    head = (await c.join(room))["last_seq"]  # the room's creation and c's joining
    await bystander.expect("presence", user=users[0][0], online=True)
    await c.send(json.dumps({"type": "send", "room": room, "text": "x" * MAX_FRAME, "client_id": "big"}))
    assert await close_code(c) == 1009
    assert (await bystander.expect("presence", user=users[0][0]))["online"] is False
    ack = await bystander.say(room, "still serving")
    assert ack["seq"] == head + 1  # the oversized frame stored nothing
    assert_intact(shared_server, users[1][1], stored_room)
    await bystander.close()


async def test_a_frame_of_exactly_64_kib_is_accepted(client):
    frame = '{"type":"ping","ref":"edge"}'
    await client.send(frame + " " * (MAX_FRAME - len(frame)))
    assert (await client.expect("pong"))["ref"] == "edge"
    await still_usable(client)


async def test_a_fragmented_message_over_64_kib_closes_1009(shared_server, users):
    c = await Client.connect(shared_server, users[0][1])
    await c.ws.send(['{"type":"ping","ref":"', "x" * (MAX_FRAME // 2), "x" * (MAX_FRAME // 2), '"}'])
    assert await close_code(c) == 1009


async def test_a_fragmented_message_under_the_limit_is_accepted(client):
    await client.ws.send(['{"type":"ping",', '"ref":"frag', 'mented"}'])
    assert (await client.expect("pong"))["ref"] == "fragmented"


@pytest.mark.parametrize("payload", [b'{"type":"ping","ref":"\xff"}', b"\xc3\x28",
                                     b'{"type":"join","room":"\xed\xa0\x80"}'],
                         ids=["ff-byte", "bad-continuation", "surrogate"])
async def test_invalid_utf8_in_a_text_frame_closes_1007(shared_server, users, stored_room, payload):
    c = await Client.connect(shared_server, users[0][1])
    await c.ws.send(payload, text=True)
    assert await close_code(c) == 1007
    other = await Client.connect(shared_server, users[0][1])
    await other.send({"type": "ping", "ref": "alive"})
    assert (await other.expect("pong"))["ref"] == "alive"
    await other.close()
    assert_intact(shared_server, users[0][1], stored_room)


async def test_invalid_utf8_split_across_fragments_closes_1007(shared_server, users):
    c = await Client.connect(shared_server, users[0][1])
    await c.ws.send([b'{"type":"ping","ref":"\xe2\x82', b'\x28"}'], text=True)
    assert await close_code(c) == 1007


async def test_a_multibyte_character_split_across_fragments_is_fine(client):
    euro = "€".encode()
    await client.ws.send([b'{"type":"ping","ref":"' + euro[:2], euro[2:] + b'"}'], text=True)
    assert (await client.expect("pong"))["ref"] == "€"


async def test_bad_input_before_auth_gets_errors_and_auth_still_works(shared_server, users):
    c = await Client.connect(shared_server)
    await c.send("not json")
    assert (await c.expect("error"))["code"] == "bad_request"
    await c.send(b"\x01\x02")
    assert (await c.expect("error"))["code"] == "unsupported"
    await c.send({"type": "auth"})
    assert (await c.expect("error"))["code"] == "bad_request"
    await c.send({"type": "auth", "token": users[0][1]})
    assert (await c.expect("ready"))["user"] == users[0][0]
    await c.close()


async def test_joining_a_room_twice_at_once_is_a_bad_request_then_the_join_completes(client):
    room = unique("r")
    await client.send({"type": "join", "room": room, "ref": 1})
    await client.send({"type": "join", "room": room, "ref": 2})
    first = await client.expect("joined", room=room)
    assert first["ref"] == 1 and first["last_seq"] == 1  # the room's creation
    errors = await client.nothing(0.3, kind="error")
    if errors:  # the second join arrived while the first was still catching up
        assert [e["code"] for e in errors] == ["bad_request"] and errors[0]["ref"] == 2
    else:  # or after it: a plain re-join
        assert (await client.expect("joined", room=room))["ref"] == 2
    ack = await client.say(room, "joined once")
    assert ack["seq"] == 2  # the second join stored nothing
