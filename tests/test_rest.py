"""The REST mirror: GET /api/rooms, GET/POST /api/rooms/{room}/messages with a Bearer token (401 without),
live delivery of a REST post to WebSocket members, request validation, and GET /healthz."""

import pytest

from tests.support import (
    Client,
    all_rooms,
    connect_all,
    fill_room,
    http,
    in_room,
    kinds,
    rest_events,
    rest_messages,
    unique,
)


def post(server, token, room, body, headers=None):
    return http("POST", f"{server.http}/api/rooms/{room}/messages", body, token=token, headers=headers)


async def test_a_websocket_member_receives_a_rest_post_live(shared_server, users):
    ua, ta = users[0]
    room = unique("r")
    b, = await connect_all(shared_server, users[1])
    head = (await b.join(room))["last_seq"]
    cid = unique("bot-")
    status, stored = post(shared_server, ta, room, {"text": "deploy finished", "client_id": cid})
    assert status == 201, stored
    # posting to a public room joins it first: ua's `joined` event, then the message
    assert stored["room"] == room and stored["seq"] == head + 2 and stored["from"] == ua
    assert stored["text"] == "deploy finished" and stored["client_id"] == cid and stored["ts"] > 0
    joined = await b.expect("member", room=room)
    assert (joined["seq"], joined["user"], joined["action"]) == (head + 1, ua, "joined")
    (live,) = await b.messages(1, room)
    assert live == stored
    await b.close()


async def test_rest_posts_and_websocket_sends_share_one_sequence(shared_server, users):
    _, ta = users[0]
    room = unique("r")
    b, = await in_room(shared_server, room, users[1])
    first = (await b.say(room, "ws 1"))["seq"]
    status, stored = post(shared_server, ta, room, {"text": "rest 2", "client_id": unique("c")})
    assert status == 201 and stored["seq"] == first + 2  # after ua's joining, which the post did first
    assert (await b.say(room, "ws 3"))["seq"] == first + 3
    assert kinds([await b.expect_any("member", "message") for _ in range(4)]) == [
        (first, "message", "ws 1"), (first + 1, "member", "joined"), (first + 2, "message", "rest 2"),
        (first + 3, "message", "ws 3")]
    await b.close()


def test_post_without_client_id_is_stored_with_a_generated_one(shared_server, users):
    _, token = users[0]
    room = unique("r")
    status, stored = post(shared_server, token, room, {"text": "no id"})
    assert status == 201, stored
    assert isinstance(stored["client_id"], str) and stored["client_id"]
    assert rest_messages(shared_server, token, room) == [stored]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/api/rooms", None),
    ("GET", "/api/rooms/general/messages", None),
    ("GET", "/api/rooms/general/messages?after=0", None),
    ("POST", "/api/rooms/general/messages", {"text": "hi", "client_id": "c1"}),
])
@pytest.mark.parametrize("auth", [None, "Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz", "token-without-scheme"])
def test_calls_without_a_valid_bearer_token_are_401(shared_server, method, path, body, auth):
    headers = {"Authorization": auth} if auth else {}
    status, answer = http(method, shared_server.http + path, body, headers=headers)
    assert status == 401, answer
    assert answer["error"] == "unauthorized"


async def test_a_refused_post_stores_and_broadcasts_nothing(shared_server, users):
    _, token = users[0]
    room = unique("r")
    b, = await in_room(shared_server, room, users[0])
    status, _ = http("POST", f"{shared_server.http}/api/rooms/{room}/messages", {"text": "sneaky"},
                     headers={"Authorization": "Bearer forged"})
    assert status == 401
    assert await b.nothing(0.3, kind="message") == []
    assert kinds(rest_events(shared_server, token, room)) == [(1, "member", "created")]
    await b.close()


async def test_list_rooms_shows_each_room_with_its_last_seq(shared_server, users):
    _, token = users[0]
    quiet, busy = unique("quiet"), unique("busy")
    c = await Client.connect(shared_server, token)
    joined = await c.join(quiet)
    await c.close()
    acks = await fill_room(shared_server, busy, 4, token=token)
    pushed = unique("pushed")
    status, first = post(shared_server, token, pushed, {"text": "first", "client_id": unique("c")})
    assert status == 201
    rooms = {r["name"]: r["last_seq"] for r in all_rooms(shared_server, token)}
    # each room's log starts with its creation (seq 1), a post to a new room's too
    assert (joined["last_seq"], acks[-1]["seq"], first["seq"]) == (1, 5, 2)
    assert rooms[quiet] == joined["last_seq"] and rooms[busy] == acks[-1]["seq"] and rooms[pushed] == first["seq"]


def test_messages_of_an_unknown_room_are_not_found(shared_server, users):
    status, body = http("GET", f"{shared_server.http}/api/rooms/{unique('nobody-here')}/messages", token=users[0][1])
    assert status == 404 and body["error"] == "not_found", body


@pytest.mark.parametrize("query", ["after=1&before=5", "limit=0", "limit=x", "after=-1", "before=abc", "after=1.5",
                                   f"before={10**20}", f"after={2**63}"])
def test_bad_query_parameters_are_400(shared_server, users, query):
    status, body = http("GET", f"{shared_server.http}/api/rooms/general/messages?{query}", token=users[0][1])
    assert status == 400, body
    assert body["error"] == "bad_request" and body["message"]


@pytest.mark.parametrize("room", ["a%20b", "x" * 65, "caf%C3%A9", "a%2Fb", "semi%3Bcolon"])
def test_an_invalid_room_name_is_400(shared_server, users, room):
    token = users[0][1]
    status, body = http("GET", f"{shared_server.http}/api/rooms/{room}/messages", token=token)
    assert status == 400, body
    assert body["error"] == "bad_request" and "room" in body["message"]
    status, body = post(shared_server, token, room, {"text": "hi", "client_id": unique("c")})
    assert status == 400, body
    assert body["error"] == "bad_request"


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"text": "", "client_id": "c"}, 400, "bad_request"),
    ({"client_id": "c"}, 400, "bad_request"),
    ({"text": 5, "client_id": "c"}, 400, "bad_request"),
    ({"text": None}, 400, "bad_request"),
    ({"text": "ok", "client_id": ""}, 400, "bad_request"),
    ({"text": "ok", "client_id": 7}, 400, "bad_request"),
    ({"text": "ok", "client_id": "c" * 129}, 400, "bad_request"),
    ({"text": "x" * 4001, "client_id": "c"}, 400, "too_long"),
    ([1, 2], 400, "bad_request"),
    ("just a string", 400, "bad_request"),
], ids=["empty-text", "no-text", "int-text", "null-text", "empty-cid", "int-cid", "long-cid", "too-long",
        "array", "string"])
async def test_a_bad_post_body_is_refused_and_nothing_is_stored(shared_server, users, body, status, code):
    _, token = users[0]
    room = unique("r")
    listener = await Client.connect(shared_server, token)
    await listener.join(room)
    got, answer = post(shared_server, token, room, body)
    assert got == status, answer
    assert answer["error"] == code
    assert kinds(rest_events(shared_server, token, room)) == [(1, "member", "created")]
    assert await listener.nothing(0.1, kind="message") == []
    await listener.close()


@pytest.mark.parametrize("raw", [b"{not json", b'{"text":"\xff\xfe"}', b""], ids=["not-json", "invalid-utf8", "empty"])
def test_a_post_body_that_is_not_json_is_400(shared_server, users, raw):
    status, body = http("POST", f"{shared_server.http}/api/rooms/{unique('r')}/messages", raw=raw,
                        token=users[0][1])
    assert status == 400 and body["error"] == "bad_request"


def test_the_longest_text_is_accepted(shared_server, users):
    _, token = users[0]
    room = unique("r")
    status, stored = post(shared_server, token, room, {"text": "é" * 4000, "client_id": unique("c")})
    assert status == 201, stored
    assert rest_messages(shared_server, token, room)[0]["text"] == "é" * 4000


def test_healthz_answers_200(shared_server):
    status, body = http("GET", shared_server.http + "/healthz")
    assert status == 200
    assert body["status"] == "ok"


def test_unknown_paths_are_404(shared_server):
    assert http("GET", shared_server.http + "/api/nope")[0] == 404
