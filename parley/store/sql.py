"""The Store on SQLAlchemy 2 Core (async): the queries every SQL backend shares.

Backends subclass SqlStore for what differs: engine options, upserts and how seqs are reserved.
"""

import time
from abc import abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, or_, select, text, tuple_, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from parley.protocol.events import MENTIONS_KEY, EventKind, RoomEvent, message_data, target_data
from parley.protocol.frames import Message
from parley.protocol.names import MAX_REACTIONS, ROOM_MENTION
from parley.store.base import (
    Amend,
    BadInvite,
    CallRecord,
    ChangeConflict,
    FileRecord,
    Invite,
    MyRoom,
    NewEvent,
    Profile,
    RoomChange,
    RoomExists,
    RoomInfo,
    RoomRecord,
    Saved,
    Standing,
    Store,
    StoreRejected,
    StoreUnavailable,
    User,
    UserExists,
)
from parley.store.batch import Key, event_of, key_of, keys, plan
from parley.store.schema import (
    EVENT_COLUMNS,
    LATEST,
    MIGRATIONS,
    call_parties,
    calls,
    events,
    files,
    invites,
    members,
    reactions,
    revoked_tokens,
    rooms,
    schema_version,
    settings,
    users,
)

_EVENT_COLS = tuple(events.c[name] for name in EVENT_COLUMNS)
_USER_COLS = (users.c.id, users.c.name, users.c.password_hash, users.c.admin, users.c.token_gen)


def _user_of(row: Any) -> User | None:
    """A User from a row of _USER_COLS."""
    return User(id=row[0], name=row[1], password_hash=row[2], admin=bool(row[3]), token_gen=row[4]) if row else None


async def _standing(conn: AsyncConnection, room: str, user: str) -> Standing | None:
    row = (await conn.execute(select(members.c.state, members.c.role, members.c.muted)
                              .where(and_(members.c.room == room, members.c.username == user)))).first()
    return Standing(state=row[0], role=row[1], muted=bool(row[2])) if row else None


HEALTH_KEY = "healthz"  # the settings row /healthz rewrites to prove the store takes writes


def describe(exc: BaseException) -> str:
    """A database error in one line for logs and error messages (some, like TimeoutError(), have no text)."""
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}"


def _refused_data(exc: DBAPIError) -> bool:
    """The database refused the data, not the connection: SQLSTATE class 22 (data exception), e.g. U+0000 in
    PostgreSQL text. (SQLAlchemy's asyncpg adapter raises these as a plain DBAPIError carrying the SQLSTATE.)"""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return isinstance(exc, DataError) or (isinstance(sqlstate, str) and sqlstate.startswith("22"))


def now_ms() -> int:
    return int(time.time() * 1000)


class SqlStore(Store):
    engine: AsyncEngine

    def __init__(self, url: str) -> None:
        self.url = url

    @abstractmethod
    def _make_engine(self) -> AsyncEngine: ...

    def _lower(self, column: Any) -> Any:
        """`column` in lower case, for every letter (not only ASCII)."""
        return func.lower(column)

    @abstractmethod
    def _insert_ignore(self, table: Any) -> Any:
        """An INSERT that skips rows whose key already exists."""

    async def _reserve_seqs(self, conn: AsyncConnection, counts: dict[str, int]) -> dict[str, int]:
        """Advance each room's last_seq by its count inside the transaction; return the first new seq.

        The UPDATE takes the room row's write lock, so concurrent writers (other nodes) queue behind
        this transaction and seqs stay gap-free and in commit order.
        """
        now = now_ms()
        await conn.execute(self._insert_ignore(rooms), [{"name": r, "last_seq": 0, "created_ms": now}
                                                         for r in counts])
        first = {}
        for room, n in counts.items():
            last = (await conn.execute(update(rooms).where(rooms.c.name == room)
                                       .values(last_seq=rooms.c.last_seq + n)
                                       .returning(rooms.c.last_seq))).scalar_one()
            first[room] = last - n + 1
        return first

    async def _lock_migrations(self, conn: AsyncConnection) -> None:
        """Serialise migrations between nodes starting at once (a no-op where the backend needs none)."""

    async def open(self) -> None:
        self.engine = self._make_engine()
        async with self._begin() as conn:
            await self._lock_migrations(conn)
            await conn.run_sync(lambda c: schema_version.create(c, checkfirst=True))
            version = (await conn.execute(select(func.max(schema_version.c.version)))).scalar() or 0
            for number in range(version + 1, LATEST + 1):
                await conn.run_sync(MIGRATIONS[number - 1])
                await conn.execute(insert(schema_version).values(version=number))

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        """A transaction; a lost or refusing database becomes StoreUnavailable, refused data StoreRejected."""
        try:
            async with self.engine.begin() as conn:
                yield conn
        except IntegrityError:
            raise
        except DBAPIError as exc:
            if _refused_data(exc):
                raise StoreRejected(describe(exc)) from exc
            raise StoreUnavailable(describe(exc)) from exc
        except (PoolTimeout, OSError, ConnectionError) as exc:
            raise StoreUnavailable(describe(exc)) from exc

    async def schema_version(self) -> int:
        async with self._begin() as conn:
            return (await conn.execute(select(func.max(schema_version.c.version)))).scalar() or 0

    async def ping(self) -> None:
        async with self._begin() as conn:
            done = await conn.execute(update(settings).where(settings.c.key == HEALTH_KEY).values(value=str(now_ms())))
            if not done.rowcount:
                await conn.execute(self._insert_ignore(settings).values(key=HEALTH_KEY, value=str(now_ms())))

    async def create_user(self, name: str, password_hash: str, admin: bool = False, invite: str | None = None) -> User:
        try:
            async with self._begin() as conn:
                if invite is not None:
                    spent = await conn.execute(update(invites).where(and_(
                        invites.c.code == invite, invites.c.uses_left > 0, invites.c.expires_ms > now_ms()))
                        .values(uses_left=invites.c.uses_left - 1))
                    if not spent.rowcount:
                        raise BadInvite(invite)
                result = await conn.execute(
                    insert(users).values(name=name, name_key=name.lower(), password_hash=password_hash,
                                         created_ms=now_ms(), admin=int(admin)).returning(users.c.id))
                return User(id=result.scalar_one(), name=name, password_hash=password_hash, admin=admin)
        except IntegrityError:
            raise UserExists(name) from None

    async def get_user(self, name: str) -> User | None:
        async with self._begin() as conn:
            row = (await conn.execute(select(*_USER_COLS).where(users.c.name_key == name.lower()))).first()
        return _user_of(row)

    async def update_user(self, name: str, *, admin: bool | None = None, password_hash: str | None = None,
                          revoke: bool = False) -> User | None:
        values: dict[str, Any] = {}
        if admin is not None:
            values["admin"] = int(admin)
        if password_hash is not None:
            values["password_hash"] = password_hash
        if revoke or password_hash is not None:
            values["token_gen"] = users.c.token_gen + 1
        async with self._begin() as conn:
            if values:
                await conn.execute(update(users).where(users.c.name_key == name.lower()).values(**values))
            row = (await conn.execute(select(*_USER_COLS).where(users.c.name_key == name.lower()))).first()
        return _user_of(row)

    async def token_gens(self, names: list[str]) -> dict[str, int]:
        by_key = {n.lower(): n for n in names}
        found: dict[str, int] = {}
        async with self._begin() as conn:
            keys = list(by_key)
            for start in range(0, len(keys), 5000):
                chunk = keys[start:start + 5000]
                rows = await conn.execute(select(users.c.name_key, users.c.token_gen)
                                          .where(users.c.name_key.in_(chunk)))
                found.update((by_key[r[0]], r[1]) for r in rows)
        return found

    async def find_users(self, prefix: str, limit: int) -> list[str]:
        query = select(users.c.name).order_by(users.c.name_key).limit(limit)
        if prefix:
            query = query.where(users.c.name_key.startswith(prefix.lower(), autoescape=True))
        async with self._begin() as conn:
            return [r[0] for r in await conn.execute(query)]

    async def create_invite(self, invite: Invite) -> None:
        async with self._begin() as conn:
            await conn.execute(insert(invites).values(code=invite.code, created_by=invite.created_by,
                                                      created_ms=now_ms(), expires_ms=invite.expires_ms,
                                                      uses_left=invite.uses_left))

    async def invites(self, now_ms: int) -> list[Invite]:
        async with self._begin() as conn:
            rows = await conn.execute(select(invites.c.code, invites.c.created_by, invites.c.expires_ms,
                                             invites.c.uses_left)
                                      .where(and_(invites.c.uses_left > 0, invites.c.expires_ms > now_ms))
                                      .order_by(invites.c.created_ms))
            return [Invite(code=r[0], created_by=r[1], expires_ms=r[2], uses_left=r[3]) for r in rows]

    async def revoke_token(self, token_id: str, user: str, expires_ms: int) -> None:
        async with self._begin() as conn:
            await conn.execute(delete(revoked_tokens).where(revoked_tokens.c.expires_ms < now_ms()))
            await conn.execute(self._insert_ignore(revoked_tokens).values(token_id=token_id, username=user,
                                                                           expires_ms=expires_ms))

    async def revoked_tokens(self, now_ms: int) -> dict[str, int]:
        async with self._begin() as conn:
            rows = await conn.execute(select(revoked_tokens.c.token_id, revoked_tokens.c.expires_ms)
                                      .where(revoked_tokens.c.expires_ms > now_ms))
            return {r[0]: r[1] for r in rows}

    async def delete_invite(self, code: str) -> bool:
        async with self._begin() as conn:
            return bool((await conn.execute(delete(invites).where(invites.c.code == code))).rowcount)

    async def delete_user(self, name: str) -> bool:
        async with self._begin() as conn:
            row = (await conn.execute(select(users.c.name).where(users.c.name_key == name.lower()))).first()
            if row is None:
                return False
            await conn.execute(delete(members).where(members.c.username == row[0]))
            return bool((await conn.execute(delete(users).where(users.c.name_key == name.lower()))).rowcount)

    async def profiles(self, names: list[str]) -> list[Profile]:
        wanted = sorted({n.lower() for n in names})
        if not wanted:
            return []
        async with self._begin() as conn:
            rows = await conn.execute(select(users.c.name, users.c.display_name, users.c.avatar)
                                      .where(users.c.name_key.in_(wanted)).order_by(users.c.name_key))
            return [Profile(user=r[0], display_name=r[1], avatar=r[2]) for r in rows]

    async def set_display_name(self, name: str, display_name: str) -> Profile | None:
        async with self._begin() as conn:
            await conn.execute(update(users).where(users.c.name_key == name.lower()).values(display_name=display_name))
            row = (await conn.execute(select(users.c.name, users.c.display_name, users.c.avatar)
                                      .where(users.c.name_key == name.lower()))).first()
        return Profile(user=row[0], display_name=row[1], avatar=row[2]) if row else None

    async def set_avatar(self, name: str, avatar: str | None) -> tuple[Profile, str | None] | None:
        mine = users.c.name_key == name.lower()
        async with self._begin() as conn:
            # FOR UPDATE (PostgreSQL; SQLite's write lock serialises anyway): two uploads at once each learn
            # the key they replaced, so no avatar's bytes are left behind
            row = (await conn.execute(select(users.c.name, users.c.display_name, users.c.avatar)
                                      .where(mine).with_for_update())).first()
            if row is None:
                return None
            await conn.execute(update(users).where(mine).values(avatar=avatar))
        return Profile(user=row[0], display_name=row[1], avatar=avatar), row[2]

    async def secret(self, key: str, make: bytes) -> bytes:
        async with self._begin() as conn:
            await conn.execute(self._insert_ignore(settings).values(key=key, value=make.hex()))
            value = (await conn.execute(select(settings.c.value).where(settings.c.key == key))).scalar_one()
        return bytes.fromhex(value)

    async def ensure_room(self, room: str) -> int:
        async with self._begin() as conn:
            await conn.execute(self._insert_ignore(rooms).values(name=room, last_seq=0, created_ms=now_ms()))
            return (await conn.execute(select(rooms.c.last_seq).where(rooms.c.name == room))).scalar_one()

    async def rooms(self, after: str | None = None, limit: int | None = None) -> list[RoomInfo]:
        query = select(rooms.c.name, rooms.c.last_seq).order_by(rooms.c.name)
        if after is not None:
            query = query.where(rooms.c.name > after)
        if limit is not None:
            query = query.limit(limit)
        async with self._begin() as conn:
            return [RoomInfo(name=r[0], last_seq=r[1]) for r in await conn.execute(query)]

    async def directory(self, after: str | None, limit: int, words: str = "") -> list[RoomInfo]:
        count = (select(func.count()).select_from(members)
                 .where(and_(members.c.room == rooms.c.name, members.c.state == "member")).scalar_subquery())
        query = (select(rooms.c.name, rooms.c.last_seq, rooms.c.topic, count).where(rooms.c.visibility == "public")
                 .order_by(rooms.c.name).limit(limit))
        if after is not None:
            query = query.where(rooms.c.name > after)
        if words:
            words = words.lower()
            query = query.where(or_(rooms.c.name.contains(words, autoescape=True),
                                    self._lower(rooms.c.topic).contains(words, autoescape=True)))
        async with self._begin() as conn:
            return [RoomInfo(name=r[0], last_seq=r[1], topic=r[2], members=r[3]) for r in await conn.execute(query)]

    async def room(self, name: str) -> RoomRecord | None:
        async with self._begin() as conn:
            row = (await conn.execute(select(rooms.c.name, rooms.c.visibility, rooms.c.topic, rooms.c.last_seq)
                                      .where(rooms.c.name == name))).first()
        return RoomRecord(name=row[0], visibility=row[1], topic=row[2], last_seq=row[3]) if row else None

    async def standing(self, room: str, user: str) -> Standing | None:
        async with self._begin() as conn:
            return await _standing(conn, room, user)

    async def members(self, room: str) -> list[tuple[str, Standing]]:
        async with self._begin() as conn:
            rows = await conn.execute(select(members.c.username, members.c.state, members.c.role, members.c.muted)
                                      .where(members.c.room == room).order_by(func.lower(members.c.username)))
            return [(r[0], Standing(state=r[1], role=r[2], muted=bool(r[3]))) for r in rows]

    async def my_rooms(self, user: str) -> list[MyRoom]:
        m = members
        after_read = and_(events.c.room == m.c.room, events.c.seq > m.c.last_read, events.c.kind == "message",
                          events.c.sender != m.c.username)
        unread = select(func.count()).select_from(events).where(after_read).scalar_subquery()
        # the mentioned names come last in a message's data, after MENTIONS_KEY (protocol.events.message_data)
        key = _like_escape(MENTIONS_KEY)
        me = '"' + _like_escape(user) + '"'
        named = or_(events.c.data.like(f"%{key}%{me}%", escape="\\"),
                    events.c.data.like(f'%{key}%"{ROOM_MENTION}"%', escape="\\"))
        mentions = select(func.count()).select_from(events).where(and_(after_read, named)).scalar_subquery()
        query = (select(m.c.room, rooms.c.visibility, rooms.c.topic, m.c.state, m.c.role, m.c.muted,
                        rooms.c.last_seq, m.c.last_read, case((m.c.state == "member", unread), else_=0),
                        case((m.c.state == "member", mentions), else_=0), m.c.notify)
                 .join(rooms, rooms.c.name == m.c.room)
                 .where(and_(m.c.username == user, m.c.state.in_(("member", "invited")),
                             rooms.c.visibility != "deleted"))
                 .order_by(m.c.room))
        async with self._begin() as conn:
            rows = (await conn.execute(query)).all()
            dms = [r[0] for r in rows if r[1] == "dm"]
            people: dict[str, list[str]] = {}
            if dms:
                for room, name in await conn.execute(select(m.c.room, m.c.username)
                                                     .where(and_(m.c.room.in_(dms), m.c.state == "member"))
                                                     .order_by(m.c.username)):
                    people.setdefault(room, []).append(name)
        return [MyRoom(name=r[0], visibility=r[1], topic=r[2], state=r[3], role=r[4], muted=bool(r[5]), last_seq=r[6],
                       last_read=r[7], unread=r[8], mentions=r[9], notify=r[10],
                       members=people.get(r[0]) if r[1] == "dm" else None) for r in rows]

    async def add_file(self, record: FileRecord) -> None:
        async with self._begin() as conn:
            await conn.execute(insert(files).values(id=record.id, room=record.room, uploader=record.uploader,
                                                    client_id=record.client_id, size=record.size,
                                                    created_ms=record.created_ms, seq=record.seq))

    async def file(self, file_id: str) -> FileRecord | None:
        f, e = files, events
        # Its message may be stored (and delivered) a moment before the upload records the seq: find it then
        # by the upload's client_id, provided the message names this file.
        message = and_(e.c.room == f.c.room, e.c.sender == f.c.uploader, e.c.client_id == f.c.client_id,
                       e.c.data.contains(f.c.id), f.c.seq.is_(None))
        async with self._begin() as conn:
            row = (await conn.execute(select(f.c.id, f.c.room, f.c.uploader, f.c.client_id, f.c.size,
                                             f.c.created_ms, func.coalesce(f.c.seq, e.c.seq))
                                      .outerjoin(e, message).where(and_(f.c.id == file_id,
                                                                        f.c.removed_ms.is_(None))))).first()
        return FileRecord(*row) if row else None

    async def file_stored(self, file_id: str, size: int, seq: int) -> None:
        async with self._begin() as conn:
            await conn.execute(update(files).where(files.c.id == file_id).values(size=size, seq=seq))

    async def file_growing(self, file_id: str, size: int) -> None:
        async with self._begin() as conn:
            under_way = and_(files.c.id == file_id, files.c.seq.is_(None))
            await conn.execute(update(files).where(under_way).values(size=size))

    async def forget_files(self, ids: list[str], now_ms: int) -> None:
        if ids:
            async with self._begin() as conn:
                await conn.execute(delete(files).where(and_(files.c.id.in_(ids), files.c.seq.is_(None))))
                await conn.execute(update(files).where(and_(files.c.id.in_(ids), files.c.seq.is_not(None)))
                                   .values(removed_ms=now_ms))

    async def purge_files(self, removed_before_ms: int) -> None:
        async with self._begin() as conn:
            await conn.execute(delete(files).where(files.c.removed_ms < removed_before_ms))

    async def uploaded_since(self, user: str, since_ms: int) -> int:
        async with self._begin() as conn:
            mine = and_(files.c.uploader == user, files.c.created_ms >= since_ms)
            total = (await conn.execute(select(func.coalesce(func.sum(files.c.size), 0)).where(mine))).scalar()
        return int(total or 0)

    async def abandoned_files(self, before_ms: int) -> list[str]:
        f, e = files, events
        async with self._begin() as conn:
            # uploads cut short after their message was stored: completed, not swept
            pending = (await conn.execute(select(f.c.id, e.c.seq).join(e, and_(
                e.c.room == f.c.room, e.c.sender == f.c.uploader, e.c.client_id == f.c.client_id))
                .where(and_(f.c.seq.is_(None), f.c.created_ms < before_ms, e.c.data.contains(f.c.id))))).all()
            for file_id, seq in pending:
                await conn.execute(update(f).where(f.c.id == file_id).values(seq=seq))
            live = select(e.c.seq).where(and_(e.c.room == f.c.room, e.c.seq == f.c.seq, e.c.kind == EventKind.MESSAGE,
                                              or_(e.c.data.is_(None), ~e.c.data.like('%"deleted":true%'))))
            rows = await conn.execute(select(f.c.id).where(and_(f.c.removed_ms.is_(None), or_(
                and_(f.c.seq.is_(None), f.c.created_ms < before_ms),
                and_(f.c.seq.is_not(None), ~live.exists())))))
            return [r[0] for r in rows]

    async def create_call(self, call: CallRecord) -> bool:
        try:
            async with self._begin() as conn:
                await conn.execute(insert(calls).values(id=call.id, room=call.room, media=call.media,
                                                        started_by=call.started_by, started_ms=call.started_ms))
                await conn.execute(insert(call_parties).values(call_id=call.id, username=call.started_by,
                                                               state="joined"))
        except IntegrityError:
            return False
        return True

    async def call(self, call_id: str) -> CallRecord | None:
        async with self._begin() as conn:
            row = (await conn.execute(select(calls.c.id, calls.c.room, calls.c.media, calls.c.started_by,
                                             calls.c.started_ms, calls.c.answered_ms, calls.c.ended_ms)
                                      .where(calls.c.id == call_id))).first()
            if row is None:
                return None
            parties = dict((await conn.execute(select(call_parties.c.username, call_parties.c.state)
                                               .where(call_parties.c.call_id == call_id))).all())
        return CallRecord(*row, parties=parties)

    async def move_call_party(self, call_id: str, user: str, state: str, sources: tuple[str | None, ...]) -> bool:
        mine = and_(call_parties.c.call_id == call_id, call_parties.c.username == user)
        states = [s for s in sources if s is not None]
        async with self._begin() as conn:
            if None in sources:
                added = await conn.execute(self._insert_ignore(call_parties).values(call_id=call_id, username=user,
                                                                                    state=state))
                if added.rowcount:
                    return True
            if not states:
                return False
            moved = await conn.execute(update(call_parties).where(and_(mine, call_parties.c.state.in_(states)))
                                       .values(state=state))
            return bool(moved.rowcount)

    async def answer_call(self, call_id: str, now_ms: int) -> bool:
        async with self._begin() as conn:
            done = await conn.execute(update(calls).where(and_(calls.c.id == call_id, calls.c.answered_ms.is_(None)))
                                      .values(answered_ms=now_ms))
            return bool(done.rowcount)

    async def end_call(self, call_id: str, now_ms: int) -> bool:
        async with self._begin() as conn:
            done = await conn.execute(update(calls).where(and_(calls.c.id == call_id, calls.c.ended_ms.is_(None)))
                                      .values(ended_ms=now_ms))
            return bool(done.rowcount)

    async def set_notify(self, room: str, user: str, level: str) -> bool:
        async with self._begin() as conn:
            done = await conn.execute(update(members).where(and_(members.c.room == room, members.c.username == user,
                                                                 members.c.state == "member")).values(notify=level))
            return bool(done.rowcount)

    async def create_room(self, record: RoomRecord, standings: dict[str, Standing],
                          events_: list[NewEvent]) -> list[Saved]:
        try:
            async with self._writing(), self._begin() as conn:
                await conn.execute(insert(rooms).values(name=record.name, last_seq=0, created_ms=now_ms(),
                                                        visibility=record.visibility, topic=record.topic))
                if standings:
                    await conn.execute(insert(members), [
                        {"room": record.name, "username": u, "state": s.state, "role": s.role, "muted": int(s.muted)}
                        for u, s in standings.items()])
                saved = [await self._append(conn, e) for e in events_]
        except IntegrityError:
            raise RoomExists(record.name) from None
        await self._seq_changed(record.name)
        return saved

    async def apply(self, change: RoomChange) -> Saved | None:
        room = change.room
        async with self._writing(), self._begin() as conn:
            # the first statement writes (the room row: SQLite takes its write lock before any read, and
            # PostgreSQL serialises changes of one room behind this row lock)
            saved = await self._append(conn, change.event) if change.event is not None else None
            if saved is None:
                await conn.execute(update(rooms).where(rooms.c.name == room).values(last_seq=rooms.c.last_seq))
            if change.user is not None:
                now = await _standing(conn, room, change.user)
                if now != change.expected:
                    raise ChangeConflict(f"{change.user}'s standing in {room} changed meanwhile")
                who = and_(members.c.room == room, members.c.username == change.user)
                new = change.standing
                if new is None:
                    await conn.execute(delete(members).where(who))
                elif now is None:
                    await conn.execute(insert(members).values(room=room, username=change.user, state=new.state,
                                                              role=new.role, muted=int(new.muted)))
                else:
                    reset = {"last_read": 0} if new.state != "member" else {}
                    await conn.execute(update(members).where(who).values(state=new.state, role=new.role,
                                                                         muted=int(new.muted), **reset))
                if change.keep_owner:
                    owners = (await conn.execute(select(func.count()).select_from(members).where(and_(
                        members.c.room == room, members.c.state == "member", members.c.role == "owner")))).scalar_one()
                    if not owners:
                        raise ChangeConflict(f"{room} would have no owner")
            values: dict[str, Any] = {}
            if change.topic is not None:
                values["topic"] = change.topic
            if change.visibility is not None:
                values["visibility"] = change.visibility
            if values:
                await conn.execute(update(rooms).where(rooms.c.name == room).values(**values))
            if change.amend is not None:
                await _amend(conn, room, change.amend)
            if change.purge:
                await conn.execute(delete(events).where(events.c.room == room))
                await conn.execute(delete(members).where(members.c.room == room))
                await conn.execute(delete(reactions).where(reactions.c.room == room))
        if saved is not None:
            await self._seq_changed(room)
        return saved

    async def set_read(self, room: str, user: str, seq: int) -> None:
        async with self._begin() as conn:
            await conn.execute(update(members).where(and_(members.c.room == room, members.c.username == user,
                                                          members.c.state == "member", members.c.last_read < seq))
                               .values(last_read=seq))

    async def _append(self, conn: AsyncConnection, event: NewEvent) -> Saved:
        """Append one event to its room's log inside the transaction `conn` (the room exists)."""
        first = await self._reserve_seqs(conn, {event.room: 1})
        p = plan([event], {})
        row = p.rows(first, now_ms())
        await conn.execute(insert(events), [dict(zip(EVENT_COLUMNS, r, strict=True)) for r in row])
        return p.outcome()[0]

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        """Held around the membership writes (backends whose writers contend for one lock serialise them)."""
        yield

    async def _seq_changed(self, room: str) -> None:
        """A room's last seq moved outside save_events (backends that cache it forget it here)."""

    async def room_heads(self, names: list[str]) -> dict[str, int]:
        """The last seq of each named room that exists, in one query per 5,000 names."""
        heads: dict[str, int] = {}
        async with self._begin() as conn:
            for start in range(0, len(names), 5000):
                rows = await conn.execute(select(rooms.c.name, rooms.c.last_seq)
                                          .where(rooms.c.name.in_(names[start:start + 5000])))
                heads.update((name, last) for name, last in rows)
        return heads

    async def events_after(self, room: str, after: int, limit: int) -> list[RoomEvent]:
        async with self._begin() as conn:
            rows = await conn.execute(select(*_EVENT_COLS)
                                      .where(and_(events.c.room == room, events.c.seq > after))
                                      .order_by(events.c.seq).limit(limit))
            return await _with_reactions(conn, room, [event_of(tuple(r)) for r in rows])

    async def search(self, words: list[str], user: str, room: str | None, sender: str | None, limit: int,
                     offset: int) -> list[RoomEvent]:
        params: dict[str, Any] = {"match": self._match(words), "user": user, "room": room, "sender": sender,
                                  "limit": limit, "offset": offset}
        where = "e.room = :room" if room is not None else (
            "e.room IN (SELECT room FROM members WHERE username = :user AND state = 'member')")
        if sender is not None:
            where += " AND lower(e.sender) = lower(:sender)"
        cols = ", ".join(f"e.{c}" for c in EVENT_COLUMNS)
        query = text(f"SELECT {cols} FROM events e WHERE e.kind = 'message' AND {self._matches} AND {where} "
                     "ORDER BY e.ts DESC, e.seq DESC LIMIT :limit OFFSET :offset")
        async with self._begin() as conn:
            return [event_of(tuple(r)) for r in await conn.execute(query, params)]

    _matches = ""  # the SQL condition on `e` that the text matches :match (per backend)

    @staticmethod
    def _match(words: list[str]) -> str:
        """The backend's query for `words` (letters and digits only, so no syntax of its own)."""
        raise NotImplementedError

    async def events_before(self, room: str, before: int | None, limit: int) -> list[RoomEvent]:
        cond = events.c.room == room
        if before is not None:
            cond = and_(cond, events.c.seq < before)
        async with self._begin() as conn:
            rows = await conn.execute(select(*_EVENT_COLS).where(cond).order_by(events.c.seq.desc()).limit(limit))
            return await _with_reactions(conn, room, [event_of(tuple(r)) for r in reversed(rows.all())])

    async def save_events(self, batch: list[NewEvent]) -> list[Saved]:
        for attempt in range(3):
            try:
                return await self._save(batch)
            except IntegrityError:
                # another node stored one of these (sender, client_id) pairs between our check and
                # insert; the retry sees it as a duplicate
                if attempt == 2:
                    raise StoreUnavailable("conflicting concurrent writes") from None
        raise AssertionError("unreachable")

    async def _save(self, batch: list[NewEvent]) -> list[Saved]:
        async with self._begin() as conn:
            found: dict[Key, RoomEvent] = {}
            wanted = keys(batch)
            for start in range(0, len(wanted), 500):
                rows = await conn.execute(select(*_EVENT_COLS).where(
                    tuple_(events.c.sender, events.c.client_id).in_(wanted[start:start + 500])))
                for r in rows:
                    row = tuple(r)
                    found[key_of(row)] = event_of(row)
            p = plan(batch, found)
            if p.fresh:
                first = await self._reserve_seqs(conn, p.counts)
                new = p.rows(first, now_ms())
                await conn.execute(insert(events), [dict(zip(EVENT_COLUMNS, row, strict=True)) for row in new])
        return p.outcome()


async def _with_reactions(conn: AsyncConnection, room: str, page: list[RoomEvent]) -> list[RoomEvent]:
    """Attach each message's reactions (emoji -> users, in the order they were first given)."""
    seqs = [e.seq for e in page if isinstance(e, Message) and not e.deleted]
    if not seqs:
        return page
    rows = await conn.execute(select(reactions.c.seq, reactions.c.emoji, reactions.c.username)
                              .where(and_(reactions.c.room == room, reactions.c.seq.between(seqs[0], seqs[-1])))
                              .order_by(reactions.c.seq, reactions.c.created_ms, reactions.c.username))
    found: dict[int, dict[str, list[str]]] = {}
    for seq, emoji, user in rows:
        found.setdefault(seq, {}).setdefault(emoji, []).append(user)
    if found:
        for e in page:
            if isinstance(e, Message) and e.seq in found:
                e.reactions = found[e.seq]
    return page


async def _amend(conn: AsyncConnection, room: str, amend: Amend) -> None:
    """Apply an edit, delete or reaction to its target message inside the change's transaction (the room
    row is locked by the event just appended)."""
    where = and_(events.c.room == room, events.c.seq == amend.target)
    row = (await conn.execute(select(events.c.kind, events.c.sender, events.c.data).where(where))).first()
    if row is None or row[0] != EventKind.MESSAGE:
        raise ChangeConflict(f"no message {amend.target} in {room}")
    old = event_of((room, amend.target, row[0], row[1], "", 0, "", row[2]))
    assert isinstance(old, Message)
    if old.deleted:
        raise ChangeConflict(f"message {amend.target} in {room} is deleted")
    if amend.author is not None and old.sender != amend.author:
        raise ChangeConflict(f"message {amend.target} in {room} is not by {amend.author}")
    edits = and_(events.c.room == room, events.c.kind == EventKind.EDIT, events.c.data == target_data(amend.target))
    if amend.text is not None:
        await conn.execute(update(events).where(where).values(
            text=amend.text, data=message_data(old.reply_to, edited=True, mentions=old.mentions, file=old.file)))
        await conn.execute(update(events).where(edits).values(text=amend.text))  # earlier texts are not kept
    if amend.delete:
        await conn.execute(update(events).where(where).values(
            text="", data=message_data(old.reply_to, deleted=True)))
        await conn.execute(update(events).where(edits).values(text=""))
        await conn.execute(delete(reactions).where(and_(reactions.c.room == room, reactions.c.seq == amend.target)))
    if amend.reaction is not None:
        emoji, user, on = amend.reaction
        mine = and_(reactions.c.room == room, reactions.c.seq == amend.target, reactions.c.emoji == emoji,
                    reactions.c.username == user)
        if not on:
            await conn.execute(delete(reactions).where(mine))
            return
        if (await conn.execute(select(func.count()).select_from(reactions).where(mine))).scalar_one():
            return
        kinds = (await conn.execute(select(func.count(func.distinct(reactions.c.emoji))).where(and_(
            reactions.c.room == room, reactions.c.seq == amend.target, reactions.c.emoji != emoji)))).scalar_one()
        if kinds >= MAX_REACTIONS:
            raise ChangeConflict(f"message {amend.target} has {MAX_REACTIONS} different reactions already")
        await conn.execute(insert(reactions).values(room=room, seq=amend.target, emoji=emoji, username=user,
                                                    created_ms=now_ms()))


def _like_escape(value: str) -> str:
    """`value` for a LIKE pattern with ESCAPE '\\' (user names may contain `_`)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
