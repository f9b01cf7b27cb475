"""What `parley bench` runs: its options, checked, and the layout they imply (rooms, members, publishers).

Two transports share the layout: `ws` (WebSocket clients, parley.bench.client) and `poll` (long-polling
HTTP clients, parley.bench.poll). `idle` replaces the publish phase by holding every client idle for that
many seconds, to see what idle clients cost the server.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

TRANSPORTS = ("ws", "poll")
POLL_CLIENTS_PER_USER = 10  # the server answers 429 to an 11th polling client of one user (docs/protocol.md 4)
POLL_TIMEOUT_MAX = 30


class OptionError(ValueError):
    """Options that cannot describe a run; the message says which and why."""


@dataclass
class BenchOptions:
    url: str = "ws://127.0.0.1:8080/ws"
    clients: int = 100
    rooms: int = 1
    publishers: int = 1  # per room
    messages: int = 100  # per publisher; ignored when `duration` is set
    window: int = 2  # messages in flight per publisher
    size: int = 64  # bytes of message text
    duration: float | None = None  # publish for this many seconds instead of `messages` each
    users: int | None = None  # accounts to create; None: enough for every publisher (at least 20)
    password: str = "bench-password-1"
    sample: int = 20  # every n-th client records end-to-end latency
    concurrency: int = 200  # connections being set up at once
    timeout: float = 60.0  # seconds a phase may make no progress before the run gives up
    transport: str = "ws"  # "ws" or "poll"
    idle: float | None = None  # hold the clients idle this many seconds instead of publishing
    poll_timeout: int = 25  # poll: the `timeout` of each GET /api/poll (seconds the server may hold it)
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))

    def check(self) -> None:
        """Raise OptionError when the options cannot describe a run."""
        if self.transport not in TRANSPORTS:
            raise OptionError(f"--transport must be one of {', '.join(TRANSPORTS)}, not {self.transport!r}")
        scheme = urlsplit(self.url).scheme
        if self.transport == "ws" and (scheme not in ("ws", "wss") or not urlsplit(self.url).hostname):
            raise OptionError(f"--url must be ws://host:port/path or wss://..., not {self.url!r}")
        if self.transport == "poll" and (scheme not in ("ws", "wss", "http", "https")
                                         or not urlsplit(self.url).hostname):
            raise OptionError(f"--url must be http(s)://host:port or the server's ws(s):// URL, not {self.url!r}")
        for name in ("clients", "rooms", "window", "size", "sample", "concurrency"):
            if getattr(self, name) < 1:
                raise OptionError(f"--{name} must be at least 1")
        for name in ("publishers", "messages"):
            if getattr(self, name) < 0:
                raise OptionError(f"--{name} must not be negative")
        if self.users is not None and self.users < 1:
            raise OptionError("--users must be at least 1")
        if self.duration is not None and self.duration <= 0:
            raise OptionError("--duration must be positive")
        if self.timeout <= 0:
            raise OptionError("--timeout must be positive")
        if self.idle is not None:
            if self.idle <= 0:
                raise OptionError("--idle must be positive")
            if self.duration is not None:
                raise OptionError("--idle and --duration exclude each other (idle clients publish nothing)")
        if not 0 <= self.poll_timeout <= POLL_TIMEOUT_MAX:
            raise OptionError(f"--poll-timeout must be 0 to {POLL_TIMEOUT_MAX} seconds")
        if self.transport == "poll" and self.account_count < self.poll_accounts_needed:
            raise OptionError(f"--users {self.account_count} is too few for {self.clients} polling clients: the "
                              f"server holds at most {POLL_CLIENTS_PER_USER} per user (at least "
                              f"{self.poll_accounts_needed})")
        if self.rooms > self.clients:
            raise OptionError(f"--rooms ({self.rooms}) cannot exceed --clients ({self.clients})")
        smallest = min(self.members().values())
        if self.publishers > smallest:
            raise OptionError(f"--publishers ({self.publishers} per room) exceeds the members of the smallest "
                              f"room ({smallest} = clients / rooms)")

    # layout ---------------------------------------------------------------------------------------

    @property
    def http_base(self) -> str:
        """The server's HTTP base for /api/...: an http(s) URL as given; a ws(s) URL without its last segment."""
        parts = urlsplit(self.url)
        if parts.scheme in ("http", "https"):
            return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        scheme = "https" if parts.scheme == "wss" else "http"
        path = parts.path.rsplit("/", 1)[0] if "/" in parts.path else ""
        return urlunsplit((scheme, parts.netloc, path, "", ""))

    @property
    def poll_accounts_needed(self) -> int:
        return math.ceil(self.clients / POLL_CLIENTS_PER_USER)

    @property
    def account_count(self) -> int:
        if self.users is not None:
            return self.users
        publishers = 0 if self.idle is not None else self.publishers
        needed = min(self.clients, max(publishers * self.rooms, 20))
        if self.transport == "poll":
            needed = max(needed, self.poll_accounts_needed)
        return needed

    @property
    def publishing(self) -> bool:
        return self.idle is None and self.publishers > 0 and (self.duration is not None or self.messages > 0)

    def room_of(self, client: int) -> str:
        return f"bench-{self.run_id}-{client % self.rooms}"

    def members(self) -> dict[str, int]:
        """Clients per room (rooms get clients round-robin)."""
        counts: dict[str, int] = {}
        for i in range(self.clients):
            room = self.room_of(i)
            counts[room] = counts.get(room, 0) + 1
        return counts

    def publisher_ids(self) -> list[int]:
        """The clients that publish: the first `publishers` members of every room."""
        return [r + k * self.rooms for k in range(self.publishers) for r in range(self.rooms)]

    def username(self, account: int) -> str:
        return f"bench_{self.run_id}_{account}"
