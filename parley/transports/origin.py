"""Which browser origins may open a WebSocket (or, later, poll) on this server."""

from urllib.parse import urlsplit

from parley.config import Settings


def origin_allowed(origin: str | None, host: str, settings: Settings) -> bool:
    """No Origin (a non-browser client), the server's own origin (same host:port as the Host header), or
    one listed with --allowed-origin."""
    if origin is None:
        return True
    allowed = settings.allowed_origins
    if "*" in allowed or origin.rstrip("/").lower() in (a.rstrip("/").lower() for a in allowed):
        return True
    netloc = urlsplit(origin).netloc.lower() if origin != "null" else ""
    return bool(netloc) and netloc == host.lower()
