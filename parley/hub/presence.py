"""Cross-node presence: who is online in this node's rooms through other nodes.

Each node tells the others when a user comes online or goes offline in a room here (`local_changed`),
and keeps a list of its users per room in the broker, refreshed every interval under a node key that
expires when the node stops. `ClusterPresence` merges what it hears (`remote_changed`) and what it reads
back (`maintain`) into one view per room, and tells this node's members only when a user's state as
seen from here changes: a user connected through several nodes stays online until the last connection
goes, and the users of a node that crashed go offline once its key expires. The broker holds only the
I/O (`PresenceBackend`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from parley.hub.hub import Hub
    from parley.hub.room import Room

log = logging.getLogger("parley.presence")

ONLINE_TIMEOUT = 1.0  # seconds a join waits for the broker's presence list before answering with what it knows

UsersByNode = dict[str, set[str]]  # user -> nodes it is connected through


class PresenceBackend(Protocol):
    """The broker's presence I/O (broker/redis.py). Its failures are raised as OSError (ConnectionError)
    or TimeoutError."""

    node: str
    interval: float  # seconds between refreshes
    grace: float  # seconds after (re)connecting during which other nodes may not have rewritten theirs

    def publish_presence(self, room: str, user: str, online: bool) -> None:
        """Tell the other nodes that `user` came online / went offline in `room` on this node."""

    async def write_presence(self, current: dict[str, set[str]]) -> None:
        """Keep this node alive and its users listed: room -> users connected here (the full set)."""

    async def read_presence(self, rooms: list[str]) -> dict[str, UsersByNode]:
        """Users of other live nodes per room (entries of nodes that stopped are removed)."""


class _View:
    """What this node knows of a room's users on other nodes."""

    __slots__ = ("loaded", "room", "touched", "users")

    def __init__(self, room: Room) -> None:
        self.room = room  # the hub's Room object; a room emptied and joined again gets a fresh view
        self.users: UsersByNode = {}
        self.loaded = False
        self.touched: set[str] = set()  # users changed by events while a periodic check was reading


class ClusterPresence:
    def __init__(self, hub: Hub, backend: PresenceBackend) -> None:
        self.hub = hub
        self.backend = backend
        self._views: dict[str, _View] = {}
        self._connected_at = 0.0

    def _view(self, name: str) -> _View | None:
        """This node's view of `name`'s remote users, if the room has members here."""
        room = self.hub.rooms.get(name)
        if room is None:
            self._views.pop(name, None)
            return None
        view = self._views.get(name)
        if view is None or view.room is not room:
            view = self._views[name] = _View(room)
        return view

    def elsewhere(self, room: str, user: str) -> bool:
        """Whether `user` is online in `room` through another node."""
        view = self._views.get(room)
        return view is not None and bool(view.users.get(user))

    def local_changed(self, room: str, user: str, online: bool) -> None:
        self.backend.publish_presence(room, user, online)

    def remote_changed(self, node: str, room: str, user: str, online: bool) -> None:
        view = self._view(room)
        if view is None:
            return
        local = user in view.room.users
        nodes = view.users.get(user)
        was = bool(nodes) or local
        if online:
            view.users.setdefault(user, set()).add(node)
        elif nodes is not None:
            nodes.discard(node)
            if not nodes:
                del view.users[user]
        view.touched.add(user)
        now = bool(view.users.get(user)) or local
        if now != was:
            self.hub.deliver_presence(room, user, now)

    async def online(self, room: str, local: list[str]) -> list[str]:
        """Users online in `room` on any node, given those online here (reads the broker once per view)."""
        view = self._view(room)
        if view is not None and not view.loaded:
            try:
                found: dict[str, UsersByNode] | None = await asyncio.wait_for(
                    self.backend.read_presence([room]), ONLINE_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                log.debug("presence of %s not read from the broker: %s", room, exc)
                found = None
            view = self._view(room)
            if view is not None and found is not None:
                for user, nodes in found.get(room, {}).items():
                    if user not in view.touched:
                        view.users.setdefault(user, set()).update(nodes)
                view.loaded = True
        remote = {u for u, nodes in view.users.items() if nodes} if view is not None else set()
        return sorted(set(local) | remote)

    async def refresh(self) -> None:
        """Write this node's users of every room (in full: the broker may have restarted empty)."""
        await self.backend.write_presence({name: set(room.users) for name, room in self.hub.rooms.items()
                                           if room.users})

    async def refresh_quietly(self) -> None:
        """refresh() right after (re)connecting; a failure is logged, the next interval tries again."""
        self._connected_at = time.monotonic()
        try:
            await self.refresh()
        except (OSError, TimeoutError) as exc:
            log.warning("cannot write presence to the broker: %s", exc)

    async def maintain(self) -> None:
        """Every interval: refresh this node's presence, then re-read the others'; users whose nodes stopped
        refreshing go offline."""
        try:
            await self.refresh()
            await self._check()
        except (OSError, TimeoutError) as exc:
            log.debug("presence refresh failed: %s", exc)
        except Exception:
            log.exception("presence refresh failed")

    async def _check(self) -> None:
        hub = self.hub
        for name in [n for n in self._views if n not in hub.rooms]:
            del self._views[name]
        names = list(hub.rooms)
        if not names:
            return
        for name in names:
            view = self._view(name)
            if view is not None:
                view.touched.clear()
        found = await self.backend.read_presence(names)
        grace = time.monotonic() - self._connected_at < self.backend.grace
        for name in names:
            view = self._view(name)
            if view is None:
                continue
            fresh = found.get(name, {})
            new: UsersByNode = {}
            for user in set(view.users) | set(fresh):
                if user in view.touched:  # an event arrived while reading: it is newer
                    nodes = view.users.get(user, set())
                elif grace:  # other nodes may not have rewritten their presence since the broker came back
                    nodes = view.users.get(user, set()) | fresh.get(user, set())
                else:
                    nodes = fresh.get(user, set())
                if nodes:
                    new[user] = set(nodes)
                local = user in view.room.users
                was, now = bool(view.users.get(user)) or local, bool(nodes) or local
                if was != now:
                    hub.deliver_presence(name, user, now)
            view.users = new
            view.loaded = True
