"""The slow-consumer policy every transport applies to its bounded output.

A client that does not take what it is sent must not make the server hold unbounded memory. Over
`max_pending` bytes of unsent output the transport stops reading the client's requests; if the output
stays over the cap for `SLOW_GRACE` seconds without a break, or grows past `HARD_LIMIT` x the cap, the
connection is dropped (SLOW_CONSUMER) and counted.
"""

import time
from enum import Enum

SLOW_GRACE = 5.0  # seconds a connection may stay over max_pending before it is dropped
HARD_LIMIT = 4  # unsent output over HARD_LIMIT x max_pending drops the connection at once


class Verdict(Enum):
    OK = "ok"
    WATCH = "watch"  # over the cap: check again after SLOW_GRACE
    DROP = "drop"


class OutputLimit:
    """One connection's standing against the cap."""

    __slots__ = ("max_pending", "over_since")

    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        self.over_since = 0.0  # when the output went over the cap without a break (0: it is not)

    def after_write(self, pending: int) -> Verdict:
        """`pending` bytes are unsent after a write."""
        if pending <= self.max_pending:
            return Verdict.OK
        if pending > HARD_LIMIT * self.max_pending:
            return Verdict.DROP
        return self.over()

    def over(self) -> Verdict:
        """Over the cap: start the grace period unless it runs already."""
        if self.over_since:
            return Verdict.OK
        self.over_since = time.monotonic()
        return Verdict.WATCH

    def drained(self) -> None:
        self.over_since = 0.0

    def recheck(self, stamp: float, pending: int) -> Verdict:
        """SLOW_GRACE after going over at `stamp`: drop if it has stayed over since."""
        if self.over_since != stamp:
            return Verdict.OK  # it drained below the cap meanwhile
        if pending > self.max_pending:
            return Verdict.DROP
        self.over_since = 0.0
        return Verdict.OK
