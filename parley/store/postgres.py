"""PostgreSQL behind the Store interface (asyncpg through SQLAlchemy): the store many nodes share.

`--db postgresql://user[:password]@host[:port]/database[?setting=value...]`. Query parameters are
PostgreSQL run-time settings for every connection (for example `?search_path=parley` keeps Parley's
tables in their own schema, created on first start), except `ssl`/`sslmode` (`disable`, `prefer`,
`require`, `verify-ca`, `verify-full`), which choose TLS to the server.

Same migrations as SQLite (parley/store/schema.py), run under a transaction-scoped advisory lock so
nodes starting together do not race. seq is reserved inside the message transaction by one upsert that
locks the rooms' rows in name order (no deadlock between nodes writing the same rooms). A lost or
refusing server becomes StoreUnavailable; the pool checks connections before use (pool_pre_ping) and
reconnects by itself when PostgreSQL is back.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import quoted_name, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from parley.store.base import NewEvent, Saved, StoreRejected, StoreUnavailable
from parley.store.schema import PG_SEARCH_TEXT, rooms
from parley.store.sql import SqlStore, describe, now_ms

MIGRATION_LOCK = 0x7061726C6579  # pg_advisory_xact_lock key held while migrating ("parley" in ASCII)
RETRY_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure: safe to run again
CONNECT_TIMEOUT = 5.0  # seconds to open a connection before the store counts as unavailable
# seconds a statement may take before the connection is given up: a link that hangs (no reset, no
# refusal) answers sends `unavailable` after this long instead of holding them
COMMAND_TIMEOUT = 10.0


def split_url(url: str) -> tuple[URL, dict[str, str], str | None]:
    """`postgresql://...?k=v` -> (asyncpg engine URL, server settings, ssl mode)."""
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    settings: dict[str, str] = {}
    for key, value in parsed.query.items():
        settings[key] = value[-1] if isinstance(value, tuple) else value
    ssl = settings.pop("ssl", None) or settings.pop("sslmode", None)
    return parsed.set(drivername="postgresql+asyncpg", query={}), settings, ssl


class PostgresStore(SqlStore):
    # the expression of the events_search index (schema.SEARCH_INDEX), so the index answers it
    _matches = f"{PG_SEARCH_TEXT.replace('(text', '(e.text')} @@ to_tsquery('simple', :match)"

    @staticmethod
    def _match(words: list[str]) -> str:
        return " & ".join([*words[:-1], words[-1] + ":*"])

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.engine_url, self.server_settings, self.ssl = split_url(url)

    def _make_engine(self) -> AsyncEngine:
        connect_args: dict[str, Any] = {"timeout": CONNECT_TIMEOUT, "command_timeout": COMMAND_TIMEOUT}
        if self.server_settings:
            connect_args["server_settings"] = dict(self.server_settings)
        if self.ssl:
            connect_args["ssl"] = self.ssl
        return create_async_engine(self.engine_url, pool_size=10, max_overflow=10, pool_timeout=10,
                                   pool_pre_ping=True, pool_recycle=1800, connect_args=connect_args)

    def _insert_ignore(self, table: Any) -> Any:
        return pg_insert(table).on_conflict_do_nothing()

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        """SqlStore's transaction, plus asyncpg's own errors (raised while connecting) as StoreUnavailable."""
        try:
            async with super()._begin() as conn:
                yield conn
        except asyncpg.exceptions.DataError as exc:
            raise StoreRejected(describe(exc)) from exc
        except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError,
                TimeoutError) as exc:
            raise StoreUnavailable(describe(exc)) from exc

    async def _lock_migrations(self, conn: AsyncConnection) -> None:
        """One node at a time migrates; the lock is released when the migration transaction ends."""
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        schema = self.server_settings.get("search_path", "").split(",")[0].strip().strip('"')
        if schema and not schema.startswith("$"):
            preparer = conn.dialect.identifier_preparer
            await conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {preparer.quote(quoted_name(schema, True))}"))

    async def _reserve_seqs(self, conn: AsyncConnection, counts: dict[str, int]) -> dict[str, int]:
        """One upsert for every room of the batch: create missing rooms, advance last_seq, return the first seq.

        Rows are taken in name order, so two nodes writing the same rooms queue rather than deadlock; the
        row locks are held until commit, which keeps seqs gap-free and in commit order.
        """
        now = now_ms()
        stmt = pg_insert(rooms).values([{"name": name, "last_seq": counts[name], "created_ms": now}
                                        for name in sorted(counts)])
        stmt = stmt.on_conflict_do_update(index_elements=[rooms.c.name],
                                          set_={"last_seq": rooms.c.last_seq + stmt.excluded.last_seq})
        rows = await conn.execute(stmt.returning(rooms.c.name, rooms.c.last_seq))
        return {name: last - counts[name] + 1 for name, last in rows}

    async def save_events(self, batch: list[NewEvent]) -> list[Saved]:
        for attempt in range(3):
            try:
                return await super().save_events(batch)
            except StoreUnavailable as exc:
                sqlstate = getattr(getattr(exc.__cause__, "orig", None), "sqlstate", None)
                if attempt == 2 or sqlstate not in RETRY_SQLSTATES:
                    raise
        raise AssertionError("unreachable")
