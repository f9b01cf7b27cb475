"""The room log: every durable change to a room is an event with its own seq in one gap-free sequence.

Kinds: `message`, `member` (joined, left, invited, kicked, banned, muted, role changes...), `topic`, the
changes to a message: `edit`, `delete`, `reaction` (each names its `target` message), and `call` (a call
started, joined, left, declined, ended or missed). A stored
message row always holds the message as it is now (edited text, deleted, its reactions come from their
own table), so history and replay show the final state and the change events replayed after it apply
again with no effect. Each is a server frame struct (protocol/frames.py)
with `room`, `seq`, `ts` and a class-level `kind`. Join with `since`, history, resume and gap repair
across nodes handle a `RoomEvent` whatever its kind, so a new kind needs only: its struct, a branch in
`build`, and its wire form documented in docs/protocol.md.

The store keeps every kind in one table with the columns of `build`'s arguments (store/schema.py
EVENT_COLUMNS); fields a kind has beyond them go in `data` (JSON).
"""

from enum import StrEnum

import msgspec

from parley.protocol.frames import (
    Attachment,
    CallEvent,
    DeleteEvent,
    EditEvent,
    MemberEvent,
    Message,
    ReactionEvent,
    RoomEvent,
    TopicEvent,
)

__all__ = ["MENTIONS_KEY", "EventKind", "MemberAction", "RoomEvent", "build", "call_data", "decode_event",
           "member_data", "message_data", "target_data"]


class EventKind(StrEnum):
    MESSAGE = "message"
    MEMBER = "member"
    TOPIC = "topic"
    EDIT = "edit"
    DELETE = "delete"
    REACTION = "reaction"
    CALL = "call"


class MemberAction(StrEnum):
    CREATED = "created"
    JOINED = "joined"
    LEFT = "left"
    INVITED = "invited"
    KICKED = "kicked"
    BANNED = "banned"
    UNBANNED = "unbanned"
    MUTED = "muted"
    UNMUTED = "unmuted"
    ROLE = "role"


class _MemberData(msgspec.Struct, omit_defaults=True):
    user: str
    action: str
    role: str | None = None
    reason: str | None = None


class _MessageData(msgspec.Struct, omit_defaults=True):
    reply_to: int | None = None
    edited: bool = False
    deleted: bool = False
    file: Attachment | None = None
    mentions: list[str] | None = None  # last: the store finds mentions as strings after `"mentions":[`


class _CallData(msgspec.Struct, omit_defaults=True):
    call_id: str
    action: str
    media: str | None = None
    duration_ms: int | None = None


class _TargetData(msgspec.Struct, omit_defaults=True):
    target: int
    on: bool = True  # reactions: added (or removed)


_encode_data = msgspec.json.Encoder().encode
_decode_member = msgspec.json.Decoder(_MemberData).decode
_decode_message = msgspec.json.Decoder(_MessageData).decode
_decode_target = msgspec.json.Decoder(_TargetData).decode
_decode_call = msgspec.json.Decoder(_CallData).decode


MENTIONS_KEY = '"mentions":['  # what precedes the mentioned names in a message's data (they come last)


def message_data(reply_to: int | None = None, edited: bool = False, deleted: bool = False,
                 mentions: list[str] | None = None, file: Attachment | None = None) -> str | None:
    """The `data` column of a message (None for a plain one). The mentioned names come last, after
    MENTIONS_KEY, and nothing else follows them, so the store counts a user's mentions by looking for
    `"name"` after that key (a file name cannot hold the key: its quotes would be escaped)."""
    if reply_to is None and not edited and not deleted and not mentions and file is None:
        return None
    return _encode_data(_MessageData(reply_to=reply_to, edited=edited, deleted=deleted, file=file,
                                     mentions=mentions or None)).decode()


def target_data(target: int, on: bool = True) -> str:
    """The `data` column of an edit, delete or reaction event. Deterministic: the store finds a message's
    earlier edits by comparing it."""
    return _encode_data(_TargetData(target=target, on=on)).decode()


def call_data(call_id: str, action: str, media: str | None = None, duration_ms: int | None = None) -> str:
    """The `data` column of a call event."""
    return _encode_data(_CallData(call_id=call_id, action=action, media=media, duration_ms=duration_ms)).decode()


def member_data(user: str, action: MemberAction, role: str | None = None, reason: str | None = None) -> str:
    """The `data` column of a member event."""
    return _encode_data(_MemberData(user=user, action=action.value, role=role, reason=reason)).decode()


def build(room: str, seq: int, kind: str, sender: str, text: str, ts: int, client_id: str,
          data: str | None) -> RoomEvent:
    """The event struct of a stored row (or of a row about to be stored)."""
    if kind == EventKind.MESSAGE:
        if data is None:
            return Message(room=room, seq=seq, sender=sender, text=text, ts=ts, client_id=client_id)
        m = _decode_message(data)
        return Message(room=room, seq=seq, sender=sender, text=text, ts=ts, client_id=client_id,
                       reply_to=m.reply_to, edited=m.edited, deleted=m.deleted, mentions=m.mentions, file=m.file)
    if kind == EventKind.MEMBER:
        d = _decode_member(data or "{}")
        return MemberEvent(room=room, seq=seq, sender=sender, user=d.user, action=d.action, ts=ts, role=d.role,
                           reason=d.reason)
    if kind == EventKind.TOPIC:
        return TopicEvent(room=room, seq=seq, sender=sender, topic=text, ts=ts)
    if kind == EventKind.EDIT:
        return EditEvent(room=room, seq=seq, sender=sender, target=_decode_target(data or "{}").target, text=text,
                         ts=ts)
    if kind == EventKind.DELETE:
        return DeleteEvent(room=room, seq=seq, sender=sender, target=_decode_target(data or "{}").target, ts=ts)
    if kind == EventKind.REACTION:
        t = _decode_target(data or "{}")
        return ReactionEvent(room=room, seq=seq, sender=sender, target=t.target, emoji=text, on=t.on, ts=ts)
    if kind == EventKind.CALL:
        c = _decode_call(data or "{}")
        return CallEvent(room=room, seq=seq, sender=sender, call_id=c.call_id, action=c.action, ts=ts, media=c.media,
                         duration_ms=c.duration_ms)
    raise ValueError(f"unknown room event kind {kind!r}")


_decode = msgspec.json.Decoder(RoomEvent).decode


def decode_event(data: bytes) -> RoomEvent:
    """An event from its encoded server frame (as nodes pass them to each other)."""
    return _decode(data)
