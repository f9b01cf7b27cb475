"""Long-polling over HTTP: `GET`/`POST /api/poll` and `DELETE /api/poll` (docs/protocol.md section 4).

Reads and checks the poll (rooms with cursors, timeout, client id) and hands it to the polling transport
(transports/poll.py), which answers it from what this node keeps for the client or from the store.
"""

import contextlib
import math
import re
from typing import Any

from aiohttp import web

from parley.api.common import MAX_DIGITS, SERVICE, STATUS, caller, caller_token, fail, no_content, read_body
from parley.protocol.names import MAX_SEQ, room_key, valid_room
from parley.transports.poll import Cursors, Pollers, RoomRefused

POLLERS = web.AppKey("pollers", Pollers)
TIMEOUT_DEFAULT, TIMEOUT_MAX = 25.0, 30.0
CLIENT_DEFAULT = "default"
_CLIENT = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")


def _bad(message: str) -> web.HTTPException:
    return fail(400, "bad_request", message)


def _cursor(room: object, seq: object) -> tuple[str, int | None]:
    if not isinstance(room, str) or not valid_room(room):
        raise _bad("each room must be 1-64 characters of letters, digits, '.', '_' or '-'")
    if seq is None:
        return room_key(room), None
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= MAX_SEQ:
        raise _bad(f"the cursor of {room!r} must be an integer from 0 to 2^63-1")
    return room_key(room), seq


def _cursors(entries: list[tuple[object, object]], limit: int) -> Cursors:
    if not entries:
        raise _bad("name at least one room to poll: rooms=general:42,dev:17")
    if len(entries) > limit:
        raise _bad(f"a poll may name at most {limit} rooms")
    out: dict[str, int | None] = {}
    for room, seq in entries:
        name, cursor = _cursor(room, seq)
        if name in out:
            raise _bad(f"room {name!r} is named twice")
        out[name] = cursor
    return out


def _query_rooms(raw: str | None, limit: int) -> Cursors:
    if raw is None or not raw:
        raise _bad("name at least one room to poll: rooms=general:42,dev:17")
    entries: list[tuple[object, object]] = []
    for part in raw.split(","):
        room, sep, seq = part.partition(":")
        if sep and not (seq.isascii() and seq.isdigit() and len(seq) <= MAX_DIGITS):
            raise _bad(f"the cursor of {room!r} must be an integer from 0 to 2^63-1")
        entries.append((room, int(seq) if sep else None))
    return _cursors(entries, limit)


def _timeout(raw: object) -> float:
    """A timeout from the query (a string) or a JSON body (a number)."""
    if raw is None:
        return TIMEOUT_DEFAULT
    value = math.nan
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):
            value = float(raw)
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
        value = float(raw)
    if not 0 <= value <= TIMEOUT_MAX:
        raise _bad(f"timeout must be a number of seconds from 0 to {TIMEOUT_MAX:g}")
    return value


def _client(raw: object) -> str:
    if raw is None:
        return CLIENT_DEFAULT
    if not isinstance(raw, str) or not _CLIENT.match(raw):
        raise _bad("client must be 1-64 letters, digits, '_' or '-'")
    return raw


async def _poll(request: web.Request, cursors: Cursors, timeout: float, client: str) -> web.Response:
    bearer = await caller_token(request)
    try:
        answer = await request.app[POLLERS].poll(bearer, client, cursors, timeout, request.remote or "")
    except RoomRefused as exc:
        code = exc.refused.code
        raise fail(STATUS.get(code, 403), code.value, exc.refused.message, room=exc.room) from None
    return web.Response(body=answer.encode(), content_type="application/json",
                        headers={"Cache-Control": "no-store"})


async def poll_get(request: web.Request) -> web.Response:
    q = request.query
    cursors = _query_rooms(q.get("rooms"), request.app[SERVICE].settings.max_rooms)
    return await _poll(request, cursors, _timeout(q.get("timeout")), _client(q.get("client")))


async def poll_post(request: web.Request) -> web.Response:
    body: dict[str, Any] = await read_body(request)
    rooms = body.get("rooms")
    if not isinstance(rooms, dict):
        raise _bad('rooms must be an object: {"general": 42, "dev": null}')
    cursors = _cursors(list(rooms.items()), request.app[SERVICE].settings.max_rooms)
    timeout = body.get("timeout")
    if isinstance(timeout, str):
        raise _bad("timeout must be a number of seconds")
    return await _poll(request, cursors, _timeout(timeout), _client(body.get("client")))


async def poll_end(request: web.Request) -> web.Response:
    user = await caller(request)
    request.app[POLLERS].end(user, _client(request.query.get("client")))
    return no_content()


def add_poll_routes(app: web.Application) -> None:
    app.router.add_get("/api/poll", poll_get)
    app.router.add_post("/api/poll", poll_post)
    app.router.add_delete("/api/poll", poll_end)
