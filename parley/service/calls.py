"""Voice and video calls: checking and passing on the signalling between browsers (WebRTC offers, answers,
ICE candidates), and keeping each call's record.

The frames follow Matrix's m.call.* events (docs/protocol.md "Calls"): `invite` (an offer; the first for
a call id starts the call), `answer`, `select_answer` (the caller picks one of the callee's devices; the
others stop ringing), `candidates`, `negotiate` (a new offer or answer mid-call), `reject` and `hangup`.
Every frame passes the room policy (Action.CALL: members who may send); the sender must be in the call
(invited or joined) for anything but an `invite`; the addressee must be a member of the room. A frame
goes only to the addressee's own connections, on whatever node they are (the broker's per-user path).

What changes the call is stored (the calls table: who is invited, joined, left or declined; answered and
ended times) and recorded in the room's log as `call` events (started, joined, left, declined, ended with
its duration, missed), so history shows it. A call nobody answers within `--ring-timeout` seconds is missed.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import TYPE_CHECKING

from parley.broker import Broker
from parley.protocol import ErrorCode, encode
from parley.protocol.events import EventKind, call_data
from parley.protocol.frames import Signal, Signalled
from parley.service.limits import UserLimits
from parley.service.policy import Action, Refused
from parley.store import CallRecord, NewEvent, RoomChange, Store

if TYPE_CHECKING:
    from parley.service.chat import ChatService

log = logging.getLogger("parley")

SIGNAL_RATE, SIGNAL_BURST = 50.0, 200  # signalling frames per second per user (candidates come in bursts)
CALL_RATE, CALL_BURST = 10 / 60, 10  # new calls per second per user: 10 at once, then one every 6 s
MAX_CALLERS = 6  # parties in one call: a mesh of peer connections grows as n², so it is kept small


def _now_ms() -> int:
    return int(time.time() * 1000)


class Calls:
    def __init__(self, service: ChatService, store: Store, broker: Broker) -> None:
        self._service = service
        self._store = store
        self._broker = broker
        self._signal_limits = UserLimits(SIGNAL_RATE, SIGNAL_BURST)
        self._call_limits = UserLimits(CALL_RATE, CALL_BURST)
        self._ringing: dict[str, asyncio.TimerHandle] = {}

    def stop(self) -> None:
        for timer in self._ringing.values():
            timer.cancel()
        self._ringing.clear()

    async def signal(self, user: str, frame: Signal) -> None:
        """Check `frame` from `user`, record what it changes, and pass it on (Refused if it may not)."""
        if not self._signal_limits.take(user):
            raise Refused(ErrorCode.RATE_LIMITED, "too much call signalling; slow down")
        service = self._service
        record, _, _ = await service.authorize(user, frame.room, Action.CALL)
        call = await self._store.call(frame.call_id)
        if call is not None and call.room != frame.room:
            call = None  # another room's call is no call here
        kind = frame.kind
        if kind == "invite":
            call = await self._invite(user, frame, call)
        else:
            if call is None or call.ended_ms is not None:
                raise Refused(ErrorCode.NOT_FOUND, f"no call {frame.call_id!r} under way in room {frame.room!r}")
            state = (call.parties or {}).get(user)
            if state not in ("invited", "joined"):
                raise Refused(ErrorCode.FORBIDDEN, "you are not in this call")
            if kind == "answer":
                await self._joined(user, call)
            elif kind == "reject":
                await self._declined(user, call)
            elif kind == "hangup":
                await self._left(user, call)
        for target in await self._addressees(user, frame, call, record.visibility == "dm"):
            service.to_user(target, Signalled(room=frame.room, call_id=frame.call_id, party_id=frame.party_id,
                                              sender=user, kind=kind, to_party=frame.to_party, media=frame.media,
                                              sdp=frame.sdp, candidates=frame.candidates,
                                              selected_party_id=frame.selected_party_id, reason=frame.reason))

    # what changes the call -----------------------------------------------------------------------------

    async def _invite(self, user: str, frame: Signal, call: CallRecord | None) -> CallRecord:
        if frame.sdp is None or frame.sdp.type != "offer":
            raise Refused(ErrorCode.BAD_REQUEST, "an invite carries the caller's offer: sdp of type offer")
        if call is None:
            if not self._call_limits.take(user):
                raise Refused(ErrorCode.RATE_LIMITED, "too many calls started; wait a little")
            media = frame.media or "voice"
            call = CallRecord(id=frame.call_id, room=frame.room, media=media, started_by=user, started_ms=_now_ms(),
                              parties={user: "joined"})
            if not await self._store.create_call(call):
                raise Refused(ErrorCode.CONFLICT, f"call id {frame.call_id!r} is taken: make a new one")
            await self._record(frame.room, user, call.id, "started", media=media)
            self._ring(call)
            return call
        # another leg of a call under way: a party connecting to a newcomer, or a newcomer to a party
        if call.ended_ms is not None:
            raise Refused(ErrorCode.NOT_FOUND, f"no call {frame.call_id!r} under way in room {frame.room!r}")
        if (call.parties or {}).get(user) not in ("invited", "joined"):
            await self._joined(user, call)
        return call

    async def _joined(self, user: str, call: CallRecord) -> None:
        parties = call.parties or {}
        if parties.get(user) != "joined" and sum(s == "joined" for s in parties.values()) >= MAX_CALLERS:
            raise Refused(ErrorCode.CONFLICT, f"this call is full: at most {MAX_CALLERS} people")
        if await self._store.move_call_party(call.id, user, "joined", (None, "invited", "left", "declined")):
            if await self._store.answer_call(call.id, _now_ms()):
                self._stop_ringing(call.id)
            await self._record(call.room, user, call.id, "joined")

    async def _declined(self, user: str, call: CallRecord) -> None:
        if not await self._store.move_call_party(call.id, user, "declined", ("invited",)):
            return  # declined before, or already in the call
        await self._record(call.room, user, call.id, "declined")
        fresh = await self._store.call(call.id)
        if fresh is not None and not any(s in ("invited", "joined") for u, s in (fresh.parties or {}).items()
                                         if u != fresh.started_by) and fresh.answered_ms is None:
            await self._end(fresh, user)  # everyone called said no

    async def _left(self, user: str, call: CallRecord) -> None:
        if await self._store.move_call_party(call.id, user, "left", ("joined",)):
            fresh = await self._store.call(call.id)
            if fresh is None:
                return
            joined = [u for u, s in (fresh.parties or {}).items() if s == "joined"]
            if fresh.answered_ms is None or len(joined) <= 1:
                await self._end(fresh, user)
            else:
                await self._record(call.room, user, call.id, "left")

    async def _end(self, call: CallRecord, by: str) -> None:
        now = _now_ms()
        if not await self._store.end_call(call.id, now):
            return
        self._stop_ringing(call.id)
        if call.answered_ms is None:
            await self._record(call.room, by, call.id, "missed")
        else:
            await self._record(call.room, by, call.id, "ended", duration_ms=now - call.answered_ms)

    async def _record(self, room: str, user: str, call_id: str, action: str, media: str | None = None,
                      duration_ms: int | None = None) -> None:
        event = NewEvent(room=room, sender=user, text="", client_id=uuid.uuid4().hex, kind=EventKind.CALL,
                         data=call_data(call_id, action, media, duration_ms))
        saved = await self._store.apply(RoomChange(room=room, event=event))
        if saved is not None:
            self._broker.publish_event(saved.event, encode(saved.event))

    # ringing --------------------------------------------------------------------------------------------

    def _ring(self, call: CallRecord) -> None:
        loop = asyncio.get_running_loop()
        self._ringing[call.id] = loop.call_later(self._service.settings.ring_timeout,
                                                 lambda: self._service.spawn(self._unanswered(call)))

    def _stop_ringing(self, call_id: str) -> None:
        timer = self._ringing.pop(call_id, None)
        if timer is not None:
            timer.cancel()

    async def _unanswered(self, call: CallRecord) -> None:
        """Nobody answered in time: the call is missed, and every device still ringing or calling is told."""
        self._ringing.pop(call.id, None)
        try:
            fresh = await self._store.call(call.id)
            if fresh is None or fresh.answered_ms is not None or fresh.ended_ms is not None:
                return
            await self._end(fresh, fresh.started_by)
            hangup = Signalled(room=call.room, call_id=call.id, party_id="server", sender=fresh.started_by,
                               kind="hangup", reason="invite_timeout")
            for user, state in (fresh.parties or {}).items():
                if state in ("invited", "joined"):
                    self._service.to_user(user, hangup)
        except Exception as exc:
            log.warning("cannot end the unanswered call %s now: %s", call.id, exc)

    # who gets a frame -----------------------------------------------------------------------------------

    async def _addressees(self, user: str, frame: Signal, call: CallRecord, dm: bool) -> list[str]:
        """`to` (a member of the room, named as registered), or for an invite without one in a direct message, every
        other member, who are then invited (ringing). A hangup or reject without `to` goes to everyone in the
        call."""
        service = self._service
        if frame.to is not None:
            if frame.to.lower() == user.lower():
                return [user] if frame.kind in ("select_answer", "hangup", "reject") else []
            _, standing = await service.access.load(frame.room, frame.to)
            if standing is None or standing.state != "member":
                raise Refused(ErrorCode.NOT_FOUND, f"{frame.to!r} is not a member of room {frame.room!r}")
            if frame.kind == "invite":
                await self._store.move_call_party(call.id, frame.to, "invited", (None,))
            return [frame.to]
        if frame.kind == "invite":
            if not dm:
                return []  # a room call: members see it start and join it themselves
            others = [name for name, s in await self._store.members(frame.room) if s.state == "member" and name != user]
            for name in others:
                await self._store.move_call_party(call.id, name, "invited", (None,))
            return others
        if frame.kind in ("hangup", "reject"):
            fresh = await self._store.call(call.id)
            return [u for u, s in ((fresh.parties if fresh else None) or {}).items()
                    if u != user and s in ("invited", "joined")]
        raise Refused(ErrorCode.BAD_REQUEST, f"a {frame.kind} frame needs `to`: the user it is for")
