"""Profiles, on both stores: a Unicode display name beside the ASCII username and an avatar image (made a
256 px square WebP, kept in the file storage, its old bytes deleted when replaced), read back in batches by
anyone signed in, and every change pushed at once to every connection as a `profile` frame; every bad
request is refused with a clear answer and the profile as it was."""

from __future__ import annotations

import asyncio
import io
import uuid
from typing import Any

from PIL import Image

from tests.support import Client, ServerProcess, close_all, download, http, register, unique
from tests.test_files import SVG, jpeg, png, stored


def put_avatar(server: ServerProcess, token: str | None, data: bytes, *, field: str = "file",
               content_type: str | None = None, extra: bytes = b"") -> tuple[int, Any]:
    """PUT /api/me/avatar with `data` in a multipart part named `field`."""
    boundary = uuid.uuid4().hex
    body = extra.replace(b"BOUNDARY", boundary.encode())
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="me.png"\r\n'
             "Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return http("PUT", f"{server.http}/api/me/avatar", token=token, raw=body,
                headers={"Content-Type": content_type or f"multipart/form-data; boundary={boundary}"})


def me(server: ServerProcess, token: str) -> dict[str, Any]:
    status, body = http("GET", f"{server.http}/api/me", token=token)
    assert status == 200, body
    return body


def profiles(server: ServerProcess, token: str, names: str) -> tuple[int, Any]:
    return http("GET", f"{server.http}/api/profiles?users={names}", token=token)


def avatar_keys(db_url: str) -> set[str]:
    return {k for k in stored(db_url) if k.startswith("av")}


def test_a_display_name_is_set_seen_by_others_and_cleared(shared_server: ServerProcess) -> None:
    (alice, a_token), (bob, b_token) = register(shared_server), register(shared_server)
    assert me(shared_server, a_token) == {"user": alice, "admin": False, "display_name": "", "avatar": False}

    status, body = http("PATCH", f"{shared_server.http}/api/me", {"display_name": "  Zoë Martín 🌿 \t"},
                        token=a_token)
    assert (status, body["user"], body["display_name"], body["avatar"]) == (200, alice, "Zoë Martín 🌿", False)
    assert me(shared_server, a_token)["display_name"] == "Zoë Martín 🌿"

    # anyone signed in reads profiles in one batch, names compared case-insensitively, unknown ones left out
    status, body = profiles(shared_server, b_token, f"{alice.upper()},{bob},nobody-{uuid.uuid4().hex[:6]}")
    assert status == 200, body
    assert sorted(body["profiles"], key=lambda p: p["user"]) == sorted([
        {"user": alice, "display_name": "Zoë Martín 🌿", "avatar": False},
        {"user": bob, "display_name": "", "avatar": False}], key=lambda p: p["user"])

    # emoji joined by ZWJ, and exactly 64 characters, are fine; NFC keeps one spelling of é
    for name in ("👩\u200d💻 Dev", "é" * 64, "Ze\u0301"):
        status, body = http("PATCH", f"{shared_server.http}/api/me", {"display_name": name}, token=a_token)
        assert status == 200, (name, body)
    assert me(shared_server, a_token)["display_name"] == "Zé"

    assert http("PATCH", f"{shared_server.http}/api/me", {"display_name": ""}, token=a_token)[0] == 200
    assert me(shared_server, a_token)["display_name"] == ""
    assert profiles(shared_server, b_token, alice)[1]["profiles"] == [
        {"user": alice, "display_name": "", "avatar": False}]


def test_bad_display_names_are_refused_and_the_name_survives(shared_server: ServerProcess) -> None:
    _, token = register(shared_server)
    url = f"{shared_server.http}/api/me"
    assert http("PATCH", url, {"display_name": "Keep Me ✓"}, token=token)[0] == 200
    refused: list[tuple[object, str]] = [
        ({"display_name": "x" * 65}, "at most 64"),
        ({"display_name": "two\nlines"}, "U+000A"),
        ({"display_name": "nul\u0000"}, "U+0000"),
        ({"display_name": "tab\there"}, "U+0009"),
        ({"display_name": "\u202eevil"}, "U+202E"),  # right-to-left override
        ({"display_name": "a\u2028b"}, "U+2028"),  # line separator
        ({"display_name": "soft\u00adhyphen"}, "U+00AD"),
        ({"display_name": 12}, "must be a string"),
        ({"display_name": None}, "must be a string"),
        ({"display_name": ["x"]}, "must be a string"),
        ({}, "display_name is required"),
        ({"display_name": "ok", "admin": True}, "unknown field 'admin'"),
    ]
    for body, words in refused:
        status, answer = http("PATCH", url, body, token=token)
        assert status == 400 and answer["error"] == "bad_request" and words in answer["message"], (body, answer)
    assert http("PATCH", url, raw=b"{not json", token=token)[0] == 400
    assert http("PATCH", url, raw=b"[1]", token=token)[0] == 400
    assert http("PATCH", url, raw=b'{"display_name": "x"}', token=token,
                headers={"Content-Type": "text/plain"})[0] == 415
    assert http("PATCH", url, {"display_name": "Intruder"})[0] == 401
    assert http("PATCH", url, {"display_name": "Intruder"}, token=token + "x")[0] == 401
    assert me(shared_server, token)["display_name"] == "Keep Me ✓"
    assert me(shared_server, token)["admin"] is False


async def test_an_avatar_is_made_square_served_safely_cached_replaced_and_removed(
        shared_server: ServerProcess, shared_db_url: str) -> None:
    (alice, a_token), (_, b_token) = register(shared_server), register(shared_server)
    before = await asyncio.to_thread(avatar_keys, shared_db_url)
    status, body = await asyncio.to_thread(put_avatar, shared_server, a_token, png(800, 600))
    assert (status, body) == (200, {"user": alice, "display_name": "", "avatar": True}), body
    assert me(shared_server, a_token)["avatar"] is True
    assert profiles(shared_server, b_token, alice)[1]["profiles"][0]["avatar"] is True
    first = await asyncio.to_thread(avatar_keys, shared_db_url) - before
    assert len(first) == 1

    # anyone signed in gets a 256 px square WebP with the download headers of files and an ETag
    path = f"/api/users/{alice.upper()}/avatar"
    status, headers, data = await asyncio.to_thread(download, shared_server, b_token, path)
    assert status == 200
    assert Image.open(io.BytesIO(data)).format == "WEBP"
    assert Image.open(io.BytesIO(data)).size == (256, 256)
    assert headers["Content-Type"] == "image/webp"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in headers["Content-Security-Policy"]
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin"
    etag = headers["ETag"]
    assert etag == f'"{next(iter(first))}"'
    status, body = http("GET", shared_server.http + path, token=b_token, headers={"If-None-Match": etag})
    assert status == 304 and body == ""
    assert (await asyncio.to_thread(download, shared_server, None, path))[0] == 401

    # replaced: a new ETag, and the old bytes are gone from the file storage
    status, body = await asyncio.to_thread(put_avatar, shared_server, a_token, jpeg())
    assert status == 200 and body["avatar"] is True
    status, headers, second_data = await asyncio.to_thread(download, shared_server, b_token, path)
    assert status == 200 and headers["ETag"] != etag and second_data != data
    after = await asyncio.to_thread(avatar_keys, shared_db_url) - before
    assert len(after) == 1 and after.isdisjoint(first)
    status, _ = http("GET", shared_server.http + path, token=b_token, headers={"If-None-Match": etag})
    assert status == 200  # the old validator no longer matches

    # removed: initials again, and nothing left in the storage
    status, body = http("DELETE", f"{shared_server.http}/api/me/avatar", token=a_token)
    assert (status, body["avatar"]) == (200, False)
    assert (await asyncio.to_thread(download, shared_server, b_token, path))[0] == 404
    assert await asyncio.to_thread(avatar_keys, shared_db_url) - before == set()
    assert profiles(shared_server, b_token, alice)[1]["profiles"][0]["avatar"] is False
    assert http("DELETE", f"{shared_server.http}/api/me/avatar", token=a_token)[0] == 200  # removing twice is fine


async def test_bad_avatars_are_refused_and_the_avatar_survives(shared_server: ServerProcess,
                                                               shared_db_url: str) -> None:
    (alice, token), (_, other) = register(shared_server), register(shared_server)
    assert (await asyncio.to_thread(put_avatar, shared_server, token, png(64, 64)))[0] == 200
    path = f"/api/users/{alice}/avatar"
    status, headers, data = await asyncio.to_thread(download, shared_server, other, path)
    assert status == 200
    keys = await asyncio.to_thread(avatar_keys, shared_db_url)
    broken_png = png(64, 64)[:40] + b"\0" * 200
    huge = png(64, 64) + b"\0" * (5 * 1024 * 1024)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"data": SVG}, 400, "PNG, JPEG, GIF or WebP"),
        ({"data": b"just some text, not a picture"}, 400, "PNG, JPEG, GIF or WebP"),
        ({"data": broken_png}, 400, "can be read"),
        ({"data": b""}, 400, "empty"),
        ({"data": huge}, 413, "too large"),
        ({"data": png(64, 64), "field": "picture"}, 400, "unknown field 'picture'"),
        ({"data": png(64, 64), "content_type": "image/png"}, 415, "multipart/form-data"),
        ({"data": png(64, 64), "extra": b'--BOUNDARY\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n'},
         400, "unknown field 'x'"),
    ]
    for case, want, words in cases:
        status, answer = await asyncio.to_thread(put_avatar, shared_server, token, **case)
        assert status == want and words in answer["message"], (case.get("field"), want, answer)
    assert (await asyncio.to_thread(put_avatar, shared_server, None, png(64, 64)))[0] == 401
    # no boundary at all
    assert http("PUT", f"{shared_server.http}/api/me/avatar", token=token, raw=b"--x--\r\n",
                headers={"Content-Type": "multipart/form-data; boundary=x"})[0] == 400

    status, headers_after, data_after = await asyncio.to_thread(download, shared_server, other, path)
    assert (status, headers_after["ETag"], data_after) == (200, headers["ETag"], data)
    assert await asyncio.to_thread(avatar_keys, shared_db_url) == keys  # nothing left behind
    assert me(shared_server, token)["avatar"] is True


def test_bad_profile_queries_are_refused(shared_server: ServerProcess) -> None:
    name, token = register(shared_server)
    assert http("GET", f"{shared_server.http}/api/profiles", token=token)[0] == 400
    status, body = profiles(shared_server, token, ",".join(f"u{i}" for i in range(101)))
    assert status == 400 and "at most 100" in body["message"]
    status, body = profiles(shared_server, token, ",".join([name] + [f"u{i}" for i in range(99)]))
    assert status == 200 and [p["user"] for p in body["profiles"]] == [name]
    status, body = profiles(shared_server, token, "a%20b")
    assert status == 400 and "not a username" in body["message"]
    assert profiles(shared_server, token, "")[1] == {"profiles": []}
    assert http("GET", f"{shared_server.http}/api/profiles?users={name}")[0] == 401
    for who in ("nobody-" + uuid.uuid4().hex[:8], name, "..%2F..%2Fetc", "x" * 40):
        status, _, _ = download(shared_server, token, f"/api/users/{who}/avatar")
        assert status == 404, who


async def test_every_connection_gets_a_profile_frame_when_a_profile_changes(shared_server: ServerProcess,
                                                                          shared_db_url: str) -> None:
    """Someone who shares no room with alice, and alice's own other device, both hear of each change at once:
    a new display name, an avatar (its version is the ETag of the image), its removal. A refused change, or
    removing an avatar there is none of, sends nothing."""
    (alice, a_token), (_, b_token) = register(shared_server), register(shared_server)
    bob = await Client.connect(shared_server, b_token)
    other_device = await Client.connect(shared_server, a_token)
    # bob also polls (GET /api/poll) a room of his own, as a client that cannot use WebSocket would
    room = unique("quiet")
    assert http("POST", f"{shared_server.http}/api/rooms", {"name": room, "visibility": "public"},
                token=b_token)[0] == 201
    poll = f"{shared_server.http}/api/poll?client=profiles&timeout=2&rooms={room}"
    assert (await asyncio.to_thread(http, "GET", poll, token=b_token))[0] == 200
    url = f"{shared_server.http}/api/me"
    try:
        status, _ = await asyncio.to_thread(http, "PATCH", url, {"display_name": " Alice Ö 🌿"}, token=a_token)
        assert status == 200
        named = {"type": "profile", "user": alice, "display_name": "Alice Ö 🌿", "avatar": None}
        assert await bob.expect("profile", user=alice) == named
        assert await other_device.expect("profile", user=alice) == named
        status, answer = await asyncio.to_thread(http, "GET", poll, token=b_token)
        assert status == 200 and named in answer["frames"], answer

        before = await asyncio.to_thread(avatar_keys, shared_db_url)
        assert (await asyncio.to_thread(put_avatar, shared_server, a_token, png(64, 64)))[0] == 200
        (key,) = await asyncio.to_thread(avatar_keys, shared_db_url) - before
        _, headers, _ = await asyncio.to_thread(download, shared_server, b_token, f"/api/users/{alice}/avatar")
        assert headers["ETag"] == f'"{key}"'
        pictured = {**named, "avatar": key}
        assert await bob.expect("profile", user=alice) == pictured
        assert await other_device.expect("profile", user=alice) == pictured

        status, _ = await asyncio.to_thread(http, "DELETE", f"{url}/avatar", token=a_token)
        assert status == 200
        assert await bob.expect("profile", user=alice) == named
        assert await other_device.expect("profile", user=alice) == named

        assert (await asyncio.to_thread(http, "DELETE", f"{url}/avatar", token=a_token))[0] == 200  # none to remove
        assert (await asyncio.to_thread(http, "PATCH", url, {"display_name": "x" * 65}, token=a_token))[0] == 400
        assert (await asyncio.to_thread(put_avatar, shared_server, a_token, SVG))[0] == 400
        assert await bob.nothing(0.5, "profile", user=alice) == []
    finally:
        await close_all(bob, other_device)


def test_profile_changes_are_rate_limited_and_the_last_accepted_one_stays(shared_server: ServerProcess) -> None:
    """Each change reaches every connection: 10 in a row are fine, then the next is refused (429) for a while."""
    _, token = register(shared_server)
    url = f"{shared_server.http}/api/me"
    for i in range(10):
        assert http("PATCH", url, {"display_name": f"Try {i}"}, token=token)[0] == 200, i
    status, body = http("PATCH", url, {"display_name": "One too many"}, token=token)
    assert (status, body["error"]) == (429, "rate_limited"), body
    assert me(shared_server, token)["display_name"] == "Try 9"
