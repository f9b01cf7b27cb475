"""`parley bench --transport poll`: long-polling clients (docs/protocol.md section 4) in the bench's layout.

Every client is a `Poller`: one keep-alive HTTP/1.1 connection (parley.bench.http) that keeps one
`GET /api/poll?rooms=R:seq&timeout=T&client=ID` waiting at the server and sends the next one, with the
answer's cursor, as soon as an answer arrives. Its first poll names the room alone ("from now on"); the
connect latency runs from the TCP connect to the answer that carries `joined` for the room. Every answer
is decoded (msgspec): each room event's seq is checked against the client's position, so a poller counts
what it lost (a seq skipped, or a cursor moved past events it never got) and what it got twice, and
counts each new `message` once as a delivery. Publishers are pollers too; they send with
`POST /api/rooms/{room}/messages` over `window` connections of their own, a message staying in flight
until it comes back through their own poll, as in the WebSocket mode. A connection that ends under a
request is reopened and the request sent again (polls resume from their cursor; posts repeat their
client_id, which the server deduplicates). `PollBench` adds the room-membership setup (the REST join
every poller's account makes before polling) and closes with `DELETE /api/poll?client=ID`.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec

from parley.bench.client import BenchError, Tally, now_ms
from parley.bench.http import HttpConnection, Requester, build_request
from parley.bench.options import BenchOptions
from parley.bench.runner import Bench, Member, Progress

# poller states
CONNECTING, SETUP, ACTIVE, CLOSING, CLOSED = range(5)
RETRIES = 3  # connections in a row that may end under a request before the client gives up
JOIN_CONCURRENCY = 32
EVENT_TYPES = frozenset({"message", "member", "topic"})  # room-log events: they carry a seq

_encode = msgspec.json.Encoder().encode


class _Frame(msgspec.Struct):
    type: str = ""
    room: str = ""
    seq: int = 0
    last_seq: int = 0
    text: str = ""
    reason: str = ""


class _Closed(msgspec.Struct):
    code: int = 0
    reason: str = ""
    reconnect: bool = False


class _Answer(msgspec.Struct):
    frames: list[_Frame] = msgspec.field(default_factory=list)
    cursors: dict[str, int | None] | None = None
    closed: _Closed | None = None


class _Refusal(msgspec.Struct):
    error: str = "?"
    message: str = ""


_decode_answer = msgspec.json.Decoder(_Answer).decode
_decode_refusal = msgspec.json.Decoder(_Refusal).decode


def refusal(status: int, body: bytes) -> tuple[str, str]:
    """The error code and message of an HTTP error answer ({"error","message"}), or `http_<status>`."""
    try:
        r = _decode_refusal(body)
        return r.error, r.message
    except (msgspec.DecodeError, msgspec.ValidationError):
        return f"http_{status}", body[:200].decode(errors="replace")


class Endpoint:
    """Where the pollers connect: address, TLS, the Host header and the path prefix of /api."""

    def __init__(self, opts: BenchOptions) -> None:
        parts = urlsplit(opts.http_base)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.netloc = parts.netloc
        self.prefix = parts.path.rstrip("/")
        self.ssl = ssl.create_default_context() if parts.scheme == "https" else None

    async def open(self, owner: Poller) -> HttpConnection:
        conn = HttpConnection(owner)
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: conn, self.host, self.port, ssl=self.ssl)
        return conn


class Poller:
    """One long-polling client of one room; a publisher also posts messages to it."""

    __slots__ = ("_poll_head", "_poll_tail", "_post_head", "_tasks", "answers", "asked_at", "client_id",
                 "close_started", "closed", "conn", "count", "cursor", "done", "duplicates", "empty", "endpoint",
                 "failed", "finished", "free", "index", "inflight", "limit", "max_wait", "members", "missed", "pos",
                 "publisher", "ready", "reconnects", "retries", "rewinds", "room", "run_id", "sampled", "senders",
                 "sent", "size", "started", "state", "tally", "tcp_at", "token", "window")

    def __init__(self, index: int, room: str, token: str, tally: Tally, endpoint: Endpoint, *, sampled: bool,
                 run_id: str, poll_timeout: int) -> None:
        self.index = index
        self.room = room
        self.token = token
        self.tally = tally
        self.endpoint = endpoint
        self.sampled = sampled
        self.run_id = run_id
        self.client_id = f"b{run_id}-{index}"
        self.state = CONNECTING
        self.conn: HttpConnection | None = None
        self.cursor: int | None = None  # what the next poll sends (None: the room alone, "from now on")
        self.pos: int | None = None  # the highest seq of the room this client has seen
        self.count = 0  # new messages received
        self.missed = 0  # seqs never received
        self.duplicates = 0  # room events received again
        self.rewinds = 0  # answers whose cursor was below events already received
        self.answers = 0
        self.empty = 0  # answers without frames (the poll timed out)
        self.reconnects = 0
        self.retries = 0  # connections lost in a row
        self.max_wait = 0.0  # longest a poll waited for its answer, ms
        self.asked_at = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        prefix, host = endpoint.prefix, endpoint.netloc
        self._poll_head = f"GET {prefix}/api/poll?client={self.client_id}&timeout={poll_timeout}&rooms=".encode()
        self._poll_tail = (f" HTTP/1.1\r\nHost: {host}\r\nUser-Agent: parley-bench\r\n"
                           f"Authorization: Bearer {token}\r\n\r\n").encode()
        self._post_head = f"{prefix}/api/rooms/{room}/messages"
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[tuple[float, float]] = loop.create_future()  # (tcp connect ms, joined ms)
        self.started = self.tcp_at = 0.0
        self.close_started = self.closed = 0.0
        # publishing
        self.publisher = False
        self.finished = False
        self.members = self.window = self.limit = self.size = 0
        self.sent = self.done = self.failed = 0
        self.senders: list[HttpConnection] = []
        self.free: list[HttpConnection] = []
        self.inflight: dict[HttpConnection, bytes] = {}

    # setup ----------------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect and send the first poll; `ready` resolves with the answer that carries `joined`."""
        self.started = now_ms()
        self.conn = await self.endpoint.open(self)
        self.tcp_at = now_ms()
        self.state = SETUP
        self._poll()

    def _not_ready(self, why: str) -> None:
        self.state = CLOSED
        if not self.ready.done():
            self.ready.set_exception(BenchError(f"client {self.index}: {why}"))
            self.ready.exception()  # awaited by the connect phase, unless it has already given up
        self.abort()

    def _fail(self, why: str) -> None:
        if self.state < ACTIVE:
            self._not_ready(why)
        elif self.state == ACTIVE:
            self.tally.fail(f"client {self.index}: {why}")

    # polls ----------------------------------------------------------------------------------------

    def _poll(self) -> None:
        rooms = self.room if self.cursor is None else f"{self.room}:{self.cursor}"
        self.asked_at = now_ms()
        if self.conn is None or not self.conn.request(self._poll_head + rooms.encode() + self._poll_tail):
            self._reopen(None)

    def answered(self, conn: HttpConnection, status: int, body: bytes) -> None:
        if conn is not self.conn:
            self._acked(conn, status, body)
            return
        if self.state >= CLOSING:
            return
        self.retries = 0
        now = now_ms()
        wait = now - self.asked_at
        if wait > self.max_wait:
            self.max_wait = wait
        if status != 200:
            code, message = refusal(status, body)
            self.tally.record(code, message)
            self._fail(f"GET /api/poll answered {status} {code}: {message}")
            return
        try:
            answer = _decode_answer(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._fail(f"GET /api/poll answered 200 with a body that is not a poll answer ({exc}): {body[:200]!r}")
            return
        self.answers += 1
        frames = answer.frames
        if not frames:
            self.empty += 1
        room, pos, joined = self.room, self.pos, False
        count = own = 0
        for f in frames:
            kind = f.type
            if kind in EVENT_TYPES:
                if f.room != room:
                    continue
                seq = f.seq
                if pos is None:
                    pos = seq - 1  # no joined before the first event: take it as the start
                if seq <= pos:
                    self.duplicates += 1
                    continue
                if seq > pos + 1:
                    self.missed += seq - pos - 1
                pos = seq
                if kind == "message":
                    count += 1
                    if self.sampled or self.publisher:
                        own += self._message(f.text, now)
            elif kind == "joined":
                if f.room == room:
                    joined = True
                    if pos is None:
                        pos = f.last_seq
            elif kind == "removed" and f.room == room:
                self._fail(f"removed from {room} ({f.reason})")
                return
        if answer.cursors is None or room not in answer.cursors:
            self._fail(f"a poll answer without a cursor for {room}: {body[:200]!r}")
            return
        cursor = answer.cursors[room]  # None: still "from now on" (the server has not started following)
        if cursor is not None:
            if pos is None or cursor > pos:
                if pos is not None:
                    self.missed += cursor - pos  # the cursor moved past events this client never got
                pos = cursor
            elif cursor < pos:
                self.rewinds += 1
        self.pos, self.cursor = pos, cursor
        if count:
            self.count += count
            tally = self.tally
            tally.deliveries += count
            if tally.deliveries >= tally.target:
                tally.reached()
        if answer.closed is not None:
            closed = answer.closed
            if not closed.reconnect:
                self._fail(f"the server ended the conversation: {closed.code} {closed.reason}".rstrip())
                return
        if self.state == SETUP and joined:
            self.state = ACTIVE
            if not self.ready.done():
                self.ready.set_result((self.tcp_at - self.started, now - self.started))
        self._poll()
        if own:
            self.done += own
            self.pump()

    def _message(self, text: str, now: float) -> int:
        """A message's text (sampled clients and publishers): latency sample; 1 if it is our own."""
        try:
            p, _, t, _ = text.split(" ", 3)
            sender, stamp = int(p), float(t)
        except ValueError:
            return 0  # not a bench message
        if self.sampled:
            self.tally.latency.append(now - stamp)
        return 1 if self.publisher and sender == self.index else 0

    # publishing -----------------------------------------------------------------------------------

    def make_publisher(self, window: int, limit: int, size: int, members: int) -> None:
        """Publish `limit` messages of `size` bytes, `window` in flight, to a room of `members` clients."""
        self.publisher = True
        self.window = window
        self.limit = limit
        self.size = size
        self.members = members

    async def open_senders(self) -> None:
        """The publisher's `window` connections for its posts."""
        for _ in range(self.window):
            conn = await self.endpoint.open(self)
            self.senders.append(conn)
            self.free.append(conn)

    def pump(self) -> None:
        """Keep `window` messages in flight until the limit (or the end of the duration); then report done."""
        tally = self.tally
        if self.state != ACTIVE or not self.publisher:
            return
        posted = 0
        while (self.sent < self.limit and self.sent - self.done < self.window and not tally.stop_sending
               and self.free):
            conn = self.free.pop()
            self.sent += 1
            posted += 1
            head = f"{self.index} {self.sent} {now_ms():.3f} "
            text = head + "x" * (self.size - len(head))
            body = _encode({"text": text, "client_id": f"{self.run_id}-{self.index}-{self.sent}"})
            data = build_request("POST", self._post_head, self.endpoint.netloc, self.token, body)
            self.inflight[conn] = data
            if not conn.request(data):
                self._resend(conn)
        if posted:
            tally.sent += posted
        elif not self.finished and self.done >= self.sent and (self.sent >= self.limit or tally.stop_sending):
            self.finished = True
            tally.publisher_done((self.sent - self.failed) * self.members)

    def _acked(self, conn: HttpConnection, status: int, body: bytes) -> None:
        if self.inflight.pop(conn, None) is None:
            return
        self.retries = 0
        self.free.append(conn)
        if status not in (200, 201):  # refused: nothing stored, so nothing will come back
            code, message = refusal(status, body)
            self.tally.record(code, message)
            self.failed += 1
            self.tally.failed += 1
            self.done += 1
        self.pump()

    def _resend(self, conn: HttpConnection) -> None:
        """A post's connection ended under it: send it again (same client_id) on a new connection."""
        data = self.inflight.pop(conn, None)
        if conn in self.free:
            self.free.remove(conn)
        if conn in self.senders:
            self.senders.remove(conn)
        if self.state != ACTIVE:
            return
        self.retries += 1
        if self.retries > RETRIES:
            self._fail(f"{RETRIES} connections in a row ended under a request")
            return
        self.reconnects += 1

        async def reopen() -> None:
            try:
                new = await self.endpoint.open(self)
            except OSError as exc:
                self._fail(f"cannot reconnect: {exc}")
                return
            self.senders.append(new)
            if data is None:
                self.free.append(new)
                self.pump()
            else:
                self.inflight[new] = data
                new.request(data)

        self._spawn(reopen())

    def lost(self, conn: HttpConnection, exc: Exception | None) -> None:
        """HttpConnection callback: one of this client's connections ended."""
        if conn is self.conn:
            if self.state >= CLOSING:
                self.conn = None
                return
            self._reopen(exc)
        elif conn in self.inflight or conn in self.free:
            self._resend(conn)

    # connections ----------------------------------------------------------------------------------

    def _reopen(self, exc: Exception | None) -> None:
        """The poll's connection ended (or could not take the request): reconnect and poll again."""
        self.conn = None
        if self.state not in (SETUP, ACTIVE):
            return
        self.retries += 1
        if self.retries > RETRIES:
            self._fail(f"connection lost {RETRIES} times in a row ({exc or 'closed by the server'})")
            return
        self.reconnects += 1

        async def reopen() -> None:
            try:
                conn = await self.endpoint.open(self)
            except OSError as err:
                self._fail(f"cannot reconnect: {err}")
                return
            if self.state in (SETUP, ACTIVE):
                self.conn = conn
                self._poll()
            else:
                conn.close()

        self._spawn(reopen())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def abort(self) -> None:
        for conn in (self.conn, *self.senders):
            if conn is not None:
                conn.abort()

    def shut(self) -> None:
        """Close every connection of this client (the close phase, after its DELETE)."""
        self.state = CLOSED
        for conn in (self.conn, *self.senders):
            if conn is not None:
                conn.close()


class PollBench(Bench):
    """A bench run whose clients long-poll over HTTP (see the module docstring)."""

    def __init__(self, options: BenchOptions, progress: Progress | None = None) -> None:
        super().__init__(options, progress)
        self.endpoint = Endpoint(options)
        self.ssl = self.endpoint.ssl
        self.pollers: list[Poller] = []

    def everyone(self) -> Sequence[Member]:
        return self.pollers

    def fds_needed(self) -> int:
        opts = self.opts
        return opts.clients + opts.publishers * opts.rooms * opts.window + opts.concurrency + 64

    async def prepare(self, tokens: list[str], session: aiohttp.ClientSession) -> None:
        """Every account joins the rooms its clients poll (POST /api/rooms/{room}/join), as a client would."""
        opts = self.opts
        pairs = sorted({(i % len(tokens), opts.room_of(i)) for i in range(opts.clients)})
        self.progress.start("rooms", len(pairs))
        sem = asyncio.Semaphore(JOIN_CONCURRENCY)
        made = 0

        async def join(account: int, room: str) -> None:
            nonlocal made
            url = f"{opts.http_base}/api/rooms/{room}/join"
            headers = {"Authorization": f"Bearer {tokens[account]}"}
            async with sem:
                for _ in range(20):
                    try:
                        async with session.post(url, headers=headers, ssl=self.http_ssl) as resp:
                            status, answer, retry = resp.status, await resp.text(), resp.headers.get("Retry-After")
                    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                        raise BenchError(f"cannot reach {url}: {exc}") from None
                    if status != 429:
                        break
                    await asyncio.sleep(float(retry or 1))
            if status != 200:
                raise BenchError(f"POST {url} answered {status}: {answer[:300]}")
            made += 1
            self.progress.update(made)

        await self._gather([join(a, room) for a, room in pairs])

    async def connect(self, tokens: list[str]) -> None:
        opts = self.opts
        self.progress.start("connect", opts.clients)
        self.pollers = [Poller(i, opts.room_of(i), tokens[i % len(tokens)], self.tally, self.endpoint,
                               sampled=i % opts.sample == 0, run_id=opts.run_id, poll_timeout=opts.poll_timeout)
                        for i in range(opts.clients)]
        todo = iter(self.pollers)
        r = self.results
        started = time.perf_counter()

        async def worker() -> None:
            for p in todo:
                try:
                    async with asyncio.timeout(opts.timeout):
                        await p.open()
                        tcp, ready = await p.ready
                except OSError as exc:
                    raise BenchError(f"client {p.index}: cannot connect to {self.endpoint.host}:"
                                     f"{self.endpoint.port}: {exc}") from None
                except TimeoutError:
                    raise BenchError(f"client {p.index}: no poll answer with joined after {opts.timeout:g}s") from None
                r.handshake_ms.append(tcp)
                r.ready_ms.append(ready)

        await self._gather([worker() for _ in range(min(opts.concurrency, opts.clients))], lambda: len(r.ready_ms))
        r.connect_seconds = time.perf_counter() - started

    async def arm(self, publishers: Sequence[Member]) -> None:
        await self._gather([p.open_senders() for p in self.pollers if p.publisher])

    async def close(self) -> None:
        """DELETE /api/poll?client=ID for every client (goes offline at once), then close its connections."""
        opts, ep = self.opts, self.endpoint
        live = [p for p in self.pollers if p.state in (SETUP, ACTIVE)]
        for p in self.pollers:
            if p.state < CLOSING:
                p.state = CLOSING
        self.progress.start("close", len(live))
        todo = iter(live)
        done = 0

        async def worker() -> None:
            nonlocal done
            req = Requester()
            try:
                await req.open(ep.host, ep.port, ep.ssl)
                for p in todo:
                    target = f"{ep.prefix}/api/poll?client={p.client_id}"
                    p.close_started = now_ms()
                    async with asyncio.timeout(opts.timeout):
                        status, body = await req.request(build_request("DELETE", target, ep.netloc, p.token))
                    p.closed = now_ms()
                    if status >= 300:
                        code, message = refusal(status, body)
                        self.tally.record(code, message)
                        raise BenchError(f"client {p.index}: DELETE {target} answered {status} {code}: {message}")
                    p.shut()
                    done += 1
            except OSError as exc:
                raise BenchError(f"close: cannot DELETE /api/poll: {exc}") from None
            except TimeoutError:
                raise BenchError(f"close: DELETE /api/poll not answered within {opts.timeout:g}s") from None
            finally:
                req.close()

        await self._gather([worker() for _ in range(min(opts.concurrency, len(live)))] if live else [],
                           lambda: done)

    def abort_all(self) -> None:
        for p in self.pollers:
            p.state = CLOSED
            p.abort()

    def collect(self) -> None:
        super().collect()
        ps = self.pollers
        r = self.results
        publishers = [p for p in ps if p.publisher]
        accepted: dict[str, int] = {}
        for p in publishers:
            accepted[p.room] = accepted.get(p.room, 0) + p.sent - p.failed
        short = [p.index for p in ps if p.count != accepted.get(p.room, 0)]  # every client owes all its room got
        r.poll = {
            "answers": sum(p.answers for p in ps),
            "empty_answers": sum(p.empty for p in ps),
            "reconnects": sum(p.reconnects for p in ps),
            "max_wait_ms": round(max((p.max_wait for p in ps), default=0.0), 3),
            "verify": {
                "clients": len(ps),
                "connected": len(r.ready_ms),
                "lost": sum(p.missed for p in ps),
                "duplicates": sum(p.duplicates for p in ps),
                "rewinds": sum(p.rewinds for p in ps),
                "clients_with_loss": sum(1 for p in ps if p.missed),
                "clients_with_duplicates": sum(1 for p in ps if p.duplicates),
                "clients_short": len(short),
                "first_short": short[:10],
            },
        }

