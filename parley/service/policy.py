"""Who may do what in a room: one pure decision every operation passes through, whatever way it came in.

`decide(action, room, name, standing, admin)` answers from the room's record (visibility), the user's
standing in it (member with a role, invited, banned, or none) and whether they are a server admin; it
raises `Refused` with the code the client gets. ChatService calls it (through service/access.py, which
caches what it needs) before each room operation, for WebSocket sessions, the REST API and any later
transport alike. The table it implements is in docs/protocol.md ("Who gets which answer").

A room the user may not see answers exactly as a room that does not exist (`not_found`, same message),
so private rooms and DMs reveal nothing to outsiders.
"""

from enum import StrEnum

from parley.protocol import ErrorCode
from parley.store import RoomRecord, Standing


class Action(StrEnum):
    LIST = "list"  # see the room in listings
    JOIN = "join"  # become a member / subscribe to the room's live events
    READ = "read"  # read its stored events: history, replay
    SEND = "send"  # append a message
    EDIT = "edit"  # change the text of one's own message (the author check is the caller's)
    REACT = "react"  # add or remove a reaction on a message
    UNSEND = "unsend"  # delete one's own message
    REDACT = "redact"  # delete someone else's message
    TYPE = "type"  # send typing notifications
    CALL = "call"  # place, answer or signal a voice or video call
    INVITE = "invite"
    KICK = "kick"
    BAN = "ban"
    UNBAN = "unban"
    MUTE = "mute"
    UNMUTE = "unmute"
    ROLE = "role"
    TOPIC = "topic"
    LEAVE = "leave"
    DELETE = "delete"


MODERATOR_ACTIONS = frozenset({Action.INVITE, Action.KICK, Action.BAN, Action.UNBAN, Action.MUTE, Action.UNMUTE,
                               Action.TOPIC, Action.REDACT})
OWNER_ACTIONS = frozenset({Action.ROLE, Action.DELETE})
RANK = {"member": 0, "moderator": 1, "owner": 2}
ROLES = tuple(RANK)


class Refused(Exception):
    """An operation that is not allowed or not acceptable; `code` goes to the client as the error code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def not_found(room: str) -> Refused:
    """What a room that does not exist answers, and so what a room one may not see answers."""
    return Refused(ErrorCode.NOT_FOUND, f"room {room!r} not found")


def visible(room: RoomRecord | None, me: Standing | None, admin: bool) -> bool:
    if room is None or room.visibility == "deleted":
        return False
    return room.visibility == "public" or admin or (me is not None and me.state in ("member", "invited"))


def decide(action: Action, room: RoomRecord | None, name: str, me: Standing | None, admin: bool) -> None:
    """Raise Refused unless a user standing `me` in `room` (None: no such room) may do `action` there.
    Must not block: it runs on every send."""
    if room is None or not visible(room, me, admin):
        raise not_found(name)
    member = me is not None and me.state == "member"
    if me is not None and me.state == "banned" and not admin:
        raise Refused(ErrorCode.FORBIDDEN, f"you are banned from room {name!r}")
    if action in (Action.LIST, Action.JOIN):
        return
    if action is Action.READ:
        if room.visibility == "public" or member or admin:
            return
        raise Refused(ErrorCode.FORBIDDEN, f"accept the invitation to {name!r} (join it) first")
    if action is Action.UNSEND:  # muted members may still take back what they wrote
        if member or admin:
            return
        raise Refused(ErrorCode.FORBIDDEN, f"join room {name!r} first")
    if action in (Action.SEND, Action.TYPE, Action.EDIT, Action.REACT, Action.CALL):
        if not member:
            raise Refused(ErrorCode.FORBIDDEN, f"join room {name!r} first")
        if me is not None and me.muted:
            raise Refused(ErrorCode.FORBIDDEN, f"you are muted in room {name!r}")
        return
    if action is Action.LEAVE:
        if me is None or me.state not in ("member", "invited"):
            raise Refused(ErrorCode.CONFLICT, f"you are not a member of room {name!r}")
        return
    if room.visibility == "dm":
        raise Refused(ErrorCode.FORBIDDEN, "direct messages have no moderation")
    if admin:
        return
    rank = RANK.get(me.role, 0) if me is not None and member else -1
    if action in OWNER_ACTIONS and rank < RANK["owner"]:
        raise Refused(ErrorCode.FORBIDDEN, f"only owners of {name!r} may {action.value}")
    if action in MODERATOR_ACTIONS and rank < RANK["moderator"]:
        raise Refused(ErrorCode.FORBIDDEN, f"only moderators and owners of {name!r} may {action.value}")


def may_act_on(actor: Standing | None, admin: bool, target: Standing | None, name: str) -> None:
    """Moderators act on plain members (and outsiders); owners and admins on anyone."""
    if admin or target is None or target.state != "member":
        return
    actor_rank = RANK.get(actor.role, 0) if actor is not None else 0
    if actor_rank < RANK["owner"] and RANK.get(target.role, 0) >= actor_rank:
        raise Refused(ErrorCode.FORBIDDEN, f"moderators of {name!r} may not act on other moderators or owners")
