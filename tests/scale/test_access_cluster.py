"""Membership and revocation across nodes (docs/protocol.md: "Removal takes effect at once, on every node";
"Revocation"): two nodes on one PostgreSQL schema and one Redis. A kick on node A ends the kicked user's
subscription on node B (`removed`, then nothing more of the room) while the other members on B go on;
signing out everywhere, or changing the password, on one node closes the user's connections on both
with 4401."""

from __future__ import annotations

import asyncio

import pytest

from tests.access_support import (
    api,
    ask,
    create_room,
    events,
    flush,
    join_ok,
    manage_ok,
    my_rooms,
    of_room,
    register_many,
    room_info,
    serving,
)
from tests.scale.services import pg_schema, redis_url
from tests.support import PASSWORD, Client, ServerProcess, close_all, close_code, unique

pytestmark = pytest.mark.services
PRESENCE_INTERVAL = "0.5"  # as tests/scale/conftest.py: a crashed node's users go offline within 4 x this


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    """Two nodes on one PostgreSQL schema and one Redis prefix, started side by side, shared by this module's
    tests (each uses accounts and rooms of its own)."""
    broker, logs = redis_url(presence_interval=PRESENCE_INTERVAL), tmp_path_factory.mktemp("access-cluster")
    with pg_schema() as db, serving(ServerProcess(db, "--broker", broker, log=logs / "node-a.log"),
                                    ServerProcess(db, "--broker", broker, log=logs / "node-b.log")) as pair:
        yield pair


async def test_a_kick_on_one_node_ends_the_subscription_on_the_other(nodes):
    a_node, b_node = nodes
    (alice, ta), (bob, tb), (carol, tc) = register_many(a_node, [None] * 3)
    room, other = unique("kick"), unique("kick")
    create_room(a_node, ta, room, "private")
    create_room(a_node, ta, other, "public")
    for name, token in ((bob, tb), (carol, tc)):
        manage_ok(a_node, ta, room, "invite", user=name)
        join_ok(b_node, token, room)

    owner = await Client.connect(a_node, ta)
    await owner.join(room)
    await owner.join(other)
    b = await Client.connect(b_node, tb)
    await b.join(room)
    await b.join(other)
    c = await Client.connect(b_node, tc)
    await c.join(room)
    await owner.say(room, "before")  # the nodes relay the room both ways
    assert (await b.expect("message", room=room))["text"] == "before"
    assert (await c.expect("message", room=room))["text"] == "before"

    done = await ask(owner, {"type": "manage", "room": room, "action": "kick", "user": bob, "reason": "spam"})
    assert done["type"] == "managed" and done["action"] == "kick", done
    removed = await b.expect("removed", room=room)
    assert (removed["reason"], removed["by"]) == ("kicked", alice), removed
    earlier = [f for f in of_room(b, room) if "seq" in f]
    assert earlier and earlier[-1]["seq"] == done["seq"], earlier  # the event itself came first
    assert (earlier[-1]["type"], earlier[-1]["action"], earlier[-1]["user"], earlier[-1]["reason"]) == \
        ("member", "kicked", bob, "spam")

    # the room goes on for carol on node B; nothing of it reaches bob there
    await owner.say(room, "after")
    await owner.send({"type": "typing", "room": room})
    assert (await c.expect("message", room=room))["text"] == "after"
    await c.expect("typing", room=room, user=alice)
    await owner.say(other, "elsewhere")
    assert (await b.expect("message", room=other))["text"] == "elsewhere"
    await flush(b)
    assert of_room(b, room) == []
    refused = await ask(b, {"type": "send", "room": room, "text": "still here?", "client_id": unique("c")})
    assert refused["type"] == "error" and refused["code"] in ("not_joined", "not_found"), refused
    assert "still here?" not in [e.get("text") for e in events(a_node, ta, room)]

    # node B knows bob is out: the private room no longer exists for him there
    assert room_info(b_node, tb, room)[0] == 404
    assert room not in my_rooms(b_node, tb)
    await close_all(owner, b, c)


async def test_signing_out_one_token_on_one_node_ends_it_on_both(nodes):
    """One device signs out through node A: its connections on A and B close, B refuses the token over REST at
    once, and the same user's other token goes on working on both nodes."""
    a_node, b_node = nodes
    (name, leaving), = register_many(a_node, [None])
    status, second = api(a_node, "POST", "/api/login", None, {"username": name, "password": PASSWORD})
    assert status == 200, second
    staying = second["token"]
    room = unique("one")
    gone = [await Client.connect(node, leaving) for node in (a_node, b_node)]
    kept = [await Client.connect(node, staying) for node in (a_node, b_node)]
    for client in [*gone, *kept]:
        await client.join(room)
    assert api(b_node, "GET", "/api/me", leaving)[0] == 200  # node B has checked the token once

    status, answer = api(a_node, "POST", "/api/me/signout", leaving, {})
    assert status == 204, answer
    for client in gone:
        assert await close_code(client) == 4401
    for node in (a_node, b_node):
        assert api(node, "GET", "/api/me", leaving)[0] == 401
        status, me = api(node, "GET", "/api/me", staying)
        assert status == 200 and me["user"] == name, me
    for client in kept:
        await flush(client)
    await close_all(*kept)


async def test_revoking_on_one_node_closes_the_connections_on_both(nodes):
    """Signing out everywhere (one user) and changing the password (another), each on node A."""
    a_node, b_node = nodes
    (leaving, t_leaving), (changing, t_changing), (_, t_other) = register_many(a_node, [None] * 3)
    room = unique("rev")
    # a token works on every node: each user is connected to both with the one token
    conns = {name: [await Client.connect(node, token) for node in (a_node, b_node)]
             for name, token in ((leaving, t_leaving), (changing, t_changing))}
    bystander = await Client.connect(b_node, t_other)
    for client in [*conns[leaving], *conns[changing], bystander]:
        await client.join(room)

    status, answer = api(a_node, "POST", "/api/me/signout", t_leaving, {"everywhere": True})
    assert status == 204, answer
    for client in conns[leaving]:
        assert await close_code(client) == 4401
    status, renewed = api(a_node, "POST", "/api/me/password", t_changing,
                          {"password": PASSWORD, "new_password": "battery-staple-2"})
    assert status == 200 and renewed["user"] == changing, renewed
    for client in conns[changing]:
        assert await close_code(client) == 4401
    for node in (a_node, b_node):
        for token in (t_leaving, t_changing):
            assert api(node, "GET", "/api/me", token)[0] == 401
    await flush(bystander)  # another user's session goes on
    await bystander.close()
    # the token the password change answered with works on both nodes
    for node in (a_node, b_node):
        status, me = api(node, "GET", "/api/me", renewed["token"])
        assert status == 200 and me["user"] == changing, me


async def test_signed_out_token_is_refused_at_once_by_a_node_without_sessions_of_the_user(nodes):
    """A node where the user has no live session (it served that device over REST only) refuses the
    signed-out token as soon as the broker tells it, not at its next periodic check."""
    a_node, b_node = nodes
    (name, leaving), = register_many(a_node, [None])
    status, second = api(a_node, "POST", "/api/login", None, {"username": name, "password": PASSWORD})
    assert status == 200, second
    staying = second["token"]
    keeper = await Client.connect(a_node, staying)  # a live session on node A only
    assert api(b_node, "GET", "/api/me", leaving)[0] == 200  # node B knows the token

    status, answer = api(a_node, "POST", "/api/me/signout", leaving, {})
    assert status == 204, answer
    assert api(a_node, "GET", "/api/me", leaving)[0] == 401
    for _ in range(50):  # node B hears of it through the broker (well before its periodic check, 20 s away)
        status, answer = api(b_node, "GET", "/api/me", leaving)
        if status == 401:
            break
        await asyncio.sleep(0.1)
    assert status == 401, f"node B still accepts the signed-out token: {status} {answer}"
    await close_all(keeper)
