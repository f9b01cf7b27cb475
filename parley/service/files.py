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
from concurrent.futures import ThreadPoolExecutor
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
MAX_UPLOAD_SECONDS = 30 * 60  # an upload still arriving after this long is refused (well inside ABANDONED_MS)
RECORD_EVERY = 4 * 1024 * 1024  # bytes between updates of an upload's size in the store (for the quota)
THUMBS_AT_ONCE = 2  # images decoded at once per node
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
        self._uploading: Counter[str] = Counter()  # uploads under way per user on this node
        self._arriving: Counter[str] = Counter()  # bytes they have received so far
        self._thumbs = asyncio.Semaphore(THUMBS_AT_ONCE)
        self._thumb_pool = ThreadPoolExecutor(THUMBS_AT_ONCE, thread_name_prefix="parley-thumb")
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.storage.open()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_often(), name="parley-file-sweep")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        await self.storage.close()
        self._thumb_pool.shutdown(wait=False, cancel_futures=True)

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
        # Refused now, before a byte is taken, unless a post would join (or create) a public room: that join
        # happens only once the file is in, so a refused upload leaves no membership behind.
        record, standing = await service.access.load(room, user)
        if record is not None and not (record.visibility == "public" and (standing is None
                                                                           or standing.state != "member")):
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
        except asyncio.CancelledError:
            raise  # the message may be stored all the same: the sweep finds it by client_id, or removes the file
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
        left = settings.upload_quota - used - self._arriving[user]  # (uploads under way on this node too)
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
        size = recorded = 0
        head = bytearray()
        whole: bytearray | None = bytearray()  # kept while it may be an image to thumbnail
        thumbed = False
        deadline = time.monotonic() + MAX_UPLOAD_SECONDS
        try:
            async for chunk in chunks:
                size += len(chunk)
                self._arriving[user] += len(chunk)
                if size > limit:
                    settings = self._service.settings
                    raise TooLarge(limit, quota=limit < settings.max_upload)
                if time.monotonic() > deadline:
                    raise Refused(ErrorCode.BAD_REQUEST, f"an upload may take at most {MAX_UPLOAD_SECONDS // 60} "
                                                         "minutes")
                if size - recorded >= RECORD_EVERY:  # other nodes count it against the quota too
                    await self._store.file_growing(file_id, size)
                    recorded = size
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
            await self._store.file_growing(file_id, size)
        except BaseException:
            self._service.spawn(self._undo(writer.abort(), file_id, thumbed))
            raise
        finally:
            self._arriving[user] -= size
            if self._arriving[user] <= 0:
                del self._arriving[user]
        return attachment

    async def _undo(self, abort: object, file_id: str, thumbed: bool) -> None:
        try:
            await abort  # type: ignore[misc]
            if thumbed:
                await self.storage.delete(file_key(file_id, thumb=True))
            await self._store.forget_files([file_id], _now_ms())
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
            described = await self._thumbnail(whole)
            if described is not None:
                width, height, thumb = described
                if thumb is not None:
                    await self.storage.put(file_key(file_id, thumb=True), thumb)
                return Attachment(id=file_id, name=name, type=mime, size=size, kind="image", width=width,
                                  height=height, thumb=thumb is not None)
            mime = "application/octet-stream"  # says it is an image, but is not one Pillow can read
        return Attachment(id=file_id, name=name, type=mime, size=size, kind="file")

    async def _thumbnail(self, data: bytearray) -> tuple[int, int, bytes | None] | None:
        """Pillow's work, one or two images at a time per node in threads of its own (decoding a large image
        takes hundreds of megabytes and a second of CPU); None if it does not finish in THUMB_TIMEOUT."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(THUMB_TIMEOUT):
                async with self._thumbs:
                    return await loop.run_in_executor(self._thumb_pool, thumbnail, data)
        except TimeoutError:
            return None

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
            await self._store.forget_files([file_id], _now_ms())
        except Exception as exc:  # the sweep removes it later
            log.warning("cannot remove file %s now: %s", file_id, exc)

    def message_deleted(self, message: Message) -> None:
        if message.file is not None:
            self._service.spawn(self.discard(message.file.id))

    async def sweep(self) -> int:
        """Remove abandoned uploads and the files of deleted messages and rooms; how many went."""
        now = _now_ms()
        ids = await self._store.abandoned_files(now - ABANDONED_MS)
        for file_id in ids:
            await self.storage.delete(file_key(file_id, thumb=True))
            await self.storage.delete(file_key(file_id))
        await self._store.forget_files(ids, now)
        await self._store.purge_files(now - QUOTA_WINDOW_MS)
        await self.storage.sweep()
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
