"""The Broker interface: how events reach the rooms' members on every node (this one included).

Chosen by URL: memory:// (one process) or redis://host:port/db (many processes and machines).
"""

from abc import ABC, abstractmethod

from parley.hub import Hub
from parley.protocol.frames import Message


class Broker(ABC):
    url: str

    @abstractmethod
    async def start(self, hub: Hub) -> None:
        """Begin delivering events from every node into `hub`."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def publish_message(self, message: Message, data: bytes) -> None:
        """A message that is now stored; `data` is its encoded `message` frame. Delivers on this node too."""

    @abstractmethod
    def publish_typing(self, room: str, user: str) -> None:
        """A typing event; delivers on this node too."""

    @abstractmethod
    def publish_presence(self, room: str, user: str, online: bool) -> None:
        """This node's presence change for `user` in `room` (already delivered on this node)."""

    async def online(self, room: str, local: list[str]) -> list[str]:
        """Users online in `room` on any node, given those online here."""
        return local
