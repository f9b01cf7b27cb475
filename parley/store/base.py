"""The Store interface: everything Parley keeps (users, rooms and their members, each room's event log,
invites, the token secret).

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


class RoomExists(StoreError):
    """A room of that name exists (or existed: deleted rooms keep their name)."""


class BadInvite(StoreError):
    """The invite code is unknown, expired or used up."""


class ChangeConflict(StoreError):
    """A membership change no longer fits: the standing it was decided on changed meanwhile, or the room would
    lose its last owner. Nothing was stored."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    password_hash: str
    admin: bool = False
    token_gen: int = 0  # tokens issued for an older generation are revoked


@dataclass(frozen=True, slots=True)
class Profile:
    """What others see of an account besides its name: a display name ('' for none) and the storage key of
    its avatar image (None: initials)."""

    user: str
    display_name: str = ""
    avatar: str | None = None


@dataclass(frozen=True, slots=True)
class RoomRecord:
    name: str
    visibility: str  # public, private, dm, deleted
    topic: str
    last_seq: int


@dataclass(frozen=True, slots=True)
class Standing:
    """A user's row in a room: a member (with a role, maybe muted), invited, or banned."""

    state: str  # member, invited, banned
    role: str = "member"  # owner, moderator, member
    muted: bool = False


@dataclass(frozen=True, slots=True)
class MyRoom:
    """A room of a user's own list (GET /api/me/rooms)."""

    name: str
    visibility: str
    topic: str
    state: str
    role: str
    muted: bool
    last_seq: int
    last_read: int
    unread: int  # messages from others after last_read
    members: list[str] | None = None  # for direct messages
    mentions: int = 0  # of those, the ones naming the user (or @room)
    notify: str = "all"  # what the user wants to be notified of here: all, mentions, none


@dataclass(frozen=True, slots=True)
class Amend:
    """What an edit, delete or reaction does to its `target` message, stored with its event. The target must
    be a message of the room that is not deleted (and by `author`, when given), or nothing is stored
    (ChangeConflict)."""

    target: int
    author: str | None = None
    text: str | None = None  # edit: the message's text from now on
    delete: bool = False  # remove the content (text, edits' texts, reactions); a tombstone stays
    reaction: "tuple[str, str, bool] | None" = None  # (emoji, user, on)


@dataclass(frozen=True, slots=True)
class RoomChange:
    """One change of a room, stored atomically with its event: `user`'s standing goes from `expected` (what
    the change was decided on) to `standing` (None: no row), and/or the topic or visibility changes.
    `keep_owner`: refuse (ChangeConflict) if the room would be left without an owner. `purge`: remove the
    room's events and members (deletion). `amend`: change a message (edits, deletes, reactions)."""

    room: str
    event: "NewEvent | None" = None
    user: str | None = None
    expected: Standing | None = None
    standing: Standing | None = None
    keep_owner: bool = False
    topic: str | None = None
    visibility: str | None = None
    purge: bool = False
    amend: Amend | None = None


@dataclass(frozen=True, slots=True)
class FileRecord:
    """An uploaded file: where it belongs and whose it is (the bytes are in the file storage under `id`)."""

    id: str
    room: str
    uploader: str
    client_id: str  # of the message it goes with
    size: int
    created_ms: int
    seq: int | None = None  # its message; None while the upload is under way


@dataclass(frozen=True, slots=True)
class CallRecord:
    """A voice or video call in a room, and who is in it: user -> invited, joined, left or declined."""

    id: str
    room: str
    media: str
    started_by: str
    started_ms: int
    answered_ms: int | None = None
    ended_ms: int | None = None
    parties: "dict[str, str] | None" = None


@dataclass(frozen=True, slots=True)
class Invite:
    code: str
    created_by: str
    expires_ms: int
    uses_left: int


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
    topic: str = ""
    members: int = 0


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
    async def create_user(self, name: str, password_hash: str, admin: bool = False, invite: str | None = None) -> User:
        """Create an account; with `invite`, spend one use of that invite code in the same transaction
        (BadInvite if it cannot be used)."""

    @abstractmethod
    async def update_user(self, name: str, *, admin: bool | None = None, password_hash: str | None = None,
                          revoke: bool = False) -> User | None:
        """Change the account `name` (None if there is none): its admin flag, its password, and/or
        (`revoke`, implied by a new password) advance its token generation."""

    @abstractmethod
    async def revoke_token(self, token_id: str, user: str, expires_ms: int) -> None:
        """Refuse the token `token_id` of `user` from now until `expires_ms` (when it expires anyway); tokens
        that expired are forgotten on the way."""

    @abstractmethod
    async def revoked_tokens(self, now_ms: int) -> dict[str, int]:
        """The ids of tokens revoked one by one that have not expired by `now_ms`, each with its expiry."""

    @abstractmethod
    async def token_gens(self, names: list[str]) -> dict[str, int]:
        """The token generation of each of `names` that is an account now."""

    @abstractmethod
    async def find_users(self, prefix: str, limit: int) -> list[str]:
        """Account names starting with `prefix` (case-insensitively), in order, at most `limit`."""

    @abstractmethod
    async def create_invite(self, invite: Invite) -> None: ...

    @abstractmethod
    async def invites(self, now_ms: int) -> list[Invite]:
        """Invites that are still usable."""

    @abstractmethod
    async def delete_invite(self, code: str) -> bool: ...

    @abstractmethod
    async def get_user(self, name: str) -> User | None:
        """The user called `name`, compared case-insensitively."""

    @abstractmethod
    async def delete_user(self, name: str) -> bool:
        """Remove the account `name` (their messages stay); whether there was one."""

    @abstractmethod
    async def profiles(self, names: list[str]) -> list[Profile]:
        """The profiles of those of `names` (compared case-insensitively) that are accounts, in name order."""

    @abstractmethod
    async def set_display_name(self, name: str, display_name: str) -> Profile | None:
        """Set the account's display name ('' clears it); the profile now, None if there is no such account."""

    @abstractmethod
    async def set_avatar(self, name: str, avatar: str | None) -> tuple[Profile, str | None] | None:
        """Set (None: remove) the account's avatar key in one step; the profile now and the key it replaced
        (whose bytes the caller deletes), None if there is no such account."""

    async def existing_users(self, names: list[str]) -> set[str]:
        """Those of `names` that are accounts now."""
        return set(await self.token_gens(names))

    @abstractmethod
    async def secret(self, key: str, make: bytes) -> bytes:
        """The persisted secret `key`, storing `make` first if there is none yet (shared by all nodes)."""

    @abstractmethod
    async def ensure_room(self, room: str) -> int:
        """Create `room` if it does not exist; return its last seq (0 for a new room)."""

    @abstractmethod
    async def rooms(self, after: str | None = None, limit: int | None = None) -> list[RoomInfo]:
        """Rooms in name order, those after `after` (a page's last name), at most `limit`."""

    @abstractmethod
    async def directory(self, after: str | None, limit: int, words: str = "") -> list[RoomInfo]:
        """Public rooms in name order after `after`, at most `limit`, with their topic and member count; with
        `words`, only rooms whose name or topic contains them (case-insensitive)."""

    @abstractmethod
    async def room(self, name: str) -> RoomRecord | None:
        """The room `name` (deleted ones too), or None if there never was one."""

    @abstractmethod
    async def standing(self, room: str, user: str) -> Standing | None:
        """`user`'s standing in `room`; None for an outsider."""

    @abstractmethod
    async def members(self, room: str) -> list[tuple[str, Standing]]:
        """Every row of `room`'s members table (members, invited, banned), by name."""

    @abstractmethod
    async def my_rooms(self, user: str) -> list[MyRoom]:
        """The rooms `user` is a member of or invited to (not deleted ones), with read state."""

    @abstractmethod
    async def create_room(self, record: RoomRecord, standings: dict[str, Standing],
                          events: list["NewEvent"]) -> list["Saved"]:
        """Create a room with its first members and events in one transaction; RoomExists if the name is taken."""

    @abstractmethod
    async def apply(self, change: RoomChange) -> "Saved | None":
        """Store `change` and its event in one transaction (ChangeConflict, nothing stored, if it no longer
        fits); the stored event."""

    @abstractmethod
    async def set_notify(self, room: str, user: str, level: str) -> bool:
        """Set `user`'s notification level in `room` (all, mentions, none); False if not a member."""

    # files sent with messages (their bytes are in the file storage, parley/files) ------------------

    @abstractmethod
    async def add_file(self, record: FileRecord) -> None:
        """Record an upload that is starting (seq None)."""

    @abstractmethod
    async def file(self, file_id: str) -> FileRecord | None:
        """The file, with the seq of its message as soon as that message is stored."""

    @abstractmethod
    async def file_stored(self, file_id: str, size: int, seq: int) -> None:
        """The upload finished with `size` bytes and its message was stored as `seq`."""

    @abstractmethod
    async def file_growing(self, file_id: str, size: int) -> None:
        """An upload under way has received `size` bytes so far (they count against the quota)."""

    @abstractmethod
    async def forget_files(self, ids: list[str], now_ms: int) -> None:
        """Their bytes are gone: an unfinished upload's row goes; a finished file's row is marked removed
        (and still counts against its uploader's quota until `purge_files`)."""

    @abstractmethod
    async def purge_files(self, removed_before_ms: int) -> None:
        """Drop the rows of files removed before then."""

    @abstractmethod
    async def uploaded_since(self, user: str, since_ms: int) -> int:
        """Bytes `user` uploaded since `since_ms`: finished, under way and removed since."""

    @abstractmethod
    async def abandoned_files(self, before_ms: int) -> list[str]:
        """Files whose bytes should go: uploads started before `before_ms` that never got their message (one
        whose message was stored after all is completed instead), and files whose message was deleted or
        whose room was (files already removed are not listed again)."""

    # calls ----------------------------------------------------------------------------------------

    @abstractmethod
    async def create_call(self, call: CallRecord) -> bool:
        """Store a new call with its starter joined; False if that id is taken."""

    @abstractmethod
    async def call(self, call_id: str) -> CallRecord | None:
        """The call with its parties."""

    @abstractmethod
    async def move_call_party(self, call_id: str, user: str, state: str, sources: tuple[str | None, ...]) -> bool:
        """Set `user`'s state in the call to `state` if it is one of `sources` now (None: not in the call), in
        one step (concurrent moves of one party do not both happen); whether it moved."""

    @abstractmethod
    async def answer_call(self, call_id: str, now_ms: int) -> bool:
        """Record the first answer; False if it was answered before."""

    @abstractmethod
    async def end_call(self, call_id: str, now_ms: int) -> bool:
        """Record the end; False if it had ended already (another node, another party)."""

    @abstractmethod
    async def set_read(self, room: str, user: str, seq: int) -> None:
        """Move `user`'s read marker in `room` up to `seq` (never down; no-op for non-members)."""

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
    async def search(self, words: list[str], user: str, room: str | None, sender: str | None, limit: int,
                     offset: int) -> list[RoomEvent]:
        """Messages containing every one of `words` (the last one as a prefix), newest first: in `room`, or
        in every room `user` is a member of; only those by `sender` when given."""

    @abstractmethod
    async def events_before(self, room: str, before: int | None, limit: int) -> list[RoomEvent]:
        """The latest `limit` events of `room` with seq < before (or the latest), oldest first."""
