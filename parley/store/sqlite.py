"""SQLite behind the Store interface: the embedded default, in WAL mode, every commit flushed to disk."""

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from parley.store.sql import SqlStore


def sqlite_path(url: str) -> Path:
    """`sqlite:///rel/path.db` or `sqlite:////abs/path.db` -> the file's path."""
    rest = url.split(":///", 1)[1] if ":///" in url else ""
    if not rest:
        raise ValueError(f"not a SQLite URL with a file path: {url!r} (try sqlite:///parley.db)")
    return Path(rest)


class SqliteStore(SqlStore):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = sqlite_path(url)

    def _make_engine(self) -> AsyncEngine:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(f"sqlite+aiosqlite:///{self.path}", pool_size=4, max_overflow=4)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is fsynced before it returns, so an ack survives kill -9 and power loss
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()

        return engine

    def _insert_ignore(self, table: Any) -> Any:
        return sqlite_insert(table).on_conflict_do_nothing()
