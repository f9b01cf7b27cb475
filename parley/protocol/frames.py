"""Frame types of the WebSocket protocol, as msgspec structs (the field names are the wire contract).

Client frames form one tagged union on "type"; server frames are encoded with their tag first.
See docs/protocol.md for the prose reference.
"""

from typing import Annotated, ClassVar

import msgspec

from parley.protocol.names import CLIENT_ID_PATTERN, HISTORY_LIMIT_MAX, MAX_SEQ, ROOM_PATTERN

Ref = str | int | None
Room = Annotated[str, msgspec.Meta(pattern=ROOM_PATTERN)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]
ClientId = Annotated[str, msgspec.Meta(pattern=CLIENT_ID_PATTERN)]


class _Client(msgspec.Struct, tag_field="type", frozen=True):
    pass


class Auth(_Client, tag="auth", frozen=True):
    token: str
    ref: Ref = None


class Join(_Client, tag="join", frozen=True):
    room: Room
    since: Seq | None = None
    ref: Ref = None


class Leave(_Client, tag="leave", frozen=True):
    room: Room
    ref: Ref = None


class Send(_Client, tag="send", frozen=True):
    room: Room
    text: str
    client_id: ClientId | None = None
    ref: Ref = None


class History(_Client, tag="history", frozen=True):
    room: Room
    before: Seq | None = None
    limit: Annotated[int, msgspec.Meta(ge=1)] = HISTORY_LIMIT_MAX
    ref: Ref = None


class Typing(_Client, tag="typing", frozen=True):
    room: Room
    ref: Ref = None


class Ping(_Client, tag="ping", frozen=True):
    """Application-level keepalive for clients that cannot send WebSocket pings (browsers)."""

    ref: Ref = None


ClientFrame = Auth | Join | Leave | Send | History | Typing | Ping


class _Server(msgspec.Struct, tag_field="type", omit_defaults=True):
    pass


class Ready(_Server, tag="ready"):
    user: str
    heartbeat: float
    max_text: int
    server: str
    ref: Ref = None


class Joined(_Server, tag="joined"):
    room: str
    last_seq: int
    online: list[str]
    ref: Ref = None


class Left(_Server, tag="left"):
    room: str
    ref: Ref = None


class Ack(_Server, tag="ack"):
    room: str
    client_id: str
    seq: int
    ts: int
    duplicate: bool = False
    ref: Ref = None


class Message(_Server, tag="message", rename={"sender": "from"}):
    """A stored chat message; `ts` is Unix time in milliseconds, assigned by the server.

    The first kind of room event (protocol/events.py): `room` and `seq` place it in the room's log.
    """

    kind: ClassVar[str] = "message"
    room: str
    seq: int
    sender: str
    text: str
    ts: int
    client_id: str


class HistoryPage(_Server, tag="history"):
    room: str
    messages: list[Message]
    ref: Ref = None


class TypingEvent(_Server, tag="typing"):
    room: str
    user: str


class Presence(_Server, tag="presence"):
    room: str
    user: str
    online: bool


class Pong(_Server, tag="pong"):
    ref: Ref = None


class Error(_Server, tag="error"):
    code: str
    message: str
    ref: Ref = None
