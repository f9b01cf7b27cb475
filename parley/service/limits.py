"""Per-user rate limits, shared by every way in (WebSocket connections, REST, later long-polling).

One token bucket per user and kind of action on this node: a user with three tabs and a bot script
posting over REST draws from the same budget. (Each node counts on its own: with N nodes behind a
balancer a user can reach at most N times the rate.) Buckets that have refilled are forgotten, so the
table holds only users active in the last few seconds.
"""

import time

from parley.service.ratelimit import TokenBucket

SWEEP_EVERY = 60.0  # seconds between sweeps of full (idle) buckets
JOIN_RATE, JOIN_BURST = 10.0, 120  # joins per second per user: a reconnect rejoins up to 100 rooms at once
TYPING_RATE, TYPING_BURST = 2.0, 5  # typing notifications over REST per second per user


class UserLimits:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, TokenBucket] = {}
        self._swept = time.monotonic()

    def bucket(self, user: str) -> TokenBucket:
        """`user`'s bucket (the same object for every connection and request of theirs while active)."""
        b = self._buckets.get(user)
        if b is None:
            self._sweep()
            b = self._buckets[user] = TokenBucket(self.rate, self.burst)
        return b

    def take(self, user: str) -> bool:
        return self.bucket(user).take()

    def _sweep(self) -> None:
        now = time.monotonic()
        if now - self._swept < SWEEP_EVERY:
            return
        self._swept = now
        for user in [u for u, b in self._buckets.items() if b.idle(now)]:
            del self._buckets[user]

    def __len__(self) -> int:
        return len(self._buckets)
