"""Failures of the shared services during traffic, with two nodes and clients on both.

- Redis restarts (a private redis-server, so the machine's Redis is left alone): connected clients still
  receive every acked message, including those sent while it was down, with no later message to reveal
  the gap (the nodes compare their rooms with the store when they subscribe again).
- PostgreSQL is cut off from one node (a TCP proxy between them drops every connection and refuses new
  ones): that node's sends get error `unavailable`, never an ack; the other node carries on; nothing
  acked is lost; the node recovers by itself when the proxy lets PostgreSQL through again.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.scale.cluster import Chatter, RedisServer, TcpProxy, drain, start_chatters, stored_messages, verify
from tests.scale.conftest import PRESENCE_INTERVAL, MakeNode
from tests.support import http, register, unique


async def test_redis_restart_during_traffic_loses_nothing(make_node: MakeNode, tmp_path: Path) -> None:
    redis = RedisServer(tmp_path).start()
    try:
        broker = f"{redis.url}?prefix=parley&presence_interval={PRESENCE_INTERVAL}"
        a, b = make_node(broker=broker), make_node(broker=broker)
        room = unique("room")
        chatters = [Chatter(*register(node), lambda node=node: node.ws_url, room, rate=8) for node in (a, b, a, b)]
        await start_chatters(chatters)
        await asyncio.sleep(1.5)
        redis.kill()
        await asyncio.sleep(1.5)  # still sending: stored and acked, but not published to the other node
        for c in chatters:
            c.sending = False
        while any(c.pending for c in chatters):
            await asyncio.sleep(0.05)
        sent_while_down = {seq for c in chatters for seq in c.acked.values()}
        redis.start()  # same port, empty; nobody sends until every client has every message
        head = await drain(chatters, a)
        for c in chatters:
            c.sending = True
        await asyncio.sleep(1.5)  # and traffic flows between the nodes again
        head = await drain(chatters, a)
        tally = verify(chatters, stored_messages(a, chatters[0].token, room))
        print(tally, f"; last seq {head}")
        await asyncio.gather(*(c.stop() for c in chatters))
    finally:
        redis.kill()
    assert len(sent_while_down) > 20 and tally.acked > len(sent_while_down)
    assert all("Redis subscription lost" in n.logs() for n in (a, b))
    assert (tally.lost, tally.missing, tally.duplicates, tally.out_of_order, tally.unacked) == (0, 0, 0, 0, 0), tally


def via(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


async def test_postgres_cut_off_sends_get_unavailable_and_the_node_recovers(make_node: MakeNode, pg_url: str) -> None:
    target = urlsplit(pg_url)
    proxy = await TcpProxy(target.hostname or "127.0.0.1", target.port or 5432).start()
    try:
        a = await asyncio.to_thread(make_node, db=via(pg_url, proxy))  # its store goes through this loop's proxy
        b = make_node()
        room = unique("room")
        on_a = [Chatter(*register(b), lambda: a.ws_url, room, rate=8) for _ in range(2)]
        on_b = [Chatter(*register(b), lambda: b.ws_url, room, rate=8) for _ in range(2)]
        chatters = on_a + on_b
        await start_chatters(chatters)
        await asyncio.sleep(1.5)

        await proxy.cut()
        cut_at = time.monotonic()
        await asyncio.sleep(2.5)
        health_down = (await asyncio.to_thread(http, "GET", a.http + "/healthz"))[0]
        await proxy.resume()
        resumed_at = time.monotonic()
        await asyncio.sleep(2.5)  # a's clients resend what was refused; a answers again by itself
        health_up = (await asyncio.to_thread(http, "GET", a.http + "/healthz"))[0]

        head = await drain(chatters, b)
        stored = await asyncio.to_thread(stored_messages, b, chatters[0].token, room)
        tally = verify(chatters, stored)
        print(tally, f"; last seq {head}; errors on node a: {[dict(c.errors) for c in on_a]}")
        await asyncio.gather(*(c.stop() for c in chatters))
    finally:
        await proxy.close()

    assert (health_down, health_up) == (503, 200)
    # every answer node a gave while PostgreSQL was unreachable was `unavailable` (never an ack) ...
    during = [r for c in on_a for o in c.outcomes.values() for t, r in o.replies if cut_at + 0.3 < t < resumed_at]
    assert len(during) >= 10 and set(during) == {"unavailable"}, Counter(during)
    # ... node b, on PostgreSQL directly, kept acking; and a's refused messages were stored once it recovered
    assert any(cut_at < t < resumed_at for c in on_b for o in c.outcomes.values() for t, r in o.replies if r == "ack")
    assert all(c.acked for c in on_a) and not any(c.pending for c in on_a)
    assert (tally.lost, tally.missing, tally.duplicates, tally.out_of_order, tally.unacked) == (0, 0, 0, 0, 0), tally
