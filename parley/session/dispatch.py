"""The table of frame handlers: each client frame type has one small function, registered with `handles`.

    @handles(Send)
    def send(session: Session, frame: Send) -> None: ...

A new frame is a struct in protocol/frames.py (added to ClientFrame) and a handler registered here;
`Session.handle` looks it up by type. Handlers live in session/handlers.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

if TYPE_CHECKING:
    from parley.session.session import Session

F = TypeVar("F")
HandlerFn = Callable[["Session", Any], None]


class Entry(NamedTuple):
    fn: HandlerFn
    needs_auth: bool  # refused with `unauthenticated` before the session has authenticated


HANDLERS: dict[type, Entry] = {}


def handles(frame_type: type[F], *, needs_auth: bool = True) -> Callable[[Callable[[Session, F], None]],
                                                                       Callable[[Session, F], None]]:
    """Register the decorated function as the handler of `frame_type`."""

    def register(fn: Callable[[Session, F], None]) -> Callable[[Session, F], None]:
        if frame_type in HANDLERS:
            raise ValueError(f"{frame_type.__name__} already has a handler")
        HANDLERS[frame_type] = Entry(fn, needs_auth)
        return fn

    return register
