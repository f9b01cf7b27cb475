"""One small handler per client frame type, registered with the frame it handles (session/dispatch.py).

Each checks what is the session's own business (authenticated, joined, in how many rooms) and calls the
chat service, which applies the room policy and the rules every way in shares.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from parley.auth import Bearer, InvalidToken
from parley.protocol import CloseCode, ErrorCode, ProtocolError
from parley.protocol.frames import (
    Ack,
    Auth,
    Delete,
    Done,
    Edit,
    History,
    HistoryPage,
    Join,
    Leave,
    Left,
    Manage,
    Managed,
    Message,
    Ping,
    Pong,
    React,
    Read,
    Ready,
    Ref,
    Results,
    Search,
    Send,
    Signal,
    SignalDone,
    Typing,
)
from parley.protocol.names import HISTORY_LIMIT_MAX, room_key
from parley.service.policy import Refused
from parley.session import catchup
from parley.session.dispatch import handles
from parley.store import Saved, StoreRejected, StoreUnavailable
from parley.transports.sink import Disconnect, unauthenticated

if TYPE_CHECKING:
    from parley.session.session import Session

log = logging.getLogger("parley.session")

CONFIRM_TIMEOUT = 5.0  # seconds `auth` waits for the store to confirm an account before answering `unavailable`
TYPING_INTERVAL = 1.0  # seconds; typing frames closer together than this are dropped


@handles(Auth, needs_auth=False)
def auth(session: Session, frame: Auth) -> None:
    if session.user or session.held is not None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "already authenticated", frame.ref)
    limit = session.service.settings.max_rooms
    if frame.rooms is not None and len(frame.rooms) > limit:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"a connection may be in at most {limit} rooms", frame.ref)
    accounts = session.service.accounts
    try:
        bearer = accounts.authenticate(frame.token)
    except InvalidToken as exc:
        _refuse(session, str(exc), frame)
        return
    known = accounts.confirmed(bearer.user, bearer.gen)
    if known:  # the common case: no store round trip
        _ready(session, bearer, frame)
        return
    if known is False:
        _refuse(session, "token revoked: sign in again", frame)
        return
    session.held = []  # frames that follow wait until the account is confirmed
    session.spawn(_confirm(session, bearer, frame))


async def _confirm(session: Session, bearer: Bearer, frame: Auth) -> None:
    """The token is well signed; make sure its account still exists and has not revoked it."""
    refused: str | None = None
    try:
        async with asyncio.timeout(CONFIRM_TIMEOUT):
            await session.service.accounts.confirm(bearer.user, bearer.gen)
        ok: bool | None = True
    except InvalidToken as exc:
        ok, refused = False, str(exc)
    except (StoreUnavailable, TimeoutError):
        ok = None
    except Exception:
        log.exception("confirming the account %s failed", bearer.user)
        ok = None
    held, session.held = session.held or [], None
    if session.closed or session.ending:
        return
    if ok is None:
        session.error(ErrorCode.UNAVAILABLE, "cannot check the account now: storage unavailable", frame.ref)
        session.end(Disconnect(CloseCode.INTERNAL, "storage unavailable", reconnect=True))
        return
    if not ok:
        _refuse(session, refused or "invalid token", frame)
        return
    _ready(session, bearer, frame)
    for data in held:
        session.handle(data)


def _ready(session: Session, bearer: Bearer, frame: Auth) -> None:
    session.authenticated(bearer.user, bearer.gen, bearer.token_id)
    s = session.service.settings
    session.send(Ready(user=bearer.user, heartbeat=s.heartbeat, max_text=s.max_text, server="parley", ref=frame.ref))
    # A member's `joined` needs no store round trip, so it goes out in the same write as `ready`.
    for r in frame.rooms or ():
        session.dispatch(Join(room=room_key(r.room), since=r.since, resume=r.resume, ref=r.ref))


def _refuse(session: Session, reason: str, frame: Auth) -> None:
    session.error(ErrorCode.UNAUTHENTICATED, reason, frame.ref)
    session.end(unauthenticated(reason))


@handles(Ping)
def ping(session: Session, frame: Ping) -> None:
    session.send(Pong(ref=frame.ref))


@handles(Send)
def send(session: Session, frame: Send) -> None:
    session.require_member(frame.room, frame.ref)
    ref = frame.ref
    session.service.post(session.user, frame.room, frame.text, frame.client_id,
                         lambda saved, error: _stored(session, saved, error, ref), frame.reply_to)


def _stored(session: Session, saved: Saved | None, error: Exception | None, ref: Ref) -> None:
    if session.closed:
        return
    if saved is None:
        if isinstance(error, Refused):
            session.error(error.code, error.message, ref)
        elif isinstance(error, StoreUnavailable):
            session.error(ErrorCode.UNAVAILABLE, "message not stored: storage unavailable, retry", ref)
        elif isinstance(error, StoreRejected):
            session.error(ErrorCode.BAD_REQUEST, f"message not stored: the store refused it ({error})", ref)
        else:
            session.error(ErrorCode.INTERNAL, "message not stored: internal error", ref)
        return
    e = saved.event
    assert isinstance(e, Message)
    session.send(Ack(room=e.room, client_id=e.client_id, seq=e.seq, ts=e.ts, duplicate=saved.duplicate, ref=ref))


@handles(Typing)
def typing(session: Session, frame: Typing) -> None:
    session.require_member(frame.room, frame.ref)
    now = time.monotonic()
    if now - session.typing_at.get(frame.room, -TYPING_INTERVAL) < TYPING_INTERVAL:
        return
    session.typing_at[frame.room] = now
    ref = frame.ref
    session.service.typing(session.user, frame.room, lambda exc: session.error(exc.code, exc.message, ref))


@handles(Join)
def join(session: Session, frame: Join) -> None:
    room = frame.room
    if room in session.catching_up:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"already joining {room!r}", frame.ref)
    limit = session.service.settings.max_rooms
    if room not in session.rooms and len(session.rooms) >= limit:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"a connection may be in at most {limit} rooms; "
                            "leave one first", frame.ref)
    session.service.admit_join(session.user)
    catchup.follow(session, frame)


@handles(Leave)
def leave(session: Session, frame: Leave) -> None:
    session.drop_room(frame.room)
    session.send(Left(room=frame.room, ref=frame.ref))


@handles(History)
def history(session: Session, frame: History) -> None:
    session.require_member(frame.room, frame.ref)
    session.spawn(_history_page(session, frame))


async def _history_page(session: Session, frame: History) -> None:
    try:
        page = await session.service.history(session.user, frame.room, frame.before,
                                             min(frame.limit, HISTORY_LIMIT_MAX))
    except Exception as exc:
        _failed(session, exc, "history unavailable", frame.ref)
        return
    session.send(HistoryPage(room=frame.room, messages=page, ref=frame.ref))


@handles(Search)
def search(session: Session, frame: Search) -> None:
    session.spawn(_search(session, frame))


async def _search(session: Session, frame: Search) -> None:
    try:
        found = await session.service.messages.search(session.user, frame.q, frame.room, frame.sender,
                                                      frame.limit, frame.offset)
    except Exception as exc:
        _failed(session, exc, "search unavailable", frame.ref)
        return
    following = frame.offset + frame.limit if len(found) == frame.limit else None
    session.send(Results(results=found, next=following, ref=frame.ref))


@handles(Signal)
def signal(session: Session, frame: Signal) -> None:
    session.spawn(_signal(session, frame))


async def _signal(session: Session, frame: Signal) -> None:
    try:
        await session.service.calls.signal(session.user, frame)
    except Exception as exc:
        _failed(session, exc, "cannot signal the call now", frame.ref)
        return
    if frame.ref is not None:
        session.send(SignalDone(call_id=frame.call_id, ref=frame.ref))


@handles(Manage)
def manage(session: Session, frame: Manage) -> None:
    session.spawn(_manage(session, frame))


async def _manage(session: Session, frame: Manage) -> None:
    try:
        seq = await session.service.rooms.manage(session.user, frame.room, frame.action, frame.user, frame.role,
                                                 frame.topic, frame.reason)
    except Exception as exc:
        _failed(session, exc, f"cannot {frame.action} now", frame.ref)
        return
    session.send(Managed(room=frame.room, action=frame.action, seq=seq, ref=frame.ref))


@handles(Edit)
def edit(session: Session, frame: Edit) -> None:
    session.spawn(_changed(session, frame, "cannot edit now",
                           session.service.messages.edit(session.user, frame.room, frame.seq, frame.text)))


@handles(Delete)
def delete(session: Session, frame: Delete) -> None:
    session.spawn(_changed(session, frame, "cannot delete now",
                           session.service.messages.delete(session.user, frame.room, frame.seq)))


@handles(React)
def react(session: Session, frame: React) -> None:
    session.spawn(_changed(session, frame, "cannot react now",
                           session.service.messages.react(session.user, frame.room, frame.seq, frame.emoji,
                                                          frame.on)))


async def _changed(session: Session, frame: Edit | Delete | React, what: str, change: Awaitable[int]) -> None:
    """Answer a message change with `done` and the seq of its event, or the error."""
    try:
        seq = await change
    except Exception as exc:
        _failed(session, exc, what, frame.ref)
        return
    session.send(Done(room=frame.room, seq=seq, ref=frame.ref))


@handles(Read)
def read(session: Session, frame: Read) -> None:
    session.spawn(_read(session, frame))


async def _read(session: Session, frame: Read) -> None:
    try:
        await session.service.rooms.mark_read(session.user, frame.room, frame.seq)
    except Exception as exc:
        _failed(session, exc, "cannot keep the read marker now", frame.ref)


def _failed(session: Session, exc: Exception, what: str, ref: Ref) -> None:
    """Answer a frame whose work raised `exc`."""
    if isinstance(exc, Refused):
        session.error(exc.code, exc.message, ref)
    elif isinstance(exc, StoreUnavailable):
        session.error(ErrorCode.UNAVAILABLE, f"{what}: storage unavailable", ref)
    else:
        log.error("%s for %s failed", what, session.user, exc_info=exc)
        session.error(ErrorCode.INTERNAL, f"{what}: internal error", ref)
