"""The REST API: accounts, room listing, history, and posting messages from backends and bots."""

import asyncio
import math
import os
from typing import Any

import msgspec
from aiohttp import web

from parley.auth import InvalidToken
from parley.protocol import ErrorCode, encode
from parley.protocol.names import HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX, MAX_SEQ, valid_client_id, valid_room
from parley.service import AccountError, ChatService, Refused
from parley.store import StoreRejected, StoreUnavailable

SERVICE = web.AppKey("service", ChatService)
ROOMS_PAGE_DEFAULT, ROOMS_PAGE_MAX = 100, 1000


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(body=encode(body), status=status, content_type="application/json")


def _fail(status: int, code: str, message: str, retry_after: float | None = None) -> web.HTTPException:
    cls = {400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 403: web.HTTPForbidden, 404: web.HTTPNotFound,
           408: web.HTTPRequestTimeout, 409: web.HTTPConflict, 413: web.HTTPRequestEntityTooLarge,
           415: web.HTTPUnsupportedMediaType, 429: web.HTTPTooManyRequests, 503: web.HTTPServiceUnavailable}[status]
    extra = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 429:
        extra = {"Retry-After": str(max(1, math.ceil(retry_after or 1)))}
    return cls(body=encode({"error": code, "message": message}), content_type="application/json", headers=extra)


async def _body(request: web.Request) -> dict[str, Any]:
    # Only JSON: a browser may send text/plain or a form cross-site without asking (no CORS preflight), so
    # accepting those would let any web page register accounts or post with a token it got hold of.
    if request.content_type != "application/json":
        raise _fail(415, "unsupported", "send the body as JSON with Content-Type: application/json")
    limit = request.app[SERVICE].settings.request_timeout
    try:
        async with asyncio.timeout(limit):
            raw = await request.read()
    except TimeoutError:
        raise _fail(408, "timeout", f"the request body did not arrive within {limit:g} s") from None
    try:
        body = msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):  # not JSON, or invalid UTF-8 inside a string
        raise _fail(400, "bad_request", "body must be JSON") from None
    except RecursionError:  # msgspec's depth limit
        raise _fail(400, "bad_request", "body is nested too deeply") from None
    if not isinstance(body, dict):
        raise _fail(400, "bad_request", "body must be a JSON object")
    return body


async def _user(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _fail(401, "unauthorized", "send Authorization: Bearer <token>")
    try:
        return await request.app[SERVICE].authenticate_user(token.strip())
    except InvalidToken as exc:
        raise _fail(401, "unauthorized", str(exc)) from None


def _room(request: web.Request) -> str:
    room = request.match_info["room"]
    if not valid_room(room):
        raise _fail(400, "bad_request", "room must be 1-64 characters of letters, digits, '.', '_' or '-'")
    return room


def _int(request: web.Request, name: str, default: int | None, low: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _fail(400, "bad_request", f"{name} must be an integer") from None
    if not low <= value <= MAX_SEQ:
        raise _fail(400, "bad_request", f"{name} must be an integer from {low} to 2^63-1")
    return value


async def register(request: web.Request) -> web.Response:
    body = await _body(request)
    try:
        token, user, expires = await request.app[SERVICE].register(body.get("username"), body.get("password"))
    except AccountError as exc:
        raise _fail(exc.status, exc.code, exc.message, exc.retry_after) from None
    return _json({"token": token, "user": user, "expires": expires}, status=201)


async def login(request: web.Request) -> web.Response:
    body = await _body(request)
    try:
        token, user, expires = await request.app[SERVICE].login(body.get("username"), body.get("password"),
                                                                request.remote or "")
    except AccountError as exc:
        raise _fail(exc.status, exc.code, exc.message, exc.retry_after) from None
    return _json({"token": token, "user": user, "expires": expires})


async def list_rooms(request: web.Request) -> web.Response:
    user = await _user(request)
    after = request.query.get("after")
    if after is not None and not valid_room(after):
        raise _fail(400, "bad_request", "after must be a room name (the `next` of the previous page)")
    limit = _int(request, "limit", ROOMS_PAGE_DEFAULT, 1) or 1
    if limit > ROOMS_PAGE_MAX:
        raise _fail(400, "bad_request", f"limit must be at most {ROOMS_PAGE_MAX}")
    rooms, following = await request.app[SERVICE].rooms(user, after, limit)
    return _json({"rooms": [{"name": r.name, "last_seq": r.last_seq} for r in rooms], "next": following})


async def room_messages(request: web.Request) -> web.Response:
    user = await _user(request)
    room = _room(request)
    service = request.app[SERVICE]
    limit = min(_int(request, "limit", HISTORY_LIMIT_DEFAULT, 1) or 1, HISTORY_LIMIT_MAX)
    after = _int(request, "after", None, 0)
    before = _int(request, "before", None, 0)
    if after is not None and before is not None:
        raise _fail(400, "bad_request", "give after or before, not both")
    if after is not None:
        events = await service.events_after(user, room, after, limit)
    else:
        events = await service.history(user, room, before, limit)
    return _json({"messages": events})


async def post_message(request: web.Request) -> web.Response:
    user = await _user(request)
    room = _room(request)
    body = await _body(request)
    service = request.app[SERVICE]
    text, client_id = body.get("text"), body.get("client_id")
    if not isinstance(text, str) or not text:
        raise _fail(400, "bad_request", "text must be a non-empty string")
    if client_id is not None and not valid_client_id(client_id):
        raise _fail(400, "bad_request", "client_id must be a string of 1-128 characters, without U+0000")
    saved = await service.post_wait(user, room, text, client_id)
    return _json(saved.event, status=200 if saved.duplicate else 201)


async def healthz(request: web.Request) -> web.Response:
    await request.app[SERVICE].health()
    return _json({"status": "ok", "pid": os.getpid()})  # pid: which process answered (--workers)


# the HTTP status of each error code the service refuses with
_STATUS = {ErrorCode.BAD_REQUEST: 400, ErrorCode.TOO_LONG: 400, ErrorCode.NOT_FOUND: 404,
           ErrorCode.RATE_LIMITED: 429, ErrorCode.UNAVAILABLE: 503}


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """What the service refuses answers with its code and a matching status; a store outage answers
    503 {"error":"unavailable"} instead of a stack trace."""
    try:
        return await handler(request)
    except Refused as exc:
        raise _fail(_STATUS.get(exc.code, 403), exc.code.value, exc.message) from None
    except StoreUnavailable as exc:
        raise _fail(503, "unavailable", f"storage unavailable: {exc}") from None
    except StoreRejected as exc:
        raise _fail(400, "bad_request", f"the store refused it: {exc}") from None


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/register", register)
    app.router.add_post("/api/login", login)
    app.router.add_get("/api/rooms", list_rooms)
    app.router.add_get("/api/rooms/{room}/messages", room_messages)
    app.router.add_post("/api/rooms/{room}/messages", post_message)
    app.router.add_get("/healthz", healthz)
