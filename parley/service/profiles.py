"""Profiles: what others see of an account besides its ASCII name — a display name (any Unicode, 0-64
characters, no control or format characters but the emoji joiner) and an avatar image.

An avatar is checked from its bytes (parley/files/sniff.py: PNG, JPEG, GIF or WebP), cropped to a square
and made a 256 px WebP with Pillow (bounded in pixels, in a thread, one or two at a time per node), and kept
in the file storage under a random key of its own (no row in `files`: it belongs to no room and is not swept
with them). The users row holds the key; replacing or removing the avatar deletes the old bytes.

A change is pushed at once to every connection on every node as a `profile` frame (protocol/frames.py
ProfileChanged, through `publish`, which the chat service sets), so open pages repaint the person's name
and avatar; pages also refresh the profiles they show every few minutes, in case a frame was lost. Each
user may change their profile PROFILE_BURST times in a row, then once every 1 / PROFILE_RATE seconds: a
change reaches every connection, so it must not become a way to flood them.
"""

import asyncio
import secrets
import unicodedata
from collections.abc import Callable

from parley.files import FileStorage
from parley.files.sniff import IMAGES, media_type
from parley.files.thumbs import square
from parley.protocol import ErrorCode
from parley.protocol.frames import ProfileChanged
from parley.service.limits import UserLimits
from parley.service.policy import Refused
from parley.store import Store
from parley.store.base import Profile

MAX_DISPLAY_NAME = 64  # characters, after trimming
MAX_AVATAR = 5 * 1024 * 1024  # bytes of an uploaded avatar image
AVATAR_PX = 256  # an avatar is AVATAR_PX x AVATAR_PX
AVATAR_TIMEOUT = 10.0  # seconds making one may take
MAX_PROFILES = 100  # names one GET /api/profiles may ask for
PROFILE_RATE, PROFILE_BURST = 0.5, 10  # profile changes per second per user (each one reaches every connection)
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
        self._limits = UserLimits(PROFILE_RATE, PROFILE_BURST)
        self.publish: Callable[[ProfileChanged], None] | None = None  # to every connection on every node

    async def profile(self, user: str) -> Profile:
        found = await self._store.profiles([user])
        return found[0] if found else Profile(user)

    async def profiles(self, names: list[str]) -> list[Profile]:
        """The profiles of those of `names` that are accounts (at most MAX_PROFILES names)."""
        if len(names) > MAX_PROFILES:
            raise Refused(ErrorCode.BAD_REQUEST, f"ask for at most {MAX_PROFILES} users at once")
        return await self._store.profiles(names)

    async def set_display_name(self, user: str, value: object) -> Profile:
        name = clean_display_name(value)
        self._take(user)
        profile = await self._store.set_display_name(user, name)
        if profile is None:
            raise Refused(ErrorCode.NOT_FOUND, "account no longer exists")
        self._changed(profile)
        return profile

    async def set_avatar(self, user: str, data: bytes, storage: FileStorage) -> Profile:
        """Make `data` (an image of at most MAX_AVATAR bytes) the user's avatar; the old one's bytes go."""
        if len(data) > MAX_AVATAR:
            raise Refused(ErrorCode.TOO_LARGE, f"the avatar is too large: at most {MAX_AVATAR:,} bytes")
        if media_type(data[:8192]) not in IMAGES:
            raise Refused(ErrorCode.BAD_REQUEST, _NOT_IMAGE)
        self._take(user)
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
        self._changed(profile)
        if old:
            await storage.delete(old)
        return profile

    async def remove_avatar(self, user: str, storage: FileStorage) -> Profile:
        self._take(user)
        changed = await self._store.set_avatar(user, None)
        if changed is None:
            raise Refused(ErrorCode.NOT_FOUND, "account no longer exists")
        profile, old = changed
        if old:
            await storage.delete(old)
            self._changed(profile)  # removing when there was none changes nothing
        return profile

    def _take(self, user: str) -> None:
        if not self._limits.take(user):
            raise Refused(ErrorCode.RATE_LIMITED, "too many profile changes; try again in a few seconds")

    def _changed(self, profile: Profile) -> None:
        if self.publish is not None:
            self.publish(ProfileChanged(user=profile.user, display_name=profile.display_name, avatar=profile.avatar))

    async def avatar_key(self, name: str) -> str | None:
        """The storage key of `name`'s avatar, None if the account has none (or there is no such account)."""
        found = await self._store.profiles([name])
        return found[0].avatar if found else None
