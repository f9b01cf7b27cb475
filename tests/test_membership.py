"""Membership as users see it (docs/protocol.md, "Membership and moderation", "1. Accounts", "3. REST
mirrors"): membership events in the room log, `removed` ending a subscription, direct messages, the rooms
of `GET /api/me/rooms` and their read markers, registration modes and invite codes, changing the password
and signing out everywhere (4401), the user directory, a private room's name under --room-creation anyone,
and bad input that must change nothing.

The module's server runs --registration invite (every account here is made with a code from its admin);
a second one runs PARLEY_REGISTRATION=closed."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import pytest

from tests.access_support import (
    Connections,
    api,
    ask,
    cli_invite,
    cli_user,
    create_room,
    events,
    expire_invite,
    flush,
    join_ok,
    manage,
    manage_ok,
    masked,
    my_rooms,
    of_room,
    parallel,
    post_ok,
    register_invited,
    register_many,
    room_info,
    room_state,
    serving,
    store_url,
    token_of,
    wait_for,
)
from tests.support import PASSWORD, ServerProcess, close_all, close_code, http, login, unique

NEW_PASSWORD = "battery-staple-2"


@dataclass
class Site:
    server: Any  # runs --registration invite: every account of the module is made with `invite`
    db: str
    admin: tuple[str, str]
    invite: str  # a code with uses to spare
    cli_code: str  # a code for one account, made with `parley invite create`
    prefix: str  # every name of `crowd` starts with it
    crowd: list[tuple[str, str]]  # 11 accounts: (name, token), in name order
    closed: Any  # a server run with PARLEY_REGISTRATION=closed


@pytest.fixture(scope="module")
def site(store_kind, tmp_path_factory):
    """The module's servers, side by side (starting one, the CLI and each password hash take a while)."""
    with store_url(store_kind, tmp_path_factory) as db, store_url(store_kind, tmp_path_factory) as closed_db:
        logs = tmp_path_factory.mktemp("membership")
        with serving(ServerProcess(db, "--rate", "0", "--registration", "invite", log=logs / "server.log"),
                     ServerProcess(closed_db, env={"PARLEY_REGISTRATION": "closed"}, log=logs / "closed.log")
                     ) as (srv, closed):
            prefix = unique("m")

            def admin_and_crowd() -> tuple[tuple[str, str], str, list[tuple[str, str]]]:
                admin = cli_user(db, unique("admin"), admin=True)
                token = token_of(srv, admin)
                status, invite = api(srv, "POST", "/api/invites", token, {"uses": 100, "expires_in": 3600})
                assert status == 201, invite
                crowd = register_many(srv, [f"{prefix}{i:02d}" for i in range(11)], invite["code"])
                return (admin, token), invite["code"], crowd

            (admin, invite, crowd), cli_code = parallel(admin_and_crowd, lambda: cli_invite(db, uses=1))
            yield Site(srv, db, admin, invite, cli_code, prefix, crowd, closed)


@pytest.fixture
async def connect():
    connections = Connections()
    yield connections
    await connections.close()


def subset(frame: dict[str, Any], **fields: Any) -> bool:
    return all(frame.get(k) == v for k, v in fields.items())


# --- the room log ------------------------------------------------------------------------------------


async def test_membership_changes_are_events_of_the_room_log(site, connect):
    srv = site.server
    (a, ta), (b, tb), (c, tc) = site.crowd[:3]
    room = unique("log")
    create_room(srv, ta, room, "private")
    watcher = await connect(srv, ta)
    await watcher.join(room, since=0)  # replays `created`, then everything below arrives live

    manage_ok(srv, ta, room, "invite", user=b)
    join_ok(srv, tb, room)
    post_ok(srv, tb, room, "hello")
    manage_ok(srv, ta, room, "topic", topic="Release on Friday")
    manage_ok(srv, ta, room, "mute", user=b)
    manage_ok(srv, ta, room, "unmute", user=b)
    manage_ok(srv, ta, room, "role", user=b, role="moderator")
    manage_ok(srv, ta, room, "invite", user=c)
    join_ok(srv, tc, room)
    manage_ok(srv, ta, room, "kick", user=c, reason="spam")
    manage_ok(srv, tb, room, "invite", user=c)  # by the moderator
    join_ok(srv, tc, room)
    manage_ok(srv, ta, room, "ban", user=c, reason="flood")
    manage_ok(srv, ta, room, "unban", user=c)
    leaver = await connect(srv, tb)
    left = await ask(leaver, {"type": "manage", "room": room, "action": "leave"})
    await leaver.close()
    assert left["type"] == "managed" and left["action"] == "leave" and left["seq"] == 16, left

    want = [
        {"type": "member", "action": "created", "user": a, "from": a},
        {"type": "member", "action": "invited", "user": b, "from": a},
        {"type": "member", "action": "joined", "user": b, "from": b},
        {"type": "message", "from": b, "text": "hello"},
        {"type": "topic", "from": a, "topic": "Release on Friday"},
        {"type": "member", "action": "muted", "user": b, "from": a},
        {"type": "member", "action": "unmuted", "user": b, "from": a},
        {"type": "member", "action": "role", "user": b, "from": a, "role": "moderator"},
        {"type": "member", "action": "invited", "user": c, "from": a},
        {"type": "member", "action": "joined", "user": c, "from": c},
        {"type": "member", "action": "kicked", "user": c, "from": a, "reason": "spam"},
        {"type": "member", "action": "invited", "user": c, "from": b},
        {"type": "member", "action": "joined", "user": c, "from": c},
        {"type": "member", "action": "banned", "user": c, "from": a, "reason": "flood"},
        {"type": "member", "action": "unbanned", "user": c, "from": a},
        {"type": "member", "action": "left", "user": b, "from": b},
    ]

    def check(log: list[dict[str, Any]], first: int = 1) -> None:
        assert [e["seq"] for e in log] == list(range(first, len(want) + 1)), log
        for event, fields in zip(log, want[first - 1:], strict=True):
            assert subset(event, room=room, **fields), (event, fields)
            assert isinstance(event["ts"], int) and event["ts"] > 0, event
            if event["type"] == "member" and event["action"] not in ("kicked", "banned"):
                assert "reason" not in event, event

    live = [await watcher.next_where(lambda f: f.get("room") == room and "seq" in f) for _ in want]
    check(live)
    rest = events(srv, ta, room, after=0)
    check(rest)
    assert rest == live  # one event, one shape: live, replayed and in history
    page = await ask(watcher, {"type": "history", "room": room})
    assert page["messages"] == rest
    await watcher.close()

    resumed = await connect(srv, ta)
    joined = await resumed.join(room, since=5)
    assert joined["last_seq"] == len(want)
    replay = [await resumed.next_where(lambda f: f.get("room") == room and "seq" in f) for _ in want[5:]]
    check(replay, first=6)
    assert replay == rest[5:]
    await flush(resumed)
    assert [f for f in of_room(resumed, room) if "seq" in f] == []  # nothing twice
    await resumed.close()
    status, info = room_info(srv, ta, room)
    # joining again (a member already) appended nothing
    assert status == 200 and info["last_seq"] == len(want) and info["topic"] == "Release on Friday", info


# --- removal ends the subscription -------------------------------------------------------------------

REMOVALS = {"kick": ("kicked", "owner"), "ban": ("banned", "owner"), "leave": ("left", "self"),
            "delete": (None, "owner")}


@pytest.mark.parametrize("how", list(REMOVALS))
async def test_removal_ends_the_subscription_of_every_connection(site, connect, how):
    srv = site.server
    (a, ta), (b, tb), (c, tc) = site.crowd[3:6]
    room, other = unique("rm"), unique("rm")
    create_room(srv, ta, room, "private")
    create_room(srv, ta, other, "public")
    for name, token in ((b, tb), (c, tc)):
        manage_ok(srv, ta, room, "invite", user=name)
        join_ok(srv, token, room)
    owner, b1, b2, c1 = [await connect(srv, token, rooms)
                          for token, rooms in ((ta, [room, other]), (tb, [room, other]), (tb, [room]), (tc, [room]))]

    if how == "leave":  # on one of bob's connections: the other one is told
        done = await ask(b1, {"type": "manage", "room": room, "action": "leave"})
    else:
        fields = {"user": b, "reason": "spam"} if how in ("kick", "ban") else {}
        done = await ask(owner, {"type": "manage", "room": room, "action": how, **fields})
    assert done["type"] == "managed", done
    reason, by = REMOVALS[how]
    for conn in (b1, b2):
        removed = await conn.expect("removed", room=room)
        assert subset(removed, room=room, by=b if by == "self" else a), removed
        if reason is not None:
            assert removed["reason"] == reason, removed
        before = [f for f in of_room(conn, room) if "seq" in f]
        if how != "delete":  # the event itself came first
            assert before and subset(before[-1], type="member", action=reason, user=b), before

    if how == "delete":
        assert subset(await c1.expect("removed", room=room), room=room, by=a)
    else:
        # the room goes on for the others; nothing of it reaches bob's connections
        await owner.say(room, "after")
        await owner.send({"type": "typing", "room": room})
        assert (await c1.expect("message", room=room))["text"] == "after"
        await c1.expect("typing", room=room, user=a)
    await owner.say(other, "in the other room")
    assert (await b1.expect("message", room=other))["text"] == "in the other room"
    for conn in (b1, b2):
        await flush(conn)
        assert of_room(conn, room) == [], f"{conn} still hears {room}"

    # and bob cannot post there any more (no stored message)
    refused = await ask(b1, {"type": "send", "room": room, "text": "still here?", "client_id": unique("c")})
    assert refused["type"] == "error" and refused["code"] in ("not_joined", "not_found"), refused
    if how != "delete":
        assert "still here?" not in [e.get("text") for e in events(srv, ta, room)]
        assert room not in my_rooms(srv, tb)
    await close_all(owner, b1, b2, c1)


# --- direct messages ---------------------------------------------------------------------------------


def dm(srv: Any, token: str, *users: str) -> tuple[int, Any]:
    return api(srv, "POST", "/api/dms", token, {"users": list(users)})


async def test_the_same_users_always_get_the_same_dm_and_only_they_see_it(site, connect):
    srv = site.server
    (a, ta), (b, tb), (c, tc), (_, td) = site.crowd[:4]
    status, first = dm(srv, ta, b)
    assert status == 201, first
    name = first["name"]
    assert name.startswith("dm.") and first["visibility"] == "dm", first
    for token, other in ((ta, b), (tb, a)):
        status, again = dm(srv, token, other)
        assert status == 200 and again["name"] == name, again
    status, group = dm(srv, ta, c, b)
    assert status == 201 and group["name"] != name, group
    status, same = dm(srv, tc, b, a)
    assert status == 200 and same["name"] == group["name"], same

    # its members talk in it
    alice, bob = await connect(srv, ta), await connect(srv, tb)
    await alice.join(name)
    await bob.join(name)
    await alice.say(name, "just us")
    assert (await bob.expect("message", room=name))["text"] == "just us"
    mine = my_rooms(srv, tb)[name]
    assert mine["visibility"] == "dm", mine
    status, listing = api(srv, "GET", "/api/rooms?limit=1000", ta)
    assert name not in [r["name"] for r in listing["rooms"]]

    # to anyone else it is a name never used
    never = "dm." + (secrets.token_hex(32) * 2)[:len(name) - 3]  # the same shape, never used
    assert room_info(srv, ta, never)[0] == 404
    for method, tail, body in (("GET", "", None), ("GET", "/messages", None), ("GET", "/members", None),
                               ("POST", "/join", {}), ("POST", "/messages", {"text": "hi", "client_id": "c1"}),
                               ("POST", "/manage", {"action": "leave"})):
        got = http(method, f"{srv.http}/api/rooms/{name}{tail}", body, token=td)
        unused = http(method, f"{srv.http}/api/rooms/{never}{tail}", body, token=td)
        assert got[0] == 404 and got[1]["error"] == "not_found", (method, tail, got)
        assert masked(got, name) == masked(unused, never), (method, tail)
    dave = await connect(srv, td)
    for frame in ({"type": "join", "room": name}, {"type": "history", "room": name},
                  {"type": "send", "room": name, "text": "hi", "client_id": unique("c")}):
        got = await ask(dave, frame)
        unused = await ask(dave, {**frame, "room": never})
        assert got["type"] == "error" and got["code"] in ("not_found", "not_joined"), got
        assert masked(got, name) == masked(unused, never), frame
    await flush(bob)
    assert [f for f in of_room(bob, name) if f.get("type") != "presence"] == []  # dave got nowhere
    assert events(srv, ta, name)[-1]["text"] == "just us"

    # the members of a DM are listed by name: `people` in the room (POST /api/dms), `members` in GET /api/me/rooms
    assert isinstance(mine["members"], list) and sorted(mine["members"]) == sorted([a, b]), mine
    for answer, users in ((first, [a, b]), (group, [a, b, c])):
        assert sorted(answer["people"]) == sorted(users) and answer["members"] == len(users), answer


def test_a_dm_needs_1_to_9_other_existing_users(site):
    srv = site.server
    (a, ta), *others = site.crowd
    before = sorted(my_rooms(srv, ta))
    for users, status, code in (([a], 400, "bad_request"), ([], 400, "bad_request"),
                                ([o for o, _ in others], 400, "bad_request"),  # 10 others: 11 users
                                ([unique("nobody")], 404, "not_found"),
                                ([others[0][0], unique("nobody")], 404, "not_found")):
        got = dm(srv, ta, *users)
        assert got[0] == status and got[1]["error"] == code, (users, got)
    assert sorted(my_rooms(srv, ta)) == before  # nothing was made
    status, full = dm(srv, ta, *[o for o, _ in others[:9]])  # 10 users in all: the most there may be
    assert status in (200, 201), full
    assert len(full["people"]) == 10 and full["members"] == 10, full


# --- my rooms and read markers -----------------------------------------------------------------------


async def test_my_rooms_and_read_markers_are_the_same_on_every_device(site, connect):
    srv = site.server
    (a, ta), (b, tb) = site.crowd[6:8]
    public, private, theirs = unique("mine"), unique("mine"), unique("mine")
    create_room(srv, ta, public, "public")  # seq 1: created
    create_room(srv, ta, private, "private")
    create_room(srv, tb, theirs, "private")
    manage_ok(srv, tb, theirs, "invite", user=a)  # a is invited, not yet a member
    status, conversation = dm(srv, ta, b)
    assert status in (200, 201), conversation
    join_ok(srv, tb, public)  # seq 2
    for text in ("b1", "b2", "b3"):  # seqs 3-5
        post_ok(srv, tb, public, text)
    post_ok(srv, ta, public, "mine")  # 6
    post_ok(srv, tb, public, "b4")  # 7

    laptop = await connect(srv, ta)
    await laptop.join(public)
    await laptop.send({"type": "read", "room": public, "seq": 3})
    phone = token_of(srv, a)  # another device: another login

    rooms = await wait_for(lambda: (r := my_rooms(srv, phone))[public]["last_read"] == 3 and r)
    assert subset(rooms[public], visibility="public", topic="", role="owner", state="member", last_seq=7,
                  last_read=3, unread=3), rooms[public]  # b2, b3 and b4: not a's own message
    assert subset(rooms[private], visibility="private", role="owner", state="member"), rooms[private]
    assert subset(rooms[theirs], visibility="private", state="invited"), rooms[theirs]
    assert subset(rooms[conversation["name"]], visibility="dm"), rooms[conversation["name"]]
    assert sorted(rooms[conversation["name"]]["members"]) == sorted([a, b])
    assert my_rooms(srv, ta) == rooms  # the same on both devices

    # never down: not over WebSocket, not over REST
    await laptop.send({"type": "read", "room": public, "seq": 2})
    await flush(laptop)
    status, answer = api(srv, "POST", f"/api/rooms/{public}/read", phone, {"seq": 1})
    assert status == 204, answer
    assert subset(my_rooms(srv, phone)[public], last_read=3, unread=3)
    status, answer = api(srv, "POST", f"/api/rooms/{public}/read", phone, {"seq": 7})
    assert status == 204, answer
    assert subset(my_rooms(srv, ta)[public], last_read=7, unread=0)
    await laptop.send({"type": "read", "room": public, "seq": 5})
    await flush(laptop)
    assert subset(my_rooms(srv, phone)[public], last_read=7, unread=0)
    await laptop.close()


# --- registration modes ------------------------------------------------------------------------------


def account_exists(srv: Any, token: str, name: str) -> bool:
    status, answer = api(srv, "GET", f"/api/users?prefix={name}", token)
    assert status == 200, answer
    return name in answer["users"]


def refused_registration(srv: Any, name: str, invite: str | None = None, check_login: bool = False) -> None:
    """403 forbidden; with check_login, logging in as `name` fails too (elsewhere the user directory shows
    that no account was made)."""
    body = {"username": name, "password": PASSWORD, **({"invite": invite} if invite is not None else {})}
    status, answer = http("POST", srv.http + "/api/register", body)
    assert status == 403 and answer["error"] == "forbidden", (name, invite, answer)
    if check_login:
        assert login(srv, name)[0] == 401


def test_registration_closed(site):
    srv = site.closed
    status, info = http("GET", srv.http + "/api/info")
    assert status == 200 and subset(info, registration="closed", room_creation="anyone", max_text=4000), info
    name = unique("closed")
    refused_registration(srv, name, "any-code", check_login=True)


def test_registration_by_invite(site):
    srv, (admin, admin_token), db = site.server, site.admin, site.db
    assert http("GET", srv.http + "/api/info")[1]["registration"] == "invite"
    p = unique("inv")

    def register_with(name: str, code: str) -> tuple[int, Any]:
        return http("POST", srv.http + "/api/register", {"username": name, "password": PASSWORD, "invite": code})

    refused_registration(srv, p + "a")
    refused_registration(srv, p + "b", "no-such-code")
    status, first = register_with(p + "c", site.cli_code)  # made with `parley invite create`, for one account
    assert status == 201 and first["user"] == p + "c", first
    refused_registration(srv, p + "d", site.cli_code)  # used up

    user_token = first["token"]
    status, answer = api(srv, "POST", "/api/invites", user_token, {"uses": 2, "expires_in": 60})
    assert status == 403 and answer["error"] == "forbidden", answer
    status, invite = api(srv, "POST", "/api/invites", admin_token, {"uses": 2, "expires_in": 60})
    assert status == 201 and invite["uses"] == 2 and invite["expires"] > time.time(), invite
    status, listed = api(srv, "GET", "/api/invites", admin_token)
    assert status == 200 and subset(next(i for i in listed["invites"] if i["code"] == invite["code"]),
                                    uses=2, created_by=admin), listed
    assert api(srv, "GET", "/api/invites", user_token)[0] == 403
    assert register_with(p + "e", invite["code"])[0] == 201
    status, listed = api(srv, "GET", "/api/invites", admin_token)
    assert subset(next(i for i in listed["invites"] if i["code"] == invite["code"]), uses=1), listed
    assert api(srv, "DELETE", f"/api/invites/{invite['code']}", admin_token)[0] == 204
    assert invite["code"] not in [i["code"] for i in api(srv, "GET", "/api/invites", admin_token)[1]["invites"]]
    assert api(srv, "DELETE", f"/api/invites/{invite['code']}", admin_token)[0] == 404

    status, expiring = api(srv, "POST", "/api/invites", admin_token, {"uses": 5, "expires_in": 60})
    assert status == 201, expiring
    expire_invite(db, expiring["code"])  # its time is up
    refused_registration(srv, p + "g", expiring["code"])
    assert expiring["code"] not in [i["code"] for i in api(srv, "GET", "/api/invites", admin_token)[1]["invites"]]
    status, found = api(srv, "GET", f"/api/users?prefix={p}", admin_token)
    assert status == 200 and found["users"] == [p + "c", p + "e"], found  # no refused registration made one


# --- revocation ---------------------------------------------------------------------------------------


async def test_changing_the_password_ends_every_other_session(site, connect):
    srv = site.server
    name, first = register_invited(srv, None, site.invite)
    second = token_of(srv, name)
    bystander = site.crowd[0][1]
    room = unique("pw")
    c1, c2, other = [await connect(srv, token, [room]) for token in (first, second, bystander)]

    def change(token: str, password: str, new: str) -> tuple[int, Any]:
        return api(srv, "POST", "/api/me/password", token, {"password": password, "new_password": new})

    for password, new, status, code in (("wrong-password-9", NEW_PASSWORD, 401, "unauthorized"),
                                        (PASSWORD, "short", 400, "bad_request")):
        got = change(first, password, new)
        assert got[0] == status and got[1]["error"] == code, got
        await flush(c1)  # still open
        await flush(c2)
        assert api(srv, "GET", "/api/me", second)[0] == 200

    status, renewed = change(first, PASSWORD, NEW_PASSWORD)
    assert status == 200 and renewed["user"] == name and renewed["token"] not in (first, second), renewed
    assert await close_code(c1) == 4401
    assert await close_code(c2) == 4401
    await flush(other)  # another user's session goes on
    for token in (first, second):
        status, answer = api(srv, "GET", "/api/me", token)
        assert status == 401 and answer["error"] == "unauthorized", answer
    stale = await connect(srv)
    await stale.send({"type": "auth", "token": second})
    assert (await stale.expect("error"))["code"] == "unauthenticated"
    assert await close_code(stale) == 4401
    status, again = login(srv, name, NEW_PASSWORD)
    assert status == 200 and api(srv, "GET", "/api/me", again["token"])[0] == 200, again
    # the token the change answered with works, over REST and WebSocket
    status, me = api(srv, "GET", "/api/me", renewed["token"])
    assert status == 200 and me["user"] == name, me
    fresh = await connect(srv, renewed["token"])
    assert fresh.user == name


async def test_signing_out_everywhere_ends_every_session(site, connect):
    srv = site.server
    name, first = register_invited(srv, None, site.invite)
    second = token_of(srv, name)
    c1, c2 = await connect(srv, first, [unique("so")]), await connect(srv, second)
    for body in ({"everywhere": "yes"}, {"everywhere": 1}, {"everywhere": None}):
        status, answer = api(srv, "POST", "/api/me/signout", first, body)
        assert status == 400 and answer["error"] == "bad_request", answer
        await flush(c1)
        assert api(srv, "GET", "/api/me", first)[0] == 200

    status, answer = api(srv, "POST", "/api/me/signout", first, {"everywhere": True})
    assert status == 204, answer
    assert await close_code(c1) == 4401
    assert await close_code(c2) == 4401
    for token in (first, second):
        assert api(srv, "GET", "/api/me", token)[0] == 401
    again = token_of(srv, name)  # logging in again works
    client = await connect(srv, again)
    assert client.user == name


async def test_signing_out_revokes_only_that_token(site, connect):
    """One device signs out: its token stops working everywhere at once; the account's other tokens go on."""
    srv = site.server
    name, leaving = register_invited(srv, None, site.invite)
    staying, later = token_of(srv, name), token_of(srv, name)
    room = unique("one")
    c_leaving, c_staying = await connect(srv, leaving, [room]), await connect(srv, staying, [room])

    status, answer = api(srv, "POST", "/api/me/signout", leaving, {})
    assert status == 204, answer
    assert await close_code(c_leaving) == 4401
    await flush(c_staying)  # the same user's other device goes on
    status, answer = api(srv, "GET", "/api/me", leaving)
    assert status == 401 and answer["error"] == "unauthorized", answer
    assert api(srv, "POST", "/api/me/signout", leaving, {})[0] == 401  # once is enough
    stale = await connect(srv)
    await stale.send({"type": "auth", "token": leaving})
    refused = await stale.expect("error")
    assert refused["code"] == "unauthenticated" and "revoked" in refused["message"], refused
    assert await close_code(stale) == 4401
    for token in (staying, later):
        status, me = api(srv, "GET", "/api/me", token)
        assert status == 200 and me["user"] == name, me

    # {"everywhere": false} is the same as an empty body
    status, answer = api(srv, "POST", "/api/me/signout", later, {"everywhere": False})
    assert status == 204, answer
    assert api(srv, "GET", "/api/me", later)[0] == 401
    assert api(srv, "GET", "/api/me", staying)[0] == 200
    await close_all(c_staying)


# --- the user directory ------------------------------------------------------------------------------


def test_user_directory_finds_names_by_prefix(site):
    srv, token = site.server, site.crowd[0][1]
    everyone = sorted(n for n, _ in site.crowd)

    def find(query: str, token: str | None = token) -> tuple[int, Any]:
        return http("GET", f"{srv.http}/api/users?{query}", token=token)

    assert find(f"prefix={site.prefix}") == (200, {"users": everyone})
    assert find(f"prefix={site.prefix.upper()}") == (200, {"users": everyone})  # case-insensitive
    assert find(f"prefix={site.prefix}0") == (200, {"users": everyone[:10]})
    assert find(f"prefix={site.prefix}&limit=3") == (200, {"users": everyone[:3]})
    assert find(f"prefix={site.prefix}&limit=50") == (200, {"users": everyone})
    assert find(f"prefix={unique('zz')}") == (200, {"users": []})
    status, answer = find(f"prefix={site.prefix}&limit=1000")  # over the cap: refused, or cut to 50
    assert status == 400 or (status == 200 and len(answer["users"]) <= 50), answer
    status, answer = find("prefix=")  # everyone, but never more than the default 20
    assert status == 400 or (status == 200 and len(answer["users"]) <= 20), answer
    for bad in (None, "not-a-token"):
        status, answer = find(f"prefix={site.prefix}", token=bad)
        assert status == 401 and answer["error"] == "unauthorized", answer


# --- bad input changes nothing -----------------------------------------------------------------------

BAD = {  # case: (who acts, the manage fields (OWNER/MEMBER/OUTSIDER filled in), code, status)
    "invite-unknown-user": ("owner", {"action": "invite", "user": "NOBODY"}, ("not_found",), 404),
    "owner-kicks-self": ("owner", {"action": "kick", "user": "OWNER"}, ("conflict",), 409),
    "owner-bans-self": ("owner", {"action": "ban", "user": "OWNER"}, ("conflict",), 409),
    "owner-demotes-self": ("owner", {"action": "role", "user": "OWNER", "role": "member"}, ("conflict",), 409),
    "last-owner-leaves": ("owner", {"action": "leave"}, ("conflict",), 409),
    "admin-kicks-last-owner": ("admin", {"action": "kick", "user": "OWNER"}, ("conflict",), 409),
    "admin-demotes-last-owner": ("admin", {"action": "role", "user": "OWNER", "role": "moderator"},
                                 ("conflict",), 409),
    "unknown-role": ("owner", {"action": "role", "user": "MEMBER", "role": "superuser"}, ("bad_request",), 400),
    "unknown-action": ("owner", {"action": "explode", "user": "MEMBER"}, ("bad_request",), 400),
    "topic-too-long": ("owner", {"action": "topic", "topic": "x" * 251}, ("bad_request", "too_long"), 400),
    "invite-a-member": ("owner", {"action": "invite", "user": "MEMBER"}, ("conflict",), 409),
    "unban-someone-not-banned": ("owner", {"action": "unban", "user": "MEMBER"}, ("conflict",), 409),
    "kick-a-non-member": ("owner", {"action": "kick", "user": "OUTSIDER"}, ("conflict",), 409),
}


def bad_input_room(site: Site) -> tuple[str, dict[str, tuple[str, str]]]:
    srv = site.server
    who = {"owner": site.crowd[8], "member": site.crowd[9], "outsider": site.crowd[10], "admin": site.admin}
    room = unique("bad")
    create_room(srv, who["owner"][1], room, "private")
    manage_ok(srv, who["owner"][1], room, "invite", user=who["member"][0])
    join_ok(srv, who["member"][1], room)
    return room, who


@pytest.mark.parametrize("way", ["ws", "rest"])
@pytest.mark.parametrize("case", list(BAD))
async def test_bad_input_gets_a_clear_error_and_changes_nothing(site, connect, case, way):
    srv = site.server
    room, who = bad_input_room(site)
    actor, fields, codes, status = BAD[case]
    fill = {"OWNER": who["owner"][0], "MEMBER": who["member"][0], "OUTSIDER": who["outsider"][0],
            "NOBODY": unique("nobody")}
    fields = {k: fill.get(v, v) if isinstance(v, str) else v for k, v in fields.items()}
    before = room_state(srv, who["owner"][1], room)
    if way == "rest":
        got, answer = manage(srv, who[actor][1], room, **fields)
        assert got == status and answer["error"] in codes and answer["message"], answer
    else:
        client = await connect(srv, who[actor][1])
        answer = await ask(client, {"type": "manage", "room": room, **fields})
        await client.close()
        assert answer["type"] == "error" and answer["code"] in codes and answer["message"], answer
    assert room_state(srv, who["owner"][1], room) == before  # same members and roles, no event appended


def test_a_topic_of_250_characters_or_empty_is_fine(site):
    srv = site.server
    room, who = bad_input_room(site)
    token = who["owner"][1]
    for topic in ("x" * 250, ""):
        seq = manage_ok(srv, token, room, "topic", topic=topic)
        assert subset(events(srv, token, room, after=seq - 1)[0], type="topic", topic=topic, seq=seq)
        assert my_rooms(srv, token)[room]["topic"] == topic
        status, info = room_info(srv, token, room)
        assert status == 200 and info["topic"] == topic, ("GET /api/rooms/{room} after the topic changed", info)


async def test_joining_a_private_room_makes_no_public_room_of_its_name(site, connect):
    """With --room-creation anyone, joining or posting to a name never used makes a public room; not so for
    a private room's name: the outsider gets not_found, and the room stays private, unlisted and taken."""
    srv = site.server
    (_, owner), (_, outsider) = site.crowd[8], site.crowd[10]
    room, never = unique("priv"), unique("priv")
    create_room(srv, owner, room, "private")
    before = room_state(srv, owner, room)
    client = await connect(srv, outsider)
    refused = await ask(client, {"type": "join", "room": room})
    assert refused["type"] == "error" and refused["code"] == "not_found", refused
    status, answer = api(srv, "POST", f"/api/rooms/{room}/messages", outsider, {"text": "hi", "client_id": "c-1"})
    assert status == 404 and answer["error"] == "not_found", answer
    status, answer = api(srv, "POST", "/api/rooms", outsider, {"name": room, "visibility": "public"})
    assert status == 409 and answer["error"] == "conflict", answer
    assert room_state(srv, owner, room) == before
    status, listing = api(srv, "GET", "/api/rooms?limit=1000", outsider)
    assert status == 200 and room not in [r["name"] for r in listing["rooms"]]
    assert (await ask(client, {"type": "join", "room": never}))["type"] == "joined"  # a name never used: made
    assert never in [r["name"] for r in api(srv, "GET", "/api/rooms?limit=1000", outsider)[1]["rooms"]]


@pytest.mark.parametrize("taken_by", ["private", "public", "deleted", "dm-prefix"])
def test_creating_a_room_with_a_taken_name_is_a_conflict(site, taken_by):
    srv = site.server
    (_, owner), (_, other) = site.crowd[8], site.crowd[9]
    name = unique("dm." if taken_by == "dm-prefix" else "taken")
    if taken_by in ("private", "public", "deleted"):
        create_room(srv, owner, name, "public" if taken_by == "public" else "private")
        post_ok(srv, owner, name, "mine")
    if taken_by == "deleted":
        assert api(srv, "DELETE", f"/api/rooms/{name}", owner)[0] == 204
    before = room_state(srv, owner, name) if taken_by in ("private", "public") else None
    for visibility in ("private", "public"):
        status, answer = api(srv, "POST", "/api/rooms", other, {"name": name, "visibility": visibility})
        assert status == 409 and answer["error"] == "conflict" and answer["message"], answer
    if before is not None:
        assert room_state(srv, owner, name) == before
    else:
        assert room_info(srv, owner, name)[0] == 404
