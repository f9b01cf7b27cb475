"""Accounts over REST: register (201/409/400), login (200/401), argon2 hashes, and tokens that work, persist
across restarts and expire (an expired token is refused over WebSocket with close 4401 and over REST with 401)."""

import asyncio
import time

import pytest

from parley.store import store_for_url
from tests.support import PASSWORD, Client, ServerProcess, close_code, http, login, register, unique


@pytest.fixture(scope="module")
def strict_server(shared_db_url, tmp_path_factory):
    """A second server on the same store with short deadlines: tokens live 2 s, auth must come within 0.3 s."""
    srv = ServerProcess(shared_db_url, "--token-ttl", "2", "--auth-timeout", "0.3",
                        log=tmp_path_factory.mktemp("strict") / "server.log")
    srv.start()
    yield srv
    srv.stop()


def post_register(server, body=None, raw=None):
    return http("POST", server.http + "/api/register", body, raw=raw)


async def assert_session_opens_a_websocket(server: ServerProcess, body: dict, name: str) -> None:
    """`body` (from register or login) is a live session of `name` whose token authenticates a WebSocket."""
    assert body["user"] == name
    assert body["expires"] > time.time()
    client = await Client.connect(server, body["token"])
    assert client.user == name
    await client.close()


async def test_register_returns_201_with_a_token_that_opens_a_websocket(shared_server):
    name = unique("alice")
    status, body = post_register(shared_server, {"username": name, "password": PASSWORD})
    assert status == 201, body
    assert isinstance(body["token"], str) and body["token"]
    await assert_session_opens_a_websocket(shared_server, body, name)


def test_register_a_taken_name_is_409(shared_server):
    name, _ = register(shared_server)
    status, body = post_register(shared_server, {"username": name, "password": "another-password"})
    assert status == 409, body
    assert body["error"] == "conflict"
    assert name in body["message"]


def test_names_are_taken_case_insensitively(shared_server):
    name, _ = register(shared_server, unique("Bob"))
    status, body = post_register(shared_server, {"username": name.upper(), "password": PASSWORD})
    assert status == 409, body


@pytest.mark.parametrize(("body", "reason"), [
    ({"username": "", "password": PASSWORD}, "required"),
    ({"password": PASSWORD}, "required"),
    ({"username": None, "password": PASSWORD}, "required"),
    ({"username": 42, "password": PASSWORD}, "required"),
    ({"username": "x" * 33, "password": PASSWORD}, "longer than 32"),
    ({"username": "has space", "password": PASSWORD}, "letters, digits"),
    ({"username": "semi;colon", "password": PASSWORD}, "letters, digits"),
    ({"username": "émile", "password": PASSWORD}, "letters, digits"),
    ({"username": "trailing-newline\n", "password": PASSWORD}, "letters, digits"),
    ({"username": "NAME", "password": "short"}, "at least 8"),
    ({"username": "NAME", "password": "1234567"}, "at least 8"),
    ({"username": "NAME"}, "password is required"),
    ({"username": "NAME", "password": 12345678}, "password is required"),
    ({"username": "NAME", "password": "p" * 1025}, "at most 1024"),
    ({"username": "NAME", "password": " " * 8}, "not be only spaces"),
    ({"username": "NAME", "password": " \t\n \u3000  \n"}, "not be only spaces"),
], ids=["empty-name", "no-name", "null-name", "int-name", "long-name", "space", "semicolon", "non-ascii", "newline",
        "short-password", "7-char-password", "no-password", "int-password", "long-password", "spaces-password",
        "whitespace-password"])
def test_register_rejects_bad_names_and_passwords_with_400_and_a_reason(shared_server, body, reason):
    body = {k: (unique("n") if v == "NAME" else v) for k, v in body.items()}
    status, answer = post_register(shared_server, body)
    assert status == 400, answer
    assert answer["error"] == "bad_request"
    assert reason in answer["message"]
    if isinstance(body.get("username"), str) and body["username"]:
        assert login(shared_server, body["username"])[0] == 401  # nothing was created


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"", b'"text"', b'{"username":"\x80","password":"12345678"}'],
                         ids=["not-json", "array", "empty", "string", "invalid-utf8"])
def test_register_with_a_body_that_is_not_a_json_object_is_400(shared_server, raw):
    status, answer = post_register(shared_server, raw=raw)
    assert status == 400, answer
    assert answer["error"] == "bad_request"


def test_boundary_names_and_passwords_are_accepted(shared_server):
    name = unique("a.b_C-9")  # every kind of allowed character, with an 8-character password
    status, body = post_register(shared_server, {"username": name, "password": "12345678"})
    assert status == 201, body
    assert login(shared_server, name, "12345678")[0] == 200
    long_name = unique("L").ljust(32, "z")
    status, body = post_register(shared_server, {"username": long_name, "password": "p" * 1024})
    assert status == 201, body
    assert login(shared_server, long_name, "p" * 1024)[0] == 200


async def test_login_returns_200_and_a_working_token(shared_server):
    name, _ = register(shared_server)
    status, body = login(shared_server, name)
    assert status == 200, body
    await assert_session_opens_a_websocket(shared_server, body, name)


def test_login_with_a_wrong_password_or_unknown_user_is_401(shared_server):
    name, _ = register(shared_server)
    status, body = login(shared_server, name, "wrong-password")
    assert status == 401, body
    assert body["error"] == "unauthorized"
    status, body = login(shared_server, unique("nobody"))
    assert status == 401, body
    assert body["error"] == "unauthorized"


def test_login_is_case_insensitive_and_answers_with_the_registered_spelling(shared_server):
    name, _ = register(shared_server, unique("Carol"))
    status, body = login(shared_server, name.lower())
    assert status == 200, body
    assert body["user"] == name


async def test_passwords_are_stored_as_argon2_hashes(shared_server, shared_db_url):
    name, _ = register(shared_server)
    store = store_for_url(shared_db_url)
    await store.open()
    try:
        user = await store.get_user(name)
    finally:
        await store.close()
    assert user is not None
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


async def test_tokens_survive_a_restart(server):
    """The signing secret is persisted in the database, so a token issued before a restart still works."""
    name, token = register(server)
    server.restart()
    client = await Client.connect(server, token)
    assert client.user == name
    await client.close()
    assert http("GET", server.http + "/api/rooms", token=token)[0] == 200


async def test_an_expired_token_gets_an_error_then_close_4401(strict_server):
    srv = strict_server
    name, _ = register(srv)
    status, body = login(srv, name)
    assert status == 200
    expires = body["expires"]
    client = await Client.connect(srv, body["token"])  # valid for at least a second after issue
    assert client.user == name
    await client.close()
    assert http("GET", srv.http + "/api/rooms", token=body["token"])[0] == 200

    await asyncio.sleep(max(0.0, expires - time.time()) + 0.2)
    client = await Client.connect(srv)
    await client.send({"type": "auth", "token": body["token"], "ref": 1})
    error = await client.expect("error")
    assert error["code"] == "unauthenticated" and error["ref"] == 1
    assert "expired" in error["message"]
    assert await close_code(client) == 4401
    status, answer = http("GET", srv.http + "/api/rooms", token=body["token"])
    assert status == 401, answer


@pytest.mark.parametrize("token", ["garbage", "", "eyJhbGciOiJIUzI1NiJ9.e30.AAAA", 17],
                         ids=["garbage", "empty", "bad-signature", "not-a-string"])
async def test_a_bad_token_gets_an_error_then_close_4401(shared_server, token):
    client = await Client.connect(shared_server)
    await client.send({"type": "auth", "token": token})
    error = await client.expect("error")
    assert error["code"] in ("unauthenticated", "bad_request")
    if isinstance(token, str):
        assert error["code"] == "unauthenticated"
        assert await close_code(client) == 4401
    else:  # a wrong-typed field is a bad request; the connection stays open for a proper auth
        _, good = register(shared_server)
        await client.send({"type": "auth", "token": good})
        await client.expect("ready")
        await client.close()


async def test_frames_before_auth_are_refused_but_the_connection_stays_open(shared_server):
    name, token = register(shared_server)
    client = await Client.connect(shared_server)
    for frame in ({"type": "join", "room": unique("r"), "ref": "j"},
                  {"type": "send", "room": "general", "text": "hi", "client_id": "c"},
                  {"type": "ping"}):
        await client.send(frame)
        error = await client.expect("error")
        assert error["code"] == "unauthenticated"
    assert error.get("ref") is None
    await client.send({"type": "auth", "token": token, "ref": "a"})
    ready = await client.expect("ready")
    assert ready["user"] == name and ready["ref"] == "a"
    assert ready["heartbeat"] == 20.0  # the default interval, in seconds
    await client.close()


async def test_auth_twice_is_a_bad_request(shared_server):
    _, token = register(shared_server)
    client = await Client.connect(shared_server, token)
    await client.send({"type": "auth", "token": token})
    assert (await client.expect("error"))["code"] == "bad_request"
    room = unique("r")
    await client.join(room)
    assert (await client.say(room, "still here"))["seq"] == 2  # after the room's `created` event
    await client.close()


async def test_no_auth_within_the_timeout_closes_4401(strict_server):
    srv = strict_server
    client = await Client.connect(srv)
    error = await client.expect("error")
    assert error["code"] == "unauthenticated"
    assert await close_code(client) == 4401

    # frames that are not `auth` do not extend the deadline
    client = await Client.connect(srv)
    await client.send({"type": "ping"})
    await client.send("not json")
    assert await close_code(client) == 4401

    # a client that authenticates in time stays connected past the deadline
    _, token = register(srv)
    client = await Client.connect(srv, token)
    await asyncio.sleep(0.5)
    await client.send({"type": "ping", "ref": 1})
    assert (await client.expect("pong"))["ref"] == 1
    await client.close()

