"""The in-process broker: one node, so publishing is delivering straight back into the node."""

from parley.broker.base import Broker, BrokerEvents
from parley.protocol.events import RoomEvent


class MemoryBroker(Broker):
    url = "memory://"

    def __init__(self) -> None:
        self.events: BrokerEvents | None = None

    async def start(self, events: BrokerEvents) -> None:
        self.events = events

    async def close(self) -> None:
        self.events = None

    def publish_event(self, event: RoomEvent, data: bytes) -> None:
        if self.events is not None:
            self.events.on_event(event.room, data, event)

    def publish_typing(self, room: str, user: str) -> None:
        if self.events is not None:
            self.events.on_typing(room, user)

    def publish_access(self, room: str, user: str, reason: str = "", by: str = "") -> None:
        if self.events is not None:
            self.events.on_access(room, user, reason, by)

    def publish_user(self, user: str) -> None:
        if self.events is not None:
            self.events.on_user(user)

    def publish_direct(self, user: str, data: bytes) -> None:
        if self.events is not None:
            self.events.on_direct(user, data)

    def publish_everyone(self, data: bytes) -> None:
        if self.events is not None:
            self.events.on_everyone(data)
