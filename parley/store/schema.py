"""Tables and the versioned migrations that create and evolve them; one list for every backend.

A migration is appended, never edited: version N is applied once, in order, and recorded in
`schema_version`. Each runs in the same transaction as its version bump.
"""

from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(32), nullable=False),
    Column("name_key", String(32), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

rooms = Table(
    "rooms",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("last_seq", BigInteger, nullable=False, default=0),
    Column("created_ms", BigInteger, nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("room", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("sender", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("client_id", String(128), nullable=False),
    PrimaryKeyConstraint("room", "seq"),
    UniqueConstraint("sender", "client_id", name="messages_sender_client_id"),
)


def _v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[settings, users, rooms, messages])


MIGRATIONS: list[Callable[[Connection], None]] = [_v1]
LATEST = len(MIGRATIONS)
