"""Tables and the versioned migrations that create and evolve them; one list for every backend.

A migration is appended, never edited: version N is applied once, in order, and recorded in
`schema_version`. Each runs in the same transaction as its version bump.
"""

from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
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
    Column("admin", Integer, nullable=False, server_default="0"),  # 1: a server admin
    Column("token_gen", Integer, nullable=False, server_default="0"),  # tokens of an older generation are revoked
    Column("display_name", Text, nullable=False, server_default=""),  # shown beside the name; '' for none
    Column("avatar", String(64), nullable=True),  # the file storage key of the avatar image (v9)
)

rooms = Table(
    "rooms",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("last_seq", BigInteger, nullable=False, default=0),
    Column("created_ms", BigInteger, nullable=False),
    Column("visibility", String(16), nullable=False, server_default="public"),  # public, private, dm, deleted
    Column("topic", Text, nullable=False, server_default=""),
)

# A user's standing in a room: a member (with a role, maybe muted), invited, or banned. No row: an outsider.
members = Table(
    "members",
    metadata,
    Column("room", String(64), nullable=False),
    Column("username", String(32), nullable=False),  # the account's name as registered
    Column("state", String(16), nullable=False),  # member, invited, banned
    Column("role", String(16), nullable=False, server_default="member"),  # owner, moderator, member
    Column("muted", Integer, nullable=False, server_default="0"),
    Column("last_read", BigInteger, nullable=False, server_default="0"),  # the user's read marker
    Column("notify", String(16), nullable=False, server_default="all"),  # all, mentions, none
    PrimaryKeyConstraint("room", "username"),
    Index("members_by_user", "username"),
)

invites = Table(
    "invites",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("created_by", String(32), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("uses_left", Integer, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("room", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False, server_default="message"),
    Column("sender", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("client_id", String(128), nullable=False),
    Column("data", Text, nullable=True),  # kind-specific fields as JSON (none for messages)
    PrimaryKeyConstraint("room", "seq"),
    UniqueConstraint("sender", "client_id", name="messages_sender_client_id"),
)

# Who reacted to which message with what; a message's reactions go with it when it is deleted.
reactions = Table(
    "reactions",
    metadata,
    Column("room", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),  # the message
    Column("emoji", String(64), nullable=False),
    Column("username", String(32), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("room", "seq", "emoji", "username"),
)

# Files sent with messages: who uploaded what, where it belongs, and whether its message was stored. The bytes
# live in the file storage (parley/files), under `id` (and `id.thumb`). `seq` is NULL while the upload is
# under way (its `size` counts what has arrived); rows left so are swept with their bytes (service/files.py).
# A deleted file keeps its row, marked `removed_ms`, for a day: what a user uploaded counts against the
# daily quota even if they delete it.
files = Table(
    "files",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("room", String(64), nullable=False),
    Column("uploader", String(32), nullable=False),
    Column("client_id", String(128), nullable=False),  # the message's (finds it if the upload was cut short)
    Column("size", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=True),
    Column("removed_ms", BigInteger, nullable=True),  # bytes deleted; the row stays a day for the quota
    Index("files_by_uploader", "uploader", "created_ms"),
    Index("files_by_message", "room", "seq"),
)

# Calls: one row each (its record in the room log is `call` events), and who is in it: invited (ringing),
# joined, left or declined.
calls = Table(
    "calls",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("room", String(64), nullable=False),
    Column("media", String(8), nullable=False),  # voice, video
    Column("started_by", String(32), nullable=False),
    Column("started_ms", BigInteger, nullable=False),
    Column("answered_ms", BigInteger, nullable=True),
    Column("ended_ms", BigInteger, nullable=True),
)

call_parties = Table(
    "call_parties",
    metadata,
    Column("call_id", String(64), nullable=False),
    Column("username", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    PrimaryKeyConstraint("call_id", "username"),
)

# Tokens revoked one by one (signing out on one device), kept until they would have expired anyway.
revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("token_id", String(64), primary_key=True),
    Column("username", String(32), nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
)

# The one list of event columns, in the order every backend selects and inserts them (the arguments of
# protocol.events.build). SQLite's hand-written statements and the SQLAlchemy queries both use it.
EVENT_COLUMNS = ("room", "seq", "kind", "sender", "text", "ts", "client_id", "data")
assert set(EVENT_COLUMNS) == {c.name for c in events.columns}


def _v1(conn: Connection) -> None:
    """The first release: users, rooms and a `messages` table (a frozen copy: later changes are migrations)."""
    v1 = MetaData()
    Table("settings", v1, Column("key", String(64), primary_key=True), Column("value", Text, nullable=False))
    Table("users", v1,
          Column("id", Integer, primary_key=True, autoincrement=True),
          Column("name", String(32), nullable=False),
          Column("name_key", String(32), nullable=False, unique=True),
          Column("password_hash", Text, nullable=False),
          Column("created_ms", BigInteger, nullable=False))
    Table("rooms", v1,
          Column("name", String(64), primary_key=True),
          Column("last_seq", BigInteger, nullable=False, default=0),
          Column("created_ms", BigInteger, nullable=False))
    Table("messages", v1,
          Column("room", String(64), nullable=False),
          Column("seq", BigInteger, nullable=False),
          Column("sender", String(32), nullable=False),
          Column("text", Text, nullable=False),
          Column("ts", BigInteger, nullable=False),
          Column("client_id", String(128), nullable=False),
          PrimaryKeyConstraint("room", "seq"),
          UniqueConstraint("sender", "client_id", name="messages_sender_client_id"))
    v1.create_all(conn)


def _v2(conn: Connection) -> None:
    """The room log holds events of every kind: `messages` becomes `events` with `kind` and `data`.

    Existing rows keep their seqs and become events of kind 'message'.
    """
    conn.execute(text("ALTER TABLE messages RENAME TO events"))
    conn.execute(text("ALTER TABLE events ADD COLUMN kind VARCHAR(16) DEFAULT 'message' NOT NULL"))
    conn.execute(text("ALTER TABLE events ADD COLUMN data TEXT"))


def _v3(conn: Connection) -> None:
    """Private rooms, DMs, roles and moderation: room visibility and topic, a members table, admins, token
    generations (revocation) and registration invites.

    Existing rooms become public; everyone who has posted in a room becomes its member (role member,
    everything up to now read). Old rooms have no owner: server admins moderate them.
    """
    conn.execute(text("ALTER TABLE users ADD COLUMN admin INTEGER DEFAULT 0 NOT NULL"))
    conn.execute(text("ALTER TABLE users ADD COLUMN token_gen INTEGER DEFAULT 0 NOT NULL"))
    conn.execute(text("ALTER TABLE rooms ADD COLUMN visibility VARCHAR(16) DEFAULT 'public' NOT NULL"))
    conn.execute(text("ALTER TABLE rooms ADD COLUMN topic TEXT DEFAULT '' NOT NULL"))
    v3 = MetaData()
    Table("members", v3,
          Column("room", String(64), nullable=False),
          Column("username", String(32), nullable=False),
          Column("state", String(16), nullable=False),
          Column("role", String(16), nullable=False, server_default="member"),
          Column("muted", Integer, nullable=False, server_default="0"),
          Column("last_read", BigInteger, nullable=False, server_default="0"),
          PrimaryKeyConstraint("room", "username"),
          Index("members_by_user", "username"))
    Table("invites", v3,
          Column("code", String(64), primary_key=True),
          Column("created_by", String(32), nullable=False),
          Column("created_ms", BigInteger, nullable=False),
          Column("expires_ms", BigInteger, nullable=False),
          Column("uses_left", Integer, nullable=False))
    v3.create_all(conn)
    conn.execute(text(
        "INSERT INTO members (room, username, state, role, muted, last_read) "
        "SELECT p.room, p.name, 'member', 'member', 0, r.last_seq "
        "FROM (SELECT DISTINCT e.room AS room, u.name AS name "
        "      FROM events e JOIN users u ON u.name_key = lower(e.sender)) p "
        "JOIN rooms r ON r.name = p.room"))


def _v4(conn: Connection) -> None:
    """Message edits, deletes, reactions and replies: a reactions table (the rest lives in the room log);
    each member's notification level.
    Full-text search over messages: in SQLite an FTS5 index of events.text kept by triggers (edits and
    deletes included), in PostgreSQL a GIN index on the text's tsvector; existing messages are indexed."""
    v4 = MetaData()
    Table("reactions", v4,
          Column("room", String(64), nullable=False),
          Column("seq", BigInteger, nullable=False),
          Column("emoji", String(64), nullable=False),
          Column("username", String(32), nullable=False),
          Column("created_ms", BigInteger, nullable=False),
          PrimaryKeyConstraint("room", "seq", "emoji", "username"))
    v4.create_all(conn)
    conn.execute(text("ALTER TABLE members ADD COLUMN notify VARCHAR(16) DEFAULT 'all' NOT NULL"))
    for statement in SEARCH_INDEX[conn.dialect.name]:
        conn.execute(text(statement))


def _v5(conn: Connection) -> None:
    """Files, images and voice messages: a table of uploaded files (their bytes live in the file storage)."""
    v5 = MetaData()
    Table("files", v5,
          Column("id", String(32), primary_key=True),
          Column("room", String(64), nullable=False),
          Column("uploader", String(32), nullable=False),
          Column("client_id", String(128), nullable=False),
          Column("size", BigInteger, nullable=False),
          Column("created_ms", BigInteger, nullable=False),
          Column("seq", BigInteger, nullable=True),
          Column("removed_ms", BigInteger, nullable=True),
          Index("files_by_uploader", "uploader", "created_ms"),
          Index("files_by_message", "room", "seq"))
    v5.create_all(conn)


def _v6(conn: Connection) -> None:
    """Voice and video calls: a row per call and who is in it (their record in the log is `call` events)."""
    v6 = MetaData()
    Table("calls", v6,
          Column("id", String(64), primary_key=True),
          Column("room", String(64), nullable=False),
          Column("media", String(8), nullable=False),
          Column("started_by", String(32), nullable=False),
          Column("started_ms", BigInteger, nullable=False),
          Column("answered_ms", BigInteger, nullable=True),
          Column("ended_ms", BigInteger, nullable=True))
    Table("call_parties", v6,
          Column("call_id", String(64), nullable=False),
          Column("username", String(32), nullable=False),
          Column("state", String(16), nullable=False),
          PrimaryKeyConstraint("call_id", "username"))
    v6.create_all(conn)


def _v7(conn: Connection) -> None:
    """Signing out of one device: the tokens revoked one by one."""
    v7 = MetaData()
    Table("revoked_tokens", v7,
          Column("token_id", String(64), primary_key=True),
          Column("username", String(32), nullable=False),
          Column("expires_ms", BigInteger, nullable=False))
    v7.create_all(conn)


ROOM_TABLES = ("members", "events", "reactions", "files", "calls")  # tables with a `room` column (v8)


def _v8(conn: Connection) -> None:
    """Room names are case-insensitive, kept in lower case (as Slack's are): every room gets its lower-case
    name. Rooms that differed only in case (`General` beside `general`) cannot all have it: a room named in
    lower case already keeps its name, then the oldest takes it; the others become `general-2` (or -3 ...),
    their logs, members, files and calls with them. A room that is not a direct message but would get a DM's
    name (`DM.<hash>`, which 0.4.0 let anyone create) becomes `dm-<hash>`: it must not turn into a DM."""
    rows = list(conn.execute(text("SELECT name, visibility FROM rooms ORDER BY created_ms, name")))
    taken = {n for n, _ in rows if n == n.lower()}
    for name, visibility in rows:
        if name == name.lower():
            continue
        base = name.lower()
        if base.startswith("dm.") and visibility != "dm":
            base = "dm-" + base[3:]
        new, n = base, 2
        while new in taken:
            suffix = f"-{n}"
            new, n = base[:64 - len(suffix)] + suffix, n + 1
        taken.add(new)
        conn.execute(text("UPDATE rooms SET name = :new WHERE name = :old"), {"new": new, "old": name})
        for table in ROOM_TABLES:
            conn.execute(text(f"UPDATE {table} SET room = :new WHERE room = :old"), {"new": new, "old": name})


def _v9(conn: Connection) -> None:
    """Profiles: a display name (any Unicode, shown beside the ASCII username; '' for none) and an avatar, the
    key of its image in the file storage (NULL: initials). Existing accounts get neither."""
    conn.execute(text("ALTER TABLE users ADD COLUMN display_name TEXT DEFAULT '' NOT NULL"))
    conn.execute(text("ALTER TABLE users ADD COLUMN avatar VARCHAR(64)"))


PG_SEARCH_TEXT = "to_tsvector('simple', regexp_replace(text, '[^[:alnum:]]+', ' ', 'g'))"

# One token list for both backends: words only, so no query syntax of either reaches the database.
SEARCH_INDEX = {
    "sqlite": [
        # diacritics kept, as PostgreSQL's 'simple' configuration keeps them: both stores find the same
        "CREATE VIRTUAL TABLE events_fts USING fts5(text, content='events', content_rowid='rowid', "
        "tokenize='unicode61 remove_diacritics 0')",
        "CREATE TRIGGER events_fts_insert AFTER INSERT ON events WHEN new.kind = 'message' BEGIN "
        "INSERT INTO events_fts(rowid, text) VALUES (new.rowid, new.text); END",
        "CREATE TRIGGER events_fts_delete AFTER DELETE ON events WHEN old.kind = 'message' BEGIN "
        "INSERT INTO events_fts(events_fts, rowid, text) VALUES ('delete', old.rowid, old.text); END",
        "CREATE TRIGGER events_fts_update AFTER UPDATE OF text ON events WHEN old.kind = 'message' BEGIN "
        "INSERT INTO events_fts(events_fts, rowid, text) VALUES ('delete', old.rowid, old.text); "
        "INSERT INTO events_fts(rowid, text) VALUES (new.rowid, new.text); END",
        "INSERT INTO events_fts(rowid, text) SELECT rowid, text FROM events WHERE kind = 'message'",
    ],
    "postgresql": [
        # words split at every non-alphanumeric character, as SQLite's tokenizer and the query's words do
        # (the default parser would keep alice@corp.io or 3.14 as one token)
        f"CREATE INDEX events_search ON events USING gin ({PG_SEARCH_TEXT}) WHERE kind = 'message'",
    ],
}


MIGRATIONS: list[Callable[[Connection], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9]
LATEST = len(MIGRATIONS)
