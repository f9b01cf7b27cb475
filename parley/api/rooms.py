"""REST routes for rooms: the directory, creating rooms and DMs, members and moderation, read markers, history,
and posting messages from backends and bots. Every route goes through the same service calls, and so the
same room policy, as the WebSocket frames."""

from dataclasses import asdict

from aiohttp import web

from parley.api.common import (
    MAX_DIGITS,
    ROOMS_PAGE_DEFAULT,
    ROOMS_PAGE_MAX,
    SERVICE,
    caller,
    fail,
    int_param,
    json_response,
    no_content,
    read_body,
    room_param,
)
from parley.protocol.names import (
    HISTORY_LIMIT_DEFAULT,
    HISTORY_LIMIT_MAX,
    MAX_SEQ,
    MAX_TOPIC,
    NUL,
    SEARCH_OFFSET_MAX,
    SEARCH_PAGE,
    SEARCH_PAGE_MAX,
    room_key,
    valid_client_id,
    valid_room,
)
from parley.service.rooms import RoomView


def _view(view: RoomView) -> dict[str, object]:
    return asdict(view)


async def directory(request: web.Request) -> web.Response:
    await caller(request)
    after = request.query.get("after")
    if after is not None and not valid_room(after):
        raise fail(400, "bad_request", "after must be a room name (the `next` of the previous page)")
    limit = int_param(request, "limit", ROOMS_PAGE_DEFAULT, 1) or 1
    if limit > ROOMS_PAGE_MAX:
        raise fail(400, "bad_request", f"limit must be at most {ROOMS_PAGE_MAX}")
    words = request.query.get("q", "").strip()
    if len(words) > MAX_TOPIC or NUL in words:
        raise fail(400, "bad_request", f"q must be at most {MAX_TOPIC} characters, without U+0000")
    rooms, following = await request.app[SERVICE].directory(after and room_key(after), limit, words)
    return json_response({"rooms": [{"name": r.name, "topic": r.topic, "members": r.members, "last_seq": r.last_seq}
                                    for r in rooms], "next": following})


async def create_room(request: web.Request) -> web.Response:
    user = await caller(request)
    body = await read_body(request)
    view = await request.app[SERVICE].rooms.create(user, body.get("name"), body.get("visibility", "public"),
                                                   body.get("topic", ""))
    return json_response(_view(view), status=201)


async def view_room(request: web.Request) -> web.Response:
    user = await caller(request)
    return json_response(_view(await request.app[SERVICE].rooms.view(user, room_param(request))))


async def room_members(request: web.Request) -> web.Response:
    user = await caller(request)
    return json_response(await request.app[SERVICE].rooms.members(user, room_param(request)))


async def join_room(request: web.Request) -> web.Response:
    user = await caller(request)
    room = room_param(request)
    rooms = request.app[SERVICE].rooms
    await rooms.become_member(user, room)
    return json_response(_view(await rooms.view(user, room)))


async def manage(request: web.Request) -> web.Response:
    user = await caller(request)
    room = room_param(request)
    body = await read_body(request)
    seq = await request.app[SERVICE].rooms.manage(user, room, body.get("action"), body.get("user"), body.get("role"),
                                                  body.get("topic"), body.get("reason"))
    return json_response({"seq": seq})


async def delete_room(request: web.Request) -> web.Response:
    user = await caller(request)
    await request.app[SERVICE].rooms.manage(user, room_param(request), "delete")
    return no_content()


async def mark_read(request: web.Request) -> web.Response:
    user = await caller(request)
    room = room_param(request)
    body = await read_body(request)
    seq = body.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**63:
        raise fail(400, "bad_request", "seq must be a non-negative integer")
    await request.app[SERVICE].rooms.mark_read(user, room, seq)
    return no_content()


async def open_dm(request: web.Request) -> web.Response:
    user = await caller(request)
    body = await read_body(request)
    view, new = await request.app[SERVICE].rooms.open_dm(user, body.get("users"))
    return json_response(_view(view), status=201 if new else 200)


async def my_rooms(request: web.Request) -> web.Response:
    user = await caller(request)
    return json_response({"rooms": await request.app[SERVICE].rooms.mine(user)})


async def room_messages(request: web.Request) -> web.Response:
    user = await caller(request)
    room = room_param(request)
    service = request.app[SERVICE]
    limit = min(int_param(request, "limit", HISTORY_LIMIT_DEFAULT, 1) or 1, HISTORY_LIMIT_MAX)
    after = int_param(request, "after", None, 0)
    before = int_param(request, "before", None, 0)
    if after is not None and before is not None:
        raise fail(400, "bad_request", "give after or before, not both")
    if after is not None:
        events = await service.events_after(user, room, after, limit)
    else:
        events = await service.history(user, room, before, limit)
    return json_response({"messages": events})


async def post_message(request: web.Request) -> web.Response:
    user = await caller(request)
    room = room_param(request)
    body = await read_body(request)
    service = request.app[SERVICE]
    text, client_id, reply_to = body.get("text"), body.get("client_id"), body.get("reply_to")
    if not isinstance(text, str) or not text:
        raise fail(400, "bad_request", "text must be a non-empty string")
    if client_id is not None and not valid_client_id(client_id):
        raise fail(400, "bad_request", "client_id must be a string of 1-128 characters, without U+0000")
    if reply_to is not None and not _is_seq(reply_to):
        raise fail(400, "bad_request", "reply_to must be the seq of a message in this room")
    saved = await service.post_wait(user, room, text, client_id, reply_to)
    return json_response(saved.event, status=200 if saved.duplicate else 201)


def _is_seq(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_SEQ


def _message_seq(request: web.Request) -> int:
    raw = request.match_info["seq"]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= MAX_DIGITS) or not _is_seq(int(raw)):
        raise fail(400, "bad_request", "the message must be named by its seq, an integer from 1 to 2^63-1")
    return int(raw)


async def edit_message(request: web.Request) -> web.Response:
    user = await caller(request)
    room, seq = room_param(request), _message_seq(request)
    body = await read_body(request)
    return json_response({"seq": await request.app[SERVICE].messages.edit(user, room, seq, body.get("text"))})


async def delete_message(request: web.Request) -> web.Response:
    user = await caller(request)
    room, seq = room_param(request), _message_seq(request)
    return json_response({"seq": await request.app[SERVICE].messages.delete(user, room, seq)})


async def react(request: web.Request) -> web.Response:
    user = await caller(request)
    room, seq = room_param(request), _message_seq(request)
    body = await read_body(request)
    return json_response({"seq": await request.app[SERVICE].messages.react(user, room, seq, body.get("emoji"),
                                                                           body.get("on", True))})


async def notify(request: web.Request) -> web.Response:
    user = await caller(request)
    room = room_param(request)
    body = await read_body(request)
    await request.app[SERVICE].rooms.set_notify(user, room, body.get("level"))
    return no_content()


async def typing(request: web.Request) -> web.Response:
    user = await caller(request)
    await request.app[SERVICE].typed(user, room_param(request))
    return no_content()


async def search(request: web.Request) -> web.Response:
    user = await caller(request)
    q = request.query
    room = q.get("room")
    if room is not None and not valid_room(room):
        raise fail(400, "bad_request", "room must be a room name")
    room = room and room_key(room)
    limit = int_param(request, "limit", SEARCH_PAGE, 1) or SEARCH_PAGE
    if limit > SEARCH_PAGE_MAX:
        raise fail(400, "bad_request", f"limit must be at most {SEARCH_PAGE_MAX}")
    offset = int_param(request, "offset", 0, 0) or 0
    if offset > SEARCH_OFFSET_MAX:
        raise fail(400, "bad_request", f"offset must be at most {SEARCH_OFFSET_MAX}: narrow the search instead")
    found = await request.app[SERVICE].messages.search(user, q.get("q"), room, q.get("from"), limit, offset)
    return json_response({"results": found, "next": offset + limit if len(found) == limit else None})


def add_room_routes(app: web.Application) -> None:
    app.router.add_get("/api/rooms", directory)
    app.router.add_post("/api/rooms", create_room)
    app.router.add_get("/api/rooms/{room}", view_room)
    app.router.add_delete("/api/rooms/{room}", delete_room)
    app.router.add_get("/api/rooms/{room}/members", room_members)
    app.router.add_post("/api/rooms/{room}/join", join_room)
    app.router.add_post("/api/rooms/{room}/manage", manage)
    app.router.add_post("/api/rooms/{room}/read", mark_read)
    app.router.add_post("/api/rooms/{room}/typing", typing)
    app.router.add_post("/api/rooms/{room}/notify", notify)
    app.router.add_get("/api/rooms/{room}/messages", room_messages)
    app.router.add_post("/api/rooms/{room}/messages", post_message)
    app.router.add_patch("/api/rooms/{room}/messages/{seq}", edit_message)
    app.router.add_delete("/api/rooms/{room}/messages/{seq}", delete_message)
    app.router.add_post("/api/rooms/{room}/messages/{seq}/reactions", react)
    app.router.add_post("/api/dms", open_dm)
    app.router.add_get("/api/me/rooms", my_rooms)
    app.router.add_get("/api/search", search)
