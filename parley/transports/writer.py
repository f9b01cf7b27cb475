"""Coalesced output: frames queued for a connection during one loop iteration go out in one write.

Connections with queued frames register with the loop's Flusher, which runs once at the start of
the next iteration and writes each connection's frames with a single transport.write.
"""

import asyncio
import logging
from typing import Protocol

log = logging.getLogger("parley.ws")


class Flushable(Protocol):
    def flush(self) -> None: ...

    def discard(self) -> None:
        """Drop what is queued (after flush failed)."""


class Flusher:
    __slots__ = ("_dirty", "_loop", "_scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._dirty: list[Flushable] = []
        self._scheduled = False

    def mark(self, conn: Flushable) -> None:
        self._dirty.append(conn)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        self._scheduled = False
        for conn in dirty:
            try:
                conn.flush()
            except Exception:  # one broken connection must not stall the others queued behind it
                log.exception("writing to a connection failed")
                conn.discard()


_flushers: dict[asyncio.AbstractEventLoop, Flusher] = {}


def flusher() -> Flusher:
    """The Flusher of the running loop."""
    loop = asyncio.get_running_loop()
    f = _flushers.get(loop)
    if f is None:
        f = _flushers[loop] = Flusher(loop)
    return f
