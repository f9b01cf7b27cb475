"""Databases made by earlier releases (tests/data/README.md) open with this release: they are migrated on
start, and every user, room and message is still there, with the same seqs, served over WebSocket and
REST; new messages continue each room's sequence, and duplicates of old client_ids are still recognised.

release 0.1.0: schema version 1 (a `messages` table). 0.2.0 (the code before private rooms): schema
version 2 (the `events` room log), which gains rooms' visibility, members, admins and token generations.
0.3.0 (private rooms, DMs, roles and moderation): schema version 3, which gains reactions; its old messages
can be edited, reacted to, answered and deleted like new ones.
"""

import os
import re
import shutil
import subprocess
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.service.rooms import dm_name
from parley.store.schema import LATEST
from tests.scale.services import postgres_url, run_sync, with_query
from tests.support import Client, download, http, rest_events, rest_messages, upload

DATA = Path(__file__).parent / "data"
PASSWORDS = {"alice": "alice-password", "Bob": "bob-password", "carol": "carol-password"}
GENERAL = [("alice", "g1", "hello everyone"), ("Bob", "g2", "héllo 👋"), ("alice", "g3", "line one\nline two"),
           ("Bob", "g4", "quotes \"double\" and 'single' and a backslash \\"),
           ("alice", "g5", "last message in general")]
DEV = [("Bob", "d1", "build is green ✅"), ("alice", "d2", "ship it")]


@pytest.fixture
def release_db(store_kind: str, tmp_path: Path) -> Iterator[str]:
    """A --db URL for a copy of release 0.1.0's database."""
    yield from _release(store_kind, tmp_path, "0.1.0", "release_010")


@pytest.fixture
def release_020_db(store_kind: str, tmp_path: Path) -> Iterator[str]:
    """A --db URL for a copy of release 0.2.0's database."""
    yield from _release(store_kind, tmp_path, "0.2.0", "release_020")


@pytest.fixture
def release_030_db(store_kind: str, tmp_path: Path) -> Iterator[str]:
    """A --db URL for a copy of release 0.3.0's database."""
    yield from _release(store_kind, tmp_path, "0.3.0", "release_030")


def _release(store_kind: str, tmp_path: Path, version: str, pg_schema: str) -> Iterator[str]:
    if store_kind == "sqlite":
        path = tmp_path / "release.db"
        shutil.copy(DATA / f"release-{version}.sqlite", path)
        yield f"sqlite:///{path}"
        return
    base = postgres_url()
    schema = f"ptest_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    dump = (DATA / f"release-{version}.postgres.sql").read_text()
    sql = re.sub(rf"\b{pg_schema}\b", schema, dump)
    subprocess.run(["psql", "-v", "ON_ERROR_STOP=1", "-q", base, "-f", "-"], input=sql.encode(), check=True,
                   capture_output=True)
    try:
        yield with_query(base, search_path=schema)
    finally:
        import asyncpg

        async def drop() -> None:
            conn = await asyncpg.connect(base)
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await conn.close()

        run_sync(drop())


def _token(server, name: str) -> str:
    status, body = http("POST", server.http + "/api/login", {"username": name.upper(),
                                                              "password": PASSWORDS[name]})
    assert status == 200, body
    assert body["user"] == name  # the stored spelling, found case-insensitively
    return body["token"]


async def test_previous_release_database_is_migrated_and_served(make_server, release_db):
    server = make_server("--rate", "0", db=release_db)
    alice, bob = _token(server, "alice"), _token(server, "Bob")

    def expected(rows):
        return [(sender, cid, text) for sender, cid, text in rows]

    general = rest_messages(server, alice, "general")
    assert [(m["from"], m["client_id"], m["text"]) for m in general] == expected(GENERAL)
    assert [m["seq"] for m in general] == [1, 2, 3, 4, 5]
    assert [m["type"] for m in general] == ["message"] * 5
    dev = rest_messages(server, bob, "dev")
    assert [(m["seq"], m["from"], m["text"]) for m in dev] == [(1, "Bob", DEV[0][2]), (2, "alice", DEV[1][2])]
    status, body = http("GET", server.http + "/api/rooms", token=alice)
    assert status == 200
    assert {r["name"]: r["last_seq"] for r in body["rooms"]} == {"dev": 2, "empty": 0, "general": 5}

    # live: resume from seq 3, then new messages continue the sequence; an old client_id is a duplicate
    client = await Client.connect(server, bob)
    joined = await client.join("general", since=3)
    assert joined["last_seq"] == 5
    replay = await client.messages(2, room="general")
    assert [(m["seq"], m["text"]) for m in replay] == [(4, GENERAL[3][2]), (5, GENERAL[4][2])]
    ack = await client.say("general", "after the upgrade", client_id="new-1")
    assert ack["seq"] == 6
    again = await client.say("general", "resent", client_id="g2")
    assert again["duplicate"] is True and again["seq"] == 2
    await client.close()
    status, body = http("POST", server.http + "/api/rooms/empty/messages", {"text": "first", "client_id": "e1"},
                        token=alice)
    assert status == 201 and body["seq"] == 2  # after alice's `joined` (seq 1): posting joins a public room

    # restarting the upgraded database migrates nothing twice and keeps everything
    server.restart()
    assert [m["seq"] for m in rest_messages(server, _token(server, "alice"), "general")] == [1, 2, 3, 4, 5, 6]


async def test_previous_release_schema_version_is_brought_to_latest(release_db):
    from parley.store import store_for_url

    store = store_for_url(release_db)
    await store.open()
    try:
        assert await store.schema_version() == LATEST  # type: ignore[attr-defined]
        assert [e.text for e in await store.events_after("dev", 0, 10)] == [DEV[0][2], DEV[1][2]]
    finally:
        await store.close()


async def test_release_020_database_gains_members_and_keeps_its_log(make_server, release_020_db):
    """0.2.0 had no members: everyone who posted in a room becomes its member with everything read; rooms
    stay public, with no owner; tokens and logins keep working."""
    server = make_server("--rate", "0", db=release_020_db)
    tokens = {name: http("POST", server.http + "/api/login", {"username": name, "password": f"{name.lower()}-password"}
                         )[1]["token"] for name in ("alice", "Bob", "carol")}
    general = rest_messages(server, tokens["carol"], "general")  # a public room: anyone signed in reads it
    assert [(m["seq"], m["from"], m["client_id"]) for m in general] == [(1, "alice", "g1"), (2, "Bob", "g2"),
                                                                        (3, "alice", "g3")]
    assert general[1]["text"] == "héllo 👋" and general[2]["text"] == "line one\nline two"
    status, body = http("GET", server.http + "/api/me/rooms", token=tokens["alice"])
    assert status == 200
    assert [(r["name"], r["visibility"], r["role"], r["last_read"], r["unread"]) for r in body["rooms"]] == [
        ("dev", "public", "member", 2, 0), ("general", "public", "member", 3, 0)]
    status, body = http("GET", server.http + "/api/me/rooms", token=tokens["carol"])
    assert body["rooms"] == []  # carol only joined `empty` (0.2.0 kept no membership)
    status, body = http("GET", server.http + "/api/rooms/general/members", token=tokens["carol"])
    assert [(m["user"], m["role"]) for m in body["members"]] == [("alice", "member"), ("Bob", "member")]
    status, body = http("GET", server.http + "/api/rooms", token=tokens["carol"])
    assert {r["name"]: (r["last_seq"], r["members"]) for r in body["rooms"]} == {
        "dev": (2, 2), "empty": (0, 0), "general": (3, 2)}

    # a member posts without a join event; an old client_id is still a duplicate; unread counts follow
    bob = await Client.connect(server, tokens["Bob"])
    await bob.join("general", since=3)
    assert (await bob.say("general", "after the upgrade", client_id="new-1"))["seq"] == 4
    assert (await bob.say("general", "again", client_id="g2"))["duplicate"] is True
    await bob.close()
    status, body = http("GET", server.http + "/api/me/rooms", token=tokens["alice"])
    assert [(r["name"], r["unread"]) for r in body["rooms"]] == [("dev", 0), ("general", 1)]

    # nobody owns an old room, so nobody but an admin moderates it
    status, body = http("POST", server.http + "/api/rooms/general/manage", {"action": "kick", "user": "Bob"},
                        token=tokens["alice"])
    assert status == 403 and body["error"] == "forbidden"
    server.restart()
    assert [m["seq"] for m in rest_messages(server, tokens["alice"], "general")] == [1, 2, 3, 4]


# release 0.3.0 (tests/data/README.md): each room's log as (seq, type, from, what), `what` being a message's
# (client_id, text), a member event's (user, action) or a topic
DM = "dm.ce339ff53ecdddfbfb927de7f0eb3599"  # alice and carol
TOPIC = "Welcome! Be nice ☕"
LOG_030 = {
    "general": [(1, "member", "alice", ("alice", "created")), (2, "message", "alice", ("g1", "hello everyone")),
                (3, "member", "Bob", ("Bob", "joined")), (4, "message", "Bob", ("g2", "héllo 👋")),
                (5, "message", "alice", ("g3", "line one\nline two")), (6, "message", "Bob", ("g4", "日本語もOK ✅")),
                (7, "topic", "alice", TOPIC), (8, "member", "carol", ("carol", "joined")),
                (9, "member", "carol", ("carol", "left"))],
    "secret": [(1, "member", "alice", ("alice", "created")), (2, "member", "alice", ("Bob", "invited")),
               (3, "member", "Bob", ("Bob", "joined")), (4, "message", "Bob", ("s1", "psst: launch is on Friday 🤫"))],
    DM: [(1, "member", "alice", ("alice", "created")), (2, "message", "alice", ("m1", "hi carol, just between us 💬"))],
}


def _log(events: list[dict]) -> list[tuple]:
    """Events as LOG_030 writes them."""
    def what(e: dict) -> object:
        if e["type"] == "message":
            return e["client_id"], e["text"]
        if e["type"] == "member":
            return e["user"], e["action"]
        return e.get("topic")

    return [(e["seq"], e["type"], e["from"], what(e)) for e in events]


def _tokens(server) -> dict[str, str]:
    return {name: _token(server, name) for name in PASSWORDS}


async def _replay(client: Client, room: str, since: int, count: int) -> tuple[dict, list[dict]]:
    """Join `room` with `since`; the `joined` frame and the `count` room events replayed after it."""
    joined = await client.join(room, since=since)
    events = [await client.next_where(lambda f: f.get("room") == room and "seq" in f
                                      and f.get("type") not in ("ack", "done", "managed")) for _ in range(count)]
    return joined, events


async def _refused_join(client: Client, room: str) -> str:
    """The error code a WebSocket join of `room` (since 0) is answered with."""
    ref = f"refused-{room}"
    await client.send({"type": "join", "room": room, "since": 0, "ref": ref})
    answer = await client.next_where(lambda f: f.get("ref") == ref)
    assert answer["type"] == "error", answer
    return answer["code"]


async def test_release_030_database_keeps_rooms_members_roles_topics_and_logs(make_server, release_030_db):
    server = make_server("--rate", "0", db=release_030_db)
    tok = _tokens(server)  # logins work (case-insensitively) with the old passwords
    assert http("GET", server.http + "/api/me", token=tok["alice"]) == (
        200, {"user": "alice", "admin": True, "display_name": "", "avatar": False})
    assert http("GET", server.http + "/api/me", token=tok["Bob"])[1]["admin"] is False

    # every event of every room, with its seq, to its members; general (public) also to carol, who left it
    for room, log in LOG_030.items():
        assert _log(rest_events(server, tok["alice"], room, after=0)) == log, room
    assert _log(rest_events(server, tok["Bob"], "secret", after=0)) == LOG_030["secret"]
    assert _log(rest_events(server, tok["carol"], DM, after=0)) == LOG_030[DM]
    assert _log(rest_events(server, tok["carol"], "general", after=0)) == LOG_030["general"]
    old = rest_messages(server, tok["alice"], "general")
    assert [(m.get("edited", False), m.get("deleted", False), m.get("reply_to"), m.get("reactions"))
            for m in old] == [(False, False, None, None)] * 4

    # rooms, topics, roles and members
    status, body = http("GET", server.http + "/api/rooms", token=tok["carol"])
    assert status == 200
    assert [(r["name"], r["topic"], r["members"], r["last_seq"]) for r in body["rooms"]] == [("general", TOPIC, 2, 9)]

    def view(room: str, who: str) -> tuple:
        status, body = http("GET", f"{server.http}/api/rooms/{room}", token=tok[who])
        assert status == 200, body
        return (body["visibility"], body["topic"], body["members"], body["last_seq"], body["state"], body["role"],
                body["people"])

    assert view("general", "alice") == ("public", TOPIC, 2, 9, "member", "owner", None)
    assert view("general", "carol") == ("public", TOPIC, 2, 9, None, None, None)
    assert view("secret", "Bob") == ("private", "", 2, 4, "member", "member", None)
    assert view(DM, "carol") == ("dm", "", 2, 2, "member", "member", ["alice", "carol"])
    for room, who, members in (("general", "alice", [("alice", "owner"), ("Bob", "member")]),
                               ("secret", "alice", [("alice", "owner"), ("Bob", "member")]),
                               (DM, "carol", [("alice", "member"), ("carol", "member")])):
        status, body = http("GET", f"{server.http}/api/rooms/{room}/members", token=tok[who])
        assert status == 200, body
        assert sorted(((m["user"], m["role"], m["muted"]) for m in body["members"]), key=lambda m: m[0].lower()) == [
            (user, role, False) for user, role in members]
        assert (body["invited"], body["banned"]) == ([], [])

    def mine(who: str) -> list[tuple]:
        status, body = http("GET", server.http + "/api/me/rooms", token=tok[who])
        assert status == 200, body
        return [(r["name"], r["visibility"], r["state"], r["role"], r["last_seq"], r["last_read"], r["unread"])
                for r in body["rooms"]]

    assert mine("alice") == [(DM, "dm", "member", "member", 2, 0, 0), ("general", "public", "member", "owner", 9, 0, 2),
                             ("secret", "private", "member", "owner", 4, 0, 1)]
    assert mine("Bob") == [("general", "public", "member", "member", 9, 0, 2),
                           ("secret", "private", "member", "member", 4, 0, 0)]
    assert mine("carol") == [(DM, "dm", "member", "member", 2, 0, 1)]

    # the private room and the DM are still invisible to outsiders, exactly like rooms that do not exist
    for who, room in (("carol", "secret"), ("Bob", DM)):
        for method, path, body in (("GET", "", None), ("GET", "/messages", None), ("GET", "/members", None),
                                   ("POST", "/join", None),
                                   ("POST", "/messages", {"text": "let me in", "client_id": "x1"})):
            status, answer = http(method, f"{server.http}/api/rooms/{room}{path}", body, token=tok[who])
            assert (status, answer["error"]) == (404, "not_found"), (who, method, path, answer)

    # a WebSocket join with since=0 replays the same events as REST
    bob = await Client.connect(server, tok["Bob"])
    for room, count in (("general", 9), ("secret", 4)):
        joined, events = await _replay(bob, room, 0, count)
        assert joined["last_seq"] == count
        assert _log(events) == LOG_030[room]
        assert events == rest_events(server, tok["Bob"], room, after=0)
    assert await _refused_join(bob, DM) == "not_found"
    carol = await Client.connect(server, tok["carol"])
    joined, events = await _replay(carol, DM, 0, 2)
    assert joined["last_seq"] == 2 and _log(events) == LOG_030[DM]
    assert await _refused_join(carol, "secret") == "not_found"

    # new messages continue each room's sequence; old client_ids are still recognised
    assert (await bob.say("general", "after the upgrade", client_id="new-1"))["seq"] == 10
    again = await bob.say("general", "resent", client_id="g2")
    assert again["duplicate"] is True and again["seq"] == 4
    assert (await carol.say(DM, "hi alice", client_id="new-2"))["seq"] == 3
    await bob.close()
    await carol.close()
    assert [(r[0], r[4]) for r in mine("alice")] == [(DM, 3), ("general", 10), ("secret", 4)]

    server.restart()
    tok = _tokens(server)
    assert _log(rest_events(server, tok["alice"], "general", after=0))[:9] == LOG_030["general"]
    assert [e["seq"] for e in rest_events(server, tok["alice"], "general", after=0)] == list(range(1, 11))


async def test_release_030_old_messages_can_be_edited_reacted_to_answered_and_deleted(make_server, release_030_db):
    server = make_server("--rate", "0", db=release_030_db)
    tok = _tokens(server)
    before = {e["seq"]: e for e in rest_events(server, tok["alice"], "general", after=0)}
    general = server.http + "/api/rooms/general/messages"
    edited = "hello everyone (edited after the upgrade)"

    # the old authorship holds: only alice edits her message
    status, body = http("PATCH", f"{general}/2", {"text": "not mine"}, token=tok["Bob"])
    assert (status, body["error"]) == (403, "forbidden")
    assert http("PATCH", f"{general}/2", {"text": edited}, token=tok["alice"]) == (200, {"seq": 10})
    assert http("POST", f"{general}/4/reactions", {"emoji": "👍", "on": True}, token=tok["alice"]) == (200, {"seq": 11})
    status, reply = http("POST", general, {"text": "agreed", "client_id": "r1", "reply_to": 6}, token=tok["alice"])
    assert status == 201, reply
    assert (reply["type"], reply["seq"], reply["from"], reply["text"], reply["reply_to"]) == (
        "message", 12, "alice", "agreed", 6)
    assert http("DELETE", f"{general}/5", token=tok["alice"]) == (200, {"seq": 13})

    after = rest_events(server, tok["alice"], "general", after=0)
    assert [e["seq"] for e in after] == list(range(1, 14))
    now = {e["seq"]: e for e in after}
    assert now[2] == before[2] | {"text": edited, "edited": True}
    assert now[4] == before[4] | {"reactions": {"👍": ["alice"]}}
    assert (now[5]["type"], now[5]["from"], now[5]["deleted"], now[5]["text"]) == ("message", "alice", True, "")
    assert not now[5].get("reactions")
    assert now[12] == reply
    for seq in (1, 3, 6, 7, 8, 9):  # untouched, the answered message included
        assert now[seq] == before[seq], seq
    assert [(now[seq]["type"], now[seq]["from"], now[seq]["target"]) for seq in (10, 11, 13)] == [
        ("edit", "alice", 2), ("reaction", "alice", 4), ("delete", "alice", 5)]

    # in the private room and the DM: the author edits, the room's old owner deletes someone else's message,
    # a member reacts and answers; outsiders still get 404 for all of it
    secret = server.http + "/api/rooms/secret/messages"
    dm = f"{server.http}/api/rooms/{DM}/messages"
    for who, base in (("carol", secret), ("Bob", dm)):
        for method, path, body in (("PATCH", "/2", {"text": "x"}),
                                   ("POST", "/2/reactions", {"emoji": "👍", "on": True}), ("DELETE", "/2", None),
                                   ("POST", "", {"text": "x", "client_id": "x2", "reply_to": 2})):
            status, answer = http(method, base + path, body, token=tok[who])
            assert (status, answer["error"]) == (404, "not_found"), (who, method, path, answer)
    assert http("PATCH", f"{secret}/4", {"text": "launch moved to Monday"}, token=tok["Bob"]) == (200, {"seq": 5})
    assert http("DELETE", f"{secret}/4", token=tok["alice"]) == (200, {"seq": 6})
    assert http("POST", f"{dm}/2/reactions", {"emoji": "👍", "on": True}, token=tok["carol"]) == (200, {"seq": 3})
    status, dm_reply = http("POST", dm, {"text": "hi alice", "client_id": "r2", "reply_to": 2}, token=tok["carol"])
    assert status == 201 and (dm_reply["seq"], dm_reply["reply_to"]) == (4, 2), dm_reply
    secret_now = rest_events(server, tok["Bob"], "secret", after=0)
    assert [e["seq"] for e in secret_now] == [1, 2, 3, 4, 5, 6]
    assert (secret_now[3]["deleted"], secret_now[3]["text"]) == (True, "")
    dm_now = rest_events(server, tok["carol"], DM, after=0)
    assert (dm_now[1]["text"], dm_now[1].get("edited", False), dm_now[1]["reactions"]) == (
        "hi carol, just between us 💬", False, {"👍": ["carol"]})
    assert dm_now[3] == dm_reply

    # a WebSocket sees the same: from the start, and the changes alone after the old log
    bob = await Client.connect(server, tok["Bob"])
    joined, events = await _replay(bob, "general", 0, 13)
    assert joined["last_seq"] == 13 and events == after
    await bob.close()
    bob = await Client.connect(server, tok["Bob"])
    _, events = await _replay(bob, "general", 9, 4)
    assert events == after[9:]
    await bob.close()

    # the upgraded database takes files: one is sent with an answer to an old message, and served
    status, sent = upload(server, tok["Bob"], "general", b"old room, new file", "notes.txt", reply_to=4,
                          text="@alice see the file")
    assert status == 201 and (sent["seq"], sent["reply_to"], sent["mentions"]) == (14, 4, ["alice"]), sent
    assert download(server, tok["alice"], f"/api/files/{sent['file']['id']}")[2] == b"old room, new file"
    after.append(sent)

    server.restart()
    tok = _tokens(server)
    assert rest_events(server, tok["alice"], "general", after=0) == after
    assert rest_events(server, tok["carol"], DM, after=0) == dm_now
    mine = {r["name"]: r for r in http("GET", server.http + "/api/me/rooms", token=tok["alice"])[1]["rooms"]}
    assert mine["general"]["mentions"] == 1  # a file's message mentions like any other


async def test_release_030_schema_version_is_brought_to_latest(release_030_db):
    from parley.store import store_for_url

    store = store_for_url(release_030_db)
    await store.open()
    try:
        assert await store.schema_version() == LATEST  # type: ignore[attr-defined]
        events = await store.events_after("general", 0, 20)
        assert [(e.seq, e.kind) for e in events] == [(seq, kind) for seq, kind, _, _ in LOG_030["general"]]
    finally:
        await store.close()


async def test_release_030_old_messages_are_found_by_search(make_server, release_030_db):
    """The search index is built for what the old release stored; each user finds only their rooms' messages."""
    srv = make_server(db=release_030_db)
    tokens = {name: _token(srv, name) for name in ("alice", "Bob", "carol")}

    def found(name: str, q: str) -> list[str]:
        status, body = http("GET", f"{srv.http}/api/search?q={urllib.parse.quote(q)}", token=tokens[name])
        assert status == 200, body
        return [m["text"] for m in body["results"]]

    assert found("Bob", "launch") == ["psst: launch is on Friday 🤫"]  # the private room he is in
    assert found("carol", "launch") == []  # not a member of it
    assert found("alice", "carol") == ["hi carol, just between us 💬"]  # the DM
    assert found("Bob", "héllo") == ["héllo 👋"]
    assert found("alice", "line two") == ["line one\nline two"]


# release 0.4.0 (tests/data/README.md): edits, deletes, reactions, replies, mentions, read markers, notification
# levels, files (their bytes beside the SQLite file in parley-files/, in PostgreSQL in file_parts) and calls.
# What the 0.4.0 server itself served after filling each store is kept in release-0.4.0.<store>.json: every
# room's log, every user's rooms, and the files' sizes and sha256.
PASSWORDS_040 = {"alice": "alice-password", "Bob": "bob-password", "carol": "carol-password",
                 "Dana.Lee": "dana.lee-password"}
DM_040 = "dm.1cb15457d1ddab60e205c0fe3ca2f65d"  # alice and Bob
EDITED = "hello everyone (edited) ✏️"
LOG_040 = {  # (seq, type, from, what): a message's (client_id, text), a member event's (user, action), an edit's,
    # delete's or reaction's target (and emoji), a call event's (call_id, action)
    "general": [(1, "member", "alice", ("alice", "created")), (2, "message", "alice", ("g1", EDITED)),
                (3, "member", "Bob", ("Bob", "joined")), (4, "message", "Bob", ("g2", "héllo 👋")),
                (5, "message", "alice", ("g3", "line one\nline two")), (6, "member", "carol", ("carol", "joined")),
                (7, "message", "carol", ("g4", "日本語もOK ✅")), (8, "member", "Dana.Lee", ("Dana.Lee", "joined")),
                (9, "message", "Dana.Lee", ("g5", "")), (10, "edit", "alice", 2), (11, "delete", "Dana.Lee", 9),
                (12, "reaction", "alice", (4, "👍")), (13, "reaction", "carol", (4, "🎉")),
                (14, "message", "Bob", ("g6", "yes, two lines 👍")),
                (15, "message", "alice", ("g7", "@Bob @carol have a look at the picture below")),
                (16, "message", "alice", ("f1", "a gradient 🌈"))],
    "secret": [(1, "member", "alice", ("alice", "created")), (2, "member", "alice", ("Bob", "invited")),
               (3, "member", "Bob", ("Bob", "joined")), (4, "message", "Bob", ("s1", "psst: launch is on Friday 🤫")),
               (5, "message", "Bob", ("f2", "the notes"))],
    DM_040: [(1, "member", "alice", ("alice", "created")), (2, "message", "alice", ("m1", "call you in a minute? 📞")),
             (3, "message", "Bob", ("v1", "")), (4, "call", "alice", ("call040answered", "started")),
             (5, "call", "Bob", ("call040answered", "joined")), (6, "call", "alice", ("call040answered", "ended")),
             (7, "call", "Bob", ("call040declined", "started")), (8, "call", "alice", ("call040declined", "declined")),
             (9, "call", "alice", ("call040declined", "missed"))],
}
# who recorded each log at 0.4.0 (a member; Dana.Lee is in general only)
READERS_040 = {"general": "Dana.Lee", "secret": "Bob", DM_040: "Bob"}


@pytest.fixture
def release_040_db(store_kind: str, tmp_path: Path) -> Iterator[str]:
    """A --db URL for a copy of release 0.4.0's database; for SQLite its files directory is copied beside it
    (`parley-files`, where the server keeps files by default), for PostgreSQL the files are in the dump."""
    if store_kind == "sqlite":
        shutil.copytree(DATA / "release-0.4.0.parley-files", tmp_path / "parley-files")
    yield from _release(store_kind, tmp_path, "0.4.0", "release_040")


@pytest.fixture
def served_040(store_kind: str) -> dict:
    """What release 0.4.0 served from this store's fixture (made by tests/data/make_release_040.py)."""
    import json

    name = "sqlite" if store_kind == "sqlite" else "postgres"
    return json.loads((DATA / f"release-0.4.0.{name}.json").read_text(encoding="utf-8"))


def _tokens_040(server) -> dict[str, str]:
    """A token for each 0.4.0 user, logged in with the name's case swapped (found case-insensitively)."""
    tokens = {}
    for name, password in PASSWORDS_040.items():
        status, body = http("POST", server.http + "/api/login", {"username": name.swapcase(), "password": password})
        assert status == 200, body
        assert body["user"] == name
        tokens[name] = body["token"]
    return tokens


def _log_040(events: list[dict]) -> list[tuple]:
    """Events as LOG_040 writes them."""
    def what(e: dict) -> object:
        if e["type"] == "message":
            return e["client_id"], e["text"]
        if e["type"] == "member":
            return e["user"], e["action"]
        if e["type"] == "reaction":
            return e["target"], e["emoji"]
        if e["type"] in ("edit", "delete"):
            return e["target"]
        if e["type"] == "call":
            return e["call_id"], e["action"]
        return e.get("topic")

    return [(e["seq"], e["type"], e["from"], what(e)) for e in events]


async def test_release_040_schema_version_is_brought_to_latest(release_040_db):
    from parley.store import store_for_url

    store = store_for_url(release_040_db)
    await store.open()
    try:
        assert await store.schema_version() == LATEST  # type: ignore[attr-defined]
        events = await store.events_after(DM_040, 0, 20)
        assert [(e.seq, e.kind) for e in events] == [(seq, kind) for seq, kind, _, _ in LOG_040[DM_040]]
    finally:
        await store.close()


async def test_release_040_logs_are_served_as_the_release_served_them(make_server, release_040_db, served_040):
    server = make_server("--rate", "0", db=release_040_db)
    tok = _tokens_040(server)
    assert http("GET", server.http + "/api/me", token=tok["alice"]) == (
        200, {"user": "alice", "admin": True, "display_name": "", "avatar": False})
    assert http("GET", server.http + "/api/me", token=tok["Dana.Lee"])[1]["admin"] is False
    assert served_040["dm"] == DM_040

    # every log, event for event, exactly as 0.4.0 served it, to every member
    for room, log in LOG_040.items():
        assert _log_040(served_040["logs"][room]) == log, room
        for who in ("alice", "Bob", READERS_040[room]):
            assert rest_events(server, tok[who], room, after=0) == served_040["logs"][room], (room, who)
    general = {e["seq"]: e for e in served_040["logs"]["general"]}
    assert (general[2]["edited"], general[2]["text"]) == (True, EDITED)
    assert (general[9]["deleted"], general[9]["text"]) == (True, "")
    assert general[4]["reactions"] == {"👍": ["alice"], "🎉": ["carol"]}
    assert general[14]["reply_to"] == 5 and general[15]["mentions"] == ["Bob", "carol"]
    assert [general[16]["file"][k] for k in ("name", "type", "kind", "width", "height", "thumb")] == [
        "gradient.png", "image/png", "image", 64, 48, True]
    secret = {e["seq"]: e for e in served_040["logs"]["secret"]}
    assert secret[5]["reply_to"] == 4 and secret[5]["file"]["kind"] == "file"
    dm = {e["seq"]: e for e in served_040["logs"][DM_040]}
    assert [dm[3]["file"][k] for k in ("name", "type", "kind", "duration_ms")] == ["voice.wav", "audio/wav", "voice",
                                                                                  500]
    assert (dm[4]["media"], dm[7]["media"]) == ("video", "voice") and dm[6]["duration_ms"] >= 1000

    # outsiders still get 404 for the private room, the DM and their files
    for who, room in (("carol", "secret"), ("Dana.Lee", DM_040)):
        status, body = http("GET", f"{server.http}/api/rooms/{room}/messages?after=0", token=tok[who])
        assert (status, body["error"]) == (404, "not_found"), (who, room)
    for file_id, entry in served_040["files"].items():
        if entry["room"] != "general":
            assert download(server, tok["carol"], f"/api/files/{file_id}")[0] == 404

    # a WebSocket join with since=0 replays the same events
    bob = await Client.connect(server, tok["Bob"])
    for room, log in LOG_040.items():
        joined, events = await _replay(bob, room, 0, len(log))
        assert joined["last_seq"] == len(log)
        assert events == served_040["logs"][room], room
    await bob.close()

    # the logs go on: a change to an old message, a new message, a new call
    assert http("POST", f"{server.http}/api/rooms/general/messages/4/reactions", {"emoji": "👍", "on": False},
                token=tok["alice"]) == (200, {"seq": 17})
    status, sent = http("POST", f"{server.http}/api/rooms/{DM_040}/messages",
                        {"text": "after the upgrade", "client_id": "new-1", "reply_to": 2}, token=tok["Bob"])
    assert status == 201 and (sent["seq"], sent["reply_to"]) == (10, 2), sent
    status, again = http("POST", f"{server.http}/api/rooms/{DM_040}/messages", {"text": "x", "client_id": "m1"},
                         token=tok["alice"])
    assert status == 200 and again["seq"] == 2  # an old client_id is still a duplicate
    alice = await Client.connect(server, tok["alice"])
    await alice.send({"type": "signal", "room": DM_040, "call_id": "call040after", "party_id": "alice-2",
                      "kind": "invite", "media": "voice", "sdp": {"type": "offer", "sdp": "v=0\r\n"}, "ref": "c"})
    assert (await alice.next_where(lambda f: f.get("ref") == "c"))["type"] == "signaled"
    await alice.send({"type": "signal", "room": DM_040, "call_id": "call040after", "party_id": "alice-2",
                      "kind": "hangup", "ref": "h"})
    assert (await alice.next_where(lambda f: f.get("ref") == "h"))["type"] == "signaled"
    await alice.close()
    calls = [(e["seq"], e["call_id"], e["action"]) for e in rest_events(server, tok["Bob"], DM_040, after=9)
             if e["type"] == "call"]
    assert calls[0] == (11, "call040after", "started") and calls[-1][2] in ("ended", "missed"), calls

    server.restart()
    tok = _tokens_040(server)
    general_now = rest_events(server, tok["carol"], "general", after=0)
    assert general_now[:16] == [e | {"reactions": {"🎉": ["carol"]}} if e["seq"] == 4 else e
                                for e in served_040["logs"]["general"]]
    assert rest_events(server, tok["Bob"], "secret", after=0) == served_040["logs"]["secret"]
    assert rest_events(server, tok["alice"], DM_040, after=0)[:9] == served_040["logs"][DM_040]


async def test_release_040_files_are_still_served(make_server, release_040_db, served_040, store_kind):
    import hashlib

    server = make_server("--rate", "0", db=release_040_db)
    tok = _tokens_040(server)
    uploaded = served_040["uploaded_sha256"]
    by_name = {}
    for file_id, entry in served_040["files"].items():
        who = READERS_040[entry["room"]]
        message = next(e for e in rest_events(server, tok[who], entry["room"], after=0) if e["seq"] == entry["seq"])
        assert message["file"]["id"] == file_id
        by_name[message["file"]["name"]] = file_id
        status, headers, data = download(server, tok[who], f"/api/files/{file_id}")
        assert status == 200, data
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["size"], entry["sha256"]), file_id
        assert headers["Content-Type"].split(";")[0] == message["file"]["type"]
        assert entry["sha256"] == uploaded[message["file"]["name"]]  # the bytes as uploaded
        if store_kind == "sqlite":  # the fixture's own copy of the bytes
            assert data == (DATA / "release-0.4.0.parley-files" / file_id).read_bytes()
        if message["file"].get("thumb"):
            status, headers, thumb = download(server, tok[who], f"/api/files/{file_id}/thumb")
            assert status == 200 and headers["Content-Type"] == "image/webp"
            assert (len(thumb), hashlib.sha256(thumb).hexdigest()) == (entry["thumb_size"], entry["thumb_sha256"])
            if store_kind == "sqlite":
                assert thumb == (DATA / "release-0.4.0.parley-files" / f"{file_id}.thumb").read_bytes()
    assert sorted(by_name) == ["gradient.png", "notes.txt", "voice.wav"]
    image = by_name["gradient.png"]
    # every member of the room may fetch it (Bob too); deleting the old message deletes its file
    assert download(server, tok["Bob"], f"/api/files/{image}")[0] == 200
    assert http("DELETE", f"{server.http}/api/rooms/general/messages/16", token=tok["alice"]) == (200, {"seq": 17})
    assert download(server, tok["Bob"], f"/api/files/{image}")[0] == 404
    assert download(server, tok["Bob"], f"/api/files/{image}/thumb")[0] == 404
    # and new files are stored next to the old ones
    status, sent = upload(server, tok["Bob"], DM_040, b"new file after the upgrade", "new.txt", reply_to=3)
    assert status == 201 and (sent["seq"], sent["reply_to"]) == (10, 3), sent
    assert download(server, tok["alice"], f"/api/files/{sent['file']['id']}")[2] == b"new file after the upgrade"
    server.restart()
    tok = _tokens_040(server)
    assert download(server, tok["alice"], f"/api/files/{by_name['voice.wav']}")[2] == download(
        server, tok["Bob"], f"/api/files/{by_name['voice.wav']}")[2]
    assert hashlib.sha256(download(server, tok["Bob"], f"/api/files/{by_name['notes.txt']}")[2]).hexdigest() == (
        uploaded["notes.txt"])


async def test_release_040_read_markers_and_notify_levels_survive(make_server, release_040_db, served_040):
    server = make_server("--rate", "0", db=release_040_db)
    tok = _tokens_040(server)

    def mine(who: str) -> list[dict]:
        status, body = http("GET", server.http + "/api/me/rooms", token=tok[who])
        assert status == 200, body
        return body["rooms"]

    for who in PASSWORDS_040:
        assert mine(who) == served_040["me_rooms"][who], who

    def marks(who: str) -> list[tuple]:
        return [(r["name"], r["last_read"], r["notify"]) for r in mine(who)]

    assert marks("Bob") == [(DM_040, 2, "all"), ("general", 7, "mentions"), ("secret", 0, "all")]
    assert marks("carol") == [("general", 12, "none")]
    assert marks("alice") == [(DM_040, 0, "mentions"), ("general", 0, "all"), ("secret", 0, "all")]
    assert marks("Dana.Lee") == [("general", 0, "all")]

    # they move on as before: a marker only up, a level changed
    assert http("POST", f"{server.http}/api/rooms/general/read", {"seq": 16}, token=tok["Bob"])[0] == 204
    assert http("POST", f"{server.http}/api/rooms/general/read", {"seq": 3}, token=tok["carol"])[0] == 204
    assert http("POST", f"{server.http}/api/rooms/general/notify", {"level": "all"}, token=tok["carol"])[0] == 204
    server.restart()
    tok = _tokens_040(server)
    bob = {r["name"]: r for r in mine("Bob")}
    assert (bob["general"]["last_read"], bob["general"]["unread"], bob["general"]["notify"]) == (16, 0, "mentions")
    assert marks("carol") == [("general", 12, "all")]


async def test_release_040_a_token_can_be_signed_out_alone(make_server, release_040_db):
    """Signing out of one device (schema version 7, revoked_tokens) works on an upgraded 0.4.0 database: the
    token that signs out stops working, the account's other tokens do not."""
    server = make_server("--rate", "0", db=release_040_db)
    first, second = _tokens_040(server)["Bob"], _tokens_040(server)["Bob"]
    assert first != second
    status, body = http("POST", server.http + "/api/me/signout", {}, token=first)
    assert status == 204, body
    assert http("GET", server.http + "/api/me", token=first)[0] == 401
    assert http("GET", server.http + "/api/me", token=second) == (
        200, {"user": "Bob", "admin": False, "display_name": "", "avatar": False})
    server.restart()
    assert http("GET", server.http + "/api/me", token=first)[0] == 401
    assert http("GET", server.http + "/api/me", token=second)[0] == 200


def _run_sql(db_url: str, statements: list[tuple[str, tuple]]) -> None:
    """Write rows as the previous release could have (raw SQL on its schema), before this release opens it."""
    if db_url.startswith("sqlite:///"):
        import sqlite3

        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        with conn:
            for sql, args in statements:
                conn.execute(sql, args)
        conn.close()
        return
    import asyncpg

    base, _, query = db_url.partition("?")
    schema = urllib.parse.parse_qs(query)["search_path"][0]

    async def run() -> None:
        conn = await asyncpg.connect(base)
        try:
            await conn.execute(f'SET search_path TO "{schema}"')
            for sql, args in statements:
                numbers = iter(range(1, 99))
                await conn.execute(re.sub(r"\?", lambda _m: f"${next(numbers)}", sql), *args)  # noqa: B023
        finally:
            await conn.close()

    run_sync(run())


async def test_release_040_rooms_differing_only_in_case_get_one_lower_case_name_each(make_server, release_040_db):
    """Release 0.4.0 kept `General` and `general` apart; schema version 8 gives every room its lower-case name.
    The room already in lower case keeps it, `General` becomes `general-2` with its log and members, `Design`
    becomes `design`; any spelling finds a room from then on."""
    late = 1_900_000_000_000  # created after everything in the fixture
    rows: list[tuple[str, tuple]] = []
    for room, text in (("General", "in the capital-G room"), ("Design", "mockups attached")):
        rows += [
            ("INSERT INTO rooms (name, last_seq, created_ms, visibility, topic) VALUES (?, 2, ?, 'public', '')",
             (room, late)),
            ("INSERT INTO members (room, username, state, role, muted, last_read, notify) "
             "VALUES (?, 'carol', 'member', 'owner', 0, 2, 'all')", (room,)),
            ("INSERT INTO events (room, seq, kind, sender, text, ts, client_id, data) "
             "VALUES (?, 1, 'member', 'carol', '', ?, ?, ?)",
             (room, late, f"created-{room}", '{"user":"carol","action":"created"}')),
            ("INSERT INTO events (room, seq, kind, sender, text, ts, client_id, data) "
             "VALUES (?, 2, 'message', 'carol', ?, ?, ?, NULL)", (room, text, late + 1, f"msg-{room}")),
        ]
    _run_sql(release_040_db, rows)

    server = make_server("--rate", "0", db=release_040_db)
    carol = _tokens_040(server)["carol"]
    before = rest_events(server, carol, "general")
    assert [e["seq"] for e in before] == [seq for seq, *_ in LOG_040["general"]]  # untouched
    for spelling in ("general-2", "General-2", "GENERAL-2"):
        log = rest_events(server, carol, spelling)
        assert [(e["seq"], e["type"], e.get("text")) for e in log] == [
            (1, "member", None), (2, "message", "in the capital-G room")], log
    for spelling in ("design", "Design", "DESIGN"):
        assert [e.get("text") for e in rest_events(server, carol, spelling)] == [None, "mockups attached"]
    status, mine = http("GET", server.http + "/api/me/rooms", token=carol)
    assert status == 200, mine
    names = {r["name"] for r in mine["rooms"]}
    assert {"general", "general-2", "design"} <= names and not {"General", "Design"} & names, names
    # a new message through any spelling lands in the one room
    status, sent = http("POST", server.http + "/api/rooms/GENERAL-2/messages",
                        {"text": "after the upgrade", "client_id": "up-1"}, token=carol)
    assert status == 201 and sent["seq"] == 3, sent


async def test_v8_turns_a_squatted_upper_case_dm_name_into_the_real_dm(make_server, release_040_db):
    """0.4.0 refused names starting with "dm." only in lower case, so anyone could create the public room
    `DM.<hash>` whose lower-case name is the (predictable) DM name of two other users. v8 renames it
    `dm-<hash>`: opening that DM later makes a real DM of the two, and the squatter is not in it."""
    dm = dm_name(["carol", "Dana.Lee"])
    squat = "DM." + dm.removeprefix("dm.")
    _run_sql(release_040_db, [
        ("INSERT INTO rooms (name, last_seq, created_ms, visibility, topic) VALUES (?, 1, ?, 'public', '')",
         (squat, 1_900_000_000_000)),
        ("INSERT INTO members (room, username, state, role, muted, last_read, notify) "
         "VALUES (?, 'Bob', 'member', 'owner', 0, 1, 'all')", (squat,)),
        ("INSERT INTO events (room, seq, kind, sender, text, ts, client_id, data) "
         "VALUES (?, 1, 'member', 'Bob', '', ?, ?, ?)",
         (squat, 1_900_000_000_000, "squat-1", '{"user":"Bob","action":"created"}')),
    ])
    server = make_server("--rate", "0", db=release_040_db)
    carol = _tokens_040(server)["carol"]
    status, view = http("POST", server.http + "/api/dms", {"users": ["Dana.Lee"]}, token=carol)
    assert status in (200, 201), view
    status, members = http("GET", f"{server.http}/api/rooms/{view['name']}/members", token=carol)
    assert status == 200, members
    assert view.get("visibility") == "dm", view
    assert "Bob" not in str(members), members


async def test_release_040_accounts_gain_empty_profiles_and_can_set_them(make_server, release_040_db):
    """v9 gives every 0.4.0 account an empty display name and no avatar (initials); after the upgrade a user
    sets a display name and an avatar, others read them, and both survive a restart."""
    import io

    from PIL import Image

    server = make_server("--rate", "0", db=release_040_db)
    tok = _tokens_040(server)
    status, body = http("GET", server.http + "/api/profiles?users=" + ",".join(PASSWORDS_040), token=tok["carol"])
    assert status == 200, body
    assert body["profiles"] == [{"user": name, "display_name": "", "avatar": False}
                                for name in sorted(PASSWORDS_040, key=str.lower)]
    status, body = http("PATCH", server.http + "/api/me", {"display_name": "Dana Lée 🌿"}, token=tok["Dana.Lee"])
    assert (status, body["display_name"]) == (200, "Dana Lée 🌿"), body
    picture = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 90)).save(picture, "PNG")
    boundary = "avatar-boundary"
    raw = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'.encode()
           + picture.getvalue() + f"\r\n--{boundary}--\r\n".encode())
    status, body = http("PUT", server.http + "/api/me/avatar", token=tok["Dana.Lee"], raw=raw,
                        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert (status, body.get("avatar")) == (200, True), body
    server.restart()
    status, body = http("GET", server.http + "/api/profiles?users=dana.lee", token=tok["alice"])
    assert body == {"profiles": [{"user": "Dana.Lee", "display_name": "Dana Lée 🌿", "avatar": True}]}
    me = http("GET", server.http + "/api/me", token=tok["Dana.Lee"])[1]
    assert (me["display_name"], me["avatar"]) == ("Dana Lée 🌿", True)
