"""What every REST route shares: JSON answers and errors, reading the body, the caller's token, parameters,
and the middleware that turns refusals and store outages into HTTP answers."""

import asyncio
import math
from typing import Any

import msgspec
from aiohttp import web

from parley.auth import Bearer, InvalidToken
from parley.protocol import ErrorCode, encode
from parley.protocol.names import MAX_SEQ, room_key, valid_room
from parley.service import AccountError, ChatService, Refused
from parley.store import StoreRejected, StoreUnavailable

SERVICE = web.AppKey("service", ChatService)
ROOMS_PAGE_DEFAULT, ROOMS_PAGE_MAX = 100, 1000
MAX_DIGITS = 20  # longer numbers in a URL are out of range whatever they say


def json_response(body: object, status: int = 200) -> web.Response:
    return web.Response(body=encode(body), status=status, content_type="application/json")


class _TooLarge(web.HTTPClientError):
    """413 with our JSON body (aiohttp's own class insists on writing its text)."""

    status_code = 413


def fail(status: int, code: str, message: str, retry_after: float | None = None,
         **extra_fields: object) -> web.HTTPException:
    cls = {400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 403: web.HTTPForbidden, 404: web.HTTPNotFound,
           408: web.HTTPRequestTimeout, 409: web.HTTPConflict, 413: _TooLarge,
           415: web.HTTPUnsupportedMediaType, 429: web.HTTPTooManyRequests, 503: web.HTTPServiceUnavailable}[status]
    extra = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 429:
        extra = {"Retry-After": str(max(1, math.ceil(retry_after or 1)))}
    return cls(body=encode({"error": code, "message": message, **extra_fields}), content_type="application/json",
               headers=extra)


async def read_body(request: web.Request) -> dict[str, Any]:
    # Only JSON: a browser may send text/plain or a form cross-site without asking (no CORS preflight), so
    # accepting those would let any web page register accounts or post with a token it got hold of.
    if request.content_type != "application/json":
        raise fail(415, "unsupported", "send the body as JSON with Content-Type: application/json")
    limit = request.app[SERVICE].settings.request_timeout
    try:
        async with asyncio.timeout(limit):
            raw = await request.read()
    except TimeoutError:
        raise fail(408, "timeout", f"the request body did not arrive within {limit:g} s") from None
    try:
        body = msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):  # not JSON, or invalid UTF-8 inside a string
        raise fail(400, "bad_request", "body must be JSON") from None
    except RecursionError:  # msgspec's depth limit
        raise fail(400, "bad_request", "body is nested too deeply") from None
    if not isinstance(body, dict):
        raise fail(400, "bad_request", "body must be a JSON object")
    return body


async def caller(request: web.Request) -> str:
    """The user of the request's bearer token (401 unless the token is good now)."""
    return (await caller_token(request))[0]


async def caller_token(request: web.Request) -> Bearer:
    """What the request's bearer token says: its user, generation and id (401 unless it is good now)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise fail(401, "unauthorized", "send Authorization: Bearer <token>")
    accounts = request.app[SERVICE].accounts
    try:
        bearer = accounts.authenticate(token.strip())
        await accounts.confirm(bearer.user, bearer.gen)
    except InvalidToken as exc:
        raise fail(401, "unauthorized", str(exc)) from None
    return bearer


def room_param(request: web.Request) -> str:
    room = request.match_info["room"]
    if not valid_room(room):
        raise fail(400, "bad_request", "room must be 1-64 characters of letters, digits, '.', '_' or '-'")
    return room_key(room)


def int_param(request: web.Request, name: str, default: int | None, low: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw) if len(raw) <= MAX_DIGITS else MAX_SEQ + 1  # (Python refuses int() of 4,300+ digits)
    except ValueError:
        raise fail(400, "bad_request", f"{name} must be an integer") from None
    if not low <= value <= MAX_SEQ:
        raise fail(400, "bad_request", f"{name} must be an integer from {low} to 2^63-1")
    return value


def no_content() -> web.Response:
    return web.Response(status=204)


# the HTTP status of each error code the service refuses with
STATUS = {ErrorCode.BAD_REQUEST: 400, ErrorCode.TOO_LONG: 400, ErrorCode.TOO_LARGE: 413, ErrorCode.FORBIDDEN: 403,
          ErrorCode.NOT_FOUND: 404, ErrorCode.CONFLICT: 409, ErrorCode.RATE_LIMITED: 429,
          ErrorCode.UNAVAILABLE: 503}


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """What the service refuses answers with its code and a matching status; a store outage answers
    503 {"error":"unavailable"} instead of a stack trace."""
    try:
        return await handler(request)
    except Refused as exc:
        raise fail(STATUS.get(exc.code, 403), exc.code.value, exc.message) from None
    except AccountError as exc:
        raise fail(exc.status, exc.code, exc.message, exc.retry_after) from None
    except StoreUnavailable as exc:
        raise fail(503, "unavailable", f"storage unavailable: {exc}") from None
    except StoreRejected as exc:
        raise fail(400, "bad_request", f"the store refused it: {exc}") from None
