"""Two nodes on one PostgreSQL and one Redis: one room, clients on both, every message once and in order;
typing and presence across nodes; the users of a crashed node go offline within the documented bound."""

from __future__ import annotations

import asyncio

from tests.scale.cluster import Chatter, drain, start_chatters, stored_messages, verify
from tests.scale.conftest import PRESENCE_INTERVAL, MakeNode
from tests.scale.services import redis_url
from tests.support import Client, register, unique

OFFLINE_BOUND = 4 * float(PRESENCE_INTERVAL)  # docs/deploy.md: 4 x presence_interval after a crash


async def test_clients_on_two_nodes_see_every_message_once_in_seq_order(make_node: MakeNode) -> None:
    a, b = make_node(), make_node()
    room = unique("room")
    chatters = []
    for i in range(6):
        node = (a, b)[i % 2]
        user, token = register(node)
        chatters.append(Chatter(user, token, lambda node=node: node.ws_url, room, rate=10))
    await start_chatters(chatters)
    await asyncio.sleep(3)
    await drain(chatters, a)
    tally = verify(chatters, stored_messages(a, chatters[0].token, room))
    print(tally)
    await asyncio.gather(*(c.stop() for c in chatters))
    assert tally.stored > 100 and tally.acked == tally.stored
    assert (tally.lost, tally.missing, tally.duplicates, tally.out_of_order, tally.unacked) == (0, 0, 0, 0, 0), tally


async def test_clients_rejoining_a_busy_room_on_the_other_node_miss_nothing(make_node: MakeNode) -> None:
    """B's clients keep dropping and rejoining with `since` while A's clients send: B's room is emptied and
    created afresh each time, while messages are in flight between the nodes."""
    a, b = make_node(), make_node()
    room = unique("room")
    senders = [Chatter(*register(a), lambda: a.ws_url, room, rate=12) for _ in range(2)]
    readers = [Chatter(*register(b), lambda: b.ws_url, room, rate=2) for _ in range(2)]
    await start_chatters(senders + readers)
    for _ in range(8):
        await asyncio.sleep(0.4)
        await asyncio.gather(*(r._ws.close() for r in readers if r._ws is not None))
    await asyncio.sleep(0.5)
    chatters = senders + readers
    await drain(chatters, a)
    tally = verify(chatters, stored_messages(a, senders[0].token, room))
    print(tally, "reader connections:", [r.connects for r in readers])
    await asyncio.gather(*(c.stop() for c in chatters))
    assert all(r.connects >= 5 for r in readers)
    assert (tally.lost, tally.missing, tally.duplicates, tally.out_of_order, tally.unacked) == (0, 0, 0, 0, 0), tally


async def test_typing_and_presence_cross_nodes(make_node: MakeNode) -> None:
    a, b = make_node(), make_node()
    room = unique("room")
    ua, ta = register(a)
    ub, tb = register(b)
    alice = await Client.connect(a, ta)
    await alice.join(room)
    bob = await Client.connect(b, tb)
    joined = await bob.join(room)
    assert joined["online"] == sorted([ua, ub])
    assert await alice.expect("presence", user=ub) == {"type": "presence", "room": room, "user": ub, "online": True}

    await bob.send({"type": "typing", "room": room})
    assert await alice.expect("typing") == {"type": "typing", "room": room, "user": ub}

    # bob also connects through node A: he was online already, so nobody hears of it
    bob_too = await Client.connect(a, tb)
    assert (await bob_too.join(room))["online"] == sorted([ua, ub])
    # ... and leaving node B keeps him online, through A
    await bob.close()
    assert await alice.nothing(1.5, kind="presence") == []
    # the last connection goes: offline for everyone, on every node
    carol = await Client.connect(b, register(b)[1])
    await carol.join(room)
    await alice.expect("presence", user=carol.user, online=True)
    await bob_too.close()
    assert await alice.expect("presence", user=ub) == {"type": "presence", "room": room, "user": ub, "online": False}
    # (carol may first hear that bob is online, through A, if her node learns of his A connection only now)
    assert await carol.expect("presence", user=ub, online=False) == {"type": "presence", "room": room, "user": ub,
                                                                      "online": False}
    await alice.close()
    await carol.close()


async def test_users_of_a_crashed_node_go_offline_within_the_bound(make_node: MakeNode) -> None:
    a, b = make_node(), make_node()
    room = unique("room")
    alice = await Client.connect(a, register(a)[1])
    await alice.join(room)
    on_b = [await Client.connect(b, register(b)[1]) for _ in range(2)]
    for c in on_b:
        await c.join(room)
        await alice.expect("presence", user=c.user, online=True)
    b.kill9()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    gone = set()
    while len(gone) < 2:
        frame = await alice.expect("presence", timeout=OFFLINE_BOUND + 5)
        assert frame["online"] is False
        gone.add(frame["user"])
    print(f"offline after {loop.time() - t0:.1f}s (documented bound {OFFLINE_BOUND:.1f}s)")
    assert gone == {c.user for c in on_b}
    late = await Client.connect(a, register(a)[1])
    assert (await late.join(room))["online"] == sorted([alice.user, late.user])
    await alice.close()
    await late.close()


async def test_users_of_a_stopped_node_go_offline_without_waiting_for_expiry(make_node: MakeNode) -> None:
    slow = redis_url(presence_interval="60")  # expiry would take 4 minutes: the offline must come from the stop
    a, b = make_node(broker=slow), make_node(broker=slow)
    room = unique("room")
    alice = await Client.connect(a, register(a)[1])
    await alice.join(room)
    bob = await Client.connect(b, register(b)[1])
    await bob.join(room)
    await alice.expect("presence", user=bob.user, online=True)
    await asyncio.to_thread(b.stop)  # (in a thread: bob's client, on this loop, answers the close handshake)
    assert await alice.expect("presence", user=bob.user, timeout=15) == {
        "type": "presence", "room": room, "user": bob.user, "online": False}
    await alice.close()
