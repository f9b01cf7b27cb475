"""The phases of a `parley bench` run: accounts -> connect -> publish (or idle) -> close, with progress and
stall checks, and readings of the server's memory and CPU where it runs on this machine.

accounts  register (or log in) the bench users over HTTP;
connect   open every client (at most `concurrency` at once): handshake, auth, join; per-client setup latency;
publish   every publisher keeps `window` messages in flight until it has sent `messages` (or `duration` is
          over); the phase ends when every member has received every message that was accepted;
idle      (--idle S, instead of publish) hold every client connected and idle for S seconds;
close     every client sends a close frame at once; close latency lasts until the server ends the TCP connection.

`Bench` runs WebSocket clients (parley.bench.client); `PollBench` (parley.bench.poll) overrides the
transport's hooks (prepare, connect, arm, close) for long-polling clients. `make_bench` picks one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp

from parley.bench.client import NO_LIMIT, BenchClient, BenchError, Tally
from parley.bench.options import BenchOptions
from parley.bench.server import ServerProbe
from parley.bench.stats import Results

TICK = 0.1  # seconds between progress updates and stall checks
ACCOUNT_CONCURRENCY = 8  # registrations at once (the server hashes each password)
RATE_HINT = ("start the server with --rate 0 (or PARLEY_RATE=0) for benchmarks: by default it accepts "
             "20 messages/s per connection (burst 40) and answers the rest with rate_limited")


class Member(Protocol):
    """What the publish phase and the report need of a client, whatever its transport."""

    room: str
    publisher: bool
    finished: bool
    sent: int
    failed: int
    members: int
    close_started: float
    closed: float

    def make_publisher(self, window: int, limit: int, size: int, members: int) -> None: ...

    def pump(self) -> None: ...


class Progress:
    """Where phases report progress; the default shows nothing (rich's Progress is plugged in by the CLI)."""

    def start(self, phase: str, total: float | None) -> None: ...

    def update(self, completed: float, total: float | None = None) -> None: ...

    def finish(self) -> None: ...


class RichProgress(Progress):
    """Phases as rows of a rich progress display."""

    def __init__(self, progress: Any) -> None:  # a rich.progress.Progress
        self.progress = progress
        self.task: Any = None

    def start(self, phase: str, total: float | None) -> None:
        self.finish()
        self.task = self.progress.add_task(phase, total=total)

    def update(self, completed: float, total: float | None = None) -> None:
        if self.task is not None:
            if total is not None:
                self.progress.update(self.task, completed=completed, total=total)
            else:
                self.progress.update(self.task, completed=completed)

    def finish(self) -> None:
        if self.task is not None:
            self.progress.stop_task(self.task)
            self.task = None


def raise_open_file_limit(needed: int) -> str | None:
    """Lift the soft open-file limit towards the hard one; a warning when `needed` still does not fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = hard if hard == resource.RLIM_INFINITY else min(hard, max(needed, soft))
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft != resource.RLIM_INFINITY and soft < needed:
        return f"open-file limit {soft} is below the {needed} this run needs (ulimit -n)"
    return None


class Bench:
    """One run against one server, with WebSocket clients."""

    def __init__(self, options: BenchOptions, progress: Progress | None = None) -> None:
        options.check()
        self.opts = options
        self.progress = progress or Progress()
        self.results = Results(options=asdict(options))
        self.tally = Tally()
        self.clients: list[BenchClient] = []
        self.probe = ServerProbe()
        parts = urlsplit(options.url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme in ("wss", "https") else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.netloc = parts.netloc
        self.ssl = ssl.create_default_context() if parts.scheme in ("wss", "https") else None

    @property
    def http_ssl(self) -> Any:
        return self.ssl if self.ssl is not None else True  # aiohttp: True is its default TLS handling

    async def run(self) -> Results:
        r = self.results
        warning = raise_open_file_limit(self.fds_needed())
        if warning:
            r.warnings.append(warning)
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.opts.timeout)) as session:
                tokens = await self.accounts(session)
                await self.probe.find(self.opts.http_base, self.host, session, self.http_ssl)
                await self.prepare(tokens, session)
            r.server_pid, r.server_why = self.probe.pid, self.probe.why
            r.server_rss_kib["before"] = self.probe.rss_kib()
            await self.connect(tokens)
            r.server_rss_kib["connected"] = self.probe.rss_kib()
            if self.opts.idle is not None:
                await self.idle()
            elif self.opts.publishing:
                await self.publish()
            r.server_rss_kib["end"] = self.probe.rss_kib()
            await self.close()
        except BenchError as exc:
            r.error = str(exc)
            self.abort_all()
        finally:
            self.progress.finish()
        self.collect()
        return r

    # transport hooks (PollBench overrides them) -----------------------------------------------------

    def everyone(self) -> Sequence[Member]:
        """Every client of the run."""
        return self.clients

    def fds_needed(self) -> int:
        return self.opts.clients + 64

    async def prepare(self, tokens: list[str], session: aiohttp.ClientSession) -> None:
        """Anything the clients need before they connect (WebSocket clients: nothing)."""

    async def arm(self, publishers: Sequence[Member]) -> None:
        """Anything publishers need before they send (WebSocket clients: nothing)."""

    def abort_all(self) -> None:
        for c in self.clients:
            if c.transport is not None:
                c.transport.abort()

    # phases ---------------------------------------------------------------------------------------

    async def accounts(self, session: aiohttp.ClientSession) -> list[str]:
        """Register the bench users (log in where they exist already); their tokens."""
        opts = self.opts
        n = opts.account_count
        tokens: list[str] = [""] * n
        made = 0
        self.progress.start("accounts", n)
        sem = asyncio.Semaphore(ACCOUNT_CONCURRENCY)
        http_ssl = self.http_ssl

        async def one(i: int) -> None:
            nonlocal made
            body = {"username": opts.username(i), "password": opts.password}
            async with sem:
                try:
                    async with session.post(f"{opts.http_base}/api/register", json=body, ssl=http_ssl) as resp:
                        status, answer = resp.status, await resp.text()
                    if status == 409:
                        async with session.post(f"{opts.http_base}/api/login", json=body, ssl=http_ssl) as resp:
                            status, answer = resp.status, await resp.text()
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    raise BenchError(f"cannot reach {opts.http_base}/api/register: {exc}") from None
            if status not in (200, 201):
                raise BenchError(f"{opts.http_base}/api/register answered {status}: {answer[:300]}")
            try:
                tokens[i] = json.loads(answer)["token"]
            except (ValueError, KeyError, TypeError):
                raise BenchError(f"{opts.http_base}/api/register answered without a token: {answer[:300]}") from None
            made += 1
            self.progress.update(made)

        await self._gather([one(i) for i in range(n)])
        self.results.accounts = n
        return tokens

    async def connect(self, tokens: list[str]) -> None:
        opts, loop = self.opts, asyncio.get_running_loop()
        self.progress.start("connect", opts.clients)
        self.clients = [BenchClient(i, opts.room_of(i), tokens[i % len(tokens)], self.tally, self.netloc,
                                    self.path, sampled=i % opts.sample == 0, run_id=opts.run_id)
                        for i in range(opts.clients)]
        todo = iter(self.clients)
        r = self.results
        started = time.perf_counter()

        async def worker() -> None:
            for c in todo:
                try:
                    async with asyncio.timeout(opts.timeout):
                        c.started = time.perf_counter() * 1000.0
                        await loop.create_connection(lambda c=c: c, self.host, self.port, ssl=self.ssl)  # type: ignore[misc]
                        handshake, ready = await c.ready
                except OSError as exc:
                    raise BenchError(f"client {c.index}: cannot connect to {self.host}:{self.port}: {exc}") from None
                except TimeoutError:
                    raise BenchError(f"client {c.index}: not joined after {opts.timeout:g}s "
                                     f"(handshake, auth, join)") from None
                r.handshake_ms.append(handshake)
                r.ready_ms.append(ready)

        await self._gather([worker() for _ in range(min(opts.concurrency, opts.clients))],
                           lambda: len(r.ready_ms))
        r.connect_seconds = time.perf_counter() - started

    async def publish(self) -> None:
        opts, tally, loop = self.opts, self.tally, asyncio.get_running_loop()
        members = opts.members()
        everyone = self.everyone()
        publishers = [everyone[i] for i in opts.publisher_ids()]
        limit = NO_LIMIT if opts.duration is not None else opts.messages
        for c in publishers:
            c.make_publisher(opts.window, limit, opts.size, members[c.room])
        await self.arm(publishers)
        tally.pending = len(publishers)
        tally.finished = loop.create_future()
        planned = None if opts.duration is not None else sum(opts.messages * members[c.room] for c in publishers)
        self.progress.start("publish", planned if planned is not None else opts.duration)

        def stop() -> None:
            tally.stop_sending = True
            for c in publishers:
                c.pump()

        cpu0 = time.process_time()
        server_cpu0 = self.probe.cpu_seconds()
        started = time.perf_counter()
        timer = loop.call_later(opts.duration, stop) if opts.duration is not None else None
        for c in publishers:
            c.pump()
        seen, quiet_since = (-1, -1, -1), time.perf_counter()
        try:
            while not tally.finished.done():
                await asyncio.wait([tally.finished], timeout=TICK)
                now = time.perf_counter()
                if tally.finished.done():
                    break
                if planned is not None:
                    self.progress.update(tally.deliveries)
                else:
                    self.progress.update(min(now - started, opts.duration or 0))
                state = (tally.deliveries, tally.sent, len(tally.errors))
                if state != seen:
                    seen, quiet_since = state, now
                elif now - quiet_since > opts.timeout:
                    owed = tally.target if tally.target != float("inf") else planned
                    raise BenchError(f"publish stalled: no delivery for {opts.timeout:g}s "
                                     f"({tally.deliveries} of {owed if owed is not None else '?'} deliveries)")
        finally:
            if timer is not None:
                timer.cancel()
        self.progress.update(tally.deliveries if planned is not None else opts.duration or 0)
        r = self.results
        r.publish_seconds = (tally.ended or time.perf_counter()) - started
        r.client_cpu_s = time.process_time() - cpu0
        server_cpu1 = self.probe.cpu_seconds()
        if server_cpu0 is not None and server_cpu1 is not None:
            r.server_cpu_s = server_cpu1 - server_cpu0
        if tally.error is not None:
            raise BenchError(tally.error)

    async def idle(self) -> None:
        """Hold every client connected and idle for --idle seconds; the server's RSS is read every tick."""
        opts, tally, r = self.opts, self.tally, self.results
        seconds = opts.idle or 0.0
        self.progress.start("idle", seconds)
        server_cpu0 = self.probe.cpu_seconds()
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            if tally.error is not None:
                raise BenchError(tally.error)
            rss = self.probe.rss_kib()
            if rss is not None:
                r.server_rss_kib["peak"] = max(rss, r.server_rss_kib.get("peak") or 0)
            self.progress.update(elapsed)
            await asyncio.sleep(min(TICK * 5, seconds - elapsed))
        self.progress.update(seconds)
        r.idle_seconds = time.perf_counter() - started
        server_cpu1 = self.probe.cpu_seconds()
        if server_cpu0 is not None and server_cpu1 is not None:
            r.server_cpu_s = server_cpu1 - server_cpu0
        if tally.error is not None:
            raise BenchError(tally.error)

    async def close(self) -> None:
        live = [c for c in self.clients if c.transport is not None]
        self.progress.start("close", len(live))
        for c in live:
            c.close()
        await self._gather([self._closed(c) for c in live], lambda: sum(1 for c in live if c.gone.done()))

    async def _closed(self, c: BenchClient) -> None:
        try:
            async with asyncio.timeout(self.opts.timeout):
                await c.gone
        except TimeoutError:
            raise BenchError(f"client {c.index}: the server did not close the connection within "
                             f"{self.opts.timeout:g}s of our close frame") from None

    # helpers --------------------------------------------------------------------------------------

    async def _gather(self, coros: list[Any], count: Callable[[], int] | None = None) -> None:
        """Run `coros` together (the first failure cancels the rest), updating progress with `count()`."""
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(c) for c in coros]
                if count is not None:
                    while not all(t.done() for t in tasks):
                        await asyncio.wait(tasks, timeout=TICK, return_when=asyncio.FIRST_EXCEPTION)
                        self.progress.update(count())
        except BaseExceptionGroup as group_error:
            raise _first(group_error) from None

    def collect(self) -> None:
        r, tally = self.results, self.tally
        everyone = self.everyone()
        r.sent, r.failed, r.deliveries = tally.sent, tally.failed, tally.deliveries
        r.expected = tally.expected if tally.pending <= 0 else tally.expected + sum(
            (c.sent - c.failed) * c.members for c in everyone if c.publisher and not c.finished)
        r.latency_ms = tally.latency
        r.errors = tally.errors
        r.close_ms = [c.closed - c.close_started for c in everyone if c.close_started and c.closed]
        r.warnings.extend(warnings(r, tally.error_text))


def _first(error: BaseException) -> BaseException:
    """The first leaf of a (nested) exception group: the failure that stopped a phase."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def warnings(r: Results, error_text: dict[str, str]) -> Iterator[str]:
    """What a reader of the numbers must know: rejected sends (with a hint), a client-bound run."""
    for code, n in r.errors.items():
        text = error_text.get(code, "")
        if code == "rate_limited":
            yield f"the server rate-limited {n} sends ({text!r}); {RATE_HINT}"
        elif code == "too_long":
            yield f"the server rejected {n} sends as too long ({text!r}): --size exceeds its --max-text"
        else:
            yield f"{n} error frames with code {code} ({text!r})"
    if r.publish_seconds >= 1.0 and r.client_cpu_s > 0.9 * r.publish_seconds:
        yield (f"the bench process was busy {r.client_cpu_s / r.publish_seconds:.0%} of the publish phase: "
               "throughput and latency are bounded by this client, not only by the server")


def make_bench(options: BenchOptions, progress: Progress | None = None) -> Bench:
    """The run for options.transport: WebSocket clients, or long-polling ones."""
    if options.transport == "poll":
        from parley.bench.poll import PollBench

        return PollBench(options, progress)
    return Bench(options, progress)
