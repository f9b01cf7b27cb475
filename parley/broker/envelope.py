"""What nodes send each other through a broker: batches of events tagged with the sending node's id.

JSON arrays via msgspec; a room event travels as its already-encoded frame (passed on as is).
"""

import msgspec


class EventItem(msgspec.Struct, tag="m", array_like=True):
    room: str
    seq: int
    data: msgspec.Raw  # the encoded event frame


class TypingItem(msgspec.Struct, tag="t", array_like=True):
    room: str
    user: str


class PresenceItem(msgspec.Struct, tag="p", array_like=True):
    room: str
    user: str
    online: bool


class HeadItem(msgspec.Struct, tag="h", array_like=True):
    """`room` has stored events up to `seq` that may never have been published: fetch them."""

    room: str
    seq: int


class AccessItem(msgspec.Struct, tag="a", array_like=True):
    """`user`'s standing in `room` changed (`user` empty: the room itself); `reason` non-empty when they are
    no longer a member (kicked, banned, left, deleted), `by` who did it."""

    room: str
    user: str
    reason: str
    by: str


class UserItem(msgspec.Struct, tag="u", array_like=True):
    """`user`'s tokens were revoked (or the account changed): end their sessions, forget what is cached."""

    user: str


class DirectItem(msgspec.Struct, tag="d", array_like=True):
    """A frame for every connection of `user` (read markers; call signalling)."""

    user: str
    data: msgspec.Raw


class EveryoneItem(msgspec.Struct, tag="e", array_like=True):
    """A frame for every connection on every node (a changed profile)."""

    data: msgspec.Raw


Item = EventItem | TypingItem | PresenceItem | HeadItem | AccessItem | UserItem | DirectItem | EveryoneItem


class Envelope(msgspec.Struct, array_like=True):
    node: str
    events: list[Item]


encode_envelope = msgspec.json.Encoder().encode
decode_envelope = msgspec.json.Decoder(Envelope).decode
