"""Databases made by earlier releases (tests/data/README.md) open with this release: they are migrated on
start, and every user, room and message is still there, with the same seqs, served over WebSocket and
REST; new messages continue each room's sequence, and duplicates of old client_ids are still recognised.

release 0.1.0: schema version 1 (a `messages` table). 0.2.0 (the code before private rooms): schema
version 2 (the `events` room log), which gains rooms' visibility, members, admins and token generations.
"""

import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.store.schema import LATEST
from tests.scale.services import postgres_url, run_sync, with_query
from tests.support import Client, http, rest_messages

DATA = Path(__file__).parent / "data"
PASSWORDS = {"alice": "alice-password", "Bob": "bob-password"}
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
