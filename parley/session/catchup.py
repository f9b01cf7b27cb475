"""Joining a room: replay what the client missed, then hand over to live delivery with nothing lost or doubled.

`join` puts the session in the room as syncing: live events for it are kept aside in its `CatchUp`.
`run` answers `joined`, replays stored events after `since` in pages, then lines the replay up with
live delivery on this node (ChatService.align) and fills what lies between from the events kept aside
or from the store. The hand-over — write the kept events past that point, become a plain member —
happens with no await after the last check, so each event reaches the client exactly once, in order.
A leave (or a new join) while this runs makes it stop: only the current join's task goes on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from parley.protocol import ErrorCode, Outbound, encode
from parley.protocol.events import RoomEvent
from parley.protocol.frames import Join, Joined
from parley.service.policy import Refused
from parley.store import StoreUnavailable

if TYPE_CHECKING:
    from parley.session.session import Session

log = logging.getLogger("parley.session")

REPLAY_PAGE = 1000


class CatchUp:
    """A join in progress: live events kept aside while stored ones replay."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending: list[tuple[RoomEvent, Outbound]] = []


def follow(session: Session, frame: Join) -> asyncio.Task[None]:
    """Subscribe `session` to `frame.room` and start catching it up from `frame.since` (what a join does once
    the transport's own checks passed); the task ends when the room is live or the join failed."""
    session.rooms.add(frame.room)
    mine = session.catching_up[frame.room] = CatchUp()
    return session.spawn(run(session, frame, mine))


def _still(session: Session, room: str, catch_up: CatchUp) -> bool:
    """Whether the join that owns `catch_up` is still the current one (not left, not joined again)."""
    return not session.closed and session.catching_up.get(room) is catch_up


async def run(session: Session, frame: Join, mine: CatchUp) -> None:
    """joined, then every stored event after `since`, then what arrived live meanwhile."""
    room, service = frame.room, session.service
    user = session.user
    try:
        if frame.resume:
            _, standing = await service.access.load(room, user)
            if standing is None or standing.state != "member":
                raise Refused(ErrorCode.NOT_JOINED, f"you are no longer a member of {room!r}")
        await service.rooms.become_member(user, room)  # the policy decides here, before anyone sees us
        if not _still(session, room, mine):
            return
        service.subscribe(session, room)
        last = await service.last_seq(room)
        online = await service.online(room)
        if not _still(session, room, mine):
            return
        session.send(Joined(room=room, last_seq=last, online=online, ref=frame.ref))
        done = frame.since if frame.since is not None else last
        await _replay(session, room, done, last, mine)
        done = max(done, last)
        upto = await service.align(room, last)
        while upto > done and _still(session, room, mine):
            if not _from_backlog(session, room, done, upto):
                await _replay(session, room, done, upto, mine)
            done = upto
            upto = service.live_seq(room)
    except Refused as exc:
        _failed(session, room, mine, exc.code, exc.message, frame)
        return
    except StoreUnavailable:
        _failed(session, room, mine, ErrorCode.UNAVAILABLE, f"cannot join {room!r} now: storage unavailable", frame)
        return
    except Exception:
        log.exception("joining %s for %s failed", room, user)
        _failed(session, room, mine, ErrorCode.INTERNAL, f"cannot join {room!r}: internal error", frame)
        return
    if not _still(session, room, mine):
        return
    del session.catching_up[room]
    for e, out in mine.pending:
        if e.seq > done:
            session.sink.write(out)
    service.activate(session, room)


def _failed(session: Session, room: str, mine: CatchUp, code: ErrorCode, message: str, frame: Join) -> None:
    if _still(session, room, mine):
        session.error(code, message, frame.ref)
        session.drop_room(room)


async def _replay(session: Session, room: str, after: int, upto: int, mine: CatchUp) -> None:
    """Write the stored events of `room` with after < seq <= upto, in pages."""
    user = session.user
    while after < upto:
        page = await session.service.events_after(user, room, after, min(REPLAY_PAGE, upto - after))
        if not page or not _still(session, room, mine):
            return
        for e in page:
            session.sink.write(Outbound(encode(e)))
        after = page[-1].seq


def _from_backlog(session: Session, room: str, after: int, upto: int) -> bool:
    """Write after < seq <= upto from the live events kept aside while joining, if they are all there."""
    catch_up = session.catching_up.get(room)
    run_ = [(e, out) for e, out in catch_up.pending if after < e.seq <= upto] if catch_up else []
    if [e.seq for e, _ in run_] != list(range(after + 1, upto + 1)):
        return False
    for _, out in run_:
        session.sink.write(out)
    return True
