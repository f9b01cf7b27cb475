"""The room log: every durable change to a room is an event with its own seq in one gap-free sequence.

Kinds: `message`, `member` (joined, left, invited, kicked, banned, muted, role changes...) and `topic`;
edits, reactions and call records join them later. Each is a server frame struct (protocol/frames.py)
with `room`, `seq`, `ts` and a class-level `kind`. Join with `since`, history, resume and gap repair
across nodes handle a `RoomEvent` whatever its kind, so a new kind needs only: its struct, a branch in
`build`, and its wire form documented in docs/protocol.md.

The store keeps every kind in one table with the columns of `build`'s arguments (store/schema.py
EVENT_COLUMNS); fields a kind has beyond them go in `data` (JSON).
"""

from enum import StrEnum

import msgspec

from parley.protocol.frames import MemberEvent, Message, RoomEvent, TopicEvent

__all__ = ["EventKind", "MemberAction", "RoomEvent", "build", "decode_event", "member_data"]


class EventKind(StrEnum):
    MESSAGE = "message"
    MEMBER = "member"
    TOPIC = "topic"


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


_encode_data = msgspec.json.Encoder().encode
_decode_member = msgspec.json.Decoder(_MemberData).decode


def member_data(user: str, action: MemberAction, role: str | None = None, reason: str | None = None) -> str:
    """The `data` column of a member event."""
    return _encode_data(_MemberData(user=user, action=action.value, role=role, reason=reason)).decode()


def build(room: str, seq: int, kind: str, sender: str, text: str, ts: int, client_id: str,
          data: str | None) -> RoomEvent:
    """The event struct of a stored row (or of a row about to be stored)."""
    if kind == EventKind.MESSAGE:
        return Message(room=room, seq=seq, sender=sender, text=text, ts=ts, client_id=client_id)
    if kind == EventKind.MEMBER:
        d = _decode_member(data or "{}")
        return MemberEvent(room=room, seq=seq, sender=sender, user=d.user, action=d.action, ts=ts, role=d.role,
                           reason=d.reason)
    if kind == EventKind.TOPIC:
        return TopicEvent(room=room, seq=seq, sender=sender, topic=text, ts=ts)
    raise ValueError(f"unknown room event kind {kind!r}")


_decode = msgspec.json.Decoder(RoomEvent).decode


def decode_event(data: bytes) -> RoomEvent:
    """An event from its encoded server frame (as nodes pass them to each other)."""
    return _decode(data)
