"""What the hub needs of a connection: a user name and a way to queue frames. Sessions provide it."""

from typing import Protocol

from parley.protocol.events import RoomEvent
from parley.protocol.outbound import Outbound


class Member(Protocol):
    @property
    def user(self) -> str: ...

    def push(self, out: Outbound) -> None:
        """Queue an encoded frame for this connection (written at the end of the loop iteration)."""

    def backlog(self, room: str, event: RoomEvent, out: Outbound) -> None:
        """A live event for a room this connection is still catching up on (see Hub.join)."""


class RoomLog(Protocol):
    """The stored room logs, as the hub reads them to repair gaps (the Store implements it)."""

    async def events_after(self, room: str, after: int, limit: int) -> list[RoomEvent]: ...

    async def room_heads(self, names: list[str]) -> dict[str, int]: ...
