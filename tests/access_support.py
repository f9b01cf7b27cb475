"""Helpers shared by the access and membership tests (tests/test_access.py, tests/test_membership.py,
tests/scale/test_access_cluster.py): the `parley` CLI (admins, invite codes), servers of a test module's
own with flags, REST calls on rooms, WebSocket request/answer by `ref`, and masking room names so that two
answers can be compared for equality."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from tests.scale.services import pg_schema
from tests.support import PASSWORD, Client, ServerProcess, http, login, register, unique

# --- the CLI --------------------------------------------------------------------------------------


def parley(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "parley", *args], input=stdin, capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


def cli_user(db: str, name: str | None = None, admin: bool = False) -> str:
    """`parley user add NAME [--admin] --db URL` (password on stdin); the name."""
    name = name or unique("cli")
    result = parley("user", "add", name, *(["--admin"] if admin else []), "--db", db, stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    return name


def cli_invite(db: str, uses: int = 1, expires: int = 3600) -> str:
    """`parley invite create --db URL --uses N --expires S`: the code (stdout's last line)."""
    result = parley("invite", "create", "--db", db, "--uses", str(uses), "--expires", str(expires))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines, f"no code printed: {result.stdout!r} {result.stderr!r}"
    return lines[-1].strip()


# --- servers of a module's own ---------------------------------------------------------------------


@contextmanager
def store_url(store_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh store: a SQLite file, or an empty PostgreSQL schema (dropped afterwards)."""
    if store_kind == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('store')}/parley.db"
        return
    with pg_schema() as url:
        yield url


@contextmanager
def running(db: str, *args: str, env: dict[str, str] | None = None, log: Path | None = None) -> Iterator[ServerProcess]:
    srv = ServerProcess(db, *args, env=env, log=log)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@contextmanager
def serving(*servers: ServerProcess) -> Iterator[tuple[ServerProcess, ...]]:
    """Start every server at once (each start takes about a second); stop them all afterwards."""
    try:
        parallel(*[srv.start for srv in servers])
        yield servers
    finally:
        for srv in servers:
            srv.stop()


def token_of(server: ServerProcess, name: str) -> str:
    status, body = login(server, name)
    assert status == 200, body
    return body["token"]


def register_invited(server: ServerProcess, name: str | None = None, invite: str | None = None) -> tuple[str, str]:
    """A new account (with an invite code, for --registration invite); (username, token)."""
    if invite is None:
        return register(server, name)
    name = name or unique()
    status, body = http("POST", server.http + "/api/register", {"username": name, "password": PASSWORD,
                                                                 "invite": invite})
    assert status == 201, body
    return body["user"], body["token"]


def register_many(server: ServerProcess, names: Iterable[str | None], invite: str | None = None
                  ) -> list[tuple[str, str]]:
    """Register accounts in parallel (each costs an argon2 hash on the server): [(name, token)]."""
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda n: register_invited(server, n, invite), list(names)))


def parallel(*calls: Callable[[], Any]) -> list[Any]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda f: f(), calls))


# --- REST -------------------------------------------------------------------------------------------


def api(server: ServerProcess, method: str, path: str, token: str | None, body: Any = None) -> tuple[int, Any]:
    """One call; a 429 (join/post rate limits) is retried a little later, like a real client does."""
    for _ in range(100):
        status, answer = http(method, server.http + path, body, token=token)
        if status != 429:
            return status, answer
        time.sleep(0.1)
    raise AssertionError(f"{method} {path} still rate limited after 10 s")


def create_room(server: ServerProcess, token: str, name: str, visibility: str = "public",
                topic: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "visibility": visibility}
    if topic is not None:
        body["topic"] = topic
    status, answer = api(server, "POST", "/api/rooms", token, body)
    assert status == 201, answer
    return answer


def room_info(server: ServerProcess, token: str, room: str) -> tuple[int, Any]:
    return api(server, "GET", f"/api/rooms/{room}", token)


def members(server: ServerProcess, token: str, room: str) -> dict[str, Any]:
    status, answer = api(server, "GET", f"/api/rooms/{room}/members", token)
    assert status == 200, answer
    return answer


def names(entries: list[Any]) -> list[str]:
    """`invited`/`banned` entries, whether given as names or as objects with a `user`."""
    return sorted(e if isinstance(e, str) else e["user"] for e in entries)


def manage(server: ServerProcess, token: str, room: str, action: str, **fields: Any) -> tuple[int, Any]:
    return api(server, "POST", f"/api/rooms/{room}/manage", token, {"action": action, **fields})


def manage_ok(server: ServerProcess, token: str, room: str, action: str, **fields: Any) -> int:
    status, answer = manage(server, token, room, action, **fields)
    assert status == 200, (action, fields, answer)
    return answer["seq"]


def join_rest(server: ServerProcess, token: str, room: str) -> tuple[int, Any]:
    return api(server, "POST", f"/api/rooms/{room}/join", token, {})


def join_ok(server: ServerProcess, token: str, room: str) -> dict[str, Any]:
    status, answer = join_rest(server, token, room)
    assert status == 200, answer
    return answer


def post(server: ServerProcess, token: str, room: str, text: str) -> tuple[int, Any]:
    return api(server, "POST", f"/api/rooms/{room}/messages", token, {"text": text, "client_id": unique("c")})


def post_ok(server: ServerProcess, token: str, room: str, text: str) -> dict[str, Any]:
    status, answer = post(server, token, room, text)
    assert status == 201, answer
    return answer


def events(server: ServerProcess, token: str, room: str, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    status, answer = api(server, "GET", f"/api/rooms/{room}/messages?after={after}&limit={limit}", token)
    assert status == 200, answer
    return answer["messages"]


def my_rooms(server: ServerProcess, token: str) -> dict[str, dict[str, Any]]:
    """GET /api/me/rooms by room name."""
    status, answer = api(server, "GET", "/api/me/rooms", token)
    assert status == 200, answer
    return {r["name"]: r for r in answer["rooms"]}


def room_state(server: ServerProcess, token: str, room: str) -> dict[str, Any]:
    """What a moderator sees of a room (its info, members, invited, banned): compared before and after a
    refused action to show that nothing changed."""
    status, info = room_info(server, token, room)
    assert status == 200, info
    m = members(server, token, room)
    return {"info": info,
            "members": sorted((x["user"], x["role"], x["muted"]) for x in m["members"]),
            "invited": names(m.get("invited", [])), "banned": names(m.get("banned", []))}


# --- WebSocket --------------------------------------------------------------------------------------


async def ask(client: Client, frame: dict[str, Any]) -> dict[str, Any]:
    """Send `frame` with a fresh ref and return the direct answer (the frame echoing that ref). A join
    refused with `rate_limited` is sent again a little later, like a real client does."""
    ref = unique("ref-")
    for _ in range(100):
        await client.send({**frame, "ref": ref})
        reply = await client.next_where(lambda f: f.get("ref") == ref)
        if reply.get("type") == "error" and reply.get("code") == "rate_limited":
            await asyncio.sleep(0.1)
            continue
        return reply
    raise AssertionError(f"{frame} still rate limited after 10 s")


class Connections:
    """Client.connect that remembers what it opened, to close it all when the test ends (failing or not:
    a server waits for open connections when it stops)."""

    def __init__(self) -> None:
        self.opened: list[Client] = []

    async def __call__(self, server: ServerProcess, token: str | None = None, rooms: Iterable[str] = ()) -> Client:
        client = await Client.connect(server, token)
        self.opened.append(client)
        for room in rooms:
            await client.join(room)
        return client

    async def close(self) -> None:
        for client in self.opened:
            with suppress(Exception):
                await client.close()


async def flush(client: Client) -> None:
    """ping -> pong: everything the server sent this connection before answering is now in `pending`."""
    reply = await ask(client, {"type": "ping"})
    assert reply["type"] == "pong", reply


def of_room(client: Client, room: str, kind: str | None = None) -> list[dict[str, Any]]:
    """Frames of `room` (of type `kind`, when given) waiting in `pending`, taken out of it."""
    got = [f for f in client.pending if f.get("room") == room and (kind is None or f.get("type") == kind)]
    client.pending = [f for f in client.pending if f not in got]
    return got


# --- comparing answers ------------------------------------------------------------------------------


def masked(value: Any, room: str, mask: str = "<room>") -> Any:
    """`value` with the room name replaced by a placeholder and `ref`s dropped: the answer for a private
    room and for a name never used must be equal under this."""
    if isinstance(value, str):
        return value.replace(room, mask)
    if isinstance(value, dict):
        return {k: masked(v, room, mask) for k, v in value.items() if k != "ref"}
    if isinstance(value, list | tuple):
        return [masked(v, room, mask) for v in value]
    return value


async def wait_for(check: Callable[[], Any], timeout: float = 10, interval: float = 0.05) -> Any:
    """Poll `check` until it returns something true (for effects that have no direct answer, like the
    `read` frame); fails with the last value after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {timeout} s")
        await asyncio.sleep(interval)


def expire_invite(db: str, code: str) -> None:
    """Move an invite code's expiry into the past, straight in the store (codes live at least 60 s): what
    a server sees of a code whose time is up."""
    sql = "UPDATE invites SET expires_ms = {} WHERE code = {}"
    past = int((time.time() - 3600) * 1000)
    if db.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(db.split(":///", 1)[1].split("?", 1)[0], timeout=10) as conn:
            assert conn.execute(sql.format("?", "?"), (past, code)).rowcount == 1
        return
    import asyncpg

    from tests.scale.services import run_sync

    async def update() -> str:
        conn = await asyncpg.connect(db)
        try:
            return await conn.execute(sql.format("$1", "$2"), past, code)
        finally:
            await conn.close()

    assert run_sync(update()) == "UPDATE 1"
