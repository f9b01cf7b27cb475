"""Long-polling with no sticky sessions (docs/protocol.md, section 4): two nodes on PostgreSQL and Redis
behind nginx round-robin with no affinity, so a client's consecutive polls land on alternating nodes.

A polling client (every request through nginx) and a WebSocket client (on node 2) exchange 200 messages,
100 each way, interleaved: each sees all 200, once, in seq order, and the poller's message frames are the
very frames the WebSocket client received. nginx's access log shows both nodes answered polls. The
WebSocket client sees the poller come online (and not flap while its polls hop between nodes), and go
offline after the poller says it leaves (DELETE /api/poll: at once on the node that answers it, within
three heartbeats on the other).

Removal and revocation "on every node": a poll waiting on one node gets `removed` when the poller is
kicked through the other node (then 404 from either), and `closed` 4401 when its user signs out everywhere
through the other node (then 401 from either).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.access_support import create_room, join_ok, manage_ok
from tests.scale.cluster import nginx_binary, wait_port
from tests.scale.conftest import MakeNode
from tests.support import Client, ServerProcess, free_port, register, stop_process, unique
from tests.test_poll import Poller, room_events, started

MESSAGES = 100  # each way


class RoundRobin:
    """nginx on a free port in front of `nodes`: round-robin (no ip_hash, no least_conn), proxy_buffering off,
    proxy_read_timeout 60 s, WebSocket upgrade headers for /ws; every request logged with the node that
    answered it."""

    def __init__(self, nodes: list[ServerProcess], workdir: Path) -> None:
        self.binary = nginx_binary()
        self.workdir = workdir
        self.port = free_port()
        self.access_log = workdir / "access.log"
        self.conf = workdir / "nginx.conf"
        servers = "".join(f"        server 127.0.0.1:{n.port};\n" for n in nodes)
        temp = "".join(f"    {d}_temp_path {workdir}/{d};\n" for d in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                          "scgi"))
        self.conf.write_text(f"""worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log;
events {{ worker_connections 1024; }}
http {{
{temp}    log_format upstream '$request_method $uri $status $upstream_addr';
    access_log {self.access_log} upstream;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      '';
    }}
    upstream parley {{
{servers}        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{self.port};
        location /ws {{
            proxy_pass http://parley;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_read_timeout 60s;
        }}
        location / {{
            proxy_pass http://parley;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_buffering off;
            proxy_read_timeout 60s;
        }}
    }}
}}
""")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RoundRobin:
        args = [self.binary, "-p", str(self.workdir), "-c", str(self.conf), "-e", str(self.workdir / "error.log")]
        check = subprocess.run([*args, "-t"], capture_output=True, text=True)
        assert check.returncode == 0, f"nginx -t: {check.stderr}"
        log = open(self.workdir / "nginx.out", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([*args, "-g", "daemon off;"], stdout=log, stderr=log)
        wait_port(self.port, 10)
        return self

    def stop(self) -> None:
        stop_process(self.proc)

    def served(self, method: str, path: str) -> dict[str, int]:
        """How many `method path` requests each upstream (host:port) answered, from the access log."""
        counts: dict[str, int] = {}
        text = self.access_log.read_text() if self.access_log.exists() else ""
        for m in re.finditer(rf"^{method} {re.escape(path)} \d+ (\S+)$", text, re.MULTILINE):
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
        return counts


def presence_of(frames: list[dict[str, Any]], user: str) -> list[bool]:
    return [f["online"] for f in frames if f.get("type") == "presence" and f.get("user") == user]


async def test_a_poller_through_round_robin_and_a_websocket_client_exchange_200_messages(
        make_node: MakeNode, tmp_path: Path) -> None:
    # a short heartbeat: the node that did not answer the DELETE lets the poller go within 3 of them (6 s;
    # every poll is heard by one node or the other, so presence must not flap while the polls hop)
    a, b = make_node("--rate", "0", "--heartbeat", "2"), make_node("--rate", "0", "--heartbeat", "2")
    nginx = RoundRobin([a, b], tmp_path).start()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    alice: Client | None = None
    listening: asyncio.Future[Any] | None = None
    try:
        (ua, ta), (ub, tb) = register(a), register(b)
        room = unique("room")
        alice = await Client.connect(b, ta)  # on node 2, directly
        await alice.join(room)
        head = join_ok(b, tb, room)["last_seq"]
        bob = Poller(session, nginx.http, tb).follow(room, head)

        first = await bob.poll()
        assert [f["type"] for f in first["frames"]] == ["joined"] and ua in first["frames"][0]["online"]
        assert await alice.expect("presence", user=ub, timeout=15) == {"type": "presence", "room": room, "user": ub,
                                                                       "online": True}

        async def listen() -> list[dict[str, Any]]:
            """Poll through nginx, again and again, until all 200 messages came."""
            got: list[dict[str, Any]] = []
            deadline = time.monotonic() + 180
            while len([f for f in got if f.get("type") == "message"]) < 2 * MESSAGES:
                assert time.monotonic() < deadline, f"{len(got)} frames after 180 s"
                got += (await bob.poll(timeout=25))["frames"]
            return got

        listening = asyncio.ensure_future(listen())
        sent: list[tuple[int, str, str]] = []  # (seq, from, text) in the order stored
        for i in range(MESSAGES):
            ack = await alice.say(room, f"ws {i}")
            sent.append((ack["seq"], ua, f"ws {i}"))
            posted = await bob.say(room, f"poll {i}")  # through nginx: either node
            sent.append((posted["seq"], ub, f"poll {i}"))
            if listening.done():  # it failed: say why now
                listening.result()
        got = await asyncio.wait_for(listening, 120)

        assert [s for s, _, _ in sent] == list(range(head + 1, head + 2 * MESSAGES + 1))
        polled = [f for f in got if f.get("type") == "message"]
        assert [(m["seq"], m["from"], m["text"]) for m in polled] == sent  # each once, in order
        assert room_events(bob.frames, room) == room_events(got, room)
        at_alice = await alice.messages(2 * MESSAGES, room, timeout=30)
        assert [(m["seq"], m["from"], m["text"]) for m in at_alice] == sent
        assert polled == at_alice  # the very frames the WebSocket client received

        polls = nginx.served("GET", "/api/poll")
        print("polls per node:", polls, "; poll answers:", len(bob.answers),
              "; joined frames:", sum(1 for f in bob.frames if f.get("type") == "joined"))
        assert set(polls) == {f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"}, polls

        # presence: online once, no flapping while the polls hopped between the nodes, offline on DELETE
        seen = await alice.nothing(0.5, kind="presence", user=ub)
        assert presence_of(seen, ub) == [], seen
        deleted = await bob.delete()
        assert 200 <= deleted.status < 300, (deleted.status, deleted.body)
        t0 = time.monotonic()
        offline = await alice.expect("presence", user=ub, timeout=90)
        after = time.monotonic() - t0
        assert offline == {"type": "presence", "room": room, "user": ub, "online": False}
        by = nginx.served("DELETE", "/api/poll")
        # at once on the node that answered; the other one drops the client after its heartbeats (3 x 2 s)
        assert after <= 10, f"offline {after:.1f} s after DELETE /api/poll (answered by {by})"
    finally:
        if listening is not None and not listening.done():
            listening.cancel()
        if alice is not None:
            await alice.close()
        await session.close()
        nginx.stop()


async def test_removal_and_revocation_reach_a_poll_waiting_on_the_other_node(make_node: MakeNode) -> None:
    a, b = make_node(), make_node()
    session = aiohttp.ClientSession()
    try:
        (ua, ta), (ub, tb) = register(a), register(a)
        room = unique("priv")
        create_room(a, ta, room, "private")
        manage_ok(a, ta, room, "invite", user=ub)
        head = join_ok(a, tb, room)["last_seq"]
        on_a = Poller(session, a.http, tb).follow(room, head)
        await on_a.poll()

        async def until_removed() -> list[dict[str, Any]]:
            got: list[dict[str, Any]] = []
            while not any(f.get("type") == "removed" for f in got):
                got += (await on_a.poll(timeout=25))["frames"]
            return got

        waiting = await started(until_removed())
        manage_ok(b, ta, room, "kick", user=ub)  # through the other node
        got = await asyncio.wait_for(waiting, 20)
        assert [f for f in got if f.get("type") == "removed"] == [
            {"type": "removed", "room": room, "reason": "kicked", "by": ua}]
        for node in (a, b):
            answer = await Poller(session, node.http, tb).get({room: on_a.cursors[room]})
            assert (answer.status, answer.error, answer.body.get("room")) == (404, "not_found", room), answer.body

        # revocation: bob polls a public room on node A and signs out everywhere through node B
        public = unique("room")
        head = join_ok(a, tb, public)["last_seq"]
        on_a = Poller(session, a.http, tb).follow(public, head)
        await on_a.poll()
        waiting = await started(on_a.get({public: head}, timeout=30))
        signed_out = await Poller(session, b.http, tb).rest("POST", "/api/me/signout", {"everywhere": True})
        assert signed_out.status == 204, signed_out.body
        answer = await asyncio.wait_for(waiting, 20)  # at once, not after its 30 s
        assert answer.status == 200, answer.body
        closed = answer.body.get("closed")
        assert isinstance(closed, dict) and closed.get("code") == 4401 and closed.get("reconnect") is False, \
            answer.body
        for node in (a, b):
            again = await Poller(session, node.http, tb).get({public: head})
            assert (again.status, again.error) == (401, "unauthorized"), again.body
    finally:
        await session.close()
