"""The Store interface: everything Parley keeps (users, rooms, each room's event log, the token secret).

Implementations (SQLite, PostgreSQL) live beside this file and are chosen by URL in `open_store`.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass

from parley.protocol.events import EventKind, RoomEvent


class StoreError(Exception):
    """Base of the errors a store raises on purpose."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or refused the write; nothing was stored."""


class StoreRejected(StoreError):
    """The database refused the data itself (e.g. a character it cannot keep); retrying will not help."""


class UserExists(StoreError):
    """A user with that name (compared case-insensitively) already exists."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    password_hash: str


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append to a room's log; the store assigns seq and ts. (sender, client_id) is its
    idempotency key: an event whose key is already stored is not stored again."""

    room: str
    sender: str
    text: str
    client_id: str
    kind: str = EventKind.MESSAGE
    data: str | None = None  # kind-specific fields, JSON


@dataclass(frozen=True, slots=True)
class Saved:
    """The outcome of one NewEvent: the stored event, and whether it had been stored before."""

    event: RoomEvent
    duplicate: bool


@dataclass(frozen=True, slots=True)
class RoomInfo:
    name: str
    last_seq: int


class Store(ABC):
    """Durable state. Every method may raise StoreUnavailable when the database is down."""

    url: str

    @abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date (versioned migrations)."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers and takes a write (a full disk fails it)."""

    @abstractmethod
    async def create_user(self, name: str, password_hash: str) -> User: ...

    @abstractmethod
    async def get_user(self, name: str) -> User | None:
        """The user called `name`, compared case-insensitively."""

    @abstractmethod
    async def delete_user(self, name: str) -> bool:
        """Remove the account `name` (their messages stay); whether there was one."""

    async def existing_users(self, names: list[str]) -> set[str]:
        """Those of `names` that are accounts now (backends may answer in one query)."""
        return {n for n in names if await self.get_user(n) is not None}

    @abstractmethod
    async def secret(self, key: str, make: bytes) -> bytes:
        """The persisted secret `key`, storing `make` first if there is none yet (shared by all nodes)."""

    @abstractmethod
    async def ensure_room(self, room: str) -> int:
        """Create `room` if it does not exist; return its last seq (0 for a new room)."""

    @abstractmethod
    async def rooms(self, after: str | None = None, limit: int | None = None) -> list[RoomInfo]:
        """Rooms in name order, those after `after` (a page's last name), at most `limit`."""

    async def room_seq(self, room: str) -> int | None:
        """The last seq of `room`, or None if there is no such room."""
        return (await self.room_heads([room])).get(room)

    async def room_heads(self, names: list[str]) -> dict[str, int]:
        """The last stored seq of each named room that exists (backends may answer in one query)."""
        wanted = set(names)
        return {r.name: r.last_seq for r in await self.rooms() if r.name in wanted}

    @abstractmethod
    async def save_events(self, batch: list[NewEvent]) -> list[Saved]:
        """Append a batch to the rooms' logs in ONE transaction, in order, one Saved per item.

        seq is assigned inside the transaction: per room, from last_seq + 1, gap-free, whatever the
        event's kind. An item whose (sender, client_id) is already stored, or appears earlier in the batch,
        is a duplicate: the earlier event is returned and nothing new is stored.
        """

    @abstractmethod
    async def events_after(self, room: str, after: int, limit: int) -> list[RoomEvent]:
        """Events of `room` with seq > after, oldest first, at most `limit`."""

    @abstractmethod
    async def events_before(self, room: str, before: int | None, limit: int) -> list[RoomEvent]:
        """The latest `limit` events of `room` with seq < before (or the latest), oldest first."""
