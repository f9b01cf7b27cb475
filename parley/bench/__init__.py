"""`parley bench`: Parley's own load generator, pointed at a running server.

It measures connection setup (handshake + auth + join), throughput (deliveries per second: every member
counts every `message` frame), end-to-end latency (from a timestamp inside each message, read by sampled
members) and close latency, over WebSocket (`--transport ws`) or long-polling HTTP (`--transport poll`,
which also checks every client's seq continuity), or holds idle clients (`--idle`) to see the server's
memory per client. Phases and options: parley.bench.runner and parley.bench.options.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from parley.bench.options import BenchOptions, OptionError
from parley.bench.runner import Bench, Progress, RichProgress, make_bench
from parley.bench.stats import Results

__all__ = ["Bench", "BenchOptions", "OptionError", "Progress", "Results", "RichProgress", "make_bench", "run",
           "run_in_loop"]

T = TypeVar("T")


def run_in_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on a fresh event loop: uvloop where it is installed (the client side must keep up too)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported platform
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def run(options: BenchOptions, progress: Progress | None = None) -> Results:
    """One complete run (accounts, connect, publish, close) against the server at options.url."""

    async def main() -> Results:
        return await make_bench(options, progress).run()

    return run_in_loop(main())
