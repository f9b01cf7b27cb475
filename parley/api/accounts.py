"""REST routes for accounts: register, login, the caller's own account, the user directory and invite codes."""

from aiohttp import web

from parley.api.common import SERVICE, caller, caller_token, fail, json_response, no_content, read_body
from parley.store import Invite


def _token(token: str, user: str, expires: int, status: int = 200) -> web.Response:
    return json_response({"token": token, "user": user, "expires": expires}, status=status)


def _invite(invite: Invite) -> dict[str, object]:
    return {"code": invite.code, "uses": invite.uses_left, "expires": invite.expires_ms // 1000,
            "created_by": invite.created_by}


async def info(request: web.Request) -> web.Response:
    s = request.app[SERVICE].settings
    return json_response({"registration": s.registration, "room_creation": s.room_creation, "max_text": s.max_text,
                          "max_upload": s.max_upload, "max_rooms": s.max_rooms})


async def register(request: web.Request) -> web.Response:
    body = await read_body(request)
    accounts = request.app[SERVICE].accounts
    return _token(*await accounts.register(body.get("username"), body.get("password"), body.get("invite")),
                  status=201)


async def login(request: web.Request) -> web.Response:
    body = await read_body(request)
    accounts = request.app[SERVICE].accounts
    return _token(*await accounts.login(body.get("username"), body.get("password"), request.remote or ""))


async def me(request: web.Request) -> web.Response:
    user = await caller(request)
    accounts = request.app[SERVICE].accounts
    profile = await accounts.profiles.profile(user)
    return json_response({"user": user, "admin": await accounts.admin(user), "display_name": profile.display_name,
                          "avatar": profile.avatar is not None})


async def change_password(request: web.Request) -> web.Response:
    user = await caller(request)
    body = await read_body(request)
    accounts = request.app[SERVICE].accounts
    return _token(*await accounts.change_password(user, body.get("password"), body.get("new_password"),
                                                  request.remote or ""))


async def sign_out(request: web.Request) -> web.Response:
    """Revoke the token of the request, or (`{"everywhere": true}`) every token of the account."""
    bearer = await caller_token(request)
    body = await read_body(request) if request.can_read_body else {}
    everywhere = body.get("everywhere", False)
    if not isinstance(everywhere, bool):
        raise fail(400, "bad_request", "everywhere must be true or false")
    accounts = request.app[SERVICE].accounts
    if everywhere:
        await accounts.sign_out_everywhere(bearer.user)
    else:
        await accounts.sign_out(bearer)
    return no_content()


async def find_users(request: web.Request) -> web.Response:
    await caller(request)
    prefix = request.query.get("prefix", "")
    if len(prefix) > 32:
        raise fail(400, "bad_request", "prefix is longer than a username can be")
    try:
        limit = int(request.query.get("limit", "20"))
    except ValueError:
        raise fail(400, "bad_request", "limit must be an integer") from None
    return json_response({"users": await request.app[SERVICE].accounts.find(prefix, limit)})


async def _admin(request: web.Request) -> str:
    user = await caller(request)
    if not await request.app[SERVICE].accounts.admin(user):
        raise fail(403, "forbidden", "only server admins may manage invites")
    return user


async def create_invite(request: web.Request) -> web.Response:
    user = await _admin(request)
    body = await read_body(request)
    invite = await request.app[SERVICE].accounts.create_invite(user, body.get("uses", 1),
                                                               body.get("expires_in", 7 * 24 * 3600))
    return json_response(_invite(invite), status=201)


async def list_invites(request: web.Request) -> web.Response:
    await _admin(request)
    return json_response({"invites": [_invite(i) for i in await request.app[SERVICE].accounts.invites()]})


async def delete_invite(request: web.Request) -> web.Response:
    await _admin(request)
    if not await request.app[SERVICE].accounts.delete_invite(request.match_info["code"]):
        raise fail(404, "not_found", "no such invite")
    return no_content()


def add_account_routes(app: web.Application) -> None:
    app.router.add_get("/api/info", info)
    app.router.add_post("/api/register", register)
    app.router.add_post("/api/login", login)
    app.router.add_get("/api/me", me)
    app.router.add_post("/api/me/password", change_password)
    app.router.add_post("/api/me/signout", sign_out)
    app.router.add_get("/api/users", find_users)
    app.router.add_post("/api/invites", create_invite)
    app.router.add_get("/api/invites", list_invites)
    app.router.add_delete("/api/invites/{code}", delete_invite)
