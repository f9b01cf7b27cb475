"""REST routes for profiles: setting your display name and avatar, reading others' profiles in batches, and
downloading an avatar image with the same safe headers as files and an ETag (its key) to cache it by
(service/profiles.py decides what a display name and an avatar may be)."""

from aiohttp import BodyPartReader, web

from parley.api.common import SERVICE, caller, fail, json_response, read_body
from parley.api.files import FILE_CSP, arriving, too_large
from parley.protocol.names import username_problem
from parley.service.profiles import MAX_AVATAR, MAX_PROFILES
from parley.store.base import Profile

MULTIPART_SLACK = 16 * 1024  # bytes of multipart framing allowed beyond the image itself


def profile_body(profile: Profile) -> dict[str, object]:
    return {"user": profile.user, "display_name": profile.display_name, "avatar": profile.avatar is not None}


async def patch_me(request: web.Request) -> web.Response:
    """Change your profile: `{"display_name": "..."}` ('' clears it)."""
    user = await caller(request)
    body = await read_body(request)
    unknown = sorted(set(body) - {"display_name"})
    if unknown:
        raise fail(400, "bad_request", f"unknown field {unknown[0]!r}: only display_name can be changed here")
    if "display_name" not in body:
        raise fail(400, "bad_request", "display_name is required ('' clears it)")
    profiles = request.app[SERVICE].accounts.profiles
    profile = await profiles.set_display_name(user, body["display_name"])
    return json_response({**profile_body(profile), "admin": await request.app[SERVICE].accounts.admin(user)})


async def put_avatar(request: web.Request) -> web.Response:
    """Set your avatar from a multipart/form-data body whose `file` part is the image (at most 5 MiB)."""
    user = await caller(request)
    service = request.app[SERVICE]
    if request.content_type != "multipart/form-data":
        raise fail(415, "unsupported", "send the image as multipart/form-data, in a part named `file`")
    declared = request.content_length
    if declared is not None and declared > MAX_AVATAR + MULTIPART_SLACK:
        raise too_large(f"the avatar is too large: at most {MAX_AVATAR:,} bytes")
    stall = service.settings.request_timeout
    reader = await request.multipart()
    while True:
        part = await arriving(reader.next(), stall)
        if part is None:
            raise fail(400, "bad_request", "no `file` part: send the image in a part named `file`")
        if not isinstance(part, BodyPartReader):
            raise fail(400, "bad_request", "nested multipart bodies are not accepted")
        if part.name == "file":
            break
        raise fail(400, "bad_request", f"unknown field {part.name!r}; send only the `file` part")
    data = bytearray()
    while True:
        chunk = await arriving(part.read_chunk(64 * 1024), stall)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_AVATAR:
            raise too_large(f"the avatar is too large: at most {MAX_AVATAR:,} bytes")
    if not data:
        raise fail(400, "bad_request", "the `file` part is empty")
    profile = await service.accounts.profiles.set_avatar(user, bytes(data), service.files.storage)
    return json_response(profile_body(profile))


async def delete_avatar(request: web.Request) -> web.Response:
    user = await caller(request)
    service = request.app[SERVICE]
    profile = await service.accounts.profiles.remove_avatar(user, service.files.storage)
    return json_response(profile_body(profile))


async def get_avatar(request: web.Request) -> web.StreamResponse:
    """Anyone signed in may see anyone's avatar (as Slack's workspace members can)."""
    await caller(request)
    name = request.match_info["name"]
    service = request.app[SERVICE]
    key = await service.accounts.profiles.avatar_key(name) if username_problem(name) is None else None
    if key is None:
        raise fail(404, "not_found", "this user has no avatar")
    etag = f'"{key}"'
    headers = {
        "Content-Type": "image/webp",
        "Content-Disposition": "inline; filename=avatar.webp",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": FILE_CSP,
        "Cross-Origin-Resource-Policy": "same-origin",
        "Cache-Control": "private, no-cache",  # kept, but checked (304) every time: it changes in place
        "Referrer-Policy": "no-referrer",
        "ETag": etag,
    }
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return web.Response(status=304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
    chunks = [c async for c in service.files.storage.read(key)]
    if not chunks:  # replaced a moment ago (its bytes are gone): the next request finds the new one
        raise fail(404, "not_found", "this user has no avatar")
    return web.Response(body=b"".join(chunks), headers=headers)


async def get_profiles(request: web.Request) -> web.Response:
    """`?users=a,b,c`: the profiles of those that are accounts (compared case-insensitively)."""
    await caller(request)
    raw = request.query.get("users")
    if raw is None:
        raise fail(400, "bad_request", "users is required: a comma-separated list of usernames")
    names = [n for n in raw.split(",") if n]
    if len(names) > MAX_PROFILES:
        raise fail(400, "bad_request", f"ask for at most {MAX_PROFILES} users at once")
    bad = next((n for n in names if username_problem(n) is not None), None)
    if bad is not None:
        raise fail(400, "bad_request", f"{bad[:40]!r} is not a username")
    profiles = await request.app[SERVICE].accounts.profiles.profiles(names)
    return json_response({"profiles": [profile_body(p) for p in profiles]})


def add_profile_routes(app: web.Application) -> None:
    app.router.add_patch("/api/me", patch_me)
    app.router.add_put("/api/me/avatar", put_avatar)
    app.router.add_delete("/api/me/avatar", delete_avatar)
    app.router.add_get("/api/users/{name}/avatar", get_avatar)
    app.router.add_get("/api/profiles", get_profiles)

