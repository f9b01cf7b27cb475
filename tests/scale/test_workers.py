"""`parley serve --workers N`: N processes on one port (SO_REUSEPORT) sharing PostgreSQL and Redis.

Both workers serve (each answers /healthz with its pid and holds some of the WebSockets), they share
rooms (clients spread over them see every message once, in order), a worker that dies is replaced, and
--workers 2 without a shared store and broker is refused with a clear message.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import subprocess
import sys

from tests.scale.cluster import Chatter, drain, start_chatters, stored_messages, verify
from tests.scale.conftest import MakeNode
from tests.support import ServerProcess, free_port, register, unique


def worker_state(node: ServerProcess, tries: int = 200) -> dict[int, float]:
    """pid -> open WebSockets, read over keep-alive connections (one connection = one worker); stops a few
    looks after both workers have answered (the kernel picks a worker per connection)."""
    seen: dict[int, float] = {}
    while tries > 0:
        tries -= 1
        conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            pid = json.loads(conn.getresponse().read())["pid"]
            conn.request("GET", "/metrics")
            metrics = conn.getresponse().read().decode()
        finally:
            conn.close()
        seen[pid] = next(float(line.split()[1]) for line in metrics.splitlines()
                         if line.startswith("parley_connections "))
        if len(seen) >= 2:
            tries = min(tries, 10)
    return seen


async def test_two_workers_share_the_port_and_the_rooms(make_node: MakeNode) -> None:
    node = make_node("--workers", "2")
    pids = await asyncio.to_thread(worker_state, node)
    assert len(pids) == 2 and node.proc is not None and node.proc.pid not in pids, pids

    room = unique("room")
    chatters = [Chatter(*register(node), lambda: node.ws_url, room, rate=6) for _ in range(10)]
    await start_chatters(chatters)
    spread = await asyncio.to_thread(worker_state, node)
    assert len(spread) == 2 and all(n >= 1 for n in spread.values()), f"connections per worker: {spread}"
    await asyncio.sleep(2)

    # a worker that dies is replaced; its clients reconnect to the port and resume
    victim = next(iter(spread))
    os.kill(victim, 9)
    await asyncio.sleep(2)
    await drain(chatters, node)
    tally = verify(chatters, stored_messages(node, chatters[0].token, room))
    after = await asyncio.to_thread(worker_state, node)
    print(tally, f"; connections per worker {spread}, after killing {victim}: {after}")
    await asyncio.gather(*(c.stop() for c in chatters))
    assert victim not in after and len(after) == 2
    assert sum(1 for c in chatters if c.connects > 1) >= 1
    assert (tally.lost, tally.missing, tally.duplicates, tally.out_of_order, tally.unacked) == (0, 0, 0, 0, 0), tally


def test_workers_need_postgresql_and_redis(tmp_path) -> None:
    for db, broker in ((f"sqlite:///{tmp_path}/p.db", "memory://"), ("postgresql://u@h/d", "memory://"),
                       (f"sqlite:///{tmp_path}/p.db", "redis://127.0.0.1:6379/0")):
        out = subprocess.run([sys.executable, "-m", "parley", "serve", "--workers", "2", "--port", str(free_port()),
                              "--db", db, "--broker", broker], capture_output=True, text=True, timeout=30)
        assert out.returncode == 2, out.stderr
        assert "--workers 2 runs 2 processes" in out.stderr and "postgresql://" in out.stderr, out.stderr
