"""A room's live state on this node: who is connected, who is catching up, and the last seq delivered."""

from parley.hub.member import Member


class _KnownZero(int):
    """A 0 that is true. A fresh Room's plain 0 means "not known yet" (the hub's gap check, `room.last_seq
    and ...`, stays off while the first joiner reads the store); KNOWN_ZERO means "nothing stored before:
    the next message must be seq 1", so a seq 2 arriving first (seq 1 still in flight from another node) is
    held and filled from the store like any other gap. Set by Hub.align; arithmetic gives plain ints."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "KNOWN_ZERO"


KNOWN_ZERO = _KnownZero(0)


class Room:
    __slots__ = ("last_seq", "members", "name", "syncing", "users")

    def __init__(self, name: str) -> None:
        self.name = name
        self.members: dict[Member, None] = {}  # insertion-ordered set of caught-up connections
        self.syncing: dict[Member, None] = {}  # joined, still receiving stored messages
        self.users: dict[str, int] = {}  # user -> connections in the room (presence)
        self.last_seq: int = 0  # highest seq delivered live on this node (0: not known yet; see KNOWN_ZERO)

    def empty(self) -> bool:
        return not self.members and not self.syncing

    def online(self) -> list[str]:
        return sorted(self.users)
