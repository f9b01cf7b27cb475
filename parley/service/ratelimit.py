"""A token bucket: `rate` events per second on average, up to `burst` at once."""

import time


class TokenBucket:
    __slots__ = ("_at", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._tokens = float(burst)
        self._at = time.monotonic()

    def idle(self, now: float) -> bool:
        """Whether the bucket would be full at `now` (nothing to remember about its user)."""
        return self.rate <= 0 or self._tokens + (now - self._at) * self.rate >= self.burst

    def take(self) -> bool:
        """Spend one token if there is one. A rate of 0 means no limit."""
        if self.rate <= 0:
            return True
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
