"""Frame types of the WebSocket protocol, as msgspec structs (the field names are the wire contract).

Client frames form one tagged union on "type"; server frames are encoded with their tag first.
See docs/protocol.md for the prose reference.
"""

from typing import Annotated, ClassVar, Literal

import msgspec

from parley.protocol.names import (
    CALL_ID_PATTERN,
    CLIENT_ID_PATTERN,
    EMOJI_MAX,
    HISTORY_LIMIT_MAX,
    MAX_CANDIDATES,
    MAX_REASON,
    MAX_SDP,
    MAX_SEQ,
    MAX_TOPIC,
    PARTY_ID_PATTERN,
    ROOM_PATTERN,
    SEARCH_OFFSET_MAX,
    SEARCH_PAGE,
    SEARCH_PAGE_MAX,
    USERNAME_PATTERN,
)

Ref = str | int | None
Room = Annotated[str, msgspec.Meta(pattern=ROOM_PATTERN)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]
Target = Annotated[int, msgspec.Meta(ge=1, le=MAX_SEQ)]  # the seq of a message in the same room
Emoji = Annotated[str, msgspec.Meta(min_length=1, max_length=EMOJI_MAX)]
ClientId = Annotated[str, msgspec.Meta(pattern=CLIENT_ID_PATTERN)]
Username = Annotated[str, msgspec.Meta(pattern=USERNAME_PATTERN)]
Role = Literal["owner", "moderator", "member"]
ManageAction = Literal["invite", "kick", "ban", "unban", "mute", "unmute", "role", "topic", "leave", "delete"]


class _Client(msgspec.Struct, tag_field="type", frozen=True):
    pass


class AuthRoom(msgspec.Struct, frozen=True):
    """A room to join as part of `auth`: the same fields as a `join` frame."""

    room: Room
    since: Seq | None = None
    resume: bool = False
    ref: Ref = None


class Auth(_Client, tag="auth", frozen=True):
    """Authenticate; `rooms` (optional) are joined right after `ready`, each as its own `join` would be,
    so a client is ready to chat after one round trip."""

    token: str
    rooms: list[AuthRoom] | None = None
    ref: Ref = None


class Join(_Client, tag="join", frozen=True):
    """Follow `room` (becoming a member first if the policy allows), replaying what came after `since`.
    `resume`: only if the user is still a member (a reconnecting client must not rejoin a room it left
    elsewhere); otherwise `not_joined`."""

    room: Room
    since: Seq | None = None
    resume: bool = False
    ref: Ref = None


class Leave(_Client, tag="leave", frozen=True):
    room: Room
    ref: Ref = None


class Send(_Client, tag="send", frozen=True):
    room: Room
    text: str
    client_id: ClientId | None = None
    reply_to: Target | None = None
    ref: Ref = None


class Edit(_Client, tag="edit", frozen=True):
    """Replace the text of one's own message `seq`."""

    room: Room
    seq: Target
    text: str
    ref: Ref = None


class Delete(_Client, tag="delete", frozen=True):
    """Delete message `seq` (one's own, or anyone's for moderators): its content is removed from the store."""

    room: Room
    seq: Target
    ref: Ref = None


class React(_Client, tag="react", frozen=True):
    """Add (`on`) or remove one's reaction `emoji` on message `seq`."""

    room: Room
    seq: Target
    emoji: Emoji
    on: bool = True
    ref: Ref = None


class Search(_Client, tag="search", frozen=True, rename={"sender": "from"}):
    """Messages with every word of `q`, newest first, in `room` or every room of the user (REST: /api/search)."""

    q: str
    room: Room | None = None
    sender: Username | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=SEARCH_PAGE_MAX)] = SEARCH_PAGE
    offset: Annotated[int, msgspec.Meta(ge=0, le=SEARCH_OFFSET_MAX)] = 0
    ref: Ref = None


CallId = Annotated[str, msgspec.Meta(pattern=CALL_ID_PATTERN)]
PartyId = Annotated[str, msgspec.Meta(pattern=PARTY_ID_PATTERN)]
SignalKind = Literal["invite", "answer", "candidates", "select_answer", "negotiate", "reject", "hangup"]


class SessionDescription(msgspec.Struct, frozen=True):
    """WebRTC's RTCSessionDescriptionInit."""

    type: Literal["offer", "answer"]
    sdp: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_SDP)]


class Candidate(msgspec.Struct, frozen=True, omit_defaults=True):
    """WebRTC's RTCIceCandidateInit; an empty `candidate` marks the end of a party's candidates."""

    candidate: Annotated[str, msgspec.Meta(max_length=1024)]
    sdpMid: Annotated[str, msgspec.Meta(max_length=64)] | None = None  # (WebRTC's names)
    sdpMLineIndex: Annotated[int, msgspec.Meta(ge=0, le=1024)] | None = None
    usernameFragment: Annotated[str, msgspec.Meta(max_length=256)] | None = None


class Signal(_Client, tag="signal", frozen=True):
    """Call signalling (docs/protocol.md "Calls"), after Matrix's m.call.* events: `kind` says what it is;
    the server checks it against the call and the room, records what changes the call, and passes it on
    to the user `to` (every connection of theirs; `to_party` names the device it is meant for)."""

    room: Room
    call_id: CallId
    party_id: PartyId
    kind: SignalKind
    to: Username | None = None
    to_party: PartyId | None = None
    media: Literal["voice", "video"] | None = None
    sdp: SessionDescription | None = None
    candidates: Annotated[list[Candidate], msgspec.Meta(max_length=MAX_CANDIDATES)] | None = None
    selected_party_id: PartyId | None = None
    reason: Annotated[str, msgspec.Meta(max_length=64)] | None = None
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


class Manage(_Client, tag="manage", frozen=True):
    """A membership or room change: invite, kick, ban, ... (docs/protocol.md, Membership and moderation)."""

    room: Room
    action: ManageAction
    user: Username | None = None
    role: Role | None = None
    topic: Annotated[str, msgspec.Meta(max_length=MAX_TOPIC)] | None = None
    reason: Annotated[str, msgspec.Meta(max_length=MAX_REASON)] | None = None
    ref: Ref = None


class Read(_Client, tag="read", frozen=True):
    """The user has read `room` up to `seq` (their read marker only moves forward)."""

    room: Room
    seq: Seq
    ref: Ref = None


ClientFrame = (Auth | Join | Leave | Send | Edit | Delete | React | History | Search | Typing | Ping | Manage | Read
               | Signal)


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


class Attachment(msgspec.Struct, omit_defaults=True):
    """A file sent with a message (uploaded over REST; served by `GET /api/files/{id}` to those who may read
    the room). `type` and `kind` are decided by the server from the bytes, never taken from the client."""

    id: str
    name: str  # the uploader's file name, without any path
    type: str  # the media type the server serves it as
    size: int  # bytes
    kind: str  # image (with width, height and a thumbnail), voice (with duration_ms), file
    width: int | None = None
    height: int | None = None
    thumb: bool = False  # GET /api/files/{id}/thumb has a small image of it
    duration_ms: int | None = None


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
    reply_to: int | None = None  # the seq of the message this one answers
    edited: bool = False  # `text` is not what was first sent (edit events say when)
    deleted: bool = False  # deleted: `text` is empty, reactions are gone
    mentions: list[str] | None = None  # members named with @name (as registered), and "@room"
    reactions: dict[str, list[str]] | None = None  # emoji -> users, in stored events (history, replay)
    file: Attachment | None = None  # a file, image or voice message sent with it (removed when it is deleted)


class EditEvent(_Server, tag="edit", rename={"sender": "from"}):
    """`sender` replaced the text of their message `target`; `text` is its text now (the latest edit)."""

    kind: ClassVar[str] = "edit"
    room: str
    seq: int
    sender: str
    target: int
    text: str
    ts: int


class DeleteEvent(_Server, tag="delete", rename={"sender": "from"}):
    """`sender` deleted message `target` (its author, or a moderator)."""

    kind: ClassVar[str] = "delete"
    room: str
    seq: int
    sender: str
    target: int
    ts: int


class ReactionEvent(_Server, tag="reaction", rename={"sender": "from"}):
    """`sender` added (`on`) or removed their reaction `emoji` on message `target`."""

    kind: ClassVar[str] = "reaction"
    room: str
    seq: int
    sender: str
    target: int
    emoji: str
    on: bool
    ts: int


class MemberEvent(_Server, tag="member", rename={"sender": "from"}):
    """A membership change in the room log: `sender` did `action` to `user` (themselves for joined/left)."""

    kind: ClassVar[str] = "member"
    room: str
    seq: int
    sender: str
    user: str
    action: str
    ts: int
    role: str | None = None
    reason: str | None = None


class TopicEvent(_Server, tag="topic", rename={"sender": "from"}):
    kind: ClassVar[str] = "topic"
    room: str
    seq: int
    sender: str
    topic: str
    ts: int


# every kind of event in a room's log (protocol/events.py)
class CallEvent(_Server, tag="call", rename={"sender": "from"}):
    """A call's record in the room log: `sender` started it, joined, left, or declined it; or it ended
    (with its duration) or was missed (nobody answered)."""

    kind: ClassVar[str] = "call"
    room: str
    seq: int
    sender: str
    call_id: str
    action: str  # started, joined, left, declined, ended, missed
    ts: int
    media: str | None = None  # voice or video (started)
    duration_ms: int | None = None  # ended: from the first answer to the end


class Signalled(_Server, tag="signal", rename={"sender": "from"}):
    """A `signal` passed on to its addressee, with who sent it."""

    room: str
    call_id: str
    party_id: str
    sender: str
    kind: str
    to_party: str | None = None
    media: str | None = None
    sdp: SessionDescription | None = None
    candidates: list[Candidate] | None = None
    selected_party_id: str | None = None
    reason: str | None = None


class SignalDone(_Server, tag="signaled"):
    """The answer to a `signal` frame that carried a `ref`: checked, recorded and passed on."""

    call_id: str
    ref: Ref = None


RoomEvent = Message | MemberEvent | TopicEvent | EditEvent | DeleteEvent | ReactionEvent | CallEvent


class HistoryPage(_Server, tag="history"):
    room: str
    messages: list[RoomEvent]
    ref: Ref = None


class Results(_Server, tag="results"):
    """The answer to `search`: a page of messages, and the `offset` of the next page (None on the last)."""

    results: list[Message]
    next: int | None
    ref: Ref = None


class Done(_Server, tag="done"):
    """The answer to `edit`, `delete` and `react`: the seq of the event that records the change."""

    room: str
    seq: int
    ref: Ref = None


class Managed(_Server, tag="managed"):
    room: str
    action: str
    seq: int
    ref: Ref = None


class MembershipChanged(_Server, tag="membership"):
    """Sent to every connection of a user whose standing in `room` changed (invited, added to a DM, a new
    role, muted...): their room list (GET /api/me/rooms) is out of date."""

    room: str


class Removed(_Server, tag="removed"):
    """This connection no longer receives `room`: its user left, was kicked or banned, or the room was deleted."""

    room: str
    reason: str
    by: str


class ReadMarker(_Server, tag="read"):
    """The user read `room` up to `seq` on one of their devices (sent to all of them, on every node)."""

    room: str
    seq: int


class ProfileChanged(_Server, tag="profile"):
    """`user` changed their display name or avatar (sent to every connection, on every node). `avatar` is the
    avatar's version — the ETag of GET /api/users/{user}/avatar without its quotes — or None for none."""

    user: str
    display_name: str
    avatar: str | None


class TypingEvent(_Server, tag="typing"):
    room: str
    user: str


class Presence(_Server, tag="presence"):
    room: str
    user: str
    online: bool


class PresenceBatch(_Server, tag="presence_batch"):
    """Several presence changes of a large room at once (each user's latest state; a member may find itself)."""

    room: str
    online: list[str]
    offline: list[str]


class Pong(_Server, tag="pong"):
    ref: Ref = None


class Error(_Server, tag="error"):
    code: str
    message: str
    ref: Ref = None
