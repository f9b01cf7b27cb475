"""What every transport gives a session: a Sink to write frames to, and how a connection ends.

A WebSocket connection and a long-poll client both implement Sink; the session (session/) writes
`Outbound` frames and, when the conversation must end, closes with a `Disconnect` that says whether the
client should reconnect. The WebSocket transport sends `code` in its close frame; a polling transport
answers its pending poll with it.
"""

from dataclasses import dataclass
from typing import Protocol

from parley.protocol import CloseCode, Outbound


@dataclass(frozen=True, slots=True)
class Disconnect:
    code: int  # a WebSocket close code (protocol/codes.py CloseCode)
    reason: str
    reconnect: bool  # whether the client should connect again (e.g. with a fresh token: no)


def unauthenticated(reason: str) -> Disconnect:
    return Disconnect(CloseCode.UNAUTHENTICATED, reason, reconnect=False)


GOING_AWAY = Disconnect(CloseCode.GOING_AWAY, "server shutting down", reconnect=True)
SLOW_CONSUMER = Disconnect(CloseCode.SLOW_CONSUMER, "slow consumer", reconnect=True)
HEARTBEAT = Disconnect(CloseCode.HEARTBEAT, "missed two pongs", reconnect=True)


class Sink(Protocol):
    def write(self, out: Outbound) -> None:
        """Queue a frame; transports coalesce what one loop iteration queues into one write."""

    def close(self, disconnect: Disconnect) -> None:
        """End the connection after what is queued."""
