"""Thumbnails of uploaded images, made with Pillow: bounded in pixels (a decompression bomb is refused before
it is decoded) and run in a thread by the caller, which also bounds the time it waits."""

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # larger images are kept as files, not decoded
BOX = 320  # a thumbnail fits in BOX x BOX pixels
ORIENTATION = 0x0112  # the EXIF tag saying how the camera held the picture


def thumbnail(data: bytes) -> tuple[int, int, bytes | None] | None:
    """(width, height, a WebP thumbnail or None if too large to decode) of an image, or None if Pillow does
    not read it as one."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width < 1 or height < 1:
                    return None
                if width * height > MAX_PIXELS:
                    return width, height, None
                if image.getexif().get(ORIENTATION) in (5, 6, 7, 8):  # stored turned by a quarter
                    width, height = height, width
                image.draft("RGB", (BOX * 2, BOX * 2))  # JPEG: decode at a reduced scale
                small = ImageOps.exif_transpose(image) or image
                small = small.convert("RGBA" if small.mode in ("RGBA", "LA", "P", "PA") else "RGB")
                small.thumbnail((BOX, BOX))
                out = io.BytesIO()
                small.save(out, "WEBP", quality=80)
                return width, height, out.getvalue()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning, OSError,
            ValueError, SyntaxError):
        return None
