"""Files, images and voice messages, on both stores (files beside the SQLite file, or in PostgreSQL): an upload
becomes a message every member sees live and in history; the server decides what a file is and serves it
only to readers of the room, with headers that keep it from running as a page; every bad upload is refused
with nothing left behind in the file storage or the room."""

from __future__ import annotations

import asyncio
import base64
import io
import socket
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import asyncpg
from PIL import Image

from tests.support import Client, ServerProcess, download, http, register, rest_messages, unique, upload

# the start of what Chromium's MediaRecorder writes: an EBML header with DocType "webm"
WEBM = (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08"
        b"\x42\x82\x84webm" + bytes(200))
# a small JPEG whose EXIF block is damaged (Pillow raises struct.error reading it)
BAD_EXIF_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/4QA0RXhpZgAATU0AKgAAAAgAAgERAAIAAAAGAAAAJgESAAMAAAABAAYAAAAAAABoZWxsbwD/"
    "2wBDAAgGBgcGBQgHBwcJCQgKDBQNDDYLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/2wBDAQkJ"
    "CQwLDCkNDRgyIRwhMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjL/wAARCAAwAEADASIA"
    "AhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1Fh"
    "ByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqD"
    "hIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QA"
    "HwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKR"
    "obHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImK"
    "kpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEA"
    "PwCOiiivkD8CCiiigAooooAKKKKACiiigAooooAKKKKACiiigAooooAKKKKACiiigAooooA//9k="
)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>'


def png(width: int = 800, height: int = 600) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def stored(db_url: str) -> set[str]:
    """Every key in the file storage, half-written ones included."""
    if db_url.startswith("sqlite"):
        root = Path(db_url.split(":///", 1)[1]).parent / "parley-files"
        return {p.name for p in root.rglob("*") if p.is_file()} if root.exists() else set()

    async def keys() -> set[str]:
        conn = await asyncpg.connect(db_url, timeout=5)
        try:
            return {r[0] for r in await conn.fetch("SELECT key FROM file_parts")}
        finally:
            await conn.close()

    return asyncio.run(keys())


async def stored_async(db_url: str) -> set[str]:
    return await asyncio.to_thread(stored, db_url)


def private_room(server: ServerProcess, token: str, *members: tuple[str, str]) -> str:
    room = unique("f")
    status, body = http("POST", f"{server.http}/api/rooms", {"name": room, "visibility": "private"}, token=token)
    assert status == 201, body
    for name, member_token in members:
        assert http("POST", f"{server.http}/api/rooms/{room}/manage", {"action": "invite", "user": name},
                    token=token)[0] == 200
        assert http("POST", f"{server.http}/api/rooms/{room}/join", {}, token=member_token)[0] == 200
    return room


async def test_an_image_reaches_members_live_with_its_thumbnail_and_only_readers_can_fetch_it(
        shared_server: ServerProcess, shared_db_url: str) -> None:
    (alice, a_token), (bob, b_token), (_, c_token) = (register(shared_server) for _ in range(3))
    room = private_room(shared_server, a_token, (bob, b_token))
    watcher = await Client.connect(shared_server, b_token)
    await watcher.join(room)
    picture = png()
    before = await stored_async(shared_db_url)

    status, message = await asyncio.to_thread(upload, shared_server, a_token, room, picture, "holiday.png",
                                              client_id="pic-1", text="look at **this**", content_type="text/html")
    assert status == 201, message
    file = message["file"]
    assert (message["from"], message["text"], file["name"], file["type"], file["size"], file["kind"]) == (
        alice, "look at **this**", "holiday.png", "image/png", len(picture), "image")
    assert (file["width"], file["height"], file["thumb"]) == (800, 600, True)
    live = await watcher.expect("message", room=room)
    assert live["file"] == file and live["seq"] == message["seq"]
    assert rest_messages(shared_server, b_token, room)[-1]["file"] == file
    assert len(await stored_async(shared_db_url) - before) == 2  # the file and its thumbnail

    # a file named like bob does not count as mentioning him; a caption naming him does
    for name, caption in ((bob, ""), ("x.txt", f"@{bob} this one")):
        assert (await asyncio.to_thread(upload, shared_server, a_token, room, b"x", name, text=caption))[0] == 201
    mine = {r["name"]: r for r in http("GET", f"{shared_server.http}/api/me/rooms", token=b_token)[1]["rooms"]}
    assert (mine[room]["unread"], mine[room]["mentions"]) == (3, 1)
    await watcher.messages(2, room)
    before = await stored_async(shared_db_url) - {file["id"], file["id"] + ".thumb"}

    # a member fetches exactly the bytes, served as the image the server found, never as a page
    status, headers, body = await asyncio.to_thread(download, shared_server, b_token, f"/api/files/{file['id']}")
    assert (status, body) == (200, picture)
    assert headers["Content-Type"] == "image/png"
    assert headers["X-Content-Type-Options"] == "nosniff"
    policy = headers["Content-Security-Policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy
    assert headers["Content-Disposition"] == "inline; filename*=UTF-8''holiday.png"
    status, headers, thumb = await asyncio.to_thread(download, shared_server, b_token, f"/api/files/{file['id']}/thumb")
    assert status == 200 and headers["Content-Type"] == "image/webp"
    assert Image.open(io.BytesIO(thumb)).size == (320, 240)

    # an outsider, a stranger's guess and no token get nothing that says the file exists
    for token, path in ((c_token, f"/api/files/{file['id']}"), (c_token, f"/api/files/{file['id']}/thumb"),
                        (b_token, "/api/files/AAAAAAAAAAAAAAAAAAAAAA"), (b_token, "/api/files/..%2F..%2Fetc"),
                        (b_token, "/api/files/" + "A" * 200)):
        status, _, body = await asyncio.to_thread(download, shared_server, token, path)
        assert status == 404, (path, body)
    assert (await asyncio.to_thread(download, shared_server, None, f"/api/files/{file['id']}"))[0] == 401

    # sent again with the same client_id (a retry): the first message stands, the copy is not kept
    status, again = await asyncio.to_thread(upload, shared_server, a_token, room, picture, "holiday.png",
                                            client_id="pic-1")
    assert (status, again["seq"], again["file"]) == (200, message["seq"], file)
    await watcher.nothing(0.3, kind="message")
    for _ in range(50):
        if len(await stored_async(shared_db_url) - before) == 2:
            break
        await asyncio.sleep(0.1)
    assert len(await stored_async(shared_db_url) - before) == 2

    # deleting the message deletes the file and its thumbnail
    assert http("DELETE", f"{shared_server.http}/api/rooms/{room}/messages/{message['seq']}", token=a_token)[0] == 200
    deleted = await watcher.expect("delete", room=room)
    assert deleted["target"] == message["seq"]
    tombstone = next(m for m in rest_messages(shared_server, b_token, room) if m["seq"] == message["seq"])
    assert tombstone["deleted"] and "file" not in tombstone
    for path in (f"/api/files/{file['id']}", f"/api/files/{file['id']}/thumb"):
        assert (await asyncio.to_thread(download, shared_server, a_token, path))[0] == 404
    for _ in range(50):
        if not await stored_async(shared_db_url) - before:
            break
        await asyncio.sleep(0.1)
    assert await stored_async(shared_db_url) - before == set()
    await watcher.close()


async def test_the_server_decides_what_a_file_is_whatever_its_name_and_declared_type(
        shared_server: ServerProcess) -> None:
    _, token = register(shared_server)
    room = unique("f")
    cases = [
        # (bytes, the name and type the client claims) -> (name shown, type served, kind, disposition)
        (b"<html><script>alert(1)</script></html>", "page.png", "image/png",
         "page.png", "application/octet-stream", "file", "attachment"),
        (SVG, "logo.svg", "image/svg+xml", "logo.svg", "application/octet-stream", "file", "attachment"),
        (jpeg(), "notes.txt", "text/plain", "notes.txt", "image/jpeg", "image", "inline"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 100, "broken.png", "image/png",
         "broken.png", "application/octet-stream", "file", "attachment"),
        (BAD_EXIF_JPEG, "damaged.jpg", "image/jpeg", "damaged.jpg", "image/jpeg", "image", "inline"),
        (b"%PDF-1.4\n%...", "../../etc/passwd", "application/pdf", "passwd", "application/pdf", "file", "attachment"),
        (b"plain words", "dir/sub/ ..résumé 📄.txt ", "text/plain",
         "résumé 📄.txt", "application/octet-stream", "file", "attachment"),
    ]
    for data, name, claimed, shown, served, kind, disposition in cases:
        status, message = await asyncio.to_thread(upload, shared_server, token, room, data, name,
                                                  content_type=claimed)
        assert status == 201, (name, message)
        file = message["file"]
        assert (file["name"], file["type"], file["kind"]) == (shown, served, kind), name
        status, headers, body = await asyncio.to_thread(download, shared_server, token, f"/api/files/{file['id']}")
        assert (status, body, headers["Content-Type"]) == (200, data, served)
        assert headers["Content-Disposition"].split(";")[0] == disposition
        assert headers["X-Content-Type-Options"] == "nosniff"

    # HEAD is not answered with the file's bytes (they would be read as the next response on the connection)
    conn = HTTPConnection("127.0.0.1", shared_server.port, timeout=10)
    conn.request("HEAD", f"/api/files/{file['id']}", headers={"Authorization": f"Bearer {token}"})
    head = conn.getresponse()
    head.read()
    conn.request("GET", "/healthz")
    after = conn.getresponse()
    assert (head.status, after.status, after.getheader("Content-Type")) == (405, 200, "application/json")
    conn.close()


async def test_a_voice_message_is_audio_with_its_duration_and_anything_else_is_refused(
        shared_server: ServerProcess) -> None:
    _, token = register(shared_server)
    room = unique("f")
    status, message = await asyncio.to_thread(upload, shared_server, token, room, WEBM, "voice.webm",
                                              voice=1, duration_ms=2500)
    assert status == 201, message
    assert {k: message["file"][k] for k in ("kind", "type", "duration_ms")} == {
        "kind": "voice", "type": "audio/webm", "duration_ms": 2500}
    assert message["text"] == ""
    ogg = b"OggS" + bytes(100)
    status, message = await asyncio.to_thread(upload, shared_server, token, room, ogg, "v.ogg", voice=1,
                                              duration_ms=900)
    assert (status, message["file"]["type"]) == (201, "audio/ogg")
    count = len(rest_messages(shared_server, token, room))
    for data, fields, needs in ((png(), {"voice": 1, "duration_ms": 1000}, "must be audio"),
                                (WEBM, {"voice": 1}, "duration_ms"),
                                (WEBM, {"voice": 1, "duration_ms": 0}, "duration_ms"),
                                (WEBM, {"voice": 1, "duration_ms": "x"}, "duration_ms")):
        status, body = await asyncio.to_thread(upload, shared_server, token, room, data, "v.webm", **fields)
        assert status == 400 and needs in body["message"], body
    assert len(rest_messages(shared_server, token, room)) == count


def _raw_post(server: ServerProcess, head: str, body: bytes = b"", close_early: bool = False) -> str:
    """Send a request by hand (to lie about its length, or hang up half-way); the answer's status line."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        if close_early:
            return ""
        return sock.recv(65536).decode(errors="replace").split("\r\n", 1)[0]


async def test_bad_uploads_are_refused_and_leave_nothing_behind(make_server, db_url: str) -> None:
    server = make_server("--max-upload", "100000", "--upload-quota", "250000")
    (_, a_token), (_, b_token) = register(server), register(server)
    room = private_room(server, a_token)
    before = await stored_async(db_url)
    assert http("GET", f"{server.http}/api/info")[1]["max_upload"] == 100_000  # what the page checks first

    def refused(status: int, code: str, data: bytes, token: str = a_token, to: str = room, **fields: Any) -> None:
        got, body = upload(server, token, to, data, **fields)
        assert (got, body["error"]) == (status, code), body

    await asyncio.to_thread(refused, 400, "bad_request", b"")  # an empty file
    await asyncio.to_thread(refused, 413, "too_large", bytes(100_001))
    await asyncio.to_thread(refused, 404, "not_found", png(), token=b_token)  # a private room bob is not in
    await asyncio.to_thread(refused, 400, "bad_request", b"x", client_id="\x00")
    await asyncio.to_thread(refused, 400, "too_long", b"x", text="w" * 4001)
    await asyncio.to_thread(refused, 404, "not_found", b"x", reply_to=999)
    await asyncio.to_thread(refused, 400, "bad_request", b"x", reply_to="-1")
    await asyncio.to_thread(refused, 400, "bad_request", b"x", colour="red")  # an unknown field
    await asyncio.to_thread(refused, 400, "bad_request", b"x", filename="a\r\nb.txt")  # a broken part head
    await asyncio.to_thread(refused, 400, "bad_request", b"x", text=["b", "again"])  # a field given twice
    # refused for the file itself: the new public room it was sent to is not created
    fresh = unique("f")
    await asyncio.to_thread(refused, 400, "bad_request", b"", to=fresh)
    await asyncio.to_thread(refused, 400, "bad_request", WEBM[:20] + b"not audio", to=fresh, voice=1,
                            duration_ms=10)
    assert http("GET", f"{server.http}/api/rooms/{fresh}", token=a_token)[0] == 404
    status, body = http("POST", f"{server.http}/api/rooms/{room}/files", {"text": "hi"}, token=a_token)
    assert (status, body["error"]) == (415, "unsupported")
    status, body = http("POST", f"{server.http}/api/rooms/{room}/files", token=a_token, raw=b"--b--\r\n",
                        headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert (status, body["error"]) == (400, "bad_request")  # no file part

    # A 2 GB upload is refused from its Content-Length, before a byte of it is read.
    head = (f"POST /api/rooms/{room}/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {a_token}\r\n"
            f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {2 * 1024 ** 3}\r\n\r\n")
    assert " 413 " in await asyncio.to_thread(_raw_post, server, head, b"--b\r\n")
    # A client that hangs up in the middle of its upload leaves no half file.
    part = (b'--b\r\nContent-Disposition: form-data; name="client_id"\r\n\r\ncut\r\n--b\r\n'
            b'Content-Disposition: form-data; name="file"; filename="cut.bin"\r\n\r\n' + bytes(50_000))
    head = (f"POST /api/rooms/{room}/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {a_token}\r\n"
            f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 90000\r\n\r\n")
    await asyncio.to_thread(_raw_post, server, head, part, close_early=True)

    # The quota: 250,000 bytes a day. 2 x 100,000 pass; the next 100,000 does not fit, 50,000 does; then none.
    for _ in range(2):
        assert (await asyncio.to_thread(upload, server, a_token, room, bytes(100_000)))[0] == 201
    await asyncio.to_thread(refused, 413, "too_large", bytes(100_000))
    assert (await asyncio.to_thread(upload, server, a_token, room, bytes(50_000)))[0] == 201
    await asyncio.to_thread(refused, 429, "rate_limited", b"x")

    messages = [m for m in rest_messages(server, a_token, room) if m.get("type", "message") == "message"]
    assert [m["file"]["size"] for m in messages] == [100_000, 100_000, 50_000]
    # deleting what one sent does not give the quota back
    assert http("DELETE", f"{server.http}/api/rooms/{room}/messages/{messages[0]['seq']}", token=a_token)[0] == 200
    await asyncio.to_thread(refused, 429, "rate_limited", b"x")
    messages = messages[1:]
    for _ in range(50):
        if len(await stored_async(db_url) - before) == 2:
            break
        await asyncio.sleep(0.1)
    assert len(await stored_async(db_url) - before) == 2  # the two files kept, nothing half-written
    assert http("GET", f"{server.http}/healthz")[0] == 200


async def test_files_go_where_files_says(make_server, tmp_path: Path) -> None:
    where = tmp_path / "elsewhere"
    server = make_server("--files", str(where))
    _, token = register(server)
    status, message = await asyncio.to_thread(upload, server, token, unique("f"), b"kept here", "a.txt")
    assert status == 201
    assert (where / message["file"]["id"]).read_bytes() == b"kept here"


async def test_the_sweep_finds_abandoned_uploads_and_files_of_deleted_messages(db_url: str) -> None:
    """In-process, on each store: what `abandoned_files` hands the sweep (service/files.py), and what it keeps."""
    from parley.protocol.events import message_data, target_data
    from parley.protocol.frames import Attachment
    from parley.store import Amend, FileRecord, NewEvent, RoomChange, store_for_url

    store = store_for_url(db_url)
    await store.open()
    try:
        hour_ago = 1_000_000_000_000
        now = hour_ago + 3_600_000

        def record(file_id: str, client_id: str, created: int, seq: int | None = None) -> FileRecord:
            return FileRecord(id=file_id, room="r", uploader="alice", client_id=client_id, size=5,
                              created_ms=created, seq=seq)

        def message(file_id: str, client_id: str) -> NewEvent:
            file = Attachment(id=file_id, name="a", type="application/octet-stream", size=5, kind="file")
            return NewEvent(room="r", sender="alice", text="", client_id=client_id, data=message_data(file=file))

        kept, deleted, finished = (await store.save_events([message("kept-file1", "c1"), message("gone-file1", "c2"),
                                                            message("done-file1", "c3")]))
        for rec in (record("kept-file1", "c1", hour_ago, kept.event.seq),
                    record("gone-file1", "c2", hour_ago, deleted.event.seq),
                    record("done-file1", "c3", hour_ago),  # its message was stored, the upload not marked so
                    record("lost-file1", "c4", hour_ago),  # never got a message
                    record("busy-file1", "c5", now)):  # under way
            await store.add_file(rec)
        await store.apply(RoomChange(room="r", event=NewEvent(room="r", sender="alice", text="", client_id="d",
                                                              kind="delete", data=target_data(deleted.event.seq)),
                                     amend=Amend(deleted.event.seq, delete=True)))

        assert sorted(await store.abandoned_files(now)) == ["gone-file1", "lost-file1"]
        assert (await store.file("done-file1")).seq == finished.event.seq  # type: ignore[union-attr]
        await store.forget_files(["gone-file1", "lost-file1"], now)
        assert await store.abandoned_files(now) == []
        assert await store.file("gone-file1") is None and await store.file("lost-file1") is None
        await store.file_growing("busy-file1", 7)
        assert await store.uploaded_since("alice", now) == 7  # the upload under way counts what arrived
        # the removed file still counts for a day (the unfinished one never did), then its row goes
        assert await store.uploaded_since("alice", hour_ago) == 5 + 5 + 5 + 7
        await store.purge_files(now + 1)
        assert await store.uploaded_since("alice", hour_ago) == 5 + 5 + 7
    finally:
        await store.close()
