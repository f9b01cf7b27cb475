"""Rooms and their members: creating rooms and direct messages, joining, and every moderation action.

Each change is decided by the room policy (service/policy.py) on fresh data from the store, stored as
one transaction together with its event in the room's log (Store.apply), then published: the event to
the room's subscribers on every node, and an access item so every node forgets what it cached and ends
the live subscriptions of whoever stopped being a member.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from parley.broker import Broker
from parley.protocol import ErrorCode, encode
from parley.protocol.events import EventKind, MemberAction, member_data
from parley.protocol.frames import MembershipChanged, ReadMarker
from parley.protocol.names import DM_MAX_USERS, DM_PREFIX, MAX_REASON, MAX_TOPIC, NUL, room_key, valid_room
from parley.service.access import SingleFlight
from parley.service.policy import RANK, ROLES, Action, Refused, decide, may_act_on, not_found
from parley.store import (
    ChangeConflict,
    MyRoom,
    NewEvent,
    RoomChange,
    RoomExists,
    RoomRecord,
    Saved,
    Standing,
    Store,
)

NOTIFY_LEVELS = ("all", "mentions", "none")

if TYPE_CHECKING:
    from parley.service.chat import ChatService

MEMBER = Standing(state="member")
OWNER = Standing(state="member", role="owner")
# what each action makes of the target's standing, and the event's action
REMOVING = {Action.KICK: MemberAction.KICKED, Action.BAN: MemberAction.BANNED, Action.LEAVE: MemberAction.LEFT}


@dataclass(frozen=True, slots=True)
class RoomView:
    """A room as one user sees it (GET /api/rooms/{room}, POST /api/rooms, POST /api/dms)."""

    name: str
    visibility: str
    topic: str
    members: int
    last_seq: int
    state: str | None  # the viewer's: member, invited, banned, or None
    role: str | None
    muted: bool
    people: list[str] | None = None  # a DM's members


def dm_name(users: list[str]) -> str:
    """The one room name of a direct message between exactly these users (case-insensitive)."""
    key = "\n".join(sorted({u.lower() for u in users}))
    return DM_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:32]


def _check_topic(topic: object) -> str:
    if not isinstance(topic, str):
        raise Refused(ErrorCode.BAD_REQUEST, "topic must be a string")
    if len(topic) > MAX_TOPIC:
        raise Refused(ErrorCode.BAD_REQUEST, f"topic is longer than {MAX_TOPIC} characters")
    if NUL in topic:
        raise Refused(ErrorCode.BAD_REQUEST, "topic must not contain U+0000")
    return topic


class Rooms:
    def __init__(self, service: ChatService, store: Store, broker: Broker) -> None:
        self._service = service
        self._store = store
        self._broker = broker
        self._joining = SingleFlight()
        self._creating = SingleFlight()

    # events and publishing --------------------------------------------------------------------------

    @staticmethod
    def _member_event(room: str, actor: str, user: str, action: MemberAction, role: str | None = None,
                      reason: str | None = None) -> NewEvent:
        return NewEvent(room=room, sender=actor, text="", client_id=uuid.uuid4().hex, kind=EventKind.MEMBER,
                        data=member_data(user, action, role, reason or None))

    def _publish(self, saved: Saved | None) -> None:
        if saved is not None and not saved.duplicate:
            self._broker.publish_event(saved.event, encode(saved.event))

    async def _apply(self, change: RoomChange) -> int:
        try:
            saved = await self._store.apply(change)
        except ChangeConflict:
            raise Refused(ErrorCode.CONFLICT, "the room changed meanwhile (or would lose its last owner); "
                                              "look again and retry") from None
        self._publish(saved)
        return saved.event.seq if saved is not None else 0

    async def _fresh(self, user: str, room: str) -> tuple[RoomRecord | None, Standing | None]:
        """The room and `user`'s standing as the store has them now."""
        self._service.access.forget(room)
        self._service.access.forget(room, user)
        return await self._service.access.load(room, user)

    # joining ----------------------------------------------------------------------------------------

    async def become_member(self, user: str, room: str) -> None:
        """Make `user` a member of `room` if the policy lets them join (an invitation accepted, a public room
        joined, or a new public room created with them as its owner); nothing if they already are one.
        Concurrent joins of one user to one room (several connections) share the work."""
        known = self._service.access.cached(room, user)
        if known is not None and known[1] is not None and known[1].state == "member":
            decide(Action.JOIN, known[0], room, known[1], False)  # the common case (a reconnect): no round trip
            return
        await self._joining.run((room, user), lambda: self._become_member(user, room))

    async def _become_member(self, user: str, room: str) -> None:
        service = self._service
        admin = await service.accounts.admin(user)
        record, standing = await service.access.load(room, user)
        for attempt in range(3):
            if record is None:
                await self._create_on_join(user, room, admin)
                record, standing = await self._fresh(user, room)
            decide(Action.JOIN, record, room, standing, admin)
            if standing is not None and standing.state == "member":
                return
            change = RoomChange(room=room, event=self._member_event(room, user, user, MemberAction.JOINED),
                                user=user, expected=standing, standing=MEMBER)
            try:
                self._publish(await self._store.apply(change))
            except ChangeConflict:  # e.g. another connection of the same user joining at the same moment
                if attempt == 2:
                    raise Refused(ErrorCode.CONFLICT, f"cannot join {room!r} now: it keeps changing; retry") from None
                record, standing = await self._fresh(user, room)
                continue
            self._broker.publish_access(room, user)
            return

    async def _create_on_join(self, user: str, room: str, admin: bool) -> None:
        """A join of a room that does not exist creates it, public, with the joiner as owner, unless only
        admins may create rooms (then, as for any room one cannot see: not_found)."""
        await self._creating.run(room, lambda: self._create_public(user, room, admin))

    async def _create_public(self, user: str, room: str, admin: bool) -> None:
        service = self._service
        if room.startswith(DM_PREFIX) or (service.settings.room_creation == "admins" and not admin):
            raise not_found(room)
        if not service.room_limits.take(user):
            raise Refused(ErrorCode.RATE_LIMITED, "too many new rooms; join an existing one or try again later")
        record = RoomRecord(name=room, visibility="public", topic="", last_seq=0)
        try:
            await self._create(record, {user: OWNER}, [self._member_event(room, user, user, MemberAction.CREATED)])
        except RoomExists:  # made meanwhile, by someone else
            service.access.forget(room)

    async def _create(self, record: RoomRecord, standings: dict[str, Standing], events: list[NewEvent]) -> list[Saved]:
        """Store a new room with its first members and events (RoomExists if the name is taken), and publish
        them: the events to the room, the room itself to every node's access cache."""
        saved = await self._store.create_room(record, standings, events)
        for s in saved:
            self._publish(s)
        self._broker.publish_access(record.name, "")
        return saved

    # creating ---------------------------------------------------------------------------------------

    async def create(self, user: str, name: object, visibility: object = "public", topic: object = "") -> RoomView:
        if not valid_room(name):
            raise Refused(ErrorCode.BAD_REQUEST, "name must be 1-64 characters of letters, digits, '.', '_' or '-'")
        assert isinstance(name, str)
        name = room_key(name)
        if name.startswith(DM_PREFIX):
            raise Refused(ErrorCode.CONFLICT, f"the name {name!r} is not available: names starting with "
                                              f"{DM_PREFIX!r} are for direct messages")
        if visibility not in ("public", "private"):
            raise Refused(ErrorCode.BAD_REQUEST, "visibility must be 'public' or 'private'")
        topic = _check_topic(topic if topic is not None else "")
        service = self._service
        if service.settings.room_creation == "admins" and not await service.accounts.admin(user):
            raise Refused(ErrorCode.FORBIDDEN, "only server admins may create rooms here")
        if not service.room_limits.take(user):
            raise Refused(ErrorCode.RATE_LIMITED, "too many new rooms; try again later")
        assert isinstance(visibility, str)
        events = [self._member_event(name, user, user, MemberAction.CREATED)]
        if topic:
            events.append(NewEvent(room=name, sender=user, text=topic, client_id=uuid.uuid4().hex,
                                   kind=EventKind.TOPIC))
        try:
            saved = await self._create(RoomRecord(name, visibility, topic, 0), {user: OWNER}, events)
        except RoomExists:
            raise Refused(ErrorCode.CONFLICT, f"the name {name!r} is not available") from None
        return RoomView(name=name, visibility=visibility, topic=topic, members=1, last_seq=saved[-1].event.seq,
                        state="member", role="owner", muted=False)

    async def open_dm(self, user: str, others: object) -> tuple[RoomView, bool]:
        """The direct message between `user` and `others` (made now if new: then True)."""
        if not isinstance(others, list) or not all(isinstance(o, str) for o in others):
            raise Refused(ErrorCode.BAD_REQUEST, "users must be a list of usernames")
        names: dict[str, str] = {}
        for other in others:
            found = await self._service.accounts.canonical(other)
            if found is None:
                raise Refused(ErrorCode.NOT_FOUND, f"user {other!r} not found")
            names[found.lower()] = found
        names.pop(user.lower(), None)
        if not names:
            raise Refused(ErrorCode.BAD_REQUEST, "a direct message needs at least one other user")
        if len(names) + 1 > DM_MAX_USERS:
            raise Refused(ErrorCode.BAD_REQUEST, f"a direct message has at most {DM_MAX_USERS} people")
        people = sorted([user, *names.values()], key=str.lower)
        room = dm_name(people)
        try:
            await self._create(RoomRecord(room, "dm", "", 0), dict.fromkeys(people, MEMBER),
                               [self._member_event(room, user, user, MemberAction.CREATED)])
        except RoomExists:
            existing = await self._store.room(room)
            if existing is None or existing.visibility != "dm":  # never join people into another kind of room
                raise Refused(ErrorCode.CONFLICT, "this direct message cannot be opened: ask an admin") from None
            standing = await self._store.standing(room, user)
            if standing is None or standing.state != "member":  # they had left: back in
                await self._apply(RoomChange(room=room, user=user, expected=standing, standing=MEMBER,
                                             event=self._member_event(room, user, user, MemberAction.JOINED)))
                self._broker.publish_access(room, user)
            return await self.view(user, room), False
        for person in people:
            self._broker.publish_access(room, person)  # each member's devices learn of the conversation
        return await self.view(user, room), True

    # looking ----------------------------------------------------------------------------------------

    async def view(self, user: str, room: str) -> RoomView:
        record, standing, _ = await self._service.authorize(user, room, Action.LIST)
        rows = await self._store.members(room)
        joined = [name for name, s in rows if s.state == "member"]
        return RoomView(name=room, visibility=record.visibility, topic=record.topic, members=len(joined),
                        last_seq=await self._store.room_seq(room) or 0,
                        state=standing.state if standing else None, role=standing.role if standing else None,
                        muted=bool(standing and standing.muted),
                        people=joined if record.visibility == "dm" else None)

    async def members(self, user: str, room: str) -> dict[str, list[dict[str, object]]]:
        """Who is in `room` (and, for its moderators, who is invited and banned)."""
        _, standing, admin = await self._service.authorize(user, room, Action.READ)
        moderator = admin or (standing is not None and standing.state == "member"
                              and RANK.get(standing.role, 0) >= RANK["moderator"])
        out: dict[str, list[dict[str, object]]] = {"members": [], "invited": [], "banned": []}
        for name, s in await self._store.members(room):
            if s.state == "member":
                out["members"].append({"user": name, "role": s.role, "muted": s.muted})
            elif moderator:
                out["invited" if s.state == "invited" else "banned"].append({"user": name})
        return out

    async def mine(self, user: str) -> list[MyRoom]:
        return await self._store.my_rooms(user)

    async def set_notify(self, user: str, room: str, level: object) -> None:
        """What `user` wants to be told of in `room`: every message, mentions only, or nothing."""
        if level not in NOTIFY_LEVELS:
            raise Refused(ErrorCode.BAD_REQUEST, "level must be 'all', 'mentions' or 'none'")
        assert isinstance(level, str)
        await self._service.authorize(user, room, Action.READ)
        if not await self._store.set_notify(room, user, level):
            raise Refused(ErrorCode.CONFLICT, f"you are not a member of room {room!r}")
        self._service.to_user(user, MembershipChanged(room=room))  # the user's other devices reload their list

    async def mark_read(self, user: str, room: str, seq: int) -> None:
        await self._service.authorize(user, room, Action.READ)
        await self._store.set_read(room, user, seq)
        self._service.to_user(user, ReadMarker(room=room, seq=seq))  # the user's other devices follow

    # moderation -------------------------------------------------------------------------------------

    async def manage(self, actor: str, room: str, action: object, user: object = None, role: object = None,
                     topic: object = None, reason: object = None) -> int:
        """One `manage` action (docs/protocol.md, Membership and moderation); the seq of its event."""
        try:
            act = Action(action) if isinstance(action, str) else None
        except ValueError:
            act = None
        if act is None or act in (Action.LIST, Action.JOIN, Action.READ, Action.SEND, Action.TYPE):
            raise Refused(ErrorCode.BAD_REQUEST, "action must be one of invite, kick, ban, unban, mute, unmute, "
                                                 "role, topic, leave, delete")
        if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON or NUL in reason):
            raise Refused(ErrorCode.BAD_REQUEST, f"reason must be a string of at most {MAX_REASON} characters")
        service = self._service
        admin = await service.accounts.admin(actor)
        service.access.forget(room, actor)  # decide on what the store says now
        record, me = await service.access.load(room, actor)
        decide(act, record, room, me, admin)
        if act is Action.DELETE:
            await self._apply(RoomChange(room=room, visibility="deleted", purge=True))
            self._broker.publish_access(room, "", "deleted", actor)
            return 0
        if act is Action.TOPIC:
            text = _check_topic(topic)
            seq = await self._apply(RoomChange(room=room, topic=text, event=NewEvent(
                room=room, sender=actor, text=text, client_id=uuid.uuid4().hex, kind=EventKind.TOPIC)))
            self._broker.publish_access(room, "")  # the room's record changed
            return seq
        if act is Action.LEAVE:
            target, standing = actor, me
        else:
            if not isinstance(user, str) or not user:
                raise Refused(ErrorCode.BAD_REQUEST, "user is required")
            found = await service.accounts.canonical(user)
            if found is None:
                raise Refused(ErrorCode.NOT_FOUND, f"user {user!r} not found")
            target, standing = found, await self._store.standing(room, found)
            if act not in (Action.INVITE, Action.UNBAN):
                may_act_on(me, admin, standing, room)
        new, event_action, new_role = self._next(act, target, standing, role)
        owner_leaving = (standing is not None and standing.state == "member" and standing.role == "owner"
                         and (new is None or new.state != "member" or new.role != "owner"))
        if owner_leaving:
            owners = [n for n, s in await self._store.members(room) if s.state == "member" and s.role == "owner"]
            if owners == [target]:
                raise Refused(ErrorCode.CONFLICT, f"{target} is the last owner of {room!r}: make someone else "
                                                  "owner first (or delete the room)")
        why = reason if isinstance(reason, str) else None
        event = self._member_event(room, actor, target, event_action, new_role, why)
        seq = await self._apply(RoomChange(room=room, event=event, user=target, expected=standing, standing=new,
                                           keep_owner=owner_leaving))
        gone = act in REMOVING and standing is not None and standing.state == "member"
        self._broker.publish_access(room, target, REMOVING[act].value if gone else "", actor)
        return seq

    @staticmethod
    def _next(act: Action, target: str, standing: Standing | None,
              role: object) -> tuple[Standing | None, MemberAction, str | None]:
        """The target's new standing, the event's action and role; Refused(conflict) if it does not fit."""
        state = standing.state if standing is not None else None
        member = state == "member"
        if act is Action.INVITE:
            if state is not None:
                why = {"member": "is already a member", "invited": "is already invited",
                       "banned": "is banned: unban them first"}[state]
                raise Refused(ErrorCode.CONFLICT, f"{target} {why}")
            return Standing(state="invited"), MemberAction.INVITED, None
        if act is Action.UNBAN:
            if state != "banned":
                raise Refused(ErrorCode.CONFLICT, f"{target} is not banned")
            return None, MemberAction.UNBANNED, None
        if act is Action.BAN:
            if state == "banned":
                raise Refused(ErrorCode.CONFLICT, f"{target} is already banned")
            return Standing(state="banned"), MemberAction.BANNED, None
        if act is Action.LEAVE:
            return None, MemberAction.LEFT, None
        if act is Action.KICK:
            if state not in ("member", "invited"):
                raise Refused(ErrorCode.CONFLICT, f"{target} is not a member")
            return None, MemberAction.KICKED, None
        assert standing is not None or not member
        if not member or standing is None:
            raise Refused(ErrorCode.CONFLICT, f"{target} is not a member")
        if act in (Action.MUTE, Action.UNMUTE):
            muted = act is Action.MUTE
            if standing.muted == muted:
                raise Refused(ErrorCode.CONFLICT, f"{target} is already {'muted' if muted else 'not muted'}")
            return (Standing(state="member", role=standing.role, muted=muted),
                    MemberAction.MUTED if muted else MemberAction.UNMUTED, None)
        if role not in ROLES:
            raise Refused(ErrorCode.BAD_REQUEST, "role must be one of owner, moderator, member")
        assert isinstance(role, str)
        if standing.role == role:
            raise Refused(ErrorCode.CONFLICT, f"{target} is already {role}")
        return Standing(state="member", role=role, muted=standing.muted), MemberAction.ROLE, role
