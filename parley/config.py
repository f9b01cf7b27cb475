"""Server settings: one dataclass, filled by the CLI from flags or PARLEY_<NAME> environment variables."""

import re
from dataclasses import dataclass, field


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    db: str = "sqlite:///parley.db"
    broker: str = "memory://"
    tls_cert: str | None = None
    tls_key: str | None = None
    allowed_origins: list[str] = field(default_factory=list)  # empty: only the server's own origin
    allowed_hosts: list[str] = field(default_factory=list)  # Host names answered; empty: any
    log_level: str = "info"
    heartbeat: float = 20.0  # seconds between server pings; two missed pongs drop the peer
    auth_timeout: float = 10.0  # seconds a new connection has to authenticate
    # seconds a connection has to send a complete request head (also the next one on a keep-alive
    # connection), a request body, or finish its TLS handshake
    request_timeout: float = 10.0
    max_frame: int = 64 * 1024  # bytes; a bigger frame closes the connection with 1009
    max_text: int = 4000  # characters of message text; longer -> error too_long
    max_rooms: int = 1000  # rooms one connection (or one poll) may follow at once
    rate: float = 20.0  # messages per second per user, all connections and REST together (0 disables the limit)
    burst: int = 40  # messages a user may send at once before the rate applies
    registration: str = "open"  # open, invite (an admin's invite code needed) or closed (only `parley user add`)
    room_creation: str = "anyone"  # anyone (public rooms come into being on first join) or admins
    new_rooms: int = 60  # rooms a user may create per hour (at once, then refilled over the hour); 0: no limit
    token_ttl: int = 7 * 24 * 3600  # seconds a login token stays valid
    max_pending: int = 4 * 1024 * 1024  # bytes of unsent output a connection may hold before it is dropped
    # where uploaded files go (a directory or postgresql://); empty: beside the SQLite file, or the PostgreSQL store
    files: str | None = None
    max_upload: int = 25 * 1024 * 1024  # bytes of one uploaded file
    upload_quota: int = 1024 * 1024 * 1024  # bytes a user may upload per day (0: no quota)
    ice_servers: list[str] = field(default_factory=list)  # stun:/turn:/turns: URLs for calls
    turn_secret: str | None = None  # coturn's static-auth-secret: TURN credentials are made from it
    turn_ttl: int = 24 * 3600  # seconds TURN credentials stay valid
    ring_timeout: float = 60.0  # seconds a call rings before it counts as missed
    echo_path: str | None = None  # serve an echo WebSocket here (conformance testing)
    workers: int = 1

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"


def redact(url: str) -> str:
    """A --db or --broker URL fit for logs: `postgresql://user:secret@host/db` -> `postgresql://user:***@host/db`."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)
