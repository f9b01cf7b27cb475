"""The Store on SQLAlchemy 2 Core (async): the queries every SQL backend shares.

Backends subclass SqlStore for what differs: engine options, upserts and how seqs are reserved.
"""

import time
from abc import abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, tuple_, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from parley.protocol.events import RoomEvent
from parley.store.base import NewEvent, RoomInfo, Saved, Store, StoreRejected, StoreUnavailable, User, UserExists
from parley.store.batch import Key, event_of, key_of, keys, plan
from parley.store.schema import EVENT_COLUMNS, LATEST, MIGRATIONS, events, rooms, schema_version, settings, users

_EVENT_COLS = tuple(events.c[name] for name in EVENT_COLUMNS)


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

    async def create_user(self, name: str, password_hash: str) -> User:
        try:
            async with self._begin() as conn:
                result = await conn.execute(
                    insert(users).values(name=name, name_key=name.lower(), password_hash=password_hash,
                                         created_ms=now_ms()).returning(users.c.id))
                return User(id=result.scalar_one(), name=name, password_hash=password_hash)
        except IntegrityError:
            raise UserExists(name) from None

    async def get_user(self, name: str) -> User | None:
        async with self._begin() as conn:
            row = (await conn.execute(select(users.c.id, users.c.name, users.c.password_hash)
                                      .where(users.c.name_key == name.lower()))).first()
        return User(id=row[0], name=row[1], password_hash=row[2]) if row else None

    async def delete_user(self, name: str) -> bool:
        async with self._begin() as conn:
            return bool((await conn.execute(delete(users).where(users.c.name_key == name.lower()))).rowcount)

    async def existing_users(self, names: list[str]) -> set[str]:
        by_key = {n.lower(): n for n in names}
        found: set[str] = set()
        async with self._begin() as conn:
            keys = list(by_key)
            for start in range(0, len(keys), 5000):
                chunk = keys[start:start + 5000]
                rows = await conn.execute(select(users.c.name_key).where(users.c.name_key.in_(chunk)))
                found.update(by_key[r[0]] for r in rows)
        return found

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
            return [event_of(tuple(r)) for r in rows]

    async def events_before(self, room: str, before: int | None, limit: int) -> list[RoomEvent]:
        cond = events.c.room == room
        if before is not None:
            cond = and_(cond, events.c.seq < before)
        async with self._begin() as conn:
            rows = await conn.execute(select(*_EVENT_COLS).where(cond).order_by(events.c.seq.desc()).limit(limit))
            return [event_of(tuple(r)) for r in reversed(rows.all())]

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
