"""Thumbnails of uploaded images and square avatars, made with Pillow: bounded in pixels (a decompression bomb
is refused before it is decoded) and run in a thread by the caller, which also bounds the time it waits."""

import io
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from PIL import Image, ImageOps

MAX_PIXELS = 40_000_000  # larger JPEGs are kept as files, not decoded (JPEG decodes at a reduced scale)
MAX_PIXELS_OTHER = 16_000_000  # PNG, GIF, WebP decode in full: about 4 bytes a pixel
BOX = 320  # a thumbnail fits in BOX x BOX pixels
T = TypeVar("T")
ORIENTATION = 0x0112  # the EXIF tag saying how the camera held the picture


def _exif(read: Callable[[], T], otherwise: T) -> T:
    """A damaged EXIF block (struct.error and others from Pillow) costs the rotation, not the image."""
    try:
        return read()
    except Exception:
        return otherwise


@contextmanager
def _opened(data: bytes | bytearray) -> Iterator[Image.Image]:
    """Pillow's view of an image's bytes, a decompression bomb raising rather than warning while it is open."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as image:
            yield image


def _decodable(image: Image.Image) -> bool:
    width, height = image.size
    return width * height <= (MAX_PIXELS if image.format == "JPEG" else MAX_PIXELS_OTHER)


def _upright(image: Image.Image, box: int) -> Image.Image:
    """The image decoded (a JPEG at a reduced scale, enough for `box` pixels), turned upright by its EXIF, in
    RGB or RGBA."""
    image.draft("RGB", (box * 2, box * 2))
    upright = _exif(lambda: ImageOps.exif_transpose(image) or image, image)
    return upright.convert("RGBA" if upright.mode in ("RGBA", "LA", "P", "PA") else "RGB")


def _webp(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "WEBP", quality=quality)
    return out.getvalue()


def thumbnail(data: bytes | bytearray) -> tuple[int, int, bytes | None] | None:
    """(width, height, a WebP thumbnail or None if too large to decode) of an image, or None if Pillow does
    not read it as one."""
    try:
        with _opened(data) as image:
            width, height = image.size
            if width < 1 or height < 1:
                return None
            if not _decodable(image):
                return width, height, None
            if _exif(lambda: image.getexif().get(ORIENTATION) in (5, 6, 7, 8), False):  # stored turned a quarter
                width, height = height, width
            small = _upright(image, BOX)
            small.thumbnail((BOX, BOX))
            return width, height, _webp(small, 80)
    except Exception:  # Pillow raises many kinds on a damaged or hostile file (struct.error, OSError, ...)
        return None


def square(data: bytes | bytearray, px: int) -> bytes | None:
    """A `px`-square WebP of an image (centred crop, upright by its EXIF), or None if Pillow does not read it
    as one or it is too large to decode."""
    try:
        with _opened(data) as image:
            if image.size[0] < 1 or image.size[1] < 1 or not _decodable(image):
                return None
            return _webp(ImageOps.fit(_upright(image, px), (px, px), Image.Resampling.LANCZOS), 85)
    except Exception:
        return None
