"""The room log: every durable change to a room is an event with its own seq in one gap-free sequence.

A message is the first kind; edits, deletions, reactions, membership changes and call records join it
as further kinds, each a server frame struct with `room`, `seq`, `ts` and a class-level `kind`. Join
with `since`, history, resume and gap repair across nodes handle a `RoomEvent` whatever its kind, so a
new kind needs only: its struct here, a branch in `build`, and its wire form documented in
docs/protocol.md.

The store keeps every kind in one table with the columns of `build`'s arguments (store/schema.py
EVENT_COLUMNS); fields a kind has beyond them go in `data` (JSON).
"""

from enum import StrEnum

import msgspec

from parley.protocol.frames import Message


class EventKind(StrEnum):
    MESSAGE = "message"


RoomEvent = Message  # a union of every event struct as kinds are added


def build(room: str, seq: int, kind: str, sender: str, text: str, ts: int, client_id: str,
          data: str | None) -> RoomEvent:
    """The event struct of a stored row (or of a row about to be stored)."""
    if kind == EventKind.MESSAGE:
        return Message(room=room, seq=seq, sender=sender, text=text, ts=ts, client_id=client_id)
    raise ValueError(f"unknown room event kind {kind!r}")


_decode = msgspec.json.Decoder(RoomEvent).decode


def decode_event(data: bytes) -> RoomEvent:
    """An event from its encoded server frame (as nodes pass them to each other)."""
    return _decode(data)
