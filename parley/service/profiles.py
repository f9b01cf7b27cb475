"""Profiles: what others see of an account besides its ASCII name — a display name (any Unicode, 0-64
characters, no control or format characters but the emoji joiner) and an avatar image.

An avatar is checked from its bytes (parley/files/sniff.py: PNG, JPEG, GIF or WebP), cropped to a square
and made a 256 px WebP with Pillow (bounded in pixels, in a thread, one or two at a time per node), and kept
in the file storage under a random key of its own (no row in `files`: it belongs to no room and is not swept
with them). The users row holds the key; replacing or removing the avatar deletes the old bytes.

Nothing is published when a profile changes: pages refresh the profiles they show every few minutes (and
their own at once), so a new name or avatar reaches others within that time.
"""

import asyncio
import secrets
import unicodedata

from parley.files import FileStorage
from parley.files.sniff import IMAGES, media_type
from parley.files.thumbs import square
from parley.protocol import ErrorCode
from parley.service.policy import Refused
from parley.store import Store
from parley.store.base import Profile

MAX_DISPLAY_NAME = 64  # characters, after trimming
MAX_AVATAR = 5 * 1024 * 1024  # bytes of an uploaded avatar image
AVATAR_PX = 256  # an avatar is AVATAR_PX x AVATAR_PX
AVATAR_TIMEOUT = 10.0  # seconds making one may take
MAX_PROFILES = 100  # names one GET /api/profiles may ask for
ZWJ = "\u200d"  # joins emoji (👩‍💻): the one format character a display name may hold
_NOT_IMAGE = "the avatar must be a PNG, JPEG, GIF or WebP image"


def display_name_problem(value: object) -> str | None:
    """Why `value` cannot be a display name, or None."""
    if not isinstance(value, str):
        return "display_name must be a string"
    text = value.strip()
    if len(text) > MAX_DISPLAY_NAME:
        return f"display_name must be at most {MAX_DISPLAY_NAME} characters"
    for ch in text:
        category = unicodedata.category(ch)
        if (category in ("Cc", "Cf", "Cs", "Zl", "Zp")) and ch != ZWJ:
            return f"display_name must not contain control or format characters (U+{ord(ch):04X})"
    return None


def clean_display_name(value: object) -> str:
    """`value` trimmed and in NFC, or Refused (bad_request) with the reason."""
    problem = display_name_problem(value)
    if problem:
        raise Refused(ErrorCode.BAD_REQUEST, problem)
    assert isinstance(value, str)
    text = unicodedata.normalize("NFC", value.strip())
    if len(text) > MAX_DISPLAY_NAME:  # NFC rarely lengthens, but never store more than the limit
        raise Refused(ErrorCode.BAD_REQUEST, f"display_name must be at most {MAX_DISPLAY_NAME} characters")
    return text


class Profiles:
    """Display names and avatars; the avatar bytes live in `storage` (the file storage of uploads)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._decoding = asyncio.Semaphore(2)

    async def profile(self, user: str) -> Profile:
        found = await self._store.profiles([user])
        return found[0] if found else Profile(user)

    async def profiles(self, names: list[str]) -> list[Profile]:
        """The profiles of those of `names` that are accounts (at most MAX_PROFILES names)."""
        if len(names) > MAX_PROFILES:
            raise Refused(ErrorCode.BAD_REQUEST, f"ask for at most {MAX_PROFILES} users at once")
        return await self._store.profiles(names)

    async def set_display_name(self, user: str, value: object) -> Profile:
        profile = await self._store.set_display_name(user, clean_display_name(value))
        if profile is None:
            raise Refused(ErrorCode.NOT_FOUND, "account no longer exists")
        return profile

    async def set_avatar(self, user: str, data: bytes, storage: FileStorage) -> Profile:
        """Make `data` (an image of at most MAX_AVATAR bytes) the user's avatar; the old one's bytes go."""
        if len(data) > MAX_AVATAR:
            raise Refused(ErrorCode.TOO_LARGE, f"the avatar is too large: at most {MAX_AVATAR:,} bytes")
        if media_type(data[:8192]) not in IMAGES:
            raise Refused(ErrorCode.BAD_REQUEST, _NOT_IMAGE)
        try:
            async with asyncio.timeout(AVATAR_TIMEOUT), self._decoding:
                webp = await asyncio.to_thread(square, data, AVATAR_PX)
        except TimeoutError:
            webp = None
        if webp is None:
            raise Refused(ErrorCode.BAD_REQUEST, _NOT_IMAGE + " that can be read (and at most 16 megapixels)")
        key = "av" + secrets.token_urlsafe(16)
        await storage.put(key, webp)
        try:
            changed = await self._store.set_avatar(user, key)
        except BaseException:
            await storage.delete(key)
            raise
        if changed is None:
            await storage.delete(key)
            raise Refused(ErrorCode.NOT_FOUND, "account no longer exists")
        profile, old = changed
        if old:
            await storage.delete(old)
        return profile

    async def remove_avatar(self, user: str, storage: FileStorage) -> Profile:
        changed = await self._store.set_avatar(user, None)
        if changed is None:
            raise Refused(ErrorCode.NOT_FOUND, "account no longer exists")
        profile, old = changed
        if old:
            await storage.delete(old)
        return profile

    async def avatar_key(self, name: str) -> str | None:
        """The storage key of `name`'s avatar, None if the account has none (or there is no such account)."""
        found = await self._store.profiles([name])
        return found[0].avatar if found else None
