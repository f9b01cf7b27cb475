"""Files in PostgreSQL, for a cluster of nodes with no shared disk: each file is rows of up to 1 MiB in one
table, `file_parts`, made on first start (`--files postgresql://...`, by default the store's own database).

A write stores its parts under a staging key as they arrive (no transaction held open while a slow client
uploads) and commit renames them to the real key in one statement, so readers see all of a file or none.
Staging rows a crash left behind are removed by the sweep (on start and every few minutes) once they are
an hour old.
"""

import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    and_,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from parley.files.base import BlobWriter, FileStorage, bad_key
from parley.store.postgres import COMMAND_TIMEOUT, CONNECT_TIMEOUT, MIGRATION_LOCK, split_url

PART = 1024 * 1024  # bytes per row
STAGING = ".staging."
STALE_MS = 3600 * 1000

_meta = MetaData()
file_parts = Table(
    "file_parts",
    _meta,
    Column("key", String(96), nullable=False),
    Column("part", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("key", "part"),
)


def _now_ms() -> int:
    return int(time.time() * 1000)


class _PgWriter(BlobWriter):
    def __init__(self, engine: AsyncEngine, key: str) -> None:
        self._engine = engine
        self._key = key
        self._staging = f"{key}{STAGING}{secrets.token_hex(4)}"
        self._buffer = bytearray()
        self._parts = 0

    async def write(self, chunk: bytes) -> None:
        self._buffer += chunk
        while len(self._buffer) >= PART:
            await self._flush(bytes(self._buffer[:PART]))
            del self._buffer[:PART]

    async def _flush(self, data: bytes) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(file_parts).values(key=self._staging, part=self._parts, data=data,
                                                         created_ms=_now_ms()))
        self._parts += 1

    async def commit(self) -> None:
        if self._buffer or self._parts == 0:
            await self._flush(bytes(self._buffer))
            self._buffer.clear()
        async with self._engine.begin() as conn:
            await conn.execute(delete(file_parts).where(file_parts.c.key == self._key))
            await conn.execute(update(file_parts).where(file_parts.c.key == self._staging).values(key=self._key))

    async def abort(self) -> None:
        self._buffer.clear()
        async with self._engine.begin() as conn:
            await conn.execute(delete(file_parts).where(file_parts.c.key == self._staging))


class PostgresFiles(FileStorage):
    def __init__(self, url: str) -> None:
        self.url = url
        self._engine_url, self._settings, self._ssl = split_url(url)
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("file storage is not open")
        return self._engine

    async def open(self) -> None:
        connect_args: dict[str, Any] = {"timeout": CONNECT_TIMEOUT, "command_timeout": COMMAND_TIMEOUT}
        if self._settings:
            connect_args["server_settings"] = dict(self._settings)
        if self._ssl:
            connect_args["ssl"] = self._ssl
        self._engine = create_async_engine(self._engine_url, pool_size=4, max_overflow=4, pool_timeout=10,
                                           pool_pre_ping=True, pool_recycle=1800, connect_args=connect_args)
        async with self._engine.begin() as conn:
            # one node at a time (the store's migration lock): nodes starting together do not race to create it
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            await conn.run_sync(_meta.create_all)
        await self.sweep()

    async def sweep(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(file_parts).where(and_(file_parts.c.key.contains(STAGING),
                                                             file_parts.c.created_ms < _now_ms() - STALE_MS)))

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    def writer(self, key: str) -> BlobWriter:
        if bad_key(key):
            raise ValueError(f"bad file key {key!r}")
        return _PgWriter(self.engine, key)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        part = 0
        while True:
            async with self.engine.connect() as conn:
                row = (await conn.execute(select(file_parts.c.data).where(
                    and_(file_parts.c.key == key, file_parts.c.part == part)))).first()
            if row is None:
                return
            yield bytes(row[0])
            part += 1

    async def size(self, key: str) -> int | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(func.count(), func.coalesce(func.sum(func.length(file_parts.c.data)), 0))
                                      .where(file_parts.c.key == key))).first()
        return int(row[1]) if row is not None and row[0] else None

    async def delete(self, key: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(file_parts).where(file_parts.c.key == key))
