"""Changing messages after they were sent: edits, deletes and reactions, and checking what a reply answers.

Each change is an event in the room's log (`edit`, `delete`, `reaction`, naming its `target` message),
stored in one transaction with what it does to the message row (store `Amend`), so history shows the
final state and resume, gap repair and every node's live delivery carry the change like any event.
Who may: the author edits; the author or a moderator deletes (not in DMs, which have no moderators); any
member who may send reacts (service/policy.py).
"""

from __future__ import annotations

import unicodedata
import uuid
from typing import TYPE_CHECKING

from parley.broker import Broker
from parley.protocol import ErrorCode, encode
from parley.protocol.events import EventKind, target_data
from parley.protocol.frames import Message
from parley.protocol.names import EMOJI_MAX, NUL, ROOM_MENTION, SEARCH_PAGE, mentioned, username_problem
from parley.service.policy import Action, Refused, decide
from parley.store import Amend, ChangeConflict, NewEvent, RoomChange, Store

if TYPE_CHECKING:
    from parley.service.chat import ChatService


MAX_QUERY, MAX_WORDS = 200, 10


def _words(text: str) -> list[str]:
    """The words of a search: runs of letters, digits and combining marks. Nothing else, so no query syntax
    of either store reaches it."""
    return "".join(c if c.isalnum() or unicodedata.category(c).startswith("M") else " " for c in text).split()


def _missing(room: str, seq: int) -> Refused:
    return Refused(ErrorCode.NOT_FOUND, f"no message {seq} in room {room!r}")


def check_emoji(emoji: object) -> str:
    """A reaction: 1-32 characters, no whitespace or control characters."""
    if (not isinstance(emoji, str) or not 1 <= len(emoji) <= EMOJI_MAX or NUL in emoji
            or any(c.isspace() or ord(c) < 32 for c in emoji)):
        raise Refused(ErrorCode.BAD_REQUEST, f"emoji must be 1-{EMOJI_MAX} characters without spaces")
    return emoji


class Messages:
    def __init__(self, service: ChatService, store: Store, broker: Broker) -> None:
        self._service = service
        self._store = store
        self._broker = broker

    async def message(self, room: str, seq: int) -> Message:
        """Message `seq` of `room` as it is now (not_found if that seq is not a message of the room)."""
        page = await self._store.events_after(room, seq - 1, 1) if seq >= 1 else []
        if not page or page[0].seq != seq or not isinstance(page[0], Message):
            raise _missing(room, seq)
        return page[0]

    async def mentions(self, room: str, text: str) -> list[str] | None:
        """The members of `room` that `text` names with @name (as they registered), and "@room"."""
        names = mentioned(text)
        if not names:
            return None
        members = {name.lower(): name for name, s in await self._store.members(room) if s.state == "member"}
        found = [n if n == ROOM_MENTION else members.get(n.lower(), "") for n in names]
        return [n for n in found if n] or None

    async def reply_target(self, user: str, room: str, seq: int) -> None:
        """A reply must answer a message of the same room that is still there."""
        if (await self.message(room, seq)).deleted:
            raise Refused(ErrorCode.CONFLICT, f"message {seq} in room {room!r} is deleted")

    async def edit(self, user: str, room: str, seq: int, text: object) -> int:
        service = self._service
        if not isinstance(text, str):
            raise Refused(ErrorCode.BAD_REQUEST, "text must be a string")
        service.check_text(text)
        await service.authorize(user, room, Action.EDIT)
        target = await self._live(room, seq)
        if target.sender != user:
            raise Refused(ErrorCode.FORBIDDEN, "only its author may edit a message")
        return await self._apply(user, room, EventKind.EDIT, text, seq, Amend(seq, author=user, text=text))

    async def delete(self, user: str, room: str, seq: int) -> int:
        service = self._service
        record, standing, admin = await service.authorize(user, room, Action.READ)
        target = await self._live(room, seq)
        decide(Action.UNSEND if target.sender == user else Action.REDACT, record, room, standing, admin)
        done = await self._apply(user, room, EventKind.DELETE, "", seq, Amend(seq, delete=True))
        self._service.files.message_deleted(target)  # its file goes with its content
        return done

    async def react(self, user: str, room: str, seq: int, emoji: object, on: object = True) -> int:
        emoji = check_emoji(emoji)
        if not isinstance(on, bool):
            raise Refused(ErrorCode.BAD_REQUEST, "on must be true or false")
        await self._service.authorize(user, room, Action.REACT)
        await self._live(room, seq)
        return await self._apply(user, room, EventKind.REACTION, emoji, seq, Amend(seq, reaction=(emoji, user, on)),
                                 on)

    async def search(self, user: str, query: object, room: str | None = None, sender: object = None,
                     limit: int = SEARCH_PAGE, offset: int = 0) -> list[Message]:
        """Messages matching every word of `query` (the last one as a prefix: search as you type), newest
        first, in `room` (which the user must be able to read) or in every room they are a member of."""
        if not isinstance(query, str) or not 1 <= len(query) <= MAX_QUERY:
            raise Refused(ErrorCode.BAD_REQUEST, f"q must be 1-{MAX_QUERY} characters")
        words = [w.lower() for w in _words(query)][:MAX_WORDS]
        if not words:
            raise Refused(ErrorCode.BAD_REQUEST, "q must contain a word (letters or digits)")
        if sender is not None and (not isinstance(sender, str) or username_problem(sender) is not None):
            raise Refused(ErrorCode.BAD_REQUEST, "from must be a user name")
        if room is not None:
            await self._service.authorize(user, room, Action.READ)
        found = await self._store.search(words, user, room, sender, limit, offset)
        return [m for m in found if isinstance(m, Message)]

    async def _live(self, room: str, seq: int) -> Message:
        message = await self.message(room, seq)
        if message.deleted:
            raise Refused(ErrorCode.CONFLICT, f"message {seq} in room {room!r} is deleted")
        return message

    async def _apply(self, user: str, room: str, kind: EventKind, text: str, target: int, amend: Amend,
                     on: bool = True) -> int:
        if not self._service.limits.take(user):
            raise Refused(ErrorCode.RATE_LIMITED, "too many changes; slow down")
        event = NewEvent(room=room, sender=user, text=text, client_id=uuid.uuid4().hex, kind=kind,
                         data=target_data(target, on))
        try:
            saved = await self._store.apply(RoomChange(room=room, event=event, amend=amend))
        except ChangeConflict as exc:
            raise Refused(ErrorCode.CONFLICT, f"the message changed meanwhile ({exc}); look again") from None
        assert saved is not None
        self._broker.publish_event(saved.event, encode(saved.event))
        return saved.event.seq
