"""Resume: `join` with `since` replays exactly the stored messages after it (no loss, no duplicates), in
order, then live ones — after a clean close, after a dropped connection, and while others keep sending."""

import asyncio

from tests.support import Client, fill_room, in_room, send_all, unique


def seqs(frames):
    return [m["seq"] for m in frames]


async def test_reconnect_with_since_replays_exactly_the_missed_messages(shared_server, users):
    _, tb = users[1]
    room = unique("r")
    a, b = await in_room(shared_server, room, *users[:2])
    await send_all(a, room, ["one", "two", "three"])
    seen = await b.messages(3, room)
    last = seen[-1]["seq"]
    await b.close()

    missed = await send_all(a, room, [f"while away {i}" for i in range(5)])
    b = await Client.connect(shared_server, tb)
    joined = await b.join(room, since=last)
    assert joined["last_seq"] == 8
    replay = await b.messages(5, room)
    assert seqs(replay) == [4, 5, 6, 7, 8]
    assert [m["text"] for m in replay] == [f"while away {i}" for i in range(5)]
    assert [m["client_id"] for m in replay] == [x["client_id"] for x in missed]
    assert await b.nothing(0.3, kind="message") == []  # nothing twice, nothing old

    await a.say(room, "welcome back")
    (live,) = await b.messages(1, room)
    assert live["seq"] == 9 and live["text"] == "welcome back"
    await a.close()
    await b.close()


async def test_resume_after_a_dropped_connection(shared_server, users):
    _, tb = users[1]
    room = unique("r")
    a, b = await in_room(shared_server, room, *users[:2])
    await a.say(room, "before the drop")
    (m,) = await b.messages(1, room)
    b.ws.transport.abort()
    await send_all(a, room, ["gone 1", "gone 2"])
    b = await Client.connect(shared_server, tb)
    await b.join(room, since=m["seq"])
    assert [x["text"] for x in await b.messages(2, room)] == ["gone 1", "gone 2"]
    assert await b.nothing(0.3, kind="message") == []
    await a.close()
    await b.close()


async def test_since_zero_replays_everything_and_no_since_replays_nothing(shared_server, users):
    room = unique("r")
    await fill_room(shared_server, room, 12, token=users[0][1])
    c = await Client.connect(shared_server, users[1][1])
    joined = await c.join(room, since=0)
    assert joined["last_seq"] == 12
    assert seqs(await c.messages(12, room)) == list(range(1, 13))
    d = await Client.connect(shared_server, users[2][1])
    joined = await d.join(room)
    assert joined["last_seq"] == 12
    assert await d.nothing(0.3, kind="message") == []
    await c.close()
    await d.close()


async def test_since_at_or_past_the_end_replays_nothing(shared_server, users):
    room = unique("r")
    await fill_room(shared_server, room, 3, token=users[0][1])
    for since in (3, 1000):
        c = await Client.connect(shared_server, users[1][1])
        assert (await c.join(room, since=since))["last_seq"] == 3
        assert await c.nothing(0.2, kind="message") == []
        await c.close()


async def test_a_long_replay_arrives_complete_and_in_order(shared_server, users):
    """More messages than one replay page and the history cap: all of them, once, in order."""
    room = unique("r")
    await fill_room(shared_server, room, 240, token=users[0][1])
    c = await Client.connect(shared_server, users[1][1])
    await c.join(room, since=5)
    got = await c.messages(235, room)
    assert seqs(got) == list(range(6, 241))
    assert [m["text"] for m in got] == [f"m{i}" for i in range(6, 241)]
    assert await c.nothing(0.3, kind="message") == []
    await c.close()


async def test_messages_sent_during_the_replay_are_neither_lost_nor_duplicated(shared_server, users):
    """While a joiner catches up from the store, others keep sending: it sees 1..N exactly once, in order."""
    room = unique("r")
    await fill_room(shared_server, room, 80, token=users[0][1])
    senders = [await Client.connect(shared_server, users[0][1]) for _ in range(3)]
    for s in senders:
        await s.join(room)

    joiner = await Client.connect(shared_server, users[1][1])
    sending = asyncio.gather(*(send_all(s, room, [f"live {i}.{k}" for k in range(30)])
                               for i, s in enumerate(senders)))
    await joiner.join(room, since=0)
    await sending
    total = 80 + 3 * 30
    got = await joiner.messages(total, room)
    assert seqs(got) == list(range(1, total + 1))
    assert await joiner.nothing(0.3, kind="message") == []
    for s in (*senders, joiner):
        await s.close()


async def test_many_reconnects_while_messages_flow_lose_nothing(shared_server, users):
    """A client that keeps dropping and resuming from its last seen seq ends up with every message once."""
    room = unique("r")
    sender, = await in_room(shared_server, room, users[0])
    seen: list[int] = []
    for round_ in range(5):
        reader = await Client.connect(shared_server, users[1][1])
        await reader.join(room, since=seen[-1] if seen else 0)
        await send_all(sender, room, [f"r{round_}-{k}" for k in range(6)])
        expected = 6 * (round_ + 1)
        while not seen or seen[-1] < expected:
            seen.append((await reader.expect("message", room=room))["seq"])
        if round_ % 2:
            reader.ws.transport.abort()
        else:
            await reader.close()
    assert seen == list(range(1, 31))
    await sender.close()


async def test_rejoin_with_since_on_the_same_connection(shared_server, users):
    room = unique("r")
    a, = await in_room(shared_server, room, users[0])
    await send_all(a, room, ["a", "b", "c"])
    await a.messages(3, room)
    await a.join(room, since=1)
    assert seqs(await a.messages(2, room)) == [2, 3]
    assert await a.nothing(0.2, kind="message") == []
    await a.close()
