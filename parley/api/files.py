"""REST routes for files: uploading one as a message (multipart/form-data, streamed, never held whole in
memory), and downloading a file or its thumbnail with headers that keep an uploaded page or script from
running in Parley's origin (service/files.py decides who may, and what a file is)."""

import asyncio
import urllib.parse
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from parley.api.common import MAX_DIGITS, SERVICE, caller, fail, json_response, room_param
from parley.files.base import bad_key
from parley.protocol.frames import Attachment
from parley.protocol.names import MAX_SEQ, valid_client_id
from parley.service.files import TooLarge, inline

T = TypeVar("T")

FIELD_MAX = 64 * 1024  # bytes of a form field other than the file (the caption is at most --max-text)
CHUNK = 64 * 1024
FIELDS = {"client_id", "text", "reply_to", "voice", "duration_ms"}
# an uploaded file is data, never a page: no script, no plugins, no framing, not even a style
FILE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self'; sandbox"


async def upload(request: web.Request) -> web.Response:
    user = await caller(request)
    room = room_param(request)
    service = request.app[SERVICE]
    if request.content_type != "multipart/form-data":
        raise fail(415, "unsupported", "send the file as multipart/form-data: the fields first, the file part last")
    declared = request.content_length
    if declared is not None and declared > service.settings.max_upload + FIELD_MAX * len(FIELDS):
        raise too_large(str(TooLarge(service.settings.max_upload)))
    reader = await request.multipart()
    fields: dict[str, str] = {}
    stall = service.settings.request_timeout
    while True:
        part = await arriving(reader.next(), stall)
        if part is None:
            raise fail(400, "bad_request", "no `file` part: send the file as the last part, named `file`")
        if not isinstance(part, BodyPartReader):
            raise fail(400, "bad_request", "nested multipart bodies are not accepted")
        if part.name == "file":
            break
        if part.name not in FIELDS:
            raise fail(400, "bad_request", f"unknown field {part.name!r}; fields are {', '.join(sorted(FIELDS))}")
        if part.name in fields:
            raise fail(400, "bad_request", f"field {part.name!r} is given twice")
        fields[part.name] = await _field(part, stall)
    client_id = fields.get("client_id")
    if client_id is None or not valid_client_id(client_id):
        raise fail(400, "bad_request", "client_id must be a string of 1-128 characters, without U+0000")
    try:
        saved = await service.files.upload(
            user, room, part.filename or "", _chunks(part, stall), client_id=client_id, text=fields.get("text", ""),
            reply_to=_number(fields, "reply_to", 1, MAX_SEQ), voice=fields.get("voice", "") in ("1", "true"),
            duration_ms=_number(fields, "duration_ms", 1, MAX_SEQ))
    except TooLarge as exc:
        raise too_large(exc.message) from None
    return json_response(saved.event, status=200 if saved.duplicate else 201)


def too_large(message: str) -> web.HTTPException:
    error = fail(413, "too_large", message)
    error.force_close()  # the rest of the body is not read: the connection cannot carry another request
    return error


async def _field(part: BodyPartReader, stall: float) -> str:
    data = bytearray()
    while True:
        chunk = await arriving(part.read_chunk(CHUNK), stall)
        if not chunk:
            break
        data += chunk
        if len(data) > FIELD_MAX:
            raise fail(400, "bad_request", f"field {part.name!r} is longer than {FIELD_MAX} bytes")
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise fail(400, "bad_request", f"field {part.name!r} is not UTF-8") from None


async def _chunks(part: BodyPartReader, stall: float) -> AsyncIterator[bytes]:
    """The file's bytes as they arrive; a client that sends nothing for `stall` seconds is cut off."""
    while True:
        chunk = await arriving(part.read_chunk(CHUNK), stall)
        if not chunk:
            return
        yield chunk


async def arriving(step: Awaitable[T], stall: float) -> T:
    """The next piece of the body: 408 if nothing comes for `stall` seconds, 400 if it is not valid
    multipart (aiohttp's parser raises these for a malformed part head or boundary)."""
    try:
        async with asyncio.timeout(stall):
            return await step
    except TimeoutError:
        raise fail(408, "timeout", f"the upload stalled for {stall:g} s") from None
    except (HttpProcessingError, ValueError) as exc:
        raise fail(400, "bad_request", f"not valid multipart/form-data: {exc}") from None
    except ConnectionError:  # the client hung up: nobody reads the answer, and it is not a server error
        raise fail(400, "bad_request", "the upload was cut off") from None


def _number(fields: dict[str, str], name: str, low: int, high: int) -> int | None:
    raw = fields.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= MAX_DIGITS) or not low <= int(raw) <= high:
        raise fail(400, "bad_request", f"{name} must be an integer from {low} to {high}")
    return int(raw)


async def download(request: web.Request) -> web.StreamResponse:
    return await _serve(request, thumb=False)


async def download_thumb(request: web.Request) -> web.StreamResponse:
    return await _serve(request, thumb=True)


async def _serve(request: web.Request, thumb: bool) -> web.StreamResponse:
    user = await caller(request)
    file_id = request.match_info["file"]
    if bad_key(file_id):
        raise fail(404, "not_found", "no such file")
    files = request.app[SERVICE].files
    attachment = await files.find(user, file_id)
    if thumb and not attachment.thumb:
        raise fail(404, "not_found", "this file has no thumbnail")
    chunks = files.read(attachment, thumb)
    first = await anext(chunks, None)
    if first is None:
        raise fail(404, "not_found", "no such file")
    response = web.StreamResponse(headers=_headers(attachment, thumb))
    if not thumb:
        response.content_length = attachment.size
    await response.prepare(request)
    await response.write(first)
    async for chunk in chunks:
        await response.write(chunk)
    await response.write_eof()
    return response


def _headers(attachment: Attachment, thumb: bool) -> dict[str, str]:
    quoted = urllib.parse.quote(attachment.name + (".thumb.webp" if thumb else ""), safe="")
    disposition = "inline" if thumb or inline(attachment) else "attachment"
    return {
        "Content-Type": "image/webp" if thumb else attachment.type,
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quoted}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": FILE_CSP,
        "Cross-Origin-Resource-Policy": "same-origin",
        "Cache-Control": "private, max-age=86400",
        "Referrer-Policy": "no-referrer",
    }


def add_file_routes(app: web.Application) -> None:
    app.router.add_post("/api/rooms/{room}/files", upload)
    # no HEAD: a streamed body written to a HEAD request would reach the client as its next response
    app.router.add_get("/api/files/{file}", download, allow_head=False)
    app.router.add_get("/api/files/{file}/thumb", download_thumb, allow_head=False)
