"""Which browser origins may open a WebSocket on this server, and which Host names it answers to.

A browser page from another site can open a WebSocket to any server (no CORS on upgrades), so the
Origin header decides: no Origin (not a browser), an origin listed with --allowed-origin (scheme, host
and port compared), or the server's own origin: the same host and port as the Host header and the
scheme the browser used to reach it (https with --tls-cert; behind a TLS-terminating proxy, the proxy's
X-Forwarded-Proto). `file://`, `null`, extension and other origins are refused unless listed.

With --allowed-host set, requests whose Host header names another host are refused (DNS rebinding).
"""

from urllib.parse import urlsplit

from parley.config import Settings

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _origin_key(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, ports made explicit; None if it has no host."""
    try:
        parts = urlsplit(origin.strip().rstrip("/").lower())
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.scheme not in DEFAULT_PORTS:
        return None
    return parts.scheme, parts.hostname, port if port is not None else DEFAULT_PORTS[parts.scheme]


def _host_key(host: str, scheme: str) -> tuple[str, int] | None:
    key = _origin_key(f"{scheme}://{host}")
    return (key[1], key[2]) if key else None


def origin_allowed(origin: str | None, host: str, settings: Settings, forwarded_proto: str | None = None) -> bool:
    if origin is None or origin_listed(origin, settings):
        return True
    key = _origin_key(origin)
    if key is None:
        return False
    proto = (forwarded_proto or "").split(",")[0].strip().lower()
    scheme = proto if proto in ("http", "https") else settings.scheme
    return key[0] == scheme and _host_key(host, scheme) == key[1:]


def origin_listed(origin: str, settings: Settings) -> bool:
    """Whether `origin` is one of the --allowed-origin entries (or they include `*`)."""
    allowed = settings.allowed_origins
    if "*" in allowed:
        return True
    key = _origin_key(origin)
    return key is not None and any(_origin_key(a) == key for a in allowed)


def host_allowed(host: str | None, settings: Settings) -> bool:
    """The Host header names this server (any host when --allowed-host is not set)."""
    if not settings.allowed_hosts:
        return True
    if not host:
        return False
    name = host.lower().rpartition(":")[0] if host.count(":") == 1 else host.lower()
    for entry in settings.allowed_hosts:
        entry = entry.lower()
        if entry == host.lower() or (":" not in entry and entry == name):
            return True
    return False
