"""Durable storage behind one interface (base.Store); the backend is chosen by the --db URL."""

from parley.store.base import (
    Amend,
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
    StoreError,
    StoreRejected,
    StoreUnavailable,
    User,
    UserExists,
)


def store_for_url(url: str) -> Store:
    """`sqlite:///path.db` -> SqliteStore, `postgresql://user@host/db` -> PostgresStore."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme == "sqlite":
        from parley.store.sqlite import SqliteStore

        return SqliteStore(url)
    if scheme in ("postgresql", "postgres"):
        from parley.store.postgres import PostgresStore

        return PostgresStore(url)
    raise ValueError(f"unsupported --db URL {url!r}: use sqlite:///path.db or postgresql://user@host/db")


__all__ = ["Amend", "BadInvite", "CallRecord", "ChangeConflict", "FileRecord", "Invite", "MyRoom", "NewEvent",
           "RoomChange", "RoomExists", "RoomInfo", "RoomRecord", "Saved", "Standing", "Store", "StoreError",
           "StoreRejected", "StoreUnavailable", "User", "UserExists", "store_for_url"]
