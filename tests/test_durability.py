"""Durability: an ack means the message survives `kill -9` of the server (every acked message is there
after a restart on the same database, seqs stay gap-free and continue), concurrent sends are group-committed,
the schema is migrated on start, and SQLite runs in WAL mode."""

import asyncio
import sqlite3

import websockets

from parley.store import store_for_url
from parley.store.schema import LATEST
from parley.store.sqlite import sqlite_path
from tests.support import Client, http, register, rest_events, send_all, unique


def all_events(server, token, room):
    """The room's whole stored log, every kind of event (messages and membership changes)."""
    out, after = [], 0
    while page := rest_events(server, token, room, after=after, limit=100):
        out += page
        after = page[-1]["seq"]
    return out


def only_messages(events):
    return [e for e in events if e["type"] == "message"]


async def test_kill_9_after_acks_loses_nothing(server, db_url):
    _, ta = register(server)
    _, tb = register(server)
    room = unique("r")
    a = await Client.connect(server, ta)
    b = await Client.connect(server, tb)
    await a.join(room)
    head = (await b.join(room))["last_seq"]  # the room's creation and b's joining
    acks = await asyncio.gather(send_all(a, room, [f"a{i}" for i in range(30)]),
                                send_all(b, room, [f"b{i}" for i in range(30)]))
    posted = []
    for i in range(5):
        status, body = http("POST", f"{server.http}/api/rooms/{room}/messages",
                            {"text": f"rest{i}", "client_id": unique("c")}, token=ta)
        assert status == 201
        posted.append(body)
    acked = {(x["seq"], x["client_id"], x["ts"]) for batch in acks for x in batch}
    acked |= {(p["seq"], p["client_id"], p["ts"]) for p in posted}
    assert len(acked) == 65

    server.kill9()
    server.start()

    log = all_events(server, ta, room)
    assert [e["seq"] for e in log] == list(range(1, head + 66))
    assert [(e["type"], e["action"]) for e in log[:head]] == [("member", "created"), ("member", "joined")]
    stored = only_messages(log)
    assert {(m["seq"], m["client_id"], m["ts"]) for m in stored} == acked
    assert [m["seq"] for m in stored] == list(range(head + 1, head + 66))
    texts = {m["text"] for m in stored}
    assert {f"a{i}" for i in range(30)} | {f"b{i}" for i in range(30)} | {f"rest{i}" for i in range(5)} == texts

    c = await Client.connect(server, tb)
    assert (await c.join(room, since=0))["last_seq"] == head + 65
    replay = [await c.expect_any("member", "message") for _ in range(head + 65)]
    assert [e["seq"] for e in replay] == list(range(1, head + 66))
    assert [m["seq"] for m in only_messages(replay)] == list(range(head + 1, head + 66))
    assert (await c.say(room, "after the crash"))["seq"] == head + 66  # seq continues, never reused
    await c.close()

    # starting again on the existing database found the schema current (migrations are versioned)
    store = store_for_url(db_url)
    await store.open()
    try:
        assert await store.schema_version() == LATEST
    finally:
        await store.close()


async def test_kill_9_in_the_middle_of_a_stream_keeps_every_acked_message(make_server):
    """Kill the server while messages are in flight: whatever was acked is stored; the rest may or may not
    be, but the stored seqs are gap-free and a resend with the same client_id never stores twice."""
    server = make_server("--rate", "0")
    _, token = register(server)
    room = unique("r")
    a = await Client.connect(server, token)
    await a.join(room)
    cids = [unique("c") for _ in range(400)]
    for i, cid in enumerate(cids):
        await a.send({"type": "send", "room": room, "text": f"s{i}", "client_id": cid})
    acked = []
    while len(acked) < 50:
        frame = await a.recv()
        if frame["type"] == "ack":
            acked.append(frame)
    server.kill9()
    try:  # acks that were already on their way
        while True:
            frame = await a.recv(2)
            if frame["type"] == "ack":
                acked.append(frame)
    except (websockets.ConnectionClosed, TimeoutError):  # the connection is gone
        pass
    server.start()

    log = all_events(server, token, room)
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    assert (log[0]["type"], log[0]["action"]) == ("member", "created")
    stored = only_messages(log)
    assert [m["seq"] for m in stored] == list(range(2, len(log) + 1))
    by_cid = {m["client_id"]: m for m in stored}
    for ack in acked:
        assert by_cid[ack["client_id"]]["seq"] == ack["seq"]
    assert len(stored) >= len(acked)

    # the client resends everything it has no ack for: stored once each, in order after the survivors
    a = await Client.connect(server, token)
    await a.join(room)
    have = {x["client_id"] for x in acked}
    resend = [(i, cid) for i, cid in enumerate(cids) if cid not in have][:40]
    for i, cid in resend:
        ack = await a.say(room, f"s{i}", client_id=cid)
        if cid in by_cid:  # stored before the crash but not acked: the same seq, not a second copy
            assert ack["seq"] == by_cid[cid]["seq"] and ack["duplicate"] is True
        else:
            assert ack["seq"] > log[-1]["seq"]
    final = all_events(server, token, room)
    assert [e["seq"] for e in final] == list(range(1, len(final) + 1))
    assert final[:len(log)] == log and only_messages(final) == final[1:]  # a member's rejoin stores nothing
    assert len({m["client_id"] for m in final[1:]}) == len(final) - 1
    await a.close()


async def test_concurrent_sends_are_committed_in_groups(shared_server, users):
    def metric(name):
        _, text = http("GET", shared_server.http + "/metrics")
        return float(next(line for line in text.splitlines() if line.startswith(name + " ")).split()[-1])

    room = unique("r")
    clients = [await Client.connect(shared_server, token) for _, token in users for _ in range(2)]
    for c in clients:
        await c.join(room)
    stored0, batches0 = metric("parley_messages_stored_total"), metric("parley_store_batches_total")
    await asyncio.gather(*(send_all(c, room, [f"{i}-{k}" for k in range(30)]) for i, c in enumerate(clients)))
    stored = metric("parley_messages_stored_total") - stored0
    batches = metric("parley_store_batches_total") - batches0
    assert stored == 180
    assert batches < stored / 2, f"{stored} messages in {batches} transactions"
    for c in clients:
        await c.close()


async def test_sqlite_runs_in_wal_mode(make_server, tmp_path):
    db_url = f"sqlite:///{tmp_path}/wal.db"  # about the SQLite file, whatever store the module runs on
    register(make_server(db=db_url))
    path = sqlite_path(db_url)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, LATEST + 1))
    assert path.with_name(path.name + "-wal").exists()
