"""One client's conversation with the server, independent of the transport that carries it.

A transport feeds `handle()` one text frame at a time and gives the session a Sink to write to. The
session checks auth, membership, limits and rate, and turns frames into calls on the chat service.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from parley.auth import InvalidToken
from parley.protocol import CloseCode, ErrorCode, ProtocolError, decode_client_frame, encode
from parley.protocol.frames import (
    Ack,
    Auth,
    Error,
    History,
    HistoryPage,
    Join,
    Joined,
    Leave,
    Left,
    Message,
    Ping,
    Pong,
    Ready,
    Ref,
    Send,
    Typing,
)
from parley.protocol.names import HISTORY_LIMIT_MAX
from parley.protocol.wsframe import Outbound
from parley.service import ChatService
from parley.session.ratelimit import TokenBucket
from parley.store import Saved, StoreUnavailable

log = logging.getLogger("parley.session")

REPLAY_PAGE = 1000
MAX_ROOMS = 100  # rooms one connection may be in at once
TYPING_INTERVAL = 1.0  # seconds; typing frames closer together than this are dropped


class CatchUp:
    """A join in progress: live messages kept aside while stored ones replay (see Session._catch_up)."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending: list[tuple[Message, Outbound]] = []


class Sink(Protocol):
    def write(self, out: Outbound) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


class Session:
    __slots__ = ("_catching_up", "_tasks", "_typing_at", "bucket", "closed", "push", "rooms", "service",
                 "sink", "started", "user")

    def __init__(self, service: ChatService, sink: Sink) -> None:
        self.service = service
        self.sink = sink
        self.push: Callable[[Outbound], None] = sink.write  # the hub's fan-out calls this per member
        self.user: str | None = None
        self.rooms: set[str] = set()
        self.closed = False
        self.started = time.monotonic()
        self.bucket = TokenBucket(service.settings.rate, service.settings.burst)
        self._catching_up: dict[str, CatchUp] = {}
        self._typing_at: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # Member protocol (for the hub) ----------------------------------------------------------------

    def backlog(self, room: str, message: Message, out: Outbound) -> None:
        catch_up = self._catching_up.get(room)
        if catch_up is not None:
            catch_up.pending.append((message, out))

    # input ----------------------------------------------------------------------------------------

    def handle(self, data: bytes | str) -> None:
        """One text frame from the client."""
        try:
            frame = decode_client_frame(data)
            if self.user is None and not isinstance(frame, Auth):
                raise ProtocolError(ErrorCode.UNAUTHENTICATED, 'send {"type":"auth","token":...} first',
                                    frame.ref)
            self._dispatch(frame)
        except ProtocolError as exc:
            self.sink.write(Outbound(exc.frame()))
        except Exception:
            log.exception("handling a frame from %s failed", self.user)
            self._error(ErrorCode.INTERNAL, "internal error", None)

    def _dispatch(self, frame: object) -> None:
        match frame:
            case Send():
                self._send(frame)
            case Typing():
                self._typing(frame)
            case Join():
                self._join(frame)
            case Leave():
                self._leave(frame)
            case History():
                self._history(frame)
            case Ping():
                self.sink.write(Outbound(encode(Pong(ref=frame.ref))))
            case Auth():
                self._auth(frame)

    def _error(self, code: ErrorCode, message: str, ref: Ref) -> None:
        if not self.closed:
            self.sink.write(Outbound(encode(Error(code=code.value, message=message, ref=ref))))

    def _spawn(self, coro: object) -> None:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _member_of(self, room: str, ref: Ref) -> None:
        if room not in self.rooms:
            raise ProtocolError(ErrorCode.NOT_JOINED, f"join {room!r} first", ref)

    def handle_binary(self, data: bytes) -> None:
        self._error(ErrorCode.UNSUPPORTED, "binary frames are not supported; send JSON text frames", None)

    # frames ---------------------------------------------------------------------------------------

    def _auth(self, frame: Auth) -> None:
        if self.user is not None:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "already authenticated", frame.ref)
        try:
            self.user = self.service.authenticate(frame.token)
        except InvalidToken as exc:
            self._error(ErrorCode.UNAUTHENTICATED, str(exc), frame.ref)
            self.sink.close(CloseCode.UNAUTHENTICATED, str(exc))
            return
        s = self.service.settings
        self.sink.write(Outbound(encode(Ready(user=self.user, heartbeat=s.heartbeat, max_text=s.max_text,
                                              server="parley", ref=frame.ref))))

    def _send(self, frame: Send) -> None:
        self._member_of(frame.room, frame.ref)
        if not frame.text:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "text must not be empty", frame.ref)
        if len(frame.text) > self.service.settings.max_text:
            raise ProtocolError(ErrorCode.TOO_LONG,
                                f"text is longer than {self.service.settings.max_text} characters", frame.ref)
        if not self.bucket.take():
            raise ProtocolError(ErrorCode.RATE_LIMITED, "too many messages; slow down", frame.ref)
        ref = frame.ref
        assert self.user is not None
        self.service.post(frame.room, self.user, frame.text, frame.client_id,
                          lambda saved, error: self._stored(saved, error, ref))

    def _stored(self, saved: Saved | None, error: Exception | None, ref: Ref) -> None:
        if self.closed:
            return
        if saved is None:
            if isinstance(error, StoreUnavailable):
                self._error(ErrorCode.UNAVAILABLE, "message not stored: storage unavailable, retry", ref)
            else:
                self._error(ErrorCode.INTERNAL, "message not stored: internal error", ref)
            return
        m = saved.message
        self.sink.write(Outbound(encode(Ack(room=m.room, client_id=m.client_id, seq=m.seq, ts=m.ts,
                                            duplicate=saved.duplicate, ref=ref))))

    def _typing(self, frame: Typing) -> None:
        self._member_of(frame.room, frame.ref)
        now = time.monotonic()
        if now - self._typing_at.get(frame.room, -TYPING_INTERVAL) < TYPING_INTERVAL:
            return
        self._typing_at[frame.room] = now
        assert self.user is not None
        self.service.broker.publish_typing(frame.room, self.user)

    def _join(self, frame: Join) -> None:
        if frame.room in self._catching_up:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"already joining {frame.room!r}", frame.ref)
        if frame.room not in self.rooms and len(self.rooms) >= MAX_ROOMS:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"a connection may be in at most {MAX_ROOMS} rooms; "
                                "leave one first", frame.ref)
        self.rooms.add(frame.room)
        catch_up = self._catching_up[frame.room] = CatchUp()
        self.service.hub.join(self, frame.room)
        self._spawn(self._catch_up(frame, catch_up))

    def _still(self, room: str, catch_up: CatchUp) -> bool:
        """Whether the join that owns `catch_up` is still the current one (not left, not joined again)."""
        return not self.closed and self._catching_up.get(room) is catch_up

    async def _catch_up(self, frame: Join, mine: CatchUp) -> None:
        """joined, then every stored message after `since`, then what arrived live meanwhile.

        Live delivery on this node may be behind the store (messages still on their way from a commit or
        from another node) or ahead of it. Hub.align lines it up with the replay; whatever lies between
        comes from the messages kept aside or from the store. The hand-over to live delivery happens with
        no await after the last check, so each message reaches this connection exactly once, in order.
        A leave (and a new join) while this runs makes it stop: only the current join's task goes on.
        """
        room, store, hub = frame.room, self.service.store, self.service.hub
        try:
            last = await store.ensure_room(room)
            online = await self.service.broker.online(room, hub.online(room))
            if not self._still(room, mine):
                return
            self.sink.write(Outbound(encode(Joined(room=room, last_seq=last, online=online, ref=frame.ref))))
            done = frame.since if frame.since is not None else last
            await self._replay(room, done, last, mine)
            done = max(done, last)
            upto = await hub.align(room, last)
            while upto > done and self._still(room, mine):
                if not self._from_backlog(room, done, upto):
                    await self._replay(room, done, upto, mine)
                done = upto
                upto = hub.delivered_seq(room)
        except StoreUnavailable:
            if self._still(room, mine):
                self._error(ErrorCode.UNAVAILABLE, f"cannot join {room!r} now: storage unavailable", frame.ref)
                self._drop_room(room)
            return
        except Exception:
            log.exception("joining %s for %s failed", room, self.user)
            if self._still(room, mine):
                self._error(ErrorCode.INTERNAL, f"cannot join {room!r}: internal error", frame.ref)
                self._drop_room(room)
            return
        if not self._still(room, mine):
            return
        del self._catching_up[room]
        for m, out in mine.pending:
            if m.seq > done:
                self.sink.write(out)
        hub.activate(self, room)

    async def _replay(self, room: str, after: int, upto: int, mine: CatchUp) -> None:
        """Write the stored messages of `room` with after < seq <= upto, in pages."""
        store = self.service.store
        while after < upto:
            page = await store.messages_after(room, after, min(REPLAY_PAGE, upto - after))
            if not page or not self._still(room, mine):
                return
            for m in page:
                self.sink.write(Outbound(encode(m)))
            after = page[-1].seq

    def _from_backlog(self, room: str, after: int, upto: int) -> bool:
        """Write after < seq <= upto from the live messages kept aside while joining, if they are all there."""
        catch_up = self._catching_up.get(room)
        run = [(m, out) for m, out in catch_up.pending if after < m.seq <= upto] if catch_up else []
        if [m.seq for m, _ in run] != list(range(after + 1, upto + 1)):
            return False
        for _, out in run:
            self.sink.write(out)
        return True

    def _leave(self, frame: Leave) -> None:
        self._drop_room(frame.room)
        self.sink.write(Outbound(encode(Left(room=frame.room, ref=frame.ref))))

    def _drop_room(self, room: str) -> None:
        if room in self.rooms:
            self.rooms.discard(room)
            self._catching_up.pop(room, None)
            self.service.hub.leave(self, room)

    def _history(self, frame: History) -> None:
        self._member_of(frame.room, frame.ref)
        self._spawn(self._history_page(frame))

    async def _history_page(self, frame: History) -> None:
        try:
            page = await self.service.store.messages_before(frame.room, frame.before,
                                                            min(frame.limit, HISTORY_LIMIT_MAX))
        except StoreUnavailable:
            self._error(ErrorCode.UNAVAILABLE, "history unavailable: storage unavailable", frame.ref)
            return
        except Exception:
            log.exception("history of %s for %s failed", frame.room, self.user)
            self._error(ErrorCode.INTERNAL, "history unavailable: internal error", frame.ref)
            return
        if not self.closed:
            self.sink.write(Outbound(encode(HistoryPage(room=frame.room, messages=page, ref=frame.ref))))

    def handle_timeout(self) -> None:
        """No `auth` within the allowed time."""
        self._error(ErrorCode.UNAUTHENTICATED, "no auth frame in time", None)
        self.sink.close(CloseCode.UNAUTHENTICATED, "authentication timeout")

    # end ------------------------------------------------------------------------------------------

    def close(self) -> None:
        """The connection is gone: leave every room (presence goes offline) and stop pending work."""
        if self.closed:
            return
        self.closed = True
        for room in list(self.rooms):
            self._drop_room(room)
        for task in list(self._tasks):
            task.cancel()
