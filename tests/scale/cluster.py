"""Helpers for the scale-out tests: chatting clients that count what they get, and the pieces the tests
start themselves (a private redis-server, a TCP proxy that can cut PostgreSQL off, nginx with the example
configuration).

A Chatter is one user in one room: it sends at a steady rate, keeps every `message` frame it receives,
resends what was not acked (same client_id, so nothing is stored twice) and, when its connection drops,
reconnects and resumes with `since` = the last seq it saw. `verify` then counts, per client, messages
lost, duplicated and out of order against the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

from tests.scale.services import require
from tests.support import ServerProcess, free_port, http, kill_process, stop_process

EXAMPLE_NGINX = Path(__file__).resolve().parents[2] / "examples" / "nginx.conf"
ROOM_EVENTS = ("message", "member", "topic")  # frames that take a seq in the room log


# clients -----------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What happened to one client_id: its first send time and every reply (`ack` or an error code)."""

    first_sent: float
    replies: list[tuple[float, str]] = field(default_factory=list)


class Chatter:
    """A user in one room sending steadily through `url()` and counting every message it receives."""

    def __init__(self, user: str, token: str, url: Callable[[], str], room: str, rate: float = 8.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.user, self.token, self.url, self.room, self.rate = user, token, url, room, rate
        self.ssl = ssl_context
        self.seqs: list[int] = []  # seq of every `message` frame, in arrival order (duplicates included)
        self.acked: dict[str, int] = {}  # client_id -> seq
        self.pending: dict[str, str] = {}  # client_id -> text: sent, not acked yet
        self.retry: list[str] = []  # client_ids refused with `unavailable`, to send again
        self.outcomes: dict[str, Outcome] = {}
        self.errors: Counter[str] = Counter()
        self.connects = 0
        self.sending = True
        self.joined = asyncio.Event()
        self._stop = False
        self._ws: Any = None
        self._task: asyncio.Task[None] | None = None
        self._count = 0

    @property
    def last_seq(self) -> int:
        return self.seqs[-1] if self.seqs else 0

    def start(self) -> Chatter:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def stop(self) -> None:
        self._stop = True
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            await asyncio.wait([self._task], timeout=5)
            self._task.cancel()

    async def _run(self) -> None:
        while not self._stop:
            ws: Any = None
            url = self.url()
            try:
                async with websockets.connect(url, ssl=self.ssl, max_size=None, open_timeout=5,
                                              ping_interval=None, close_timeout=1) as ws:
                    self._ws = ws
                    self.connects += 1
                    self._connected(url)
                    await ws.send(json.dumps({"type": "auth", "token": self.token}))
                    await ws.send(json.dumps({"type": "join", "room": self.room, "since": self.last_seq}))
                    for cid in list(self.pending):  # not acked before the connection dropped: again
                        await self._send(ws, cid)
                    writer = asyncio.get_running_loop().create_task(self._writer(ws))
                    try:
                        async for raw in ws:
                            self._frame(json.loads(raw))
                    finally:
                        writer.cancel()
            except (OSError, TimeoutError, websockets.WebSocketException) as exc:
                if ws is None and not self._stop:
                    self._connect_failed(exc)
            if ws is not None and not self._stop:
                self._ended(ws)
            self._ws = None
            if not self._stop:
                await asyncio.sleep(0.1)

    def _connected(self, url: str) -> None:
        """A connection to `url` is open (for subclasses that record more)."""

    def _connect_failed(self, exc: BaseException) -> None:
        """A connection attempt failed."""

    def _ended(self, ws: Any) -> None:
        """A connection ended (not because the chatter stopped)."""

    async def _send(self, ws: Any, cid: str) -> None:
        self.outcomes.setdefault(cid, Outcome(time.monotonic()))
        await ws.send(json.dumps({"type": "send", "room": self.room, "text": self.pending[cid], "client_id": cid,
                                  "ref": cid}))

    async def _writer(self, ws: Any) -> None:
        await self.joined.wait()
        while True:
            await asyncio.sleep(1 / self.rate)
            if self.retry:
                cid = self.retry.pop(0)
                if cid in self.pending:
                    await self._send(ws, cid)
            elif self.sending:
                self._count += 1
                cid = f"{self.user}-{self._count}-{uuid.uuid4().hex[:6]}"
                self.pending[cid] = f"{self.user} says {self._count}"
                await self._send(ws, cid)

    def _frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        now = time.monotonic()
        if kind in ROOM_EVENTS and frame.get("room") == self.room:
            self.seqs.append(frame["seq"])
        elif kind == "joined":
            self.joined.set()
        elif kind == "ack":
            cid = frame["client_id"]
            self.acked[cid] = frame["seq"]
            self.pending.pop(cid, None)
            if cid in self.outcomes:
                self.outcomes[cid].replies.append((now, "ack"))
        elif kind == "error":
            code = frame.get("code", "?")
            self.errors[code] += 1
            cid = frame.get("ref")
            if isinstance(cid, str) and cid in self.outcomes:
                self.outcomes[cid].replies.append((now, code))
            if isinstance(cid, str) and cid in self.pending and code in ("unavailable", "rate_limited", "internal"):
                self.retry.append(cid)


async def start_chatters(chatters: Iterable[Chatter], timeout: float = 30) -> list[Chatter]:
    """Start every chatter and wait until each has joined its room; on timeout, say which did not and what
    the server told them."""
    out = [c.start() for c in chatters]
    try:
        await asyncio.wait_for(asyncio.gather(*(c.joined.wait() for c in out)), timeout)
    except TimeoutError:
        waiting = [(c.user, c.connects, dict(c.errors)) for c in out if not c.joined.is_set()]
        raise AssertionError(f"not joined after {timeout} s (user, connects, errors): {waiting}") from None
    return out


def stored_head(node: ServerProcess, token: str, room: str) -> int:
    status, body = http("GET", node.http + "/api/rooms", token=token)
    assert status == 200, body
    return next((r["last_seq"] for r in body["rooms"] if r["name"] == room), 0)


def stored_messages(node: ServerProcess, token: str, room: str) -> list[dict[str, Any]]:
    """The whole stored log of `room`: messages and membership events."""
    out: list[dict[str, Any]] = []
    while True:
        status, body = http("GET", f"{node.http}/api/rooms/{room}/messages?after={len(out)}&limit=100", token=token)
        assert status == 200, body
        if not body["messages"]:
            return out
        out += body["messages"]


async def drain(chatters: list[Chatter], node: ServerProcess, timeout: float = 45) -> int:
    """Stop sending new messages, let every pending one be acked, and wait until every chatter has every
    stored message (or the timeout). Returns the room's last stored seq."""
    for c in chatters:
        c.sending = False
    deadline = time.monotonic() + timeout
    while any(c.pending for c in chatters) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    head = 0
    while time.monotonic() < deadline:  # (HTTP in a thread: this loop may be running a TcpProxy the node needs)
        head = await asyncio.to_thread(stored_head, node, chatters[0].token, chatters[0].room)
        if all(c.last_seq >= head for c in chatters):
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)  # anything arriving late would be a duplicate: give it the chance to show
    return head


@dataclass
class Tally:
    acked: int
    stored: int
    lost: int  # acked messages some client never received
    missing: int  # stored messages some client never received (acked or not)
    duplicates: int
    out_of_order: int
    unacked: int

    def __str__(self) -> str:
        return (f"{self.acked} acked, {self.stored} stored, lost {self.lost}, missing {self.missing}, duplicates "
                f"{self.duplicates}, out of order {self.out_of_order}, never acked {self.unacked}")


def verify(chatters: list[Chatter], stored: list[dict[str, Any]]) -> Tally:
    """Count, over all clients, what the test guarantees against: the store and every client agree."""
    seqs = [m["seq"] for m in stored]
    assert seqs == list(range(1, len(seqs) + 1)), f"stored seqs are not 1..N: {seqs[:20]}..."
    stored = [m for m in stored if m["type"] == "message"]
    by_cid = Counter(m["client_id"] for m in stored)
    assert all(n == 1 for n in by_cid.values()), "a client_id is stored twice"
    stored_seq = {m["client_id"]: m["seq"] for m in stored}
    acked = {cid: seq for c in chatters for cid, seq in c.acked.items()}
    for cid, seq in acked.items():
        assert stored_seq.get(cid) == seq, f"ack for {cid} said seq {seq}, the store has {stored_seq.get(cid)}"
    lost = missing = duplicates = out_of_order = 0
    for c in chatters:
        got = set(c.seqs)
        duplicates += len(c.seqs) - len(got)
        out_of_order += sum(1 for a, b in zip(c.seqs, c.seqs[1:], strict=False) if b <= a)
        lost += sum(1 for seq in acked.values() if seq not in got)
        missing += sum(1 for seq in seqs if seq not in got)
        if got != set(seqs) or len(got) != len(c.seqs):
            print(f"{c.user}: connected {c.connects}x, missing {sorted(set(seqs) - got)}, "
                  f"duplicates {sorted(s for s, n in Counter(c.seqs).items() if n > 1)}")
    return Tally(acked=len(acked), stored=len(stored), lost=lost, missing=missing, duplicates=duplicates,
                 out_of_order=out_of_order, unacked=sum(len(c.pending) for c in chatters))


# a private redis-server ----------------------------------------------------------------------------------


class RedisServer:
    """`redis-server` on a free port with no persistence, owned by the test (the machine's Redis is left alone)."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        require("redis-server", None if binary else "redis-server is not installed")
        self.binary = binary
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        log = open(self.workdir / f"redis-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.workdir)], stdout=log, stderr=log)
        wait_port(self.port, 10)
        return self

    def kill(self) -> None:
        kill_process(self.proc)


def wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


# a TCP proxy that can cut a service off -------------------------------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; `cut()` drops every connection and refuses new ones until
    `resume()`. Runs on the test's event loop."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.connections = 0  # accepted since start
        self.forwarded = 0  # bytes, both directions

    async def start(self) -> TcpProxy:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port, reuse_address=True)
        return self

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await self._read(src):
                    dst.write(data)
                    self.forwarded += len(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.links -= {writer, up_writer}

    async def _read(self, src: asyncio.StreamReader) -> bytes:
        """The next chunk to forward (b"" at the end); subclasses may hold it back."""
        return await src.read(65536)

    async def cut(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for w in list(self.links):
            w.transport.abort()
        self.links.clear()

    async def resume(self) -> None:
        await self.start()

    async def close(self) -> None:
        await self.cut()
        await asyncio.gather(*self.tasks, return_exceptions=True)


# nginx with the example configuration ---------------------------------------------------------------------


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    require("nginx", None if found else "nginx is not installed (Debian: apt-get install nginx-light)")
    assert found is not None
    return found


def self_signed_cert(workdir: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    require("openssl", None if openssl else "openssl is not installed")
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


def nginx_config(nodes: list[int], https_port: int, http_port: int, cert: Path, key: Path, workdir: Path) -> str:
    """examples/nginx.conf with the test's node ports, listen ports, certificate and writable paths."""
    conf = EXAMPLE_NGINX.read_text()
    servers = "".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;\n" for p in nodes)
    conf, n = re.subn(r"(    upstream parley \{\n(?:.*\n)*?)((?:        server .*\n)+)", lambda m: m.group(1) + servers,
                      conf)
    assert n == 1, "upstream block not found in examples/nginx.conf"
    replacements = {
        "worker_connections 16384;": "worker_connections 1024;",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
        "/etc/ssl/certs/chat.example.com.pem": str(cert),
        "/etc/ssl/private/chat.example.com.key": str(key),
        "http {\n": "http {\n" + "".join(f"    {d}_temp_path {workdir}/{d};\n"
                                          for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
                    + f"    access_log {workdir}/access.log;\n",
    }
    for old, new in replacements.items():
        assert old in conf, f"{old!r} not found in examples/nginx.conf"
        conf = conf.replace(old, new)
    return conf


class Nginx:
    """nginx (not daemonized) with the generated configuration; pid and logs in the test's directory."""

    def __init__(self, nodes: list[ServerProcess], workdir: Path) -> None:
        self.binary = nginx_binary()
        self.workdir = workdir
        self.https_port, self.http_port = free_port(), free_port()
        self.cert, key = self_signed_cert(workdir)
        self.conf = workdir / "nginx.conf"
        self.conf.write_text(nginx_config([n.port for n in nodes], self.https_port, self.http_port, self.cert, key,
                                          workdir))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def ws_url(self) -> str:
        return f"wss://127.0.0.1:{self.https_port}/ws"

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def start(self) -> Nginx:
        log = open(self.workdir / "nginx.out", "ab")  # noqa: SIM115
        args = [self.binary, "-p", str(self.workdir), "-c", str(self.conf), "-e", str(self.workdir / "error.log"),
                "-g", f"daemon off; pid {self.workdir}/nginx.pid;"]
        check = subprocess.run([*args[:-2], "-t"], capture_output=True, text=True)
        assert check.returncode == 0, f"nginx -t: {check.stderr}"
        self.proc = subprocess.Popen(args, stdout=log, stderr=log)
        wait_port(self.https_port, 10)
        return self

    def stop(self) -> None:
        stop_process(self.proc)

    def errors(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""
