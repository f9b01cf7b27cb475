"""A room's live state on this node: who is connected, who is catching up, and the last seq delivered."""

from parley.hub.member import Member


class Room:
    __slots__ = ("last_seq", "members", "name", "syncing", "users")

    def __init__(self, name: str) -> None:
        self.name = name
        self.members: dict[Member, None] = {}  # insertion-ordered set of caught-up connections
        self.syncing: dict[Member, None] = {}  # joined, still receiving stored messages
        self.users: dict[str, int] = {}  # user -> connections in the room (presence)
        self.last_seq = 0  # highest seq delivered live on this node

    def empty(self) -> bool:
        return not self.members and not self.syncing

    def online(self) -> list[str]:
        return sorted(self.users)
