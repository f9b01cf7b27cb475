"""Files, images and voice messages: an upload becomes a message with an attachment, and a download is served
only to those who may read the room the message is in.

An upload is checked (room policy, caption, quota) before any byte is kept, streamed into the file storage
(parley/files) under a random id while its size is counted against `--max-upload`, described from its
bytes alone (type, image size and thumbnail, voice duration), and committed there; only then is its
message stored, through the same path as any message (so it is idempotent by `client_id`, ordered by seq,
resumed and repaired like the rest). A failure at any step removes what was written. What a crash leaves
(an upload with no message after an hour, a deleted message's file) is swept on start and every few
minutes. Deleting the message deletes the file.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
import unicodedata
from collections import Counter
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from parley.files import FileStorage
from parley.files.sniff import HEAD, IMAGES, INLINE, media_type, voice_type
from parley.files.thumbs import thumbnail
from parley.protocol import ErrorCode
from parley.protocol.frames import Attachment, Message
from parley.service.policy import Action, Refused
from parley.store import FileRecord, Saved, Store

if TYPE_CHECKING:
    from parley.service.chat import ChatService

log = logging.getLogger("parley")

MAX_NAME = 200  # characters of a file name
QUOTA_WINDOW_MS = 24 * 3600 * 1000  # the quota counts what a user uploaded in the last day
ABANDONED_MS = 3600 * 1000  # an upload with no message after this long was cut short
SWEEP_EVERY = 600.0  # seconds between sweeps of abandoned and deleted files
THUMB_TIMEOUT = 10.0  # seconds a thumbnail may take before the image is kept as a plain file
MAX_DURATION_MS = 3600 * 1000  # a voice message is at most an hour long
MAX_UPLOADS = 4  # uploads one user may have under way at once, per node
THUMB = ".thumb"


class TooLarge(Refused):
    def __init__(self, limit: int, quota: bool = False) -> None:
        super().__init__(ErrorCode.TOO_LARGE,
                         f"the file is larger than what is left of your daily upload quota ({limit:,} bytes)"
                         if quota else f"the file is too large: uploads are limited to {limit:,} bytes")


def clean_name(name: object) -> str:
    """A file name fit to show and to put in a header: the last path component, no control characters or
    quotes, at most MAX_NAME characters; "file" if nothing is left."""
    text = unicodedata.normalize("NFC", name) if isinstance(name, str) else ""
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C" and c not in '"')
    text = text.strip().lstrip(".").strip()
    return text[:MAX_NAME] or "file"


def file_key(file_id: str, thumb: bool = False) -> str:
    return file_id + THUMB if thumb else file_id


class Files:
    def __init__(self, service: ChatService, store: Store, storage: FileStorage) -> None:
        self._service = service
        self._store = store
        self.storage = storage
        self._uploading: Counter[str] = Counter()
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.storage.open()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_often(), name="parley-file-sweep")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        await self.storage.close()

    # uploading --------------------------------------------------------------------------------------

    async def upload(self, user: str, room: str, name: object, chunks: AsyncIterator[bytes], *, client_id: str,
                     text: str = "", reply_to: int | None = None, voice: bool = False,
                     duration_ms: int | None = None) -> Saved:
        """Store the file from `chunks` and post it as a message to `room` (with `text` as its caption)."""
        service = self._service
        if text:
            service.check_text(text)
        if voice and (duration_ms is None or not 0 < duration_ms <= MAX_DURATION_MS):
            raise Refused(ErrorCode.BAD_REQUEST, f"a voice message needs duration_ms from 1 to {MAX_DURATION_MS}")
        await service.ready_to_post(user, room)
        await service.authorize(user, room, Action.SEND)
        limit = await self._room_left(user)
        if self._uploading[user] >= MAX_UPLOADS:
            raise Refused(ErrorCode.RATE_LIMITED, f"at most {MAX_UPLOADS} uploads at once; wait for one to finish")
        self._uploading[user] += 1
        try:
            attachment = await self._receive(user, room, clean_name(name), chunks, client_id, limit, voice,
                                             duration_ms)
        finally:
            self._uploading[user] -= 1
            if not self._uploading[user]:
                del self._uploading[user]
        try:
            saved = await service.post_wait(user, room, text, client_id, reply_to, attachment)
        except BaseException:
            service.spawn(self.discard(attachment.id))
            raise
        if saved.duplicate:  # sent before (a retry): the earlier message stands, this copy goes
            service.spawn(self.discard(attachment.id))
        else:
            await self._store.file_stored(attachment.id, attachment.size, saved.event.seq)
        return saved

    async def _room_left(self, user: str) -> int:
        """How many bytes `user` may upload now: --max-upload, or less if the quota is nearly spent."""
        settings = self._service.settings
        if not settings.upload_quota:
            return settings.max_upload
        used = await self._store.uploaded_since(user, _now_ms() - QUOTA_WINDOW_MS)
        left = settings.upload_quota - used
        if left <= 0:
            raise Refused(ErrorCode.RATE_LIMITED, f"upload quota of {settings.upload_quota:,} bytes a day is "
                                                  "used up; try again later")
        return min(settings.max_upload, left)

    async def _receive(self, user: str, room: str, name: str, chunks: AsyncIterator[bytes], client_id: str,
                       limit: int, voice: bool, duration_ms: int | None) -> Attachment:
        file_id = secrets.token_urlsafe(16)
        await self._store.add_file(FileRecord(id=file_id, room=room, uploader=user, client_id=client_id, size=0,
                                              created_ms=_now_ms()))
        writer = self.storage.writer(file_key(file_id))
        size = 0
        head = bytearray()
        whole: bytearray | None = bytearray()  # kept while it may be an image to thumbnail
        thumbed = False
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    settings = self._service.settings
                    raise TooLarge(limit, quota=limit < settings.max_upload)
                if len(head) < HEAD:
                    head += chunk[:HEAD - len(head)]
                    if len(head) >= HEAD and media_type(bytes(head)) not in IMAGES:
                        whole = None
                if whole is not None:
                    whole += chunk
                await writer.write(chunk)
            if size == 0:
                raise Refused(ErrorCode.BAD_REQUEST, "the file is empty")
            attachment = await self._describe(file_id, name, bytes(head), size, whole, voice, duration_ms)
            thumbed = attachment.thumb
            await writer.commit()
        except BaseException:
            self._service.spawn(self._undo(writer.abort(), file_id, thumbed))
            raise
        return attachment

    async def _undo(self, abort: object, file_id: str, thumbed: bool) -> None:
        try:
            await abort  # type: ignore[misc]
            if thumbed:
                await self.storage.delete(file_key(file_id, thumb=True))
            await self._store.drop_files([file_id])
        except Exception as exc:  # the sweep removes it later
            log.warning("cannot remove the unfinished upload %s now: %s", file_id, exc)

    async def _describe(self, file_id: str, name: str, head: bytes, size: int, whole: bytearray | None,
                        voice: bool, duration_ms: int | None) -> Attachment:
        mime = media_type(head)
        if voice:
            audio = voice_type(mime)
            if audio is None:
                raise Refused(ErrorCode.BAD_REQUEST, "a voice message must be audio (WebM/Opus, Ogg, MP4/AAC, MP3 "
                                                     "or WAV)")
            return Attachment(id=file_id, name=name, type=audio, size=size, kind="voice", duration_ms=duration_ms)
        if mime in IMAGES and whole is not None:
            try:
                described = await asyncio.wait_for(asyncio.to_thread(thumbnail, bytes(whole)), THUMB_TIMEOUT)
            except TimeoutError:
                described = None
            if described is not None:
                width, height, thumb = described
                if thumb is not None:
                    await self.storage.put(file_key(file_id, thumb=True), thumb)
                return Attachment(id=file_id, name=name, type=mime, size=size, kind="image", width=width,
                                  height=height, thumb=thumb is not None)
            mime = "application/octet-stream"  # says it is an image, but is not one Pillow can read
        return Attachment(id=file_id, name=name, type=mime, size=size, kind="file")

    # downloading ------------------------------------------------------------------------------------

    async def find(self, user: str, file_id: str) -> Attachment:
        """The attachment `file_id` if `user` may read the message it came with (not_found otherwise, the same
        for a file that never existed, one being uploaded, a deleted one and one in a room `user` cannot read)."""
        missing = Refused(ErrorCode.NOT_FOUND, "no such file")
        record = await self._store.file(file_id) if len(file_id) <= 64 else None
        if record is None or record.seq is None:
            raise missing
        try:
            await self._service.authorize(user, record.room, Action.READ)
            message = await self._service.messages.message(record.room, record.seq)
        except Refused:
            raise missing from None
        if message.deleted or message.file is None or message.file.id != file_id:
            raise missing
        return message.file

    def read(self, attachment: Attachment, thumb: bool = False) -> AsyncIterator[bytes]:
        return self.storage.read(file_key(attachment.id, thumb))

    # removing ---------------------------------------------------------------------------------------

    async def discard(self, file_id: str) -> None:
        """Remove a file's bytes and its record (its message is gone or was never stored)."""
        try:
            await self.storage.delete(file_key(file_id, thumb=True))
            await self.storage.delete(file_key(file_id))
            await self._store.drop_files([file_id])
        except Exception as exc:  # the sweep removes it later
            log.warning("cannot remove file %s now: %s", file_id, exc)

    def message_deleted(self, message: Message) -> None:
        if message.file is not None:
            self._service.spawn(self.discard(message.file.id))

    async def sweep(self) -> int:
        """Remove abandoned uploads and the files of deleted messages and rooms; how many went."""
        ids = await self._store.abandoned_files(_now_ms() - ABANDONED_MS)
        for file_id in ids:
            await self.storage.delete(file_key(file_id, thumb=True))
            await self.storage.delete(file_key(file_id))
        await self._store.drop_files(ids)
        return len(ids)

    async def _sweep_often(self) -> None:
        while True:
            try:
                swept = await self.sweep()
                if swept:
                    log.info("removed %d files of deleted messages or unfinished uploads", swept)
            except Exception as exc:
                log.warning("cannot sweep files now: %s", exc)
            await asyncio.sleep(SWEEP_EVERY)


def inline(attachment: Attachment) -> bool:
    """Whether a browser may show the file in place (media only; everything else is a download)."""
    return attachment.type in INLINE


def _now_ms() -> int:
    return int(time.time() * 1000)
