"""Thumbnails of uploaded images, made with Pillow: bounded in pixels (a decompression bomb is refused before
it is decoded) and run in a thread by the caller, which also bounds the time it waits."""

import io
import warnings
from collections.abc import Callable
from typing import TypeVar

from PIL import Image, ImageOps, UnidentifiedImageError

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


def thumbnail(data: bytes | bytearray) -> tuple[int, int, bytes | None] | None:
    """(width, height, a WebP thumbnail or None if too large to decode) of an image, or None if Pillow does
    not read it as one."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width < 1 or height < 1:
                    return None
                if width * height > (MAX_PIXELS if image.format == "JPEG" else MAX_PIXELS_OTHER):
                    return width, height, None
                turned = _exif(lambda: image.getexif().get(ORIENTATION) in (5, 6, 7, 8), False)
                if turned:  # stored turned by a quarter
                    width, height = height, width
                image.draft("RGB", (BOX * 2, BOX * 2))  # JPEG: decode at a reduced scale
                upright: Image.Image = image
                small = _exif(lambda: ImageOps.exif_transpose(image) or upright, upright)
                small = small.convert("RGBA" if small.mode in ("RGBA", "LA", "P", "PA") else "RGB")
                small.thumbnail((BOX, BOX))
                out = io.BytesIO()
                small.save(out, "WEBP", quality=80)
                return width, height, out.getvalue()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None
    except Exception:  # Pillow raises many kinds on a damaged file (struct.error, OSError, ValueError...)
        return None
