"""Naming rules and limits shared by the WebSocket protocol, the REST API and the store."""

import re

# \Z, not $: msgspec matches with re.search, and "$" would also accept a name ending in a newline
ROOM_PATTERN = r"^[A-Za-z0-9._-]{1,64}\Z"
USERNAME_PATTERN = r"^[A-Za-z0-9._-]{1,32}\Z"
ROOM_RE = re.compile(ROOM_PATTERN)
USERNAME_RE = re.compile(USERNAME_PATTERN)
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_CLIENT_ID = 128
MAX_SEQ = 2**63 - 1  # seqs are 64-bit integers in the store: a larger since/before/after is refused, not queried
# Text the stores and clients cannot keep: PostgreSQL refuses U+0000 in text, and C strings end there. (Lone
# surrogates cannot arrive: they are invalid JSON and invalid UTF-8.) Refused with bad_request everywhere.
NUL = "\x00"
CLIENT_ID_PATTERN = r"^[^\x00]{1,128}\Z"
CLIENT_ID_RE = re.compile(CLIENT_ID_PATTERN)
MAX_TOPIC = 250
MAX_REASON = 250
CALL_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}\Z"  # made by the caller's client (random)
PARTY_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}\Z"  # one device's part in a call
MAX_SDP = 32 * 1024  # characters of one session description
MAX_CANDIDATES = 50  # ICE candidates in one `signal` frame
DM_PREFIX = "dm."  # room names starting with this are direct messages (docs/protocol.md)
DM_MAX_USERS = 10  # members of one direct message, its starter included
HISTORY_LIMIT_MAX = 100
SEARCH_PAGE, SEARCH_PAGE_MAX, SEARCH_OFFSET_MAX = 20, 100, 1000  # search results per page; how deep one may page
HISTORY_LIMIT_DEFAULT = 50


def valid_client_id(value: object) -> bool:
    return isinstance(value, str) and CLIENT_ID_RE.fullmatch(value) is not None


def valid_room(name: object) -> bool:
    return isinstance(name, str) and ROOM_RE.fullmatch(name) is not None


def room_key(name: str) -> str:
    """The one spelling of a room name: names are case-insensitive and kept in lower case (`General` is
    `general`), wherever they come in (frames, REST paths and bodies, polls, the CLI)."""
    return name.lower()


def username_problem(name: object) -> str | None:
    """Why `name` cannot be a username, or None when it can."""
    if not isinstance(name, str) or not name:
        return "username is required"
    if len(name) > 32:
        return "username is longer than 32 characters"
    if USERNAME_RE.fullmatch(name) is None:
        return "username may contain only letters, digits, '.', '_' and '-'"
    return None


def password_problem(password: object) -> str | None:
    """Why `password` is not acceptable, or None when it is."""
    if not isinstance(password, str):
        return "password is required"
    if len(password) < MIN_PASSWORD:
        return f"password must be at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"password must be at most {MAX_PASSWORD} characters"
    if not password.strip():
        return "password must not be only spaces"
    return None

ROOM_MENTION = "@room"  # a mention of everyone in the room (a user name cannot contain "@")
MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z0-9._-]{1,32})")
MAX_MENTIONS = 20


def mentioned(text: str) -> list[str]:
    """The names written as @name in `text` (trailing dots dropped: "thanks @bob."), first use first,
    without duplicates (compared case-insensitively); "@room" for @room."""
    out: dict[str, str] = {}
    for match in MENTION_RE.finditer(text):
        name = match.group(1).rstrip(".")
        if name:
            key = name.lower()
            out.setdefault(key, ROOM_MENTION if key == "room" else name)
    return list(out.values())[:MAX_MENTIONS]


EMOJI_MAX = 32  # characters of a reaction (an emoji sequence or a :shortcode:)
MAX_REACTIONS = 50  # different reactions on one message
