"""What the hub needs of a connection: a user name and a way to queue frames. Transports provide it."""

from typing import Protocol

from parley.protocol.frames import Message
from parley.protocol.wsframe import Outbound


class Member(Protocol):
    user: str

    def push(self, out: Outbound) -> None:
        """Queue an encoded frame for this connection (written at the end of the loop iteration)."""

    def backlog(self, room: str, message: Message, out: Outbound) -> None:
        """A live message for a room this connection is still catching up on (see Hub.join)."""
