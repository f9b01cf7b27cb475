"""Defects found by attacking Parley from the outside (issue 10), each with the answer a client now gets and
proof that the server and everyone else's messages survive."""

import asyncio
import contextlib
import json
import signal
import subprocess
import sys

import aiohttp
import pytest

from tests.support import (
    PASSWORD,
    Client,
    ServerProcess,
    close_code,
    connect_all,
    http,
    in_room,
    register,
    rest_messages,
    unique,
)

NESTED = 10_000  # deep enough for msgspec's limit, small enough for one 64 KiB frame


async def test_nul_in_text_or_client_id_is_bad_request_and_spoils_nobody_elses_message(shared_server, users):
    room = unique("nul")
    a, b = await connect_all(shared_server, users[0], users[1])
    await a.join(room)
    head = (await b.join(room))["last_seq"]  # the room's creation and b's joining
    # a's bad frames and b's good message go in at once, so they would share a group commit
    await a.send({"type": "send", "room": room, "text": "bad\u0000text", "client_id": "n1", "ref": "t"})
    await a.send({"type": "send", "room": room, "text": "fine", "client_id": "bad\u0000id", "ref": "c"})
    ack = await b.say(room, "b's message", client_id="b1")
    for ref in ("t", "c"):
        error = await a.expect("error", ref=ref)
        assert error["code"] == "bad_request" and "U+0000" in error["message"], error
    assert ack["seq"] == head + 1
    status, body = http("POST", f"{shared_server.http}/api/rooms/{room}/messages",
                        {"text": "x\u0000", "client_id": "r1"}, token=users[0][1])
    assert status == 400 and body["error"] == "bad_request", body
    status, body = http("POST", f"{shared_server.http}/api/rooms/{room}/messages",
                        {"text": "x", "client_id": "\u0000"}, token=users[0][1])
    assert status == 400 and body["error"] == "bad_request", body
    assert [(m["seq"], m["text"]) for m in rest_messages(shared_server, users[1][1], room)] == [
        (head + 1, "b's message")]
    assert (await a.say(room, "still works"))["seq"] == head + 2
    await a.close()
    await b.close()


def _nested(kind: str) -> str:
    return '{"type":"ping","x":' + "[" * NESTED + "]" * NESTED + "}" if kind == "array" else \
        '{"type":"ping","x":' + '{"a":' * NESTED + "1" + "}" * NESTED + "}"


async def test_deeply_nested_json_is_bad_request_before_and_after_auth(shared_server, users):
    before = await Client.connect(shared_server)
    for kind in ("array", "object"):
        await before.send(_nested(kind))
        error = await before.expect("error")
        assert error["code"] == "bad_request" and "nested too deeply" in error["message"], error
    await before.send({"type": "auth", "token": users[0][1]})
    await before.expect("ready")
    await before.send(_nested("array"))
    assert (await before.expect("error"))["code"] == "bad_request"
    await before.send({"type": "ping", "ref": "p"})
    await before.expect("pong", ref="p")
    await before.close()
    for path in ("/api/login", f"/api/rooms/{unique('deep')}/messages"):
        status, body = http("POST", shared_server.http + path, raw=_nested("array").encode(), token=users[0][1])
        assert status == 400 and body["error"] == "bad_request" and "nested too deeply" in body["message"]
    assert "Traceback" not in shared_server.logs()


def test_json_endpoints_take_only_json_bodies(shared_server, users):
    """A cross-site form or text/plain POST (no CORS preflight) must not create accounts or post messages."""
    name = unique("xsite")
    body = json.dumps({"username": name, "password": "long-enough-password"}).encode()
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        status, answer = http("POST", shared_server.http + "/api/register", raw=body, headers={"Content-Type": ctype})
        assert status == 415 and answer["error"] == "unsupported", (ctype, status, answer)
        status, answer = http("POST", f"{shared_server.http}/api/rooms/{unique('x')}/messages",
                              raw=b'{"text":"hi"}', headers={"Content-Type": ctype}, token=users[0][1])
        assert status == 415, (ctype, status, answer)
    account = {"username": name, "password": "long-enough-password"}
    status, _ = http("POST", shared_server.http + "/api/login", account)
    assert status == 401  # no account was made
    status, _ = http("POST", shared_server.http + "/api/register", account)
    assert status == 201


async def _closed_within(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, drip: bytes,
                         seconds: float) -> bool:
    """Send `drip` a byte at a time (never finishing); whether the server closes the socket in `seconds`."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    i = 0
    while loop.time() < end:
        try:
            writer.write(drip[i % len(drip):i % len(drip) + 1])
            data = await asyncio.wait_for(reader.read(4096), 0.2)
        except TimeoutError:
            i += 1
            continue
        except (ConnectionError, OSError):
            return True
        if data == b"":
            return True
        if data.startswith(b"HTTP/1.1 408") or data.startswith(b"HTTP/1.1 400"):
            return True
    return False


@pytest.mark.parametrize("store_kind", ["sqlite"], indirect=True)  # about sockets, not the store
async def test_slow_heads_and_bodies_are_cut_off(make_server):
    server = make_server("--request-timeout", "1")
    # a head of any method, dripped
    for start in (b"POST /api/login HTTP/1.1\r\nHost: x\r\nX-Slow: ", b"OPTIONS / HTTP/1.1\r\nX-Slow: ",
                  b"GET /ws HTTP/1.1\r\nX-Slow: "):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(start)
        assert await _closed_within(reader, writer, b"a", 6), start
        writer.close()
    # a second head on a keep-alive connection, dripped
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"HTTP/1.1 200")
    writer.write(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
    assert await _closed_within(reader, writer, b"a", 6)
    writer.close()
    # a body that never arrives in full: 408
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1000\r\n\r\n{")
    answer = await asyncio.wait_for(reader.read(4096), 6)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    writer.close()
    # the server still answers everyone else
    status, _ = http("GET", server.http + "/healthz")
    assert status == 200


async def test_a_tls_handshake_that_never_finishes_is_cut_off(db_url, tmp_path):
    from tests.scale.cluster import self_signed_cert, wait_port

    cert, key = self_signed_cert(tmp_path)
    server = ServerProcess(db_url, "--request-timeout", "1", "--tls-cert", str(cert), "--tls-key", str(key),
                           log=tmp_path / "tls.log")
    server.proc = subprocess.Popen(server.command(), env=server.env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
    try:
        wait_port(server.port, 30)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"\x16\x03\x01")  # the start of a ClientHello, never finished
        assert await asyncio.wait_for(reader.read(100), 6) == b""
        writer.close()
    finally:
        server.stop()


async def test_join_leave_flapping_is_rate_limited_and_presence_bounded(shared_server, users):
    """One connection joining and leaving a room as fast as it can reaches the room's members a bounded
    number of times (each join may announce presence), then gets `rate_limited`; it becomes a member once."""
    room = unique("flap")
    flapper_name, flapper_token = register(shared_server)
    watcher, = await connect_all(shared_server, users[0])
    head = (await watcher.join(room))["last_seq"]
    flapper = await Client.connect(shared_server, flapper_token)
    for i in range(300):
        await flapper.send({"type": "join", "room": room, "ref": f"j{i}"})
        await flapper.send({"type": "leave", "room": room, "ref": f"l{i}"})
    await flapper.send({"type": "ping", "ref": "end"})
    await flapper.expect("pong", ref="end", timeout=20)
    limited = [f for f in flapper.pending if f.get("type") == "error" and f.get("code") == "rate_limited"]
    assert len(limited) >= 300 - 130, len(limited)  # a burst of 120 (and ~10/s) got through, the rest did not
    online = await watcher.nothing(1.0, kind="presence", user=flapper_name, online=True)
    # (a join its own leave overtakes, before the membership is checked, announces nothing)
    assert len(online) <= 140, len(online)
    joins = await watcher.nothing(0.1, kind="member", user=flapper_name)
    assert [(e["action"], e["seq"]) for e in joins] == [("joined", head + 1)]
    assert (await watcher.say(room, "still fine"))["seq"] == head + 2
    await flapper.close()
    await watcher.close()


async def test_room_creation_is_capped_per_user_and_rooms_are_listed_in_pages(make_server):
    server = make_server("--new-rooms", "3", env={"PARLEY_NEW_ROOMS": "3"})
    _, token = register(server)
    _, other = register(server)
    c = await Client.connect(server, token)
    made = [unique("mine") for _ in range(3)]
    for room in made:
        await c.join(room)
    await c.send({"type": "join", "room": unique("fourth"), "ref": "4th"})
    error = await c.expect("error", ref="4th")
    assert error["code"] == "rate_limited" and "new rooms" in error["message"]
    status, body = http("POST", f"{server.http}/api/rooms/{unique('rest')}/messages", {"text": "x"}, token=token)
    assert status == 429 and body["error"] == "rate_limited"
    status, _ = http("POST", f"{server.http}/api/rooms/{made[0]}/messages", {"text": "x"}, token=token)
    assert status == 201  # an existing room is no creation
    d = await Client.connect(server, other)
    await d.join(made[1])  # others still join existing rooms, and create their own
    await d.join(unique("theirs"))
    # pages of two, in name order, every room once
    names, after = [], None
    while True:
        status, body = http("GET", f"{server.http}/api/rooms?limit=2" + (f"&after={after}" if after else ""),
                            token=token)
        assert status == 200 and len(body["rooms"]) <= 2
        names += [r["name"] for r in body["rooms"]]
        if body["next"] is None:
            break
        after = body["next"]
    assert names == sorted(names) and len(names) == len(set(names)) == 4 and set(made) <= set(names)
    for bad in ("?limit=0", "?limit=1001", "?after=no%20spaces", "?limit=x"):
        assert http("GET", f"{server.http}/api/rooms{bad}", token=token)[0] == 400, bad
    await c.close()
    await d.close()


def _writes_fail(db_url: str, on: bool) -> None:
    """Make every write to the store fail as a full disk would (a trigger on the tables Parley writes)."""
    tables = ("settings", "events", "rooms")
    if db_url.startswith("sqlite"):
        import sqlite3

        from parley.store.sqlite import sqlite_path

        conn = sqlite3.connect(sqlite_path(db_url), timeout=10)
        for table in tables:
            for op in ("INSERT", "UPDATE"):
                name = f"full_{table}_{op.lower()}"
                conn.execute(f"CREATE TRIGGER {name} BEFORE {op} ON {table} BEGIN SELECT RAISE(ABORT, "
                             "'database or disk is full'); END" if on else f"DROP TRIGGER {name}")
        conn.commit()
        conn.close()
        return
    import asyncpg

    from tests.scale.services import run_sync

    schema = db_url.split("search_path=")[1].split("&")[0]

    async def run() -> None:
        conn = await asyncpg.connect(db_url.split("?")[0])
        try:
            await conn.execute(f'SET search_path = "{schema}"')
            if on:
                await conn.execute("CREATE FUNCTION full_disk() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION "
                                   "'could not extend file: No space left on device' USING ERRCODE = '53100'; "
                                   "END $$ LANGUAGE plpgsql")
            for table in tables:
                await conn.execute(f"CREATE TRIGGER full_disk BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW "
                                   "EXECUTE FUNCTION full_disk()" if on else f"DROP TRIGGER full_disk ON {table}")
            if not on:
                await conn.execute("DROP FUNCTION full_disk()")
        finally:
            await conn.close()

    run_sync(run())


async def test_healthz_fails_while_the_store_takes_no_writes(make_server, db_url):
    server = make_server()
    _, token = register(server)
    room = unique("full")
    c = await Client.connect(server, token)
    head = (await c.join(room))["last_seq"]
    assert http("GET", server.http + "/healthz")[0] == 200
    _writes_fail(db_url, True)
    try:
        await asyncio.sleep(1.1)  # /healthz remembers a success for a second
        status, body = http("GET", server.http + "/healthz")
        assert status == 503 and body["error"] == "unavailable", (status, body)
        await c.send({"type": "send", "room": room, "text": "into a full disk", "client_id": "f1", "ref": "f"})
        assert (await c.expect("error", ref="f"))["code"] == "unavailable"
    finally:
        _writes_fail(db_url, False)
    await asyncio.sleep(1.1)
    assert http("GET", server.http + "/healthz")[0] == 200
    assert (await c.say(room, "disk has room again", client_id="f1"))["seq"] == head + 1  # nothing stored before
    await c.close()


async def test_failed_logins_are_throttled_per_account(make_server):
    from parley.auth.throttle import ACCOUNT_FAILURES

    server = make_server()
    name, _ = register(server)
    other, _ = register(server)
    for _ in range(ACCOUNT_FAILURES):
        status, _ = http("POST", server.http + "/api/login", {"username": name, "password": "wrong-password"})
        assert status == 401
    status, body = http("POST", server.http + "/api/login", {"username": name.upper(), "password": PASSWORD})
    assert status == 429 and body["error"] == "rate_limited", (status, body)  # the right password waits too
    assert http("POST", server.http + "/api/login", {"username": other, "password": PASSWORD})[0] == 200


async def test_concurrent_password_checks_are_bounded(make_server):
    """Far more logins at once than the hashing pool takes: the excess is refused at once with 429 and a
    Retry-After, the rest are answered, and the server goes on serving."""
    from parley.auth.throttle import HASH_QUEUE, HASH_WORKERS

    server = make_server()
    name, _ = register(server)
    burst = 3 * (HASH_WORKERS + HASH_QUEUE)

    async with aiohttp.ClientSession() as session:
        async def attempt(i: int) -> int:
            async with session.post(server.http + "/api/login",
                                    json={"username": f"nobody{i}", "password": "wrong-password"}) as r:
                if r.status == 429:
                    assert int(r.headers["Retry-After"]) >= 1
                return r.status

        statuses = await asyncio.gather(*(attempt(i) for i in range(burst)))
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(429) >= 1 and statuses.count(401) >= HASH_WORKERS, statuses
    status, _ = http("POST", server.http + "/api/login", {"username": name, "password": PASSWORD})
    assert status == 200


async def test_a_deleted_account_is_locked_out_everywhere(make_server, db_url):
    """Tokens stay validly signed after the account is gone: the server checks the account, refuses new
    connections and REST calls, and ends the sessions that were open (on every node, within a heartbeat)."""
    server = make_server("--heartbeat", "0.5")
    name, token = register(server)
    room = unique("gone")
    watcher, = await in_room(server, room, register(server))
    doomed = await Client.connect(server, token)
    await doomed.join(room)
    # in a thread: the clients must go on answering the 0.5 s heartbeat while the CLI starts and runs
    result = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "parley", "user", "delete", name.upper(),
                                                      "--db", db_url], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert await close_code(doomed) == 4401
    await watcher.expect("presence", user=name, online=False)
    status, body = http("GET", f"{server.http}/api/rooms", token=token)
    assert status == 401 and "no longer exists" in body["message"]
    again = await Client.connect(server)
    await again.send({"type": "auth", "token": token, "ref": "a"})
    refusal = await again.expect("error", ref="a")
    assert refusal["code"] == "unauthenticated" and "no longer exists" in refusal["message"]
    assert await close_code(again) == 4401
    await watcher.close()


async def test_sigterm_under_traffic_says_1001_to_everyone(make_server):
    """SIGTERM while clients send and one has stopped reading (its output queued): every connection gets
    what was queued for it and the close frame 1001, none is cut off (1006), and every ack was stored."""
    server = make_server("--rate", "0")
    room = unique("term")
    accounts = [register(server) for _ in range(6)]
    clients = await in_room(server, room, *accounts)
    import websockets

    acked: set[str] = set()

    async def pump(c: Client, tag: str) -> None:
        i = 0
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await c.send({"type": "send", "room": room, "text": "x" * 300, "client_id": f"{tag}{i}"})
                i += 1
                if i % 25 == 0:
                    await asyncio.sleep(0.01)

    async def drain(c: Client, pause: float) -> int | None:
        await asyncio.sleep(pause)
        try:
            while True:
                frame = json.loads(await c.ws.recv())
                if frame["type"] == "ack":
                    acked.add(frame["client_id"])
        except websockets.ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None

    pumps = [asyncio.create_task(pump(c, f"p{n}-")) for n, c in enumerate(clients[:3])]
    readers = [asyncio.create_task(drain(c, 2.5 if n == 5 else 0)) for n, c in enumerate(clients)]
    await asyncio.sleep(1.0)
    server.proc.send_signal(signal.SIGTERM)
    codes = await asyncio.wait_for(asyncio.gather(*readers), 30)
    for p in pumps:
        p.cancel()
    assert codes == [1001] * 6, codes
    assert server.proc.wait(15) == 0
    server.start()
    stored = {m["client_id"] for m in all_messages(server, accounts[0][1], room)}
    assert acked and acked <= stored


def all_messages(server, token: str, room: str) -> list[dict]:
    out, after = [], 0
    while True:
        page = rest_messages(server, token, room, after=after, limit=100)
        if not page:
            return out
        out += page
        after = page[-1]["seq"]


async def test_malformed_http_requests_are_answered_without_tracebacks(make_server):
    server = make_server()
    for junk in (b"GET / HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nBad Header\r\n\r\n",
                 b"\x16\x03\x01\x00\x05hello", b"POST /api/login HTTP/1.1\r\nContent-Length: -1\r\n\r\n"):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(junk)
        answer = await asyncio.wait_for(reader.read(200), 5)
        assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0], (junk, answer)
        writer.close()
    assert http("GET", server.http + "/healthz")[0] == 200
    assert "Traceback" not in server.logs()
