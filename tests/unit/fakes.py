"""In-process stand-ins for the engine's collaborators: a Store, hub members, a session sink, a presence backend.

Everything here is deterministic: no sockets, no threads, no wall-clock sleeps. Races are staged with
`Gate`s (a store call that waits until the test releases it) instead of timing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Callable
from typing import Any

import msgspec

from parley.protocol import Outbound
from parley.protocol.events import RoomEvent, build
from parley.protocol.frames import Message
from parley.store import (
    BadInvite,
    CallRecord,
    ChangeConflict,
    FileRecord,
    Invite,
    MyRoom,
    NewEvent,
    RoomChange,
    RoomExists,
    RoomInfo,
    RoomRecord,
    Saved,
    Standing,
    Store,
    StoreUnavailable,
    User,
    UserExists,
)
from parley.store.base import Profile
from parley.transports.sink import Disconnect

WAIT = 1.0  # seconds any single wait in a unit test may take before it fails (nothing here should come close)


def decode(out: Outbound) -> dict[str, Any]:
    """The JSON frame an Outbound carries."""
    frame = msgspec.json.decode(out.data)
    assert isinstance(frame, dict)
    return frame


def message(room: str, seq: int, sender: str = "bob", text: str | None = None) -> Message:
    """A stored-looking event (for hub tests that do not go through a store)."""
    return Message(room=room, seq=seq, sender=sender, text=text or f"m{seq}", ts=1_000 + seq, client_id=f"c{seq}")


async def eventually(pred: Callable[[], bool], what: str = "", timeout: float = WAIT) -> None:
    """Run the loop until `pred()` holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or pred}")
        await asyncio.sleep(0)


async def settle(rounds: int = 50) -> None:
    """Let every callback and task that is ready run to its next real wait (nothing here does I/O)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class Gate:
    """Holds the calls that reach it until `release()`; `reached()` waits until one has."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()
        self.calls = 0

    async def passing(self) -> None:
        self.calls += 1
        self.entered.set()
        await self.opened.wait()

    def release(self) -> None:
        self.opened.set()

    async def reached(self, timeout: float = WAIT) -> None:
        await asyncio.wait_for(self.entered.wait(), timeout)


class FakeStore(Store):
    """An honest in-memory Store: per-room gap-free seqs, duplicates by (sender, client_id) (within a batch
    too), one batch is all-or-nothing, names compared case-insensitively.

    Rooms: `records` holds rooms made explicitly (create_room, or a test); any other name is a public room
    that exists (as before rooms had members), and in such a room every user counts as a plain member
    unless `standings` says otherwise. So engine tests of fan-out and catch-up join rooms without
    membership events, and access tests set up private rooms and standings explicitly.

    Test hooks:
      down = True                  every call raises StoreUnavailable (after passing its gate, if any)
      fail_next[method] = n        the next n calls of `method` raise StoreUnavailable
      block(method) -> Gate        calls of `method` wait until the gate is released (reads answer with the
                                   state at release time; save_events stores after release)
      block_after_commit() -> Gate save_events stores at once, then waits before returning
      calls[method]                how many times each method was called
      batches                      every batch save_events was asked to store, in call order
    """

    url = "fake://"

    def __init__(self) -> None:
        self.logs: dict[str, list[RoomEvent]] = {}
        self.by_key: dict[tuple[str, str], RoomEvent] = {}
        self.users: dict[str, User] = {}
        self.records: dict[str, RoomRecord] = {}
        self.standings: dict[tuple[str, str], Standing | None] = {}  # None: explicitly an outsider
        self.read: dict[tuple[str, str], int] = {}
        self.invite_codes: dict[str, Invite] = {}
        self.secrets: dict[str, bytes] = {}
        self.revoked: dict[str, tuple[str, int]] = {}  # token id -> (user, expires_ms)
        self.is_open = False
        self.down = False
        self.fail_next: dict[str, int] = {}
        self.gates: dict[str, Gate] = {}
        self.commit_gate: Gate | None = None
        self.calls: Counter[str] = Counter()
        self.batches: list[list[NewEvent]] = []
        self.files: dict[str, FileRecord] = {}
        self.profile_of: dict[str, Profile] = {}  # by lower-case name; none: no display name nor avatar
        self.call_records: dict[str, CallRecord] = {}
        self._clock = 1_700_000_000_000

    # hooks -------------------------------------------------------------------------------------------

    def block(self, method: str) -> Gate:
        gate = self.gates[method] = Gate()
        return gate

    def block_after_commit(self) -> Gate:
        gate = self.commit_gate = Gate()
        return gate

    async def _enter(self, method: str) -> None:
        self.calls[method] += 1
        gate = self.gates.get(method)
        if gate is not None:
            await gate.passing()
        if self.fail_next.get(method):
            self.fail_next[method] -= 1
            raise StoreUnavailable(f"fake store: {method} failed on demand")
        if self.down:
            raise StoreUnavailable(f"fake store is down ({method})")

    # test helpers ------------------------------------------------------------------------------------

    def add(self, room: str, sender: str = "bob", text: str | None = None, client_id: str | None = None) -> RoomEvent:
        """Store one message now, as a committed transaction would (no hooks)."""
        seq = self.head(room) + 1
        saved = self._commit([NewEvent(room=room, sender=sender, text=text or f"{room}-{seq}",
                                       client_id=client_id or f"{sender}-{room}-{seq}")])
        return saved[0].event

    def seqs(self, room: str) -> list[int]:
        return [e.seq for e in self.logs.get(room, [])]

    def head(self, room: str) -> int:
        log = self.logs.get(room)
        return log[-1].seq if log else 0

    def _commit(self, batch: list[NewEvent]) -> list[Saved]:
        self._clock += 1
        ts = self._clock
        heads = {room: self.head(room) for room in {e.room for e in batch}}
        staged: dict[tuple[str, str], RoomEvent] = {}
        new: list[RoomEvent] = []
        out: list[Saved] = []
        for e in batch:
            key = (e.sender, e.client_id)
            earlier = self.by_key.get(key) or staged.get(key)
            if earlier is not None:
                out.append(Saved(event=earlier, duplicate=True))
                continue
            heads[e.room] += 1
            event = build(e.room, heads[e.room], e.kind, e.sender, e.text, ts, e.client_id,
                          e.data)
            staged[key] = event
            new.append(event)
            out.append(Saved(event=event, duplicate=False))
        for event in new:  # all or nothing: nothing above can fail once we get here
            self.logs.setdefault(event.room, []).append(event)
        self.by_key.update(staged)
        return out

    # Store -------------------------------------------------------------------------------------------

    async def open(self) -> None:
        self.is_open = True

    async def close(self) -> None:
        self.is_open = False

    async def ping(self) -> None:
        await self._enter("ping")

    async def create_user(self, name: str, password_hash: str, admin: bool = False, invite: str | None = None) -> User:
        await self._enter("create_user")
        if name.lower() in self.users:
            raise UserExists(name)
        if invite is not None:
            found = self.invite_codes.get(invite)
            if found is None or found.uses_left < 1:
                raise BadInvite(invite)
            self.invite_codes[invite] = Invite(found.code, found.created_by, found.expires_ms, found.uses_left - 1)
        user = self.users[name.lower()] = User(id=len(self.users) + 1, name=name, password_hash=password_hash,
                                               admin=admin)
        return user

    async def update_user(self, name: str, *, admin: bool | None = None, password_hash: str | None = None,
                          revoke: bool = False) -> User | None:
        await self._enter("update_user")
        user = self.users.get(name.lower())
        if user is None:
            return None
        user = User(id=user.id, name=user.name, password_hash=password_hash or user.password_hash,
                    admin=user.admin if admin is None else admin,
                    token_gen=user.token_gen + (1 if revoke or password_hash else 0))
        self.users[name.lower()] = user
        return user

    async def revoke_token(self, token_id: str, user: str, expires_ms: int) -> None:
        await self._enter("revoke_token")
        self.revoked[token_id] = (user, expires_ms)

    async def revoked_tokens(self, now_ms: int) -> dict[str, int]:
        await self._enter("revoked_tokens")
        return {t: expires for t, (_, expires) in self.revoked.items() if expires > now_ms}

    async def token_gens(self, names: list[str]) -> dict[str, int]:
        await self._enter("token_gens")
        return {n: self.users[n.lower()].token_gen for n in names if n.lower() in self.users}

    async def profiles(self, names: list[str]) -> list[Profile]:
        await self._enter("profiles")
        keys = sorted({n.lower() for n in names if n.lower() in self.users})
        return [self.profile_of.get(k, Profile(self.users[k].name)) for k in keys]

    async def set_display_name(self, name: str, display_name: str) -> Profile | None:
        await self._enter("set_display_name")
        key = name.lower()
        if key not in self.users:
            return None
        old = self.profile_of.get(key, Profile(self.users[key].name))
        profile = self.profile_of[key] = Profile(old.user, display_name, old.avatar)
        return profile

    async def set_avatar(self, name: str, avatar: str | None) -> tuple[Profile, str | None] | None:
        await self._enter("set_avatar")
        key = name.lower()
        if key not in self.users:
            return None
        old = self.profile_of.get(key, Profile(self.users[key].name))
        profile = self.profile_of[key] = Profile(old.user, old.display_name, avatar)
        return profile, old.avatar

    async def find_users(self, prefix: str, limit: int) -> list[str]:
        return sorted((u.name for k, u in self.users.items() if k.startswith(prefix.lower())), key=str.lower)[:limit]

    async def create_invite(self, invite: Invite) -> None:
        self.invite_codes[invite.code] = invite

    async def invites(self, now_ms: int) -> list[Invite]:
        return [i for i in self.invite_codes.values() if i.uses_left > 0 and i.expires_ms > now_ms]

    async def delete_invite(self, code: str) -> bool:
        return self.invite_codes.pop(code, None) is not None

    # rooms and members -------------------------------------------------------------------------------

    def _record(self, name: str) -> RoomRecord:
        return self.records.get(name) or RoomRecord(name=name, visibility="public", topic="", last_seq=self.head(name))

    def _standing(self, room: str, user: str) -> Standing | None:
        if (room, user) in self.standings:
            return self.standings[(room, user)]
        return Standing(state="member") if room not in self.records else None

    async def room(self, name: str) -> RoomRecord | None:
        await self._enter("room")
        return self._record(name)

    async def standing(self, room: str, user: str) -> Standing | None:
        await self._enter("standing")
        return self._standing(room, user)

    async def members(self, room: str) -> list[tuple[str, Standing]]:
        await self._enter("members")
        return sorted((u, s) for (r, u), s in self.standings.items() if r == room and s is not None)

    async def my_rooms(self, user: str) -> list[MyRoom]:
        await self._enter("my_rooms")
        out = []
        for (room, u), s in sorted(self.standings.items()):
            if u == user and s is not None and s.state in ("member", "invited"):
                r = self._record(room)
                read = self.read.get((room, user), 0)
                unread = sum(1 for e in self.logs.get(room, []) if e.seq > read and isinstance(e, Message)
                             and e.sender != user)
                out.append(MyRoom(room, r.visibility, r.topic, s.state, s.role, s.muted, self.head(room), read,
                                  unread if s.state == "member" else 0))
        return out

    async def create_room(self, record: RoomRecord, standings: dict[str, Standing],
                          events: list[NewEvent]) -> list[Saved]:
        await self._enter("create_room")
        if record.name in self.records:
            raise RoomExists(record.name)
        self.records[record.name] = record
        for user, standing in standings.items():
            self.standings[(record.name, user)] = standing
        return self._commit(events)

    async def apply(self, change: RoomChange) -> Saved | None:
        await self._enter("apply")
        room = change.room
        if change.user is not None:
            if self._standing(room, change.user) != change.expected:
                raise ChangeConflict(change.user)
            self.standings[(room, change.user)] = change.standing
            if change.keep_owner and not any(r == room and s is not None and s.state == "member" and s.role == "owner"
                                             for (r, _), s in self.standings.items()):
                self.standings[(room, change.user)] = change.expected
                raise ChangeConflict(room)
        r = self._record(room)
        if change.topic is not None or change.visibility is not None:
            self.records[room] = RoomRecord(room, change.visibility or r.visibility,
                                            r.topic if change.topic is None else change.topic, r.last_seq)
        if change.purge:
            self.logs[room] = []
            for key in [k for k in self.standings if k[0] == room]:
                del self.standings[key]
        return self._commit([change.event])[0] if change.event is not None else None

    async def set_read(self, room: str, user: str, seq: int) -> None:
        await self._enter("set_read")
        self.read[(room, user)] = max(self.read.get((room, user), 0), seq)

    async def directory(self, after: str | None, limit: int, words: str = "") -> list[RoomInfo]:
        await self._enter("directory")
        names = sorted(n for n in set(self.logs) | set(self.records)
                       if self._record(n).visibility == "public" and (after is None or n > after)
                       and (words.lower() in n or words.lower() in self._record(n).topic.lower()))
        return [RoomInfo(name=n, last_seq=self.head(n)) for n in names[:limit]]

    async def get_user(self, name: str) -> User | None:
        await self._enter("get_user")
        return self.users.get(name.lower())

    async def delete_user(self, name: str) -> bool:
        await self._enter("delete_user")
        self.profile_of.pop(name.lower(), None)
        return self.users.pop(name.lower(), None) is not None

    async def secret(self, key: str, make: bytes) -> bytes:
        await self._enter("secret")
        return self.secrets.setdefault(key, make)

    async def ensure_room(self, room: str) -> int:
        await self._enter("ensure_room")
        self.logs.setdefault(room, [])
        return self.head(room)

    async def rooms(self, after: str | None = None, limit: int | None = None) -> list[RoomInfo]:
        await self._enter("rooms")
        return [RoomInfo(name=name, last_seq=self.head(name)) for name in sorted(self.logs)]

    async def room_heads(self, names: list[str]) -> dict[str, int]:
        await self._enter("room_heads")
        return {name: self.head(name) for name in names if name in self.logs}

    async def save_events(self, batch: list[NewEvent]) -> list[Saved]:
        self.batches.append(list(batch))
        await self._enter("save_events")
        saved = self._commit(batch)
        gate = self.commit_gate
        if gate is not None:
            await gate.passing()
        return saved

    async def events_after(self, room: str, after: int, limit: int) -> list[RoomEvent]:
        await self._enter("events_after")
        return [e for e in self.logs.get(room, []) if e.seq > after][:limit]

    async def events_before(self, room: str, before: int | None, limit: int) -> list[RoomEvent]:
        await self._enter("events_before")
        older = [e for e in self.logs.get(room, []) if before is None or e.seq < before]
        return older[-limit:] if limit > 0 else []

    # files: the engine tests send none, so the fake keeps only what the interface promises
    async def add_file(self, record: FileRecord) -> None:
        self.files[record.id] = record

    async def file(self, file_id: str) -> FileRecord | None:
        return self.files.get(file_id)

    async def file_stored(self, file_id: str, size: int, seq: int) -> None:
        self.files[file_id] = dataclasses.replace(self.files[file_id], size=size, seq=seq)

    async def file_growing(self, file_id: str, size: int) -> None:
        self.files[file_id] = dataclasses.replace(self.files[file_id], size=size)

    async def forget_files(self, ids: list[str], now_ms: int) -> None:
        for file_id in ids:
            self.files.pop(file_id, None)

    async def purge_files(self, removed_before_ms: int) -> None:
        pass

    async def uploaded_since(self, user: str, since_ms: int) -> int:
        return sum(f.size for f in self.files.values() if f.uploader == user and f.created_ms >= since_ms)

    async def abandoned_files(self, before_ms: int) -> list[str]:
        return [f.id for f in self.files.values() if f.seq is None and f.created_ms < before_ms]

    # calls: kept as the interface promises (the engine tests place none)
    async def create_call(self, call: CallRecord) -> bool:
        if call.id in self.call_records:
            return False
        self.call_records[call.id] = dataclasses.replace(call, parties={call.started_by: "joined"})
        return True

    async def call(self, call_id: str) -> CallRecord | None:
        call = self.call_records.get(call_id)
        return dataclasses.replace(call, parties=dict(call.parties or {})) if call else None

    async def move_call_party(self, call_id: str, user: str, state: str, sources: tuple[str | None, ...]) -> bool:
        parties = self.call_records[call_id].parties
        assert parties is not None
        if parties.get(user) not in sources:
            return False
        parties[user] = state
        return True

    async def answer_call(self, call_id: str, now_ms: int) -> bool:
        if self.call_records[call_id].answered_ms is not None:
            return False
        self.call_records[call_id] = dataclasses.replace(self.call_records[call_id], answered_ms=now_ms)
        return True

    async def end_call(self, call_id: str, now_ms: int) -> bool:
        if self.call_records[call_id].ended_ms is not None:
            return False
        self.call_records[call_id] = dataclasses.replace(self.call_records[call_id], ended_ms=now_ms)
        return True

    async def set_notify(self, room: str, user: str, level: str) -> bool:
        await self._enter("set_notify")
        return (room, user) in self.standings

    async def search(self, words: list[str], user: str, room: str | None, sender: str | None, limit: int,
                     offset: int) -> list[RoomEvent]:
        await self._enter("search")
        rooms = [room] if room is not None else [r for (r, u), s in self.standings.items()
                                                 if u == user and s is not None and s.state == "member"]
        found = [e for r in rooms for e in self.logs.get(r, []) if isinstance(e, Message)
                 and all(w.lower() in e.text.lower() for w in words)
                 and (sender is None or e.sender.lower() == sender.lower())]
        found.sort(key=lambda e: (e.ts, e.seq), reverse=True)
        return found[offset:offset + limit]


class FakeMember:
    """A hub member that records what it is given: pushed frames and backlog events."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.pushed: list[Outbound] = []
        self.backlogged: list[tuple[str, RoomEvent, Outbound]] = []

    def push(self, out: Outbound) -> None:
        self.pushed.append(out)

    def backlog(self, room: str, event: RoomEvent, out: Outbound) -> None:
        self.backlogged.append((room, event, out))

    def frames(self, type_: str | None = None) -> list[dict[str, Any]]:
        frames = [decode(out) for out in self.pushed]
        return [f for f in frames if type_ is None or f["type"] == type_]

    def seqs(self) -> list[int]:
        """seqs of the message frames pushed to this member, in order."""
        return [f["seq"] for f in self.frames("message")]

    def backlog_seqs(self) -> list[int]:
        return [event.seq for _, event, _ in self.backlogged]

    def presence(self) -> list[tuple[str, bool]]:
        return [(f["user"], f["online"]) for f in self.frames("presence")]

    def __repr__(self) -> str:
        return f"FakeMember({self.user!r})"


class FakeSink:
    """A transport for a Session: keeps every frame written to it, decoded."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.closed: Disconnect | None = None

    def write(self, out: Outbound) -> None:
        self.frames.append(decode(out))

    def close(self, disconnect: Disconnect) -> None:
        self.closed = disconnect

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == type_]

    def types(self) -> list[str]:
        return [f["type"] for f in self.frames]

    def seqs(self, room: str | None = None) -> list[int]:
        return [f["seq"] for f in self.of("message") if room is None or f["room"] == room]

    def errors(self) -> list[str]:
        return [f["code"] for f in self.of("error")]


class FakePresenceBackend:
    """The broker's presence I/O (hub.presence.PresenceBackend) as plain data.

    `remote` is what read_presence answers: room -> user -> nodes; `read_gate` (if set) holds reads.
    """

    def __init__(self, node: str = "n1", grace: float = 0.0) -> None:
        self.node = node
        self.interval = 1.0
        self.grace = grace
        self.remote: dict[str, dict[str, set[str]]] = {}
        self.published: list[tuple[str, str, bool]] = []
        self.written: list[dict[str, set[str]]] = []
        self.reads: list[list[str]] = []
        self.read_gate: Gate | None = None
        self.fail: BaseException | None = None

    def publish_presence(self, room: str, user: str, online: bool) -> None:
        self.published.append((room, user, online))

    async def write_presence(self, current: dict[str, set[str]]) -> None:
        if self.fail is not None:
            raise self.fail
        self.written.append({room: set(users) for room, users in current.items()})

    async def read_presence(self, rooms: list[str]) -> dict[str, dict[str, set[str]]]:
        self.reads.append(list(rooms))
        if self.read_gate is not None:
            await self.read_gate.passing()
        if self.fail is not None:
            raise self.fail
        return {room: {u: set(nodes) for u, nodes in self.remote[room].items()}
                for room in rooms if room in self.remote}
