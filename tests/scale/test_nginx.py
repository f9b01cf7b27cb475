"""nginx (examples/nginx.conf, TLS) in front of two nodes; one is killed with SIGKILL during steady traffic.

Its clients' connections drop; they reconnect through nginx, land on the other node and resume with
`since`, resending what was not acked. Counted by the test: zero acked messages lost, zero duplicates,
nothing out of order, for every client.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.request
from pathlib import Path

from tests.scale.cluster import Chatter, Nginx, drain, start_chatters, stored_messages, verify
from tests.scale.conftest import MakeNode
from tests.support import PASSWORD, unique


def register_via(nginx: Nginx, context: ssl.SSLContext) -> tuple[str, str]:
    name = unique()
    req = urllib.request.Request(nginx.https + "/api/register", method="POST",
                                 data=json.dumps({"username": name, "password": PASSWORD}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=context, timeout=10) as r:
        body = json.loads(r.read())
    return body["user"], body["token"]


async def test_kill9_a_node_behind_nginx_clients_resume_on_the_other(make_node: MakeNode, tmp_path: Path) -> None:
    a, b = make_node(), make_node()
    nginx = Nginx([a, b], tmp_path).start()
    try:
        context = nginx.ssl_context()
        room = unique("room")
        chatters = [Chatter(*register_via(nginx, context), lambda: nginx.ws_url, room, rate=8, ssl_context=context)
                    for _ in range(6)]
        await start_chatters(chatters)
        await asyncio.sleep(2.5)
        a.kill9()
        await asyncio.sleep(3)
        await drain(chatters, b)
        tally = verify(chatters, stored_messages(b, chatters[0].token, room))
        moved = sum(1 for c in chatters if c.connects > 1)
        print(tally, f"; {moved} of {len(chatters)} clients reconnected through nginx")
        await asyncio.gather(*(c.stop() for c in chatters))
    finally:
        nginx.stop()
    assert 0 < moved < len(chatters), "least_conn should have put clients on both nodes"
    assert tally.acked > 50
    assert (tally.lost, tally.missing, tally.duplicates, tally.out_of_order, tally.unacked) == (0, 0, 0, 0, 0), tally
