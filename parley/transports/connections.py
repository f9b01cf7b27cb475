"""Every open connection of this process, whatever its transport: heartbeats, shutdown and metrics.

A transport registers each connection it accepts. One heartbeat task asks every connection, every
`--heartbeat` seconds, to prove it is alive (`Liveness`: a WebSocket sends a ping; a long-poll client
must have polled); a connection silent for two intervals is dropped. On shutdown every connection is
closed with GOING_AWAY (reconnect). Counters are kept per transport (`TransportMetrics`).
"""

import asyncio
import logging
from typing import Protocol

from parley.transports.sink import GOING_AWAY, HEARTBEAT, Disconnect

log = logging.getLogger("parley.transports")

MAX_MISSED = 2  # heartbeat intervals a connection may stay silent
# seconds a shutdown waits for clients to take what was queued for them and answer the close frame (a
# client behind a slow link may need a few seconds for a full 4 MiB buffer)
SHUTDOWN_GRACE = 8.0


class Liveness:
    """Heartbeats since the peer was last heard from."""

    __slots__ = ("missed",)

    def __init__(self) -> None:
        self.missed = 0

    def heard(self) -> None:
        self.missed = 0

    def tick(self) -> bool:
        """One heartbeat interval passed: False if the peer has been silent too long (drop it)."""
        if self.missed >= MAX_MISSED:
            return False
        self.missed += 1
        return True


class Connection(Protocol):
    """What the registry needs of a transport's connection."""

    peer: str
    liveness: Liveness

    def ping(self) -> None:
        """Ask the peer for a sign of life (a WebSocket ping; nothing for a poller, whose polls are one)."""

    def pause(self) -> None:
        """Stop reading the peer's requests (close() reads again, for its closing handshake)."""

    def close(self, disconnect: Disconnect) -> None: ...

    def abort(self, disconnect: Disconnect) -> None:
        """Drop the connection at once (nothing more is sent)."""


class TransportMetrics:
    __slots__ = ("heartbeat_drops", "name", "open", "opened", "polls", "slow_drops")

    def __init__(self, name: str) -> None:
        self.name = name
        self.polls = 0  # requests answered (long-polling)
        self.open = 0
        self.opened = 0
        self.slow_drops = 0
        self.heartbeat_drops = 0


class Connections:
    def __init__(self, heartbeat: float) -> None:
        self.heartbeat = heartbeat
        self.open: dict[Connection, TransportMetrics] = {}
        self.metrics: dict[str, TransportMetrics] = {}
        self._task: asyncio.Task[None] | None = None

    def transport(self, name: str) -> TransportMetrics:
        """The counters of transport `name` (created on first use)."""
        m = self.metrics.get(name)
        if m is None:
            m = self.metrics[name] = TransportMetrics(name)
        return m

    def add(self, conn: Connection, metrics: TransportMetrics) -> None:
        self.open[conn] = metrics
        metrics.open += 1
        metrics.opened += 1

    def remove(self, conn: Connection) -> None:
        metrics = self.open.pop(conn, None)
        if metrics is not None:
            metrics.open -= 1

    def total(self, counter: str) -> int:
        return sum(getattr(m, counter) for m in self.metrics.values())

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._heartbeat(), name="parley-heartbeat")

    def quiet(self) -> None:
        """Stop reading from every connection (shutdown: no new requests; answers still go out)."""
        for conn in self.open:
            conn.pause()

    async def stop(self) -> None:
        """Close every connection with GOING_AWAY (after what is queued for it) and wait for the closing
        handshakes, at most SHUTDOWN_GRACE seconds; connections still open then are dropped."""
        if self._task:
            self._task.cancel()
            self._task = None
        for conn in list(self.open):
            conn.close(GOING_AWAY)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHUTDOWN_GRACE
        while self.open and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for conn in list(self.open):
            conn.abort(GOING_AWAY)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            for conn, metrics in list(self.open.items()):
                if conn.liveness.tick():
                    conn.ping()
                    continue
                log.info("%s %s missed two heartbeats; dropping", metrics.name, conn.peer)
                metrics.heartbeat_drops += 1
                conn.abort(HEARTBEAT)
