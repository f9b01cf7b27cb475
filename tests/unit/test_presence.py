"""Cross-node presence (hub/presence.py) with a fake broker backend: what local members are told, and when."""

from __future__ import annotations

import asyncio

import pytest

from parley.hub import Hub
from parley.hub.presence import ClusterPresence
from tests.unit.fakes import FakeMember, FakePresenceBackend, Gate

pytestmark = pytest.mark.timeout(5)

ROOM = "lobby"


def cluster_hub(grace: float = 0.0) -> tuple[Hub, FakePresenceBackend, ClusterPresence]:
    hub = Hub(None)
    backend = FakePresenceBackend(grace=grace)
    cluster = hub.cluster = ClusterPresence(hub, backend)
    return hub, backend, cluster


def local(hub: Hub, user: str, room: str = ROOM) -> FakeMember:
    m = FakeMember(user)
    hub.join(m, room)
    hub.activate(m, room)
    return m


async def test_remote_changes_reach_local_members_only_when_the_merged_state_changes() -> None:
    hub, _, cluster = cluster_hub()
    alice = local(hub, "alice")
    cluster.remote_changed("n2", ROOM, "bob", True)
    assert alice.presence() == [("bob", True)]
    cluster.remote_changed("n3", ROOM, "bob", True)  # also on a third node: still just online
    cluster.remote_changed("n2", ROOM, "bob", True)  # repeated
    assert alice.presence() == [("bob", True)]
    cluster.remote_changed("n2", ROOM, "bob", False)  # still on n3
    assert alice.presence() == [("bob", True)]
    assert cluster.elsewhere(ROOM, "bob")
    cluster.remote_changed("n3", ROOM, "bob", False)
    assert alice.presence() == [("bob", True), ("bob", False)]
    assert not cluster.elsewhere(ROOM, "bob")
    cluster.remote_changed("n3", ROOM, "bob", False)  # offline again: nothing new
    cluster.remote_changed("n2", "no-members-here", "bob", True)  # a room with nobody here: ignored
    assert alice.presence() == [("bob", True), ("bob", False)]
    assert hub.online(ROOM) == ["alice"]  # local presence is untouched


async def test_user_connected_here_and_elsewhere_stays_online() -> None:
    hub, backend, cluster = cluster_hub()
    alice = local(hub, "alice")
    bob_here = local(hub, "bob")
    assert alice.presence() == [("bob", True)]
    cluster.remote_changed("n2", ROOM, "bob", True)  # bob also connects through n2
    cluster.remote_changed("n2", ROOM, "bob", False)  # and the n2 connection goes: bob is still here
    assert alice.presence() == [("bob", True)]
    cluster.remote_changed("n2", ROOM, "bob", True)
    hub.leave(bob_here, ROOM)  # the local connection goes, n2's stays: no frame, but n2 is told
    assert alice.presence() == [("bob", True)]
    assert backend.published == [(ROOM, "alice", True), (ROOM, "bob", True), (ROOM, "bob", False)]
    cluster.remote_changed("n2", ROOM, "bob", False)  # now bob is gone everywhere
    assert alice.presence() == [("bob", True), ("bob", False)]
    local(hub, "carol")
    cluster.remote_changed("n2", ROOM, "dave", True)
    local(hub, "dave")  # dave, already online through n2, connects here too: nobody is told twice
    assert alice.presence() == [("bob", True), ("bob", False), ("carol", True), ("dave", True)]


async def test_online_merges_local_and_backend_read_once() -> None:
    hub, backend, cluster = cluster_hub()
    local(hub, "alice")
    backend.remote = {ROOM: {"bob": {"n2"}, "alice": {"n3"}}}
    assert await cluster.online(ROOM, ["alice"]) == ["alice", "bob"]
    backend.remote = {ROOM: {"zed": {"n2"}}}  # not read again: events keep the view current from now on
    assert await hub.online_anywhere(ROOM) == ["alice", "bob"]
    assert backend.reads == [[ROOM]]
    assert await cluster.online("no-members", ["x"]) == ["x"]  # nothing to read for a room not held here
    assert backend.reads == [[ROOM]]


async def test_online_read_failure_answers_local_and_reads_again_next_time() -> None:
    hub, backend, _ = cluster_hub()
    local(hub, "alice")
    backend.remote = {ROOM: {"bob": {"n2"}}}
    backend.fail = ConnectionError("broker down")
    assert await hub.online_anywhere(ROOM) == ["alice"]
    backend.fail = None
    assert await hub.online_anywhere(ROOM) == ["alice", "bob"]
    assert len(backend.reads) == 2


async def test_online_keeps_events_heard_while_reading() -> None:
    hub, backend, cluster = cluster_hub()
    alice = local(hub, "alice")
    backend.remote = {ROOM: {"bob": {"n2"}}}  # the read answers with what was true when it started
    gate = backend.read_gate = Gate()
    read = asyncio.ensure_future(cluster.online(ROOM, ["alice"]))
    await gate.reached()
    cluster.remote_changed("n2", ROOM, "bob", True)
    cluster.remote_changed("n2", ROOM, "bob", False)  # bob left while the read was in flight
    gate.release()
    assert await read == ["alice"]
    assert alice.presence() == [("bob", True), ("bob", False)]


async def test_maintain_drops_users_of_nodes_gone_after_grace() -> None:
    hub, backend, cluster = cluster_hub(grace=0.0)
    alice = local(hub, "alice")
    cluster.remote_changed("n2", ROOM, "bob", True)
    cluster.remote_changed("n3", ROOM, "carol", True)
    backend.remote = {ROOM: {"carol": {"n3"}}}  # n2 stopped refreshing: its key expired
    await cluster.maintain()
    assert backend.written == [{ROOM: {"alice"}}]  # this node's users, in full
    assert alice.presence() == [("bob", True), ("carol", True), ("bob", False)]
    assert not cluster.elsewhere(ROOM, "bob") and cluster.elsewhere(ROOM, "carol")
    backend.remote = {ROOM: {"carol": {"n3"}, "dave": {"n4"}}}  # dave's online event was lost
    await cluster.maintain()
    assert alice.presence()[-1] == ("dave", True)
    assert await hub.online_anywhere(ROOM) == ["alice", "carol", "dave"]


async def test_maintain_keeps_users_within_grace() -> None:
    hub, backend, cluster = cluster_hub(grace=60.0)
    alice = local(hub, "alice")
    cluster.remote_changed("n2", ROOM, "bob", True)
    backend.remote = {ROOM: {"carol": {"n3"}}}  # the broker came back empty; n2 has not rewritten yet
    await cluster.refresh_quietly()  # (re)connected just now
    await cluster.maintain()
    assert alice.presence() == [("bob", True), ("carol", True)]
    assert cluster.elsewhere(ROOM, "bob")
    backend.grace = 0.0  # grace over, n2 still silent: bob goes
    await cluster.maintain()
    assert alice.presence() == [("bob", True), ("carol", True), ("bob", False)]


async def test_maintain_keeps_a_local_user_online_when_its_remote_node_goes() -> None:
    hub, backend, cluster = cluster_hub()
    alice = local(hub, "alice")
    local(hub, "bob")
    cluster.remote_changed("n2", ROOM, "bob", True)
    backend.remote = {}
    await cluster.maintain()
    assert alice.presence() == [("bob", True)]


async def test_maintain_prefers_events_heard_during_its_read() -> None:
    hub, backend, cluster = cluster_hub()
    alice = local(hub, "alice")
    backend.remote = {ROOM: {}}  # read before dave came online
    gate = backend.read_gate = Gate()
    task = asyncio.ensure_future(cluster.maintain())
    await gate.reached()
    cluster.remote_changed("n2", ROOM, "dave", True)
    gate.release()
    await task
    assert alice.presence() == [("dave", True)]  # not dropped by the older read
    assert cluster.elsewhere(ROOM, "dave")


async def test_maintain_survives_a_broker_failure() -> None:
    hub, backend, cluster = cluster_hub()
    alice = local(hub, "alice")
    cluster.remote_changed("n2", ROOM, "bob", True)
    backend.fail = ConnectionError("broker down")
    await cluster.maintain()  # logged; nothing changes
    await cluster.refresh_quietly()
    assert alice.presence() == [("bob", True)]
    assert cluster.elsewhere(ROOM, "bob")


async def test_maintain_forgets_rooms_emptied_here() -> None:
    hub, backend, cluster = cluster_hub()
    alice = local(hub, "alice")
    cluster.remote_changed("n2", ROOM, "bob", True)
    hub.leave(alice, ROOM)
    await cluster.maintain()
    assert backend.reads == []  # no rooms here: nothing to read
    assert not cluster.elsewhere(ROOM, "bob")
    again = local(hub, "alice")  # a fresh room: a fresh view, read from the broker
    backend.remote = {ROOM: {"bob": {"n2"}}}
    assert await hub.online_anywhere(ROOM) == ["alice", "bob"]
    assert again.presence() == []
