"""Test helpers: a real `parley serve` in a subprocess on a free port, and small real clients for it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import websockets

PASSWORD = "correct-horse-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 10) -> None:
    """SIGTERM a child process that is still running and wait for it; SIGKILL it after `timeout` seconds."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def kill_process(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL a child process that is still running and wait for it."""
    if proc and proc.poll() is None:
        proc.kill()
        proc.wait()


class ServerProcess:
    """`python -m parley serve` on a free port; start, stop (SIGTERM), kill -9 and restart on the same port."""

    def __init__(self, db: str, *args: str, port: int | None = None, env: dict[str, str] | None = None,
                 log: Path | None = None) -> None:
        self.db = db
        self.args = list(args)
        self.port = port or free_port()
        # every test makes rooms of its own with a few shared accounts: the room-creation limit is tested
        # on its own (tests/test_hardening.py), not by the whole suite
        self.env = {**os.environ, "PARLEY_RATE": os.environ.get("PARLEY_TEST_RATE", "20"), "PARLEY_NEW_ROOMS": "0",
                    **(env or {})}
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "parley", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                "--db", self.db, "--log-level", "info", *self.args]

    def start(self, timeout: float = 30) -> ServerProcess:
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(self.command(), env=self.env, stdout=out, stderr=out)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.http + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        raise RuntimeError(f"server did not answer /healthz within {timeout}s")

    def stop(self) -> None:
        stop_process(self.proc)

    def kill9(self) -> None:
        kill_process(self.proc)

    def restart(self) -> ServerProcess:
        self.stop()
        return self.start()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""


def http(method: str, url: str, body: Any = None, token: str | None = None,
         headers: dict[str, str] | None = None, raw: bytes | None = None) -> tuple[int, Any]:
    """One HTTP request; returns (status, decoded JSON body or text)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    h = {"Content-Type": "application/json", **(headers or {})}
    if token:
        h["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, payload = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, payload = e.code, e.read()
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode(errors="replace")


def unique(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def register(server: ServerProcess, name: str | None = None) -> tuple[str, str]:
    """A new account on `server`; returns (username, token)."""
    name = name or unique()
    status, body = http("POST", server.http + "/api/register", {"username": name, "password": PASSWORD})
    assert status == 201, body
    return body["user"], body["token"]


class Client:
    """A real WebSocket client speaking Parley's protocol.

    Frames that `expect` and `nothing` pass over are kept, in order, for later reads: waiting for an ack
    does not lose the `message` frame that arrived before it.
    """

    def __init__(self, ws: websockets.ClientConnection, user: str | None = None) -> None:
        self.ws = ws
        self.user = user
        self.pending: list[dict[str, Any]] = []  # received, not yet consumed

    @classmethod
    async def connect(cls, server: ServerProcess, token: str | None = None, user: str | None = None,
                      **kwargs: Any) -> Client:
        # max_queue=None: frames a test never reads must not pause reading, or close() would wait for
        # a close frame stuck behind them until its timeout
        ws = await websockets.connect(server.ws_url, **{"max_size": None, "max_queue": None, **kwargs})
        client = cls(ws, user)
        if token is not None:
            await client.send({"type": "auth", "token": token})
            ready = await client.expect("ready")
            client.user = ready["user"]
        return client

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    async def _read(self, timeout: float) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def recv(self, timeout: float = 10) -> dict[str, Any]:
        """The next frame not consumed yet."""
        if self.pending:
            return self.pending.pop(0)
        return await self._read(timeout)

    @staticmethod
    def _matches(frame: dict[str, Any], kind: str | None, match: dict[str, Any]) -> bool:
        return (kind is None or frame.get("type") == kind) and all(frame.get(k) == v for k, v in match.items())

    async def expect(self, kind: str | None, timeout: float = 10, **match: Any) -> dict[str, Any]:
        """The next frame of type `kind` (any type if None) with matching fields; others are kept for later."""
        for i, frame in enumerate(self.pending):
            if self._matches(frame, kind, match):
                return self.pending.pop(i)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            frame = await self._read(max(left, 0.01))
            if self._matches(frame, kind, match):
                return frame
            self.pending.append(frame)

    async def expect_any(self, *kinds: str, timeout: float = 10) -> dict[str, Any]:
        """The next frame whose type is one of `kinds`; others are kept for later."""
        return await self.next_where(lambda f: f.get("type") in kinds, timeout)

    async def next_where(self, wanted: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict[str, Any]:
        """The next frame `wanted` accepts; others are kept for later."""
        for i, frame in enumerate(self.pending):
            if wanted(frame):
                return self.pending.pop(i)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            frame = await self._read(max(deadline - asyncio.get_running_loop().time(), 0.01))
            if wanted(frame):
                return frame
            self.pending.append(frame)

    async def join(self, room: str, since: int | None = None) -> dict[str, Any]:
        """Join and return `joined` (joining again, like a real client, while the user's join rate limit
        refuses it; any other error fails the test)."""
        ref = f"join-{unique()}"
        frame: dict[str, Any] = {"type": "join", "room": room, "ref": ref}
        if since is not None:
            frame["since"] = since
        for _ in range(100):
            await self.send(frame)
            reply = await self.next_where(lambda f: f.get("ref") == ref and f.get("type") in ("joined", "error"))
            if reply["type"] == "joined":
                return reply
            assert reply["code"] == "rate_limited", reply
            await asyncio.sleep(0.1)
        raise AssertionError(f"joining {room} still rate limited after 10 s")

    async def say(self, room: str, text: str, client_id: str | None = None) -> dict[str, Any]:
        """Send a message and return its ack (sending it again, like a real client, while the user's rate
        limit refuses it; any other error fails the test)."""
        cid = client_id or unique("c")
        ref = f"say-{cid}"
        for _ in range(100):
            await self.send({"type": "send", "room": room, "text": text, "client_id": cid, "ref": ref})
            frame = await self.next_where(lambda f: (f.get("type") == "ack" and f.get("client_id") == cid)
                                          or (f.get("type") == "error" and f.get("ref") == ref))
            if frame["type"] == "ack":
                return frame
            assert frame["code"] == "rate_limited", frame
            await asyncio.sleep(0.1)
        raise AssertionError(f"{cid} still rate limited after 10 s")

    async def messages(self, n: int, room: str | None = None, timeout: float = 10) -> list[dict[str, Any]]:
        """The next n `message` frames (of `room`, when given)."""
        match = {} if room is None else {"room": room}
        return [await self.expect("message", timeout=timeout, **match) for _ in range(n)]

    async def nothing(self, seconds: float = 0.5, kind: str | None = None, **match: Any) -> list[dict[str, Any]]:
        """Frames (of type `kind` and matching fields, when given) already here or arriving within `seconds`.

        Used to show that something did not arrive; frames of other kinds are kept for later reads.
        """
        got = [f for f in self.pending if self._matches(f, kind, match)]
        self.pending = [f for f in self.pending if not self._matches(f, kind, match)]
        try:
            while True:
                frame = await self._read(seconds)
                if self._matches(frame, kind, match):
                    got.append(frame)
                else:
                    self.pending.append(frame)
        except TimeoutError:
            return got

    async def close(self) -> None:
        await self.ws.close()


# --- helpers shared by the contract tests (tests/test_*.py) ---------------------------------------


def login(server: ServerProcess, name: str, password: str = PASSWORD) -> tuple[int, Any]:
    return http("POST", server.http + "/api/login", {"username": name, "password": password})


def rest_events(server: ServerProcess, token: str, room: str, **params: int) -> list[dict[str, Any]]:
    """GET /api/rooms/{room}/messages with query `params`; asserts 200 and returns the events (every kind)."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    status, body = http("GET", f"{server.http}/api/rooms/{room}/messages" + (f"?{query}" if query else ""),
                        token=token)
    assert status == 200, body
    return body["messages"]


def rest_messages(server: ServerProcess, token: str, room: str, **params: int) -> list[dict[str, Any]]:
    """The `message` events of rest_events (membership events such as the room's creation left out)."""
    return [e for e in rest_events(server, token, room, **params) if e["type"] == "message"]


def room_head(server: ServerProcess, token: str, room: str) -> int:
    """The seq of the last event stored in `room` (GET /api/rooms/{room}): what the next event follows."""
    status, body = http("GET", f"{server.http}/api/rooms/{room}", token=token)
    assert status == 200, body
    return body["last_seq"]


def kinds(events: list[dict[str, Any]]) -> list[tuple[int, str, str | None]]:
    """(seq, type, member action or message text) of each event: a log at a glance."""
    return [(e["seq"], e["type"], e.get("action", e.get("text"))) for e in events]


async def send_all(client: Client, room: str, texts: list[str]) -> list[dict[str, Any]]:
    """Send every text at once (no waiting in between), then return their acks in sending order.

    Like a real client, what is refused with `rate_limited` (the user's budget is shared by all their
    connections and REST) is sent again, with the same client_id, a little later.
    """
    cids = [unique("c") for _ in texts]
    by_cid = dict(zip(cids, texts, strict=True))
    for cid, text in by_cid.items():
        await client.send({"type": "send", "room": room, "text": text, "client_id": cid, "ref": cid})
    acks: dict[str, dict[str, Any]] = {}
    retries: set[asyncio.Task[None]] = set()

    async def again(cid: str, delay: float) -> None:
        await asyncio.sleep(delay)
        await client.send({"type": "send", "room": room, "text": by_cid[cid], "client_id": cid, "ref": cid})

    refused = 0
    while len(acks) < len(cids):
        frame = await client.expect_any("ack", "error")
        if frame["type"] == "ack":
            acks[frame["client_id"]] = frame
        elif frame["type"] == "error" and frame.get("code") == "rate_limited" and frame.get("ref") in by_cid:
            # each refused one again later, one every 50 ms (the default rate, 20/s) in the order they were
            # refused, while the acks of the others keep coming
            refused += 1
            task = asyncio.create_task(again(frame["ref"], 0.2 + 0.05 * refused))
            retries.add(task)
            task.add_done_callback(retries.discard)
        else:
            raise AssertionError(f"unexpected error while sending: {frame}")
    return [acks[c] for c in cids]


def all_rooms(server: ServerProcess, token: str) -> list[dict[str, Any]]:
    """Every room of GET /api/rooms, following `next` page by page."""
    rooms: list[dict[str, Any]] = []
    after = ""
    while True:
        status, body = http("GET", f"{server.http}/api/rooms?limit=1000" + (f"&after={after}" if after else ""),
                            token=token)
        assert status == 200, body
        rooms += body["rooms"]
        if not body["next"]:
            return rooms
        after = body["next"]


async def fill_room(server: ServerProcess, room: str, n: int, token: str | None = None) -> list[dict[str, Any]]:
    """Store n messages "m1".."mn" in `room` (via as many connections as the burst limit needs); their acks."""
    token = token or register(server)[1]
    acks: list[dict[str, Any]] = []
    for start in range(0, n, 40):
        client = await Client.connect(server, token)
        await client.join(room)
        acks += await send_all(client, room, [f"m{i}" for i in range(start + 1, min(start + 40, n) + 1)])
        await client.close()
    return acks


async def close_code(client: Client, timeout: float = 10) -> int | None:
    """Read (and drop) frames until the server closes the connection; the close code it sent."""
    async def drain() -> None:
        try:
            while True:
                await client.ws.recv()
        except websockets.ConnectionClosed:
            pass

    await asyncio.wait_for(drain(), timeout)
    return client.ws.close_code


async def connect_all(server: ServerProcess, *accounts: tuple[str, str]) -> list[Client]:
    """One authenticated connection per (username, token), in order."""
    return [await Client.connect(server, token) for _, token in accounts]


async def in_room(server: ServerProcess, room: str, *accounts: tuple[str, str]) -> list[Client]:
    """One connection per (username, token), all connected first, then each joined to `room` in order."""
    clients = await connect_all(server, *accounts)
    for client in clients:
        await client.join(room)
    return clients


async def close_all(*clients: Client) -> None:
    for client in clients:
        await client.close()


def upload(server: ServerProcess, token: str, room: str, data: bytes, filename: str = "file.bin",
           client_id: str | None = None, content_type: str = "application/octet-stream",
           **fields: str | int | list[str]) -> tuple[int, Any]:
    """Upload one file as a message (multipart/form-data, fields first, the file last): (status, JSON body).
    A list gives a field several times."""
    boundary = uuid.uuid4().hex
    parts = [("client_id", client_id or unique("f"))]
    for k, v in fields.items():
        parts.extend((k, str(one)) for one in (v if isinstance(v, list) else [v]))
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                    for k, v in parts)
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
             f"Content-Type: {content_type}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return http("POST", f"{server.http}/api/rooms/{room}/files", token=token, raw=body,
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})


def download(server: ServerProcess, token: str | None, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET a file (path: /api/files/...): (status, headers, body)."""
    req = urllib.request.Request(server.http + path, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
