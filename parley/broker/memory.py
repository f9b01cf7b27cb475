"""The in-process broker: one node, so publishing is delivering straight into the hub."""

from parley.broker.base import Broker
from parley.hub import Hub
from parley.protocol.frames import Message


class MemoryBroker(Broker):
    url = "memory://"

    def __init__(self) -> None:
        self.hub: Hub | None = None

    async def start(self, hub: Hub) -> None:
        self.hub = hub

    async def close(self) -> None:
        self.hub = None

    def publish_message(self, message: Message, data: bytes) -> None:
        if self.hub is not None:
            self.hub.deliver_message(message, data)

    def publish_typing(self, room: str, user: str) -> None:
        if self.hub is not None:
            self.hub.deliver_typing(room, user)

    def publish_presence(self, room: str, user: str, online: bool) -> None:
        pass  # the hub has told this node's members; there are no others
