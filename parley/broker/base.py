"""The Broker interface: how room events, typing and presence reach the members on every node.

A broker carries events between nodes and nothing else: it calls back into the node through
`BrokerEvents` (the hub implements it) and never reaches into the hub's rooms. Ordering, gap repair and
presence merging sit above it (hub/repair.py, hub/presence.py). Chosen by URL: memory:// (one process)
or redis://host:port/db (many processes and machines).
"""

from abc import ABC, abstractmethod
from typing import Protocol

from parley.protocol.events import RoomEvent


class BrokerEvents(Protocol):
    """What a broker delivers into its node."""

    def on_event(self, room: str, data: bytes, event: RoomEvent | None = None) -> None:
        """A stored event of `room`, encoded (`data`); `event` is the decoded event when the publisher has
        it at hand (this node), else the receiver decodes `data` only if it has members in `room`."""

    def on_typing(self, room: str, user: str) -> None: ...

    def on_presence(self, node: str, room: str, user: str, online: bool) -> None:
        """Another node's presence change for `user` in `room`."""

    def on_head(self, room: str, seq: int) -> None:
        """Another node stored `room` up to `seq` but may not have published all of it: fetch from the store."""

    def on_access(self, room: str, user: str, reason: str, by: str) -> None:
        """`user`'s standing in `room` changed (the room itself when `user` is empty); `reason` is set when
        they stopped being a member."""

    def on_user(self, user: str) -> None:
        """`user`'s tokens were revoked or the account changed."""

    def on_direct(self, user: str, data: bytes) -> None:
        """A frame (`data`, encoded) for every connection of `user` on this node."""

    def on_everyone(self, data: bytes) -> None:
        """A frame (`data`, encoded) for every connection on this node."""

    async def on_connected(self) -> None:
        """The broker (re)connected; events published meanwhile may be lost."""

    async def on_tick(self) -> None:
        """Periodic upkeep, every `interval` seconds of a broker that spans nodes."""


class Broker(ABC):
    url: str
    node: str = "local"  # this node's id among those sharing the broker
    spans_nodes = False  # True: other processes share it (cross-node presence and repair apply)

    @abstractmethod
    async def start(self, events: BrokerEvents) -> None:
        """Begin delivering events from every node into `events`."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def publish_event(self, event: RoomEvent, data: bytes) -> None:
        """A room event that is now stored; `data` is its encoded frame. Delivers on this node too."""

    @abstractmethod
    def publish_typing(self, room: str, user: str) -> None:
        """A typing event; delivers on this node too."""

    @abstractmethod
    def publish_access(self, room: str, user: str, reason: str = "", by: str = "") -> None:
        """A change of who may do what in `room` (BrokerEvents.on_access); delivers on this node too."""

    @abstractmethod
    def publish_user(self, user: str) -> None:
        """`user`'s tokens were revoked (BrokerEvents.on_user); delivers on this node too."""

    @abstractmethod
    def publish_direct(self, user: str, data: bytes) -> None:
        """A frame for every connection of `user`, on every node (BrokerEvents.on_direct); best effort, like
        typing: not stored, lost if the broker is down."""

    @abstractmethod
    def publish_everyone(self, data: bytes) -> None:
        """A frame for every connection, on every node (BrokerEvents.on_everyone); best effort, as
        publish_direct."""
