"""What an uploaded file is, decided from its first bytes (never from the name or type the client gives):
the media type it is served as, and whether the page may show it inline. Anything not recognised is
`application/octet-stream`, served as a download: HTML, SVG or script uploads never render in Parley's
origin."""

import filetype

HEAD = 8192  # bytes looked at
UNKNOWN = "application/octet-stream"

IMAGES = {"image/png", "image/jpeg", "image/gif", "image/webp"}  # shown inline, thumbnailed
AUDIO = {"audio/webm", "audio/ogg", "audio/mpeg", "audio/wav", "audio/mp4", "audio/aac", "audio/flac"}
VIDEO = {"video/webm", "video/mp4"}
SAFE = {"application/pdf", "application/zip", "application/gzip", "application/x-tar", "application/x-7z-compressed"}
INLINE = IMAGES | AUDIO | VIDEO  # what a browser can only show as media, never run

_ALIASES = {"audio/x-wav": "audio/wav", "audio/x-flac": "audio/flac", "audio/m4a": "audio/mp4",
            "video/x-matroska": UNKNOWN}
_EBML = b"\x1a\x45\xdf\xa3"


def media_type(head: bytes) -> str:
    """The type the server serves a file as, from its first HEAD bytes."""
    if head.startswith(_EBML) and b"webm" in head[:64]:  # MediaRecorder's output (filetype misses some)
        return "video/webm"
    kind = filetype.guess(head)
    if kind is None:
        return UNKNOWN
    mime = _ALIASES.get(kind.mime, kind.mime)
    return mime if mime in INLINE | SAFE else UNKNOWN


def voice_type(mime: str) -> str | None:
    """The audio type a voice message is served as, or None if `mime` is not audio (webm and mp4 containers
    from MediaRecorder count as audio)."""
    if mime in AUDIO:
        return mime
    if mime in VIDEO:
        return mime.replace("video/", "audio/")
    return None
