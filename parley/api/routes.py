"""Every REST route: accounts (api/accounts.py), rooms (api/rooms.py), long-polling (api/poll.py), files
(api/files.py), calls (api/calls.py), profiles (api/profiles.py) and the health check."""

import os

from aiohttp import web

from parley.api.accounts import add_account_routes
from parley.api.calls import add_call_routes
from parley.api.common import SERVICE, json_response
from parley.api.files import add_file_routes
from parley.api.poll import add_poll_routes
from parley.api.profiles import add_profile_routes
from parley.api.rooms import add_room_routes


async def healthz(request: web.Request) -> web.Response:
    await request.app[SERVICE].health()
    return json_response({"status": "ok", "pid": os.getpid()})  # pid: which process answered (--workers)


def add_routes(app: web.Application) -> None:
    add_account_routes(app)
    add_room_routes(app)
    add_poll_routes(app)
    add_file_routes(app)
    add_call_routes(app)
    add_profile_routes(app)
    app.router.add_get("/healthz", healthz)
