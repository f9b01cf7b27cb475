"""A room's live state on this node: who is connected, who is catching up, and how far delivery has got."""

import asyncio

from parley.hub.member import Member


class Room:
    __slots__ = ("known", "last_seq", "members", "name", "presence_due", "presence_sent", "presence_timer",
                 "syncing", "users")

    def __init__(self, name: str) -> None:
        self.name = name
        self.members: dict[Member, None] = {}  # insertion-ordered set of caught-up connections
        self.syncing: dict[Member, None] = {}  # joined, still receiving stored events
        self.users: dict[str, int] = {}  # user -> connections in the room (presence)
        self.last_seq = 0  # highest seq delivered live on this node
        # Whether last_seq is where the room's log stands for this node. A fresh room does not know yet
        # (the first joiner is still reading the store), so the gap check stays off; once known, the
        # next event must be last_seq + 1 (even when that is seq 1), and anything further ahead is held
        # and filled from the store. Set by the first fan-out or by Hub.align.
        self.known = False
        # presence changes waiting to go out as one `presence_batch` frame (large rooms only: see Hub)
        self.presence_due: dict[str, bool] = {}
        self.presence_timer: asyncio.TimerHandle | None = None  # while a batch is scheduled
        self.presence_sent = float("-inf")  # loop time of the last batch

    def empty(self) -> bool:
        return not self.members and not self.syncing

    def online(self) -> list[str]:
        return sorted(self.users)
