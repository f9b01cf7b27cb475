"""Bounds on password checking: how many run at once, and how often a login may fail.

Each argon2 hash takes 64 MiB and tens of milliseconds of CPU, so unbounded concurrent logins are a
memory and CPU attack. `HashPool` lets `workers` hashes run at once (peak memory workers x 64 MiB) and
`queue` more wait; beyond that a login or registration is refused at once (HTTP 429). `FailedLogins`
counts failures per key (an account, an address) in a sliding window; past the limit, logins for that
key are refused until the window moves on, right password or not (otherwise guessing would go on).
"""

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

HASH_WORKERS = 2  # argon2 hashes at once (64 MiB each)
HASH_QUEUE = 16  # hashes waiting for a worker before new ones are refused
WINDOW = 300.0  # seconds over which failed logins are counted
ACCOUNT_FAILURES = 10  # failed logins per account per window
ADDRESS_FAILURES = 100  # failed logins per client address per window
MAX_KEYS = 100_000  # keys remembered at most (oldest forgotten first)


class Busy(Exception):
    """Too many password checks are waiting already."""


class HashPool:
    def __init__(self, workers: int = HASH_WORKERS, queue: int = HASH_QUEUE) -> None:
        self._slots = asyncio.Semaphore(workers)
        self._queue = queue
        self._waiting = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a worker for one hash; Busy at once if the queue is full."""
        if self._slots.locked() and self._waiting >= self._queue:
            raise Busy("too many logins at once")
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()


class FailedLogins:
    def __init__(self, limit: int, window: float = WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may try again (0: now)."""
        times = self._failures.get(key)
        if not times:
            return 0.0
        now = time.monotonic()
        while times and now - times[0] > self.window:
            times.popleft()
        if len(times) < self.limit:
            return 0.0
        return self.window - (now - times[0])

    def failed(self, key: str) -> None:
        times = self._failures.pop(key, None) or deque()
        times.append(time.monotonic())
        while len(times) > self.limit:
            times.popleft()
        self._failures[key] = times  # (re)inserted last: the dict is ordered oldest first
        if len(self._failures) > MAX_KEYS:
            del self._failures[next(iter(self._failures))]

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
