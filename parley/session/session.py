"""One client's conversation with the server, independent of the transport that carries it.

A transport feeds `handle()` one text frame at a time and gives the session a Sink to write to. The
session decodes the frame, checks that it has authenticated, and calls the frame's handler
(session/handlers.py, looked up in session/dispatch.py), which turns it into calls on the chat service.
The session is also the hub's member for each room it joined (`push`, `backlog`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from parley.protocol import CloseCode, ErrorCode, Outbound, ProtocolError, decode_client_frame, encode
from parley.protocol.events import RoomEvent
from parley.protocol.frames import ClientFrame, Error, Ref, Removed
from parley.service.policy import Refused
from parley.session.catchup import CatchUp
from parley.session.dispatch import HANDLERS
from parley.transports.sink import Disconnect, Sink, unauthenticated

if TYPE_CHECKING:
    from parley.service import ChatService

log = logging.getLogger("parley.session")

MAX_HELD = 100  # frames kept while `auth` waits for the store; a client should wait for `ready` anyway


class Session:
    __slots__ = ("_tasks", "catching_up", "closed", "ending", "gen", "held", "push", "rooms", "service", "sink",
                 "token_id", "typing_at", "user")

    def __init__(self, service: ChatService, sink: Sink) -> None:
        self.service = service
        self.sink = sink
        self.push: Callable[[Outbound], None] = sink.write  # the hub's fan-out calls this per member
        self.user = ""  # set by auth; empty until then
        self.gen = 0  # the token generation it authenticated with (a newer one revokes the session)
        self.token_id = ""  # the id of that token (signing out revokes it alone)
        self.rooms: set[str] = set()
        self.closed = False
        self.catching_up: dict[str, CatchUp] = {}  # room -> the join in progress
        self.typing_at: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.ending = False  # end() was called: the connection is closing
        self.held: list[bytes | str] | None = None  # frames received while the account is being confirmed

    # Member protocol (for the hub) ----------------------------------------------------------------

    def backlog(self, room: str, event: RoomEvent, out: Outbound) -> None:
        catch_up = self.catching_up.get(room)
        if catch_up is not None:
            catch_up.pending.append((event, out))

    # input ----------------------------------------------------------------------------------------

    def handle(self, data: bytes | str) -> None:
        """One text frame from the client."""
        held = self.held
        if held is not None:
            if len(held) < MAX_HELD:
                held.append(data)
            elif not self.ending:  # a client should wait for `ready`: refuse rather than drop in silence
                self.end(Disconnect(CloseCode.POLICY, "too many frames before ready", reconnect=True))
            return
        try:
            frame = decode_client_frame(data)
        except ProtocolError as exc:
            self.sink.write(Outbound(exc.frame()))
            return
        self.dispatch(frame)

    def dispatch(self, frame: ClientFrame) -> None:
        """Run the handler of a decoded client frame; what it refuses is answered as an error frame."""
        try:
            entry = HANDLERS[type(frame)]
            if not self.user and entry.needs_auth:
                raise ProtocolError(ErrorCode.UNAUTHENTICATED, 'send {"type":"auth","token":...} first', frame.ref)
            entry.fn(self, frame)
        except ProtocolError as exc:
            self.sink.write(Outbound(exc.frame()))
        except Refused as exc:
            self.error(exc.code, exc.message, frame.ref)
        except Exception:
            log.exception("handling a frame from %s failed", self.user)
            self.error(ErrorCode.INTERNAL, "internal error", None)

    def handle_binary(self, data: bytes) -> None:
        self.error(ErrorCode.UNSUPPORTED, "binary frames are not supported; send JSON text frames", None)

    def handle_timeout(self) -> None:
        """No `auth` within the allowed time."""
        self.error(ErrorCode.UNAUTHENTICATED, "no auth frame in time", None)
        self.end(unauthenticated("authentication timeout"))

    # helpers for handlers -------------------------------------------------------------------------

    def send(self, frame: object) -> None:
        """Encode and queue a server frame for this client."""
        if not self.closed:
            self.sink.write(Outbound(encode(frame)))

    def error(self, code: ErrorCode, message: str, ref: Ref) -> None:
        self.send(Error(code=code.value, message=message, ref=ref))

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `coro` as part of this session: cancelled when the session ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def require_member(self, room: str, ref: Ref) -> None:
        if room not in self.rooms:
            raise ProtocolError(ErrorCode.NOT_JOINED, f"join {room!r} first", ref)

    def drop_room(self, room: str) -> None:
        if room in self.rooms:
            self.rooms.discard(room)
            self.catching_up.pop(room, None)
            self.service.unsubscribe(self, room)

    def authenticated(self, user: str, gen: int = 0, token_id: str = "") -> None:
        self.user = user
        self.gen = gen
        self.token_id = token_id
        self.service.sessions.add(self)

    def removed(self, room: str, reason: str, by: str) -> None:
        """The user is no longer a member of `room` (kicked, banned, left elsewhere, room deleted)."""
        if room in self.rooms:
            self.drop_room(room)
            self.send(Removed(room=room, reason=reason, by=by))

    def end(self, disconnect: Disconnect) -> None:
        """End the conversation from the server's side (the transport then calls close())."""
        self.ending = True
        self.sink.close(disconnect)

    # end ------------------------------------------------------------------------------------------

    def close(self) -> None:
        """The connection is gone: leave every room (presence goes offline) and stop pending work."""
        if self.closed:
            return
        self.closed = True
        for room in list(self.rooms):
            self.drop_room(room)
        self.service.sessions.remove(self)
        for task in list(self._tasks):
            task.cancel()
