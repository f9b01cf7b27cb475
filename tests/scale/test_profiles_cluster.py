"""Two nodes on one PostgreSQL and one Redis: a profile changed through one node reaches the connections on
the other at once (the `profile` frame travels between nodes through the broker)."""

from __future__ import annotations

import asyncio

import pytest

from tests.scale.conftest import MakeNode
from tests.support import Client, close_all, http, register
from tests.test_files import png
from tests.test_profiles import put_avatar

pytestmark = pytest.mark.services


async def test_a_profile_changed_on_one_node_reaches_connections_on_the_other(make_node: MakeNode) -> None:
    a, b = make_node(), make_node()
    (alice, a_token), (_, b_token) = register(a), register(b)
    bob = await Client.connect(b, b_token)  # shares no room with alice
    alice_phone = await Client.connect(b, a_token)  # alice's other device, on the other node
    alice_laptop = await Client.connect(a, a_token)
    try:
        status, _ = await asyncio.to_thread(http, "PATCH", f"{a.http}/api/me", {"display_name": "Zoë 🌿"},
                                            token=a_token)
        assert status == 200
        named = {"type": "profile", "user": alice, "display_name": "Zoë 🌿", "avatar": None}
        for client in (bob, alice_phone, alice_laptop):
            assert await client.expect("profile", user=alice, timeout=5) == named

        status, body = await asyncio.to_thread(put_avatar, a, a_token, png(64, 64))
        assert status == 200, body
        frames = [await c.expect("profile", user=alice, timeout=5) for c in (bob, alice_phone, alice_laptop)]
        assert all(f == frames[0] for f in frames) and isinstance(frames[0]["avatar"], str), frames

        # and the other way round: removed through node B, heard on node A
        status, _ = await asyncio.to_thread(http, "DELETE", f"{b.http}/api/me/avatar", token=a_token)
        assert status == 200
        for client in (bob, alice_phone, alice_laptop):
            assert await client.expect("profile", user=alice, timeout=5) == named
    finally:
        await close_all(bob, alice_phone, alice_laptop)
