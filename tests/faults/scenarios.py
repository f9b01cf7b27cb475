"""The fault scenarios: each starts real `parley serve` processes, runs chatters, injects one fault or attack,
heals, drains and counts (tests/faults/counts.py). `run_scenario` runs one, `run_all` several.

Set-ups:
- SQLite: one node on a fresh database file in the run's directory.
- cluster: two nodes, `a` and `b`, on a fresh PostgreSQL schema (tests/scale/services.py) and a private
  redis-server (tests/scale/cluster.py's RedisServer); node b reaches both through a FaultProxy
  (tests/faults/proxy.py) the scenario cuts or pauses; node a talks to them directly. Chatters are spread
  over both nodes; a chatter whose node is dead reconnects to the other, as through a load balancer.

Every chatter stays in the room for the whole run (reconnecting and resuming with `since` after any
drop), so every stored message must reach every chatter exactly once, in order.

Durations come from a `Profile`: "short" (a few seconds per scenario, for the test suite) and "full" (for
docs/reliability.md). Each scenario also makes `checks` that the fault really happened (`kind="fault"`:
the test suite requires them) and that the server behaved as documented (`kind="expectation"`: a
mismatch is reported in the table, not hidden).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from contextlib import AsyncExitStack, ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from parley.store.postgres import COMMAND_TIMEOUT
from tests.faults.clients import Attacker, FaultChatter, SlowReader
from tests.faults.counts import Counts, count
from tests.faults.proxy import FaultProxy, ProxyLoop
from tests.scale.cluster import Chatter, RedisServer, drain
from tests.scale.conftest import PRESENCE_INTERVAL
from tests.scale.services import pg_schema
from tests.support import ServerProcess, http, register, unique

PG_STALL = COMMAND_TIMEOUT + 5  # seconds a pg-stall lasts (the store's statement timeout is COMMAND_TIMEOUT)

# profiles -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """How long each phase lasts and how much traffic there is."""

    name: str
    before: float  # seconds of traffic before the fault
    fault: float  # seconds the fault lasts (server down, link cut or paused, flood)
    after: float  # seconds of traffic after healing
    chatters: int
    rate: float  # messages per second per chatter
    drain: float  # seconds at most for every pending message to be acked and delivered


PROFILES: dict[str, Profile] = {
    "short": Profile("short", before=0.7, fault=1.5, after=0.7, chatters=4, rate=8.0, drain=30.0),
    "full": Profile("full", before=3.0, fault=10.0, after=5.0, chatters=6, rate=10.0, drain=60.0),
}


# results ---------------------------------------------------------------------------------------------------


@dataclass
class Check:
    """One claim about a run: `fault` (the fault took effect) or `expectation` (documented behaviour)."""

    kind: str
    what: str
    ok: bool
    saw: str = ""


@dataclass
class Result:
    """One scenario's row of the table, with everything behind it."""

    name: str
    setup: str
    fault: str
    expected: str
    profile: str
    observed: str = ""
    counts: Counts = field(default_factory=Counts)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # anomalies, one line each
    errors: dict[str, int] = field(default_factory=dict)  # error codes the chatters got
    closes: dict[str, int] = field(default_factory=dict)  # how the chatters' connections ended
    reconnects: int = 0
    duplicate_acks: int = 0
    longest_ack_wait: float = 0.0
    timeline: list[tuple[float, str]] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str | None = None
    crashed: str | None = None  # the scenario itself failed (a traceback): no counts
    logs: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing lost, duplicated or out of order, and the fault took effect."""
        return self.skipped is None and self.crashed is None and self.counts.ok and self.exercised

    @property
    def exercised(self) -> bool:
        return all(c.ok for c in self.checks if c.kind == "fault")

    @property
    def as_expected(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["counts"] = self.counts.as_dict()
        out.update(ok=self.ok, exercised=self.exercised, as_expected=self.as_expected)
        return out


# one run's context -----------------------------------------------------------------------------------------


def through(url: str, proxy: FaultProxy) -> str:
    """`url` with its host and port replaced by the proxy's (user, path and query kept)."""
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    host = f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host))


def first_alive(*nodes: ServerProcess) -> Callable[[], str]:
    """A chatter's URL chooser: the first node whose process runs (a load balancer skipping dead nodes)."""

    def choose() -> str:
        for node in nodes:
            if node.proc is not None and node.proc.poll() is None:
                return node.ws_url
        return nodes[0].ws_url

    return choose


def stored_log(node: ServerProcess, token: str, room: str) -> list[dict[str, Any]]:
    """Every stored event of `room`, paged by seq over REST (a gap in seqs does not stop the paging)."""
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        status, body = http("GET", f"{node.http}/api/rooms/{room}/messages?after={after}&limit=100", token=token)
        if status != 200:
            raise RuntimeError(f"history from {node.http}: {status} {body}")
        page = body["messages"]
        if not page:
            return out
        out += page
        after = page[-1]["seq"]


def metric(node: ServerProcess, name: str) -> float:
    """One counter from the node's /metrics (0 when absent)."""
    _, text = http("GET", node.http + "/metrics")
    m = re.search(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? ([0-9.e+]+)$", str(text), re.M)
    return float(m.group(1)) if m else 0.0


class Run:
    """One scenario run: the servers, proxies and chatters it started (stopped when `stack` closes), what it saw."""

    def __init__(self, result: Result, profile: Profile, workdir: Path, stack: AsyncExitStack) -> None:
        self.result, self.profile, self.workdir, self.stack = result, profile, workdir, stack
        self.room = unique("room")
        self.chatters: list[FaultChatter] = []
        self.nodes: list[ServerProcess] = []
        self.proxies: ProxyLoop | None = None
        self.db_proxy: FaultProxy | None = None
        self.redis_proxy: FaultProxy | None = None
        self.redis: RedisServer | None = None
        self.t0 = time.monotonic()

    # timeline and claims

    def mark(self, what: str) -> float:
        now = time.monotonic()
        self.result.timeline.append((round(now - self.t0, 2), what))
        return now

    def note(self, text: str) -> None:
        self.result.notes.append(text)

    def check(self, kind: str, what: str, ok: bool, saw: str = "") -> bool:
        self.result.checks.append(Check(kind, what, bool(ok), saw))
        return ok

    async def traffic(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def in_flight(self, chatters: list[FaultChatter], timeout: float = 2.0) -> int:
        """Wait (up to `timeout`) for a moment when some send is not acked yet: the instant to strike."""
        deadline = time.monotonic() + timeout
        while not any(c.pending for c in chatters) and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        return sum(len(c.pending) for c in chatters)

    # servers

    def _node(self, db: str, *args: str, name: str) -> ServerProcess:
        node = ServerProcess(db, *args, log=self.workdir / f"{self.result.name}-{name}.log")
        self.nodes.append(node)
        self.result.logs.append(str(node.log_path))
        return node

    async def _start(self, node: ServerProcess) -> ServerProcess:
        await asyncio.to_thread(node.start)  # (in a thread: chatters and proxies keep running meanwhile)
        return node

    async def sqlite_node(self, *args: str) -> ServerProcess:
        """One node on a fresh SQLite database in the run's directory."""
        node = self._node(f"sqlite:///{self.workdir}/{self.result.name}.db", *args, name="node")
        self.stack.push_async_callback(self._stop_nodes)
        return await self._start(node)

    async def cluster(self, *args: str) -> tuple[ServerProcess, ServerProcess]:
        """Nodes a and b on a fresh PostgreSQL schema and a private Redis; b's links go through proxies."""
        schemas = ExitStack()
        self.stack.callback(schemas.close)
        pg_url = schemas.enter_context(pg_schema())  # skips (locally) / fails (CI) without PostgreSQL
        self.redis = RedisServer(self.workdir).start()  # skips / fails without redis-server
        self.stack.callback(self.redis.kill)
        self.proxies = ProxyLoop()
        self.stack.push_async_callback(self._close_proxies, self.proxies)
        target = urlsplit(pg_url)
        self.db_proxy = await self.proxies.proxy(target.hostname or "127.0.0.1", target.port or 5432)
        self.redis_proxy = await self.proxies.proxy("127.0.0.1", self.redis.port)
        broker_query = f"prefix=faults&presence_interval={PRESENCE_INTERVAL}"
        a = self._node(pg_url, "--broker", f"{self.redis.url}?{broker_query}", *args, name="a")
        b = self._node(through(pg_url, self.db_proxy), "--broker",
                       f"redis://127.0.0.1:{self.redis_proxy.port}/0?{broker_query}", *args, name="b")
        self.stack.push_async_callback(self._stop_nodes)
        await self._start(a)
        await self._start(b)
        return a, b

    async def _close_proxies(self, proxies: ProxyLoop) -> None:
        t = time.monotonic()
        await proxies.close()
        self.mark(f"proxies closed in {time.monotonic() - t:.1f} s")

    async def _stop_nodes(self) -> None:
        if self.proxies is not None:  # a paused or cut link would make a clean stop wait
            for proxy in self.proxies.proxies:
                with contextlib.suppress(Exception):
                    await self.proxies.resume(proxy)
        t = time.monotonic()
        await asyncio.gather(*(asyncio.to_thread(n.stop) for n in self.nodes if n.proc is not None))
        codes = [n.proc.returncode for n in self.nodes if n.proc is not None]
        self.mark(f"nodes stopped in {time.monotonic() - t:.1f} s (exit status {codes})")

    # clients

    async def chat(self, urls: list[Callable[[], str]], register_on: ServerProcess) -> list[FaultChatter]:
        """`profile.chatters` chatters in the room, spread over `urls` in turn; returns once all joined."""
        n = self.profile.chatters
        accounts = await asyncio.gather(*(asyncio.to_thread(register, register_on) for _ in range(n)))
        self.chatters = [FaultChatter(user, token, urls[i % len(urls)], self.room, rate=self.profile.rate)
                         for i, (user, token) in enumerate(accounts)]
        self.stack.push_async_callback(self._stop_chatters)
        for c in self.chatters:
            c.start()
        await asyncio.wait_for(asyncio.gather(*(c.joined.wait() for c in self.chatters)), 20)
        self.mark(f"{n} chatters joined")
        return self.chatters

    async def _stop_chatters(self) -> None:
        await asyncio.gather(*(c.stop() for c in self.chatters), return_exceptions=True)

    def replies_between(self, chatters: Iterable[FaultChatter], start: float, end: float) -> Counter[str]:
        """The replies (`ack` or an error code) chatters got between two instants."""
        return Counter(r for c in chatters for o in c.outcomes.values() for t, r in o.replies if start < t < end)

    # the end

    async def finish(self, node: ServerProcess) -> None:
        """Stop new sends, wait for every pending one to be acked and every stored one delivered, and count."""
        self.mark("drain")
        head = await drain(list[Chatter](self.chatters), node, timeout=self.profile.drain)
        self.mark(f"drained (last seq {head})")
        stored = await asyncio.to_thread(stored_log, node, self.chatters[0].token, self.room)
        r = self.result
        r.counts = count(self.chatters, stored, r.details)
        errors: Counter[str] = Counter()
        closes: Counter[str] = Counter()
        for c in self.chatters:
            errors.update(c.errors)
            closes.update(c.closes)
        r.errors, r.closes = dict(errors), dict(closes)
        r.reconnects = sum(c.connects - 1 for c in self.chatters)
        r.duplicate_acks = sum(c.duplicate_acks for c in self.chatters)
        r.longest_ack_wait = round(max((w for c in self.chatters for w in c.ack_waits()), default=0.0), 2)
        await self._stop_chatters()

    def server_tracebacks(self) -> int:
        return sum(node.logs().count("Traceback") for node in self.nodes)


# the scenarios ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    setup: str  # "sqlite" or "cluster" (two nodes, PostgreSQL + Redis)
    fault: str
    expected: str
    body: Callable[[Run], Awaitable[None]]
    in_suite: bool = True  # run by tests/test_faults.py (False: too long for the test suite)

    @property
    def services(self) -> bool:
        return self.setup == "cluster"


SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, setup: str, fault: str, expected: str, in_suite: bool = True,
             ) -> Callable[[Callable[[Run], Awaitable[None]]], Callable[[Run], Awaitable[None]]]:
    def register_scenario(body: Callable[[Run], Awaitable[None]]) -> Callable[[Run], Awaitable[None]]:
        SCENARIOS[name] = Scenario(name, setup, fault, expected, body, in_suite)
        return body

    return register_scenario


@scenario("baseline", "sqlite", "none", "every message acked, stored once, delivered once to everyone, in order")
async def baseline(run: Run) -> None:
    p = run.profile
    node = await run.sqlite_node()
    await run.chat([lambda: node.ws_url], node)
    await run.traffic(p.before + p.fault + p.after)
    await run.finish(node)
    run.check("expectation", "no errors, no reconnects", not any(c.errors or c.connects > 1 for c in run.chatters),
              f"{sum(sum(c.errors.values()) for c in run.chatters)} errors")


@scenario("kill-9", "sqlite", "kill -9 of the server mid-traffic; restarted on the same port after the fault time",
          "sends unacked at the kill are resent with their client_id and stored once (a duplicate ack if they "
          "were stored); clients resume with since: nothing lost or twice")
async def kill9(run: Run) -> None:
    p = run.profile
    node = await run.sqlite_node()
    await run.chat([lambda: node.ws_url], node)
    await run.traffic(p.before)
    in_flight = await run.in_flight(run.chatters)
    node.kill9()
    run.mark(f"kill -9 ({in_flight} sends in flight)")
    await asyncio.sleep(p.fault)
    await run._start(node)
    run.mark("restarted")
    await run.traffic(p.after)
    run.note(f"{in_flight} sends unacked at the kill")
    run.check("fault", "every chatter reconnected", all(c.connects >= 2 for c in run.chatters),
              f"connections {[c.connects for c in run.chatters]}")
    await run.finish(node)


@scenario("sigterm", "sqlite", "SIGTERM mid-traffic (graceful stop); restarted after the fault time",
          "acked sends kept; clients get close 1001 (going away), resume and resend: nothing lost or twice")
async def sigterm(run: Run) -> None:
    p = run.profile
    node = await run.sqlite_node()
    await run.chat([lambda: node.ws_url], node)
    await run.traffic(p.before)
    in_flight = await run.in_flight(run.chatters)
    t = run.mark(f"SIGTERM ({in_flight} sends in flight)")
    await asyncio.to_thread(node.stop)
    run.mark(f"stopped (exit status {node.proc.returncode if node.proc else '?'})")
    run.note(f"{in_flight} sends unacked at the SIGTERM; the stop took {time.monotonic() - t:.1f} s")
    await asyncio.sleep(p.fault)
    await run._start(node)
    run.mark("restarted")
    await run.traffic(p.after)
    await run.finish(node)
    sent_before = [c.outcomes[cid].first_sent - t for c in run.chatters for cid in c.duplicate_ids]
    if sent_before:
        run.note(f"{len(sent_before)} duplicate acks answer resends of sends made at most "
                 f"{max(1, math.ceil(-1000 * min(sent_before)))} ms before the SIGTERM (stored, but the ack never "
                 "reached the client)")
    closes = Counter(code for c in run.chatters for code, n in c.closes.items() for _ in range(n))
    run.check("fault", "every chatter reconnected", all(c.connects >= 2 for c in run.chatters),
              f"connections {[c.connects for c in run.chatters]}")
    first = [next(iter(c.closes), "none") for c in run.chatters]  # how each chatter's first connection ended
    run.check("expectation", "connections closed with 1001", all(code == "1001" for code in first),
              f"first close per chatter {Counter(first)}; all {dict(closes)}")
    run.check("expectation", "every send the server stored before stopping was acked before the close",
              not sent_before, f"{len(sent_before)} stored without their ack reaching the client")


@scenario("node-kill-9", "cluster", "kill -9 of node b; its clients reconnect to node a",
          "acked on b = stored in PostgreSQL; b's clients resume on a and resend: nothing lost or twice")
async def node_kill9(run: Run) -> None:
    p = run.profile
    a, b = await run.cluster()
    await run.chat([first_alive(a, b), first_alive(b, a)], a)
    await run.traffic(p.before)
    on_b = [c for c in run.chatters if c.url() == b.ws_url]
    in_flight = await run.in_flight(on_b)
    b.kill9()
    run.mark(f"kill -9 node b ({in_flight} sends in flight on b)")
    await run.traffic(p.fault + p.after)
    run.check("fault", "b's chatters moved to a", all(c.connected_urls[a.ws_url] >= 1 for c in on_b),
              f"{[dict(c.connected_urls) for c in on_b]}")
    run.note(f"{in_flight} sends in flight on b at the kill")
    await run.finish(a)


@scenario("node-sigterm", "cluster", "SIGTERM of node b (rolling restart); its clients reconnect to node a",
          "b's clients get 1001 and resume on a: nothing lost or twice")
async def node_sigterm(run: Run) -> None:
    p = run.profile
    a, b = await run.cluster()
    await run.chat([first_alive(a, b), first_alive(b, a)], a)
    await run.traffic(p.before)
    on_b = [c for c in run.chatters if c.url() == b.ws_url]
    run.mark("SIGTERM node b")
    await asyncio.to_thread(b.stop)
    run.mark("node b stopped")
    await run.traffic(p.fault + p.after)
    run.check("fault", "b's chatters moved to a", all(c.connected_urls[a.ws_url] >= 1 for c in on_b),
              f"{[dict(c.connected_urls) for c in on_b]}")
    await run.finish(a)
    first = [next(iter(c.closes), "none") for c in on_b]
    run.check("expectation", "b's connections closed with 1001", all(code == "1001" for code in first),
              f"first close per chatter of b {Counter(first)}")
    duplicates = sum(c.duplicate_acks for c in on_b)
    run.check("expectation", "every send b stored before stopping was acked before the close", duplicates == 0,
              f"{duplicates} duplicate acks on resend")


async def _link_fault(run: Run, link: str, how: str, during: Callable[[], Coroutine[Any, Any, None]] | None = None,
                      seconds: float | None = None) -> tuple[ServerProcess, ServerProcess, float, float]:
    """Cluster traffic with node b's `link` ("redis" or "db") cut or paused for `seconds` (the fault time by
    default); `during` runs alongside (it starts with the traffic)."""
    p = run.profile
    a, b = await run.cluster()
    await run.chat([lambda: a.ws_url, lambda: b.ws_url], a)
    side: asyncio.Task[None] | None = asyncio.get_running_loop().create_task(during()) if during else None
    await run.traffic(p.before)
    assert run.proxies is not None
    proxy = run.redis_proxy if link == "redis" else run.db_proxy
    assert proxy is not None
    start = run.mark(f"{how} node b's {link} link")
    await (run.proxies.cut(proxy) if how == "cut" else run.proxies.pause(proxy))
    await asyncio.sleep(p.fault if seconds is None else seconds)
    end = run.mark(f"heal node b's {link} link")
    await run.proxies.resume(proxy)
    await run.traffic(p.after)
    if side is not None:
        await side
    return a, b, start, end


def _on(run: Run, node: ServerProcess) -> list[FaultChatter]:
    return [c for c in run.chatters if c.url() == node.ws_url]


@scenario("redis-cut", "cluster", "node b's Redis link cut (connections reset, new ones refused) for the fault time",
          "sends acked on both nodes throughout; b's members get a's messages late, in order, none twice")
async def redis_cut(run: Run) -> None:
    a, b, start, end = await _link_fault(run, "redis", "cut")
    await run.finish(a)
    for node, name in ((a, "a"), (b, "b")):
        replies = run.replies_between(_on(run, node), start, end)
        run.check("expectation", f"acks on node {name} during the cut", replies["ack"] > 0, str(dict(replies)))
    lost = b.logs().count("Redis subscription lost")
    run.check("fault", "node b lost its Redis subscription", lost >= 1, f"logged {lost}x")
    run.note(f"offline presence frames about chatters: {sum(sum(c.offline_seen.values()) for c in run.chatters)}")


@scenario("redis-pause", "cluster",
          "node b's Redis link paused (no bytes forwarded, sockets kept open) for the fault time, "
          f"longer than the presence interval ({PRESENCE_INTERVAL} s)",
          "sends acked throughout; b fetches what it missed from the store each presence interval: nothing lost "
          "or twice; b's users may look offline on a meanwhile")
async def redis_pause(run: Run) -> None:
    a, b, start, end = await _link_fault(run, "redis", "pause")
    await run.finish(a)
    for node, name in ((a, "a"), (b, "b")):
        replies = run.replies_between(_on(run, node), start, end)
        run.check("expectation", f"acks on node {name} during the pause", replies["ack"] > 0, str(dict(replies)))
    offline = Counter[str]()
    for c in _on(run, a):
        offline.update(c.offline_seen)
    b_users = {c.user for c in _on(run, b)}
    run.note(f"b's users shown offline to a's chatters {sum(n for u, n in offline.items() if u in b_users)}x")
    lost = b.logs().count("Redis subscription lost")
    run.note(f"b logged 'Redis subscription lost' {lost}x")
    assert run.redis_proxy is not None
    run.check("fault", "traffic between b and Redis was held", run.redis_proxy.held > 0,
              f"{run.redis_proxy.held} bytes held at the proxy")


@scenario("pg-cut", "cluster", "node b's PostgreSQL link cut (connections reset, new ones refused) for the fault time",
          "b answers sends with `unavailable` (never an ack) and /healthz 503; a carries on; b recovers by itself "
          "and the resent client_ids are stored once")
async def pg_cut(run: Run) -> None:
    p = run.profile
    a, b = await run.cluster()
    await run.chat([lambda: a.ws_url, lambda: b.ws_url], a)
    await run.traffic(p.before)
    assert run.proxies is not None and run.db_proxy is not None
    start = run.mark("cut node b's PostgreSQL link")
    await run.proxies.cut(run.db_proxy)
    await asyncio.sleep(p.fault)
    health_down = (await asyncio.to_thread(http, "GET", b.http + "/healthz"))[0]
    end = run.mark("heal node b's PostgreSQL link")
    await run.proxies.resume(run.db_proxy)
    await run.traffic(p.after)
    health_up = (await asyncio.to_thread(http, "GET", b.http + "/healthz"))[0]
    await run.finish(a)
    on_b = run.replies_between(_on(run, b), start + 0.3, end)
    run.check("fault", "b's sends refused during the cut", on_b["unavailable"] > 0, str(dict(on_b)))
    run.check("expectation", "b never acked during the cut", on_b["ack"] == 0, str(dict(on_b)))
    on_a = run.replies_between(_on(run, a), start, end)
    run.check("expectation", "a acked during the cut", on_a["ack"] > 0, str(dict(on_a)))
    run.check("expectation", "b's /healthz 503 during the cut, 200 after", (health_down, health_up) == (503, 200),
              f"{health_down} then {health_up}")


async def _pg_stall(run: Run, pause: float) -> None:
    """Node b's PostgreSQL link paused for `pause` s, with b's /healthz asked 1 s into the pause."""
    probe: dict[str, Any] = {}

    async def health_during_pause() -> None:
        await asyncio.sleep(run.profile.before + 1.0)
        asked = time.monotonic()
        try:
            status = str((await asyncio.to_thread(http, "GET", run.nodes[1].http + "/healthz"))[0])
        except OSError as exc:  # (the client gives up after 30 s)
            status = f"nothing ({type(exc).__name__})"
        probe.update(status=status, at=time.monotonic(), took=time.monotonic() - asked)

    a, b, start, end = await _link_fault(run, "db", "pause", during=health_during_pause, seconds=pause)
    when = "once the link healed" if probe["at"] >= end else "during the pause"
    run.note(f"b's /healthz, asked 1 s into the pause, answered {probe['status']} after {probe['took']:.1f} s, {when}")
    await run.finish(a)
    on_b = run.replies_between(_on(run, b), start + 0.3, end)
    run.note(f"replies on b during the pause: {listing(on_b)}")
    on_a = run.replies_between(_on(run, a), start, end)
    run.check("expectation", "a acked during the pause", on_a["ack"] > 0, str(dict(on_a)))
    during = [o for c in _on(run, b) for o in c.outcomes.values() if start + 0.3 < o.first_sent < end]
    stalled = sum(1 for o in during if not any(t < end for t, _ in o.replies))
    run.note(f"{stalled} of the {len(during)} sends made on b during the pause had no reply until the link healed")
    assert run.db_proxy is not None
    run.check("fault", "b's link to PostgreSQL was held while b had sends to store",
              run.db_proxy.held > 0 and (stalled > 0 or on_b["unavailable"] > 0),
              f"{stalled} sends without a reply until the link healed; {on_b['unavailable']} unavailable; "
              f"{run.db_proxy.held} bytes held")
    if pause > COMMAND_TIMEOUT:  # docs/deploy.md: while PostgreSQL cannot be reached, sends get `unavailable`
        first_reply = [min((t for t, _ in o.replies), default=end) - o.first_sent for o in during]
        late = sum(1 for wait in first_reply if wait > COMMAND_TIMEOUT + 1)
        run.check("expectation", f"every send on b answered within the {COMMAND_TIMEOUT:.0f} s command timeout",
                  late == 0, f"{late} sends waited longer for any reply")


@scenario("pg-pause", "cluster",
          "node b's PostgreSQL link paused (no bytes forwarded, sockets kept open) for the fault time",
          "b's sends are answered `unavailable` (within the store's command timeout for the batch in flight, "
          "5 s for what waits behind it), none acked while paused; after healing all stored once; a carries on")
async def pg_pause(run: Run) -> None:
    await _pg_stall(run, run.profile.fault)


@scenario("pg-stall", "cluster",
          f"node b's PostgreSQL link paused for {PG_STALL:.0f} s, past the store's {COMMAND_TIMEOUT:.0f} s "
          "command timeout "
          "(statements in flight, COMMITs among them, are delivered when the link heals)",
          "b's sends get `unavailable` (the batch in flight at the timeout, what waits behind it after 5 s), never "
          "an ack; a COMMIT that lands after the client gave up is found by client_id on resend (a duplicate ack): "
          "stored once; /healthz answers 503 within seconds; a carries on", in_suite=False)
async def pg_stall(run: Run) -> None:
    await _pg_stall(run, PG_STALL)
    errors: Counter[str] = Counter()
    for c in run.chatters:
        errors.update(c.errors)
    run.check("expectation", "b answered `unavailable` after the timeout", errors["unavailable"] > 0,
              f"errors {listing(errors)}")


@scenario("redis-restart", "cluster", "the private redis-server killed (-9) mid-traffic, restarted empty after the "
          "fault time", "sends acked throughout; each node's members get the other's messages late, in order")
async def redis_restart(run: Run) -> None:
    p = run.profile
    a, b = await run.cluster()
    await run.chat([lambda: a.ws_url, lambda: b.ws_url], a)
    await run.traffic(p.before)
    assert run.redis is not None
    run.redis.kill()
    run.mark("kill -9 redis-server")
    await asyncio.sleep(p.fault)
    run.redis.start()
    run.mark("redis-server restarted (empty)")
    await run.traffic(p.after)
    await run.finish(a)
    lost = sum(n.logs().count("Redis subscription lost") for n in (a, b))
    run.check("fault", "both nodes lost their subscription", lost >= 2, f"logged {lost}x")


@scenario("slow-consumer", "sqlite", "a member stops reading (4 KiB receive buffer) and floods history requests; "
          "--max-pending 64 KiB", "the slow client is dropped (it sees 1006; counted in /metrics); the others "
          "lose nothing")
async def slow_consumer(run: Run) -> None:
    p = run.profile
    node = await run.sqlite_node("--max-pending", "65536")
    await run.chat([lambda: node.ws_url], node)
    await run.traffic(p.before)
    _, token = await asyncio.to_thread(register, node)
    slow = SlowReader(node.port, token, run.room)
    run.mark("slow reader starts")
    await slow.flood(max(p.fault, 10.0))
    run.mark(f"flood over after {slow.requests} requests ("
             f"{'the server stopped reading them' if slow.blocked_after is not None else 'time up'})")
    drops, deadline = 0.0, time.monotonic() + 15  # over the cap for 5 s (SLOW_GRACE), then dropped
    while drops < 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        drops = await asyncio.to_thread(metric, node, "parley_slow_consumer_drops_total")
    run.mark(f"slow reader dropped ({drops:g})")
    await slow.finish()
    await run.traffic(p.after)
    run.note(f"slow reader: {slow.requests} history requests taken, blocked after "
             f"{slow.blocked_after if slow.blocked_after is None else round(slow.blocked_after, 1)} s, "
             f"connection ended {slow.close_code}")
    run.check("fault", "the slow client was dropped", drops >= 1, f"parley_slow_consumer_drops_total {drops:g}")
    run.check("expectation", "the slow client saw 1006", slow.close_code == 1006, str(slow.close_code))
    await run.finish(node)
    run.check("expectation", "the others saw no error and no drop",
              not any(c.errors or c.connects > 1 for c in run.chatters),
              f"errors {[dict(c.errors) for c in run.chatters]}, connections {[c.connects for c in run.chatters]}")


async def _garbage(run: Run, node: ServerProcess, others: list[ServerProcess]) -> None:
    p = run.profile
    await run.chat([lambda: node.ws_url, *(lambda n=n: n.ws_url for n in others)], node)
    await run.traffic(p.before)
    _, token = await asyncio.to_thread(register, node)
    attacker = Attacker(node.port, token, unique("attack"))
    run.mark("attack starts")
    await attacker.run(p.fault)
    run.mark("attack ends")
    await run.traffic(p.after)
    health = (await asyncio.to_thread(http, "GET", node.http + "/healthz"))[0]
    run.note(f"attacker: {attacker.frames} hostile frames or requests over {attacker.connections} connections; "
             f"error frames: {listing(attacker.errors)}; connections ended: {listing(attacker.closes)}; "
             f"not HTTP: {listing(attacker.refused)}")
    run.check("fault", "the attacker got error frames", sum(attacker.errors.values()) > 0, str(dict(attacker.errors)))
    run.check("expectation", "the server stayed healthy", health == 200, f"/healthz {health}")
    await run.finish(node)
    run.check("expectation", "the others saw no error and no drop",
              not any(c.errors or c.connects > 1 for c in run.chatters),
              f"errors {[dict(c.errors) for c in run.chatters]}, connections {[c.connects for c in run.chatters]}")
    run.check("expectation", "no internal errors", attacker.errors["internal"] == 0,
              f"internal {attacker.errors['internal']}")
    tracebacks = run.server_tracebacks()
    run.check("expectation", "no tracebacks in the server log", tracebacks == 0, f"{tracebacks} tracebacks")


@scenario("garbage", "sqlite", "an attacker floods malformed frames, invalid WebSocket frames, forged tokens, "
          "NUL characters, 30,000-deep JSON and non-HTTP bytes while others chat",
          "the attacker gets error frames and close codes (1002/1007/1009/4401); the others see no error; "
          "nothing lost or twice")
async def garbage(run: Run) -> None:
    node = await run.sqlite_node()
    await _garbage(run, node, [])


@scenario("garbage-pg", "cluster", "the same flood against node b of the PostgreSQL cluster (NUL characters aimed "
          "at PostgreSQL)", "as `garbage`; a bad row never makes other users' sends fail")
async def garbage_pg(run: Run) -> None:
    a, b = await run.cluster()
    await _garbage(run, b, [a])


# running ------------------------------------------------------------------------------------------------------


def listing(counter: dict[str, int]) -> str:
    """"a 3, b 1" (largest first), or "none"."""
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"


def observed(r: Result) -> str:
    """The `observed` cell: the scenario's notes, what clients saw, and any mismatch or anomaly."""
    if r.skipped:
        return f"skipped: {r.skipped}"
    if r.crashed:
        return f"scenario failed: {r.crashed}"
    parts = list(r.notes)
    parts.append(f"client errors: {listing(r.errors)}")
    parts.append(f"connections ended: {listing(r.closes)}; {r.reconnects} reconnects; "
                 f"{r.duplicate_acks} duplicate acks; longest wait for an ack {r.longest_ack_wait:.1f} s")
    parts += [f"{'FAULT NOT MADE' if c.kind == 'fault' else 'NOT AS EXPECTED'}: {c.what} ({c.saw})"
              for c in r.checks if not c.ok]
    parts += [f"ANOMALY: {p}" for p in r.counts.problems()]
    return "; ".join(parts)


async def run_scenario(name: str, profile: Profile | str, workdir: Path, catch: bool = True) -> Result:
    """Run one scenario. With `catch` a skip (missing service) or a failure of the scenario itself is recorded
    in the result; without it (the test suite) it propagates to pytest."""
    spec = SCENARIOS[name]
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    result = Result(name, spec.setup, spec.fault, spec.expected, prof.name)
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        async with AsyncExitStack() as stack:
            await spec.body(Run(result, prof, workdir, stack))
    except pytest.skip.Exception as exc:
        if not catch:
            raise
        result.skipped = str(exc.msg)
    except pytest.fail.Exception as exc:  # a service missing under CI=true
        if not catch:
            raise
        result.crashed = str(exc.msg)
    except Exception as exc:
        if not catch:
            raise
        result.crashed = f"{type(exc).__name__}: {exc}"
        result.details.append(traceback.format_exc())
    result.seconds = round(time.monotonic() - t0, 1)
    result.observed = observed(result)
    return result


def selected(only: Iterable[str] | None) -> list[str]:
    names = list(only) if only else list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise KeyError(f"unknown scenarios {unknown}; known: {', '.join(SCENARIOS)}")
    return names


async def run_all(profile: str, workdir: Path, only: Iterable[str] | None = None,
                  progress: Callable[[Result], None] | None = None) -> list[Result]:
    """Run the scenarios one after another (each on servers of its own); `progress` hears of each result."""
    results = []
    for name in selected(only):
        result = await run_scenario(name, profile, workdir / name)
        if progress is not None:
            progress(result)
        results.append(result)
    return results
