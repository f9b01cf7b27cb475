"""A database made by the previous release (0.1.0, schema version 1: tests/data/README.md) opens with this
release: it is migrated on start, and every user, room and message is still there, with the same seqs,
served over WebSocket and REST; new messages continue each room's sequence, and duplicates of old
client_ids are still recognised."""

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
    """A --db URL for a copy of the previous release's database."""
    if store_kind == "sqlite":
        path = tmp_path / "release.db"
        shutil.copy(DATA / "release-0.1.0.sqlite", path)
        yield f"sqlite:///{path}"
        return
    base = postgres_url()
    schema = f"ptest_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    dump = (DATA / "release-0.1.0.postgres.sql").read_text()
    sql = re.sub(r"\brelease_010\b", schema, dump)
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
    assert status == 201 and body["seq"] == 1

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
