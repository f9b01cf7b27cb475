"""SQLite behind the Store interface: the embedded default, in WAL mode, every commit flushed to disk.

Migrations and reads go through the shared SQLAlchemy code (sql.py). The writes on the hot path — storing a
batch, creating a room on join, and a user's plain standing change (a join, a leave) — run on one dedicated
thread with its own sqlite3 connection, each as ONE hop off the event loop: through SQLAlchemy + aiosqlite the
same transaction was several hops and ~10x the CPU (measured in docs/performance.md). The two reads every
first join makes (the room, the user's standing in it) run the same way on a reader thread of their own, which
WAL lets read beside the writer. Standing changes arriving while one is stored are stored together in the next
transaction (group commit, as for messages), so a burst of first joins costs one fsync, not one each.
"""

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import event, func
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from parley.protocol.events import RoomEvent
from parley.store.base import (
    ChangeConflict,
    NewEvent,
    RoomChange,
    RoomRecord,
    Saved,
    Standing,
    StoreRejected,
    StoreUnavailable,
)
from parley.store.batch import Key, event_of, keys, plan
from parley.store.schema import EVENT_COLUMNS
from parley.store.sql import HEALTH_KEY, SqlStore, now_ms

T = TypeVar("T")

SYNC_MODES = ("full", "normal")


def sqlite_pragmas(synchronous: str) -> tuple[str, ...]:
    # full (default): each commit is fsynced before the ack, so acked messages survive kill -9 and power
    # loss. normal (?synchronous=normal in the URL): WAL is fsynced only at checkpoints; acked messages
    # survive kill -9 but the last ones may be lost in a power cut.
    return ("PRAGMA journal_mode=WAL", f"PRAGMA synchronous={synchronous.upper()}", "PRAGMA busy_timeout=10000")


_SELECT_BY_KEY = f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE sender = ? AND client_id = ?"
_STANDING = "SELECT state, role, muted FROM members WHERE room = ? AND username = ?"
_INSERT = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"


def _plain(change: RoomChange) -> bool:
    """A change of one user's standing with its event and nothing else (a join, a leave): the writer thread
    stores these in batches; anything more goes through the shared SQLAlchemy code."""
    return (change.event is not None and change.user is not None and not change.keep_owner
            and change.topic is None and change.visibility is None and not change.purge and change.amend is None)


def _standing_of(row: Any) -> Standing | None:
    """A Standing from a row of _STANDING (None: no row)."""
    return Standing(state=row[0], role=row[1], muted=bool(row[2])) if row else None


async def _on_thread(executor: ThreadPoolExecutor | None, fn: Any, *args: Any) -> Any:
    """Run fn(*args) on one of the store's threads; data the database refuses becomes StoreRejected, any
    other database error StoreUnavailable."""
    if executor is None:
        raise StoreUnavailable("store is closed")
    try:
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
    except sqlite3.DataError as exc:
        raise StoreRejected(f"{type(exc).__name__}: {exc}") from exc
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc


def sqlite_path(url: str) -> Path:
    """`sqlite:///rel/path.db` or `sqlite:////abs/path.db` -> the file's path."""
    rest = url.split(":///", 1)[1].split("?", 1)[0] if ":///" in url else ""
    if not rest:
        raise ValueError(f"not a SQLite URL with a file path: {url!r} (try sqlite:///parley.db)")
    return Path(rest)


def sqlite_sync(url: str) -> str:
    """The `synchronous` mode asked for in the URL query (?synchronous=normal), else full."""
    query = dict(part.partition("=")[::2] for part in urlsplit(url).query.split("&") if part)
    mode = query.get("synchronous", "full").lower()
    if mode not in SYNC_MODES:
        raise ValueError(f"synchronous must be one of {', '.join(SYNC_MODES)}, not {mode!r}")
    return mode


class SqliteStore(SqlStore):
    _matches = "e.rowid IN (SELECT rowid FROM events_fts WHERE events_fts MATCH :match)"

    @staticmethod
    def _match(words: list[str]) -> str:
        return " ".join([f'"{w}"' for w in words[:-1]] + [f'"{words[-1]}"*'])

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = sqlite_path(url)
        self.pragmas = sqlite_pragmas(sqlite_sync(url))
        self._writer: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._reader: ThreadPoolExecutor | None = None
        self._read_conn: sqlite3.Connection | None = None
        # last seq of each room this process has seen; one server owns a SQLite file, so a join can
        # answer from here without a thread hop (PostgreSQL deployments have no such cache)
        self._last_seq: dict[str, int] = {}
        # membership changes go through SQLAlchemy's pool: one at a time, so they wait for the file's write
        # lock here rather than in SQLite's sleeping busy handler
        self._write_lock = asyncio.Lock()
        self._changes: list[tuple[RoomChange, asyncio.Future[Saved]]] = []  # plain changes waiting for a batch
        self._applier: asyncio.Task[None] | None = None  # stores them, batch after batch, while there are any

    def _make_engine(self) -> AsyncEngine:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(f"sqlite+aiosqlite:///{self.path}", pool_size=4, max_overflow=4)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            for pragma in self.pragmas:
                cur.execute(pragma)
            cur.close()
            # SQLite's own lower() changes only ASCII letters; Python's knows all of Unicode, as PostgreSQL does
            dbapi_conn.create_function("unicode_lower", 1, lambda s: s.lower() if isinstance(s, str) else s,
                                       deterministic=True)

        return engine

    def _insert_ignore(self, table: Any) -> Any:
        return sqlite_insert(table).on_conflict_do_nothing()

    def _lower(self, column: Any) -> Any:
        return func.unicode_lower(column)

    async def open(self) -> None:
        await super().open()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="parley-sqlite-writer")
        await self._write(self._connect)
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="parley-sqlite-reader")
        await self._read(self._connect_reader)

    async def close(self) -> None:
        if self._applier is not None:  # standing changes already queued are stored (or refused) first
            await asyncio.shield(self._applier)
        if self._reader is not None:
            await self._read(self._disconnect_reader)
            self._reader.shutdown(wait=True)
            self._reader = None
        if self._writer is not None:
            await self._write(self._disconnect)
            self._writer.shutdown(wait=True)
            self._writer = None
        await super().close()

    def _connect_reader(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA query_only=1")
        self._read_conn = conn

    def _disconnect_reader(self) -> None:
        if self._read_conn is not None:
            self._read_conn.close()
            self._read_conn = None

    async def _read(self, fn: Any, *args: Any) -> Any:
        """Run fn(*args) on the reader thread."""
        return await _on_thread(self._reader, fn, *args)

    async def room(self, name: str) -> RoomRecord | None:
        return await self._read(self._room_sync, name)

    def _room_sync(self, name: str) -> RoomRecord | None:
        assert self._read_conn is not None
        row = self._read_conn.execute("SELECT name, visibility, topic, last_seq FROM rooms WHERE name = ?",
                                      (name,)).fetchone()
        return RoomRecord(name=row[0], visibility=row[1], topic=row[2], last_seq=row[3]) if row else None

    async def standing(self, room: str, user: str) -> Standing | None:
        return await self._read(self._standing_sync, room, user)

    def _standing_sync(self, room: str, user: str) -> Standing | None:
        assert self._read_conn is not None
        return _standing_of(self._read_conn.execute(_STANDING, (room, user)).fetchone())

    def _connect(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in self.pragmas:
            conn.execute(pragma)
        self._conn = conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _write(self, fn: Any, *args: Any) -> Any:
        """Run fn(*args) on the writer thread."""
        return await _on_thread(self._writer, fn, *args)

    async def save_events(self, batch: list[NewEvent]) -> list[Saved]:
        return await self._write(self._save_sync, batch)

    async def apply(self, change: RoomChange) -> Saved | None:
        if not _plain(change):
            return await super().apply(change)
        future: asyncio.Future[Saved] = asyncio.get_running_loop().create_future()
        self._changes.append((change, future))
        if self._applier is None:
            self._applier = asyncio.create_task(self._apply_queued(), name="parley-sqlite-changes")
        return await future

    async def _apply_queued(self) -> None:
        try:
            while self._changes:
                # a caller cancelled while waiting (its session closed) has its change dropped, not stored
                batch = [(c, f) for c, f in self._changes if not f.cancelled()]
                self._changes = []
                for (_, future), outcome in zip(batch, await self._apply_batch([c for c, _ in batch]), strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._applier = None

    async def _apply_batch(self, changes: list[RoomChange]) -> list[Saved | Exception]:
        """One transaction for `changes`; if it fails, each change alone, so one bad change fails only itself."""
        if not changes:
            return []
        try:
            return list(await self._write(self._apply_sync, changes))
        except Exception as exc:  # rolled back: nothing of the batch is stored
            if len(changes) == 1:
                return [exc]
        out: list[Saved | Exception] = []
        for change in changes:
            out += await self._apply_batch([change])
        return out

    def _apply_sync(self, changes: list[RoomChange]) -> list[Saved | ChangeConflict]:
        """Plain standing changes in one transaction; a change decided on a standing that is no longer the
        user's is skipped (ChangeConflict for it alone) before it writes anything."""
        conn = self._conn
        if conn is None:
            raise StoreUnavailable("store is closed")
        out: list[Saved | ChangeConflict] = []
        new_last: dict[str, int] = {}
        conn.execute("BEGIN IMMEDIATE")
        try:
            now = now_ms()
            for change in changes:
                room, user, event, new = change.room, change.user, change.event, change.standing
                assert user is not None and event is not None
                standing = _standing_of(conn.execute(_STANDING, (room, user)).fetchone())
                if standing != change.expected:
                    out.append(ChangeConflict(f"{user}'s standing in {room} changed meanwhile"))
                    continue
                if room not in self._last_seq and room not in new_last:
                    conn.execute("INSERT OR IGNORE INTO rooms (name, last_seq, created_ms) VALUES (?, 0, ?)",
                                 (room, now))
                last = conn.execute("UPDATE rooms SET last_seq = last_seq + 1 WHERE name = ? RETURNING last_seq",
                                    (room,)).fetchone()[0]
                new_last[room] = last
                p = plan([event], {})
                conn.executemany(_INSERT, p.rows({room: last}, now))
                if new is None:
                    conn.execute("DELETE FROM members WHERE room = ? AND username = ?", (room, user))
                elif standing is None:
                    conn.execute("INSERT INTO members (room, username, state, role, muted) VALUES (?, ?, ?, ?, ?)",
                                 (room, user, new.state, new.role, int(new.muted)))
                else:
                    reset = ", last_read = 0" if new.state != "member" else ""
                    conn.execute(f"UPDATE members SET state = ?, role = ?, muted = ?{reset} "
                                 "WHERE room = ? AND username = ?", (new.state, new.role, int(new.muted), room, user))
                out.append(p.outcome()[0])
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._last_seq.update(new_last)
        return out

    async def ensure_room(self, room: str) -> int:
        last = self._last_seq.get(room)
        if last is not None:
            return last
        return await self._write(self._ensure_room_sync, room)

    async def ping(self) -> None:
        await self._write(self._ping_sync)

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        async with self._write_lock:
            yield

    async def _seq_changed(self, room: str) -> None:
        # on the writer thread, behind any batch in flight there, so a batch finishing later cannot put
        # back an older value
        await self._write(self._last_seq.pop, room, None)

    def _ping_sync(self) -> None:
        conn = self._conn
        assert conn is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = "
                         "excluded.value", (HEALTH_KEY, str(now_ms())))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    async def room_seq(self, room: str) -> int | None:
        last = self._last_seq.get(room)
        return last if last is not None else await self._write(self._room_seq_sync, room)

    def _room_seq_sync(self, room: str) -> int | None:
        """On the writer thread (one hop, no SQLAlchemy): joins of a room not cached yet come in bursts."""
        conn = self._conn
        assert conn is not None
        row = conn.execute("SELECT last_seq FROM rooms WHERE name = ?", (room,)).fetchone()
        return None if row is None else self._last_seq.setdefault(room, row[0])

    def _ensure_room_sync(self, room: str) -> int:
        conn = self._conn
        assert conn is not None
        conn.execute("INSERT OR IGNORE INTO rooms (name, last_seq, created_ms) VALUES (?, 0, ?)", (room, now_ms()))
        last = conn.execute("SELECT last_seq FROM rooms WHERE name = ?", (room,)).fetchone()[0]
        return self._last_seq.setdefault(room, last)

    def _save_sync(self, batch: list[NewEvent]) -> list[Saved]:
        conn = self._conn
        assert conn is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            found: dict[Key, RoomEvent] = {}
            for key in keys(batch):
                # one unique-index probe per key: a row-value IN (VALUES ...) list scans the table
                r = conn.execute(_SELECT_BY_KEY, key).fetchone()
                if r is not None:
                    found[key] = event_of(r)
            p = plan(batch, found)
            if p.fresh:
                now = now_ms()
                first, new_last = {}, {}
                for room, n in p.counts.items():
                    if room not in self._last_seq:
                        conn.execute("INSERT OR IGNORE INTO rooms (name, last_seq, created_ms) VALUES (?, 0, ?)",
                                     (room, now))
                    last = conn.execute("UPDATE rooms SET last_seq = last_seq + ? WHERE name = ? RETURNING last_seq",
                                        (n, room)).fetchone()[0]
                    first[room] = last - n + 1
                    new_last[room] = last
                conn.executemany(_INSERT, p.rows(first, now))
            conn.execute("COMMIT")
            if p.fresh:
                self._last_seq.update(new_last)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return p.outcome()
