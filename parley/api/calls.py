"""REST routes for calls: the ICE servers (with TURN credentials) a browser needs before it calls, and call
signalling for clients without a WebSocket (long-polling), the `signal` frame over HTTP."""

import msgspec
from aiohttp import web

from parley.api.common import SERVICE, caller, fail, json_response, no_content, read_body, room_param
from parley.protocol.frames import Signal
from parley.service.ice import ice_servers


async def ice(request: web.Request) -> web.Response:
    user = await caller(request)
    s = request.app[SERVICE].settings
    return json_response({"ice_servers": ice_servers(s.ice_servers, s.turn_secret, user, s.turn_ttl),
                          "ttl": s.turn_ttl})


async def signal(request: web.Request) -> web.Response:
    user = await caller(request)
    room = room_param(request)
    body = await read_body(request)
    try:
        frame = msgspec.convert({**body, "type": "signal", "room": room}, Signal)
    except msgspec.ValidationError as exc:
        raise fail(400, "bad_request", str(exc)) from None
    await request.app[SERVICE].calls.signal(user, frame)
    return no_content()


def add_call_routes(app: web.Application) -> None:
    app.router.add_get("/api/ice", ice)
    app.router.add_post("/api/rooms/{room}/signal", signal)
