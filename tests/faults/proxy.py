"""Network faults between a Parley node and a service (PostgreSQL or Redis): a TCP proxy the scenario
controls, running on an event loop of its own in a background thread.

`FaultProxy` extends tests/scale/cluster.py's `TcpProxy` (forward, `cut()`: drop every connection and
refuse new ones) with `pause()`: the proxy stops forwarding in both directions but keeps every socket
open, as a network partition or a stalled peer does; bytes already sent wait in the kernel's buffers and
flow again on `resume()` (TCP retransmission after a partition heals), unless an end gave up meanwhile.

The proxy runs on its own loop (`ProxyLoop`) so that nothing the scenario does on its loop (blocking
HTTP calls, starting a server that needs the proxied service before it answers /healthz) can stall the
node's link to its database or broker by accident.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from tests.scale.cluster import TcpProxy

T = TypeVar("T")


class FaultProxy(TcpProxy):
    """127.0.0.1:port -> target, with `cut()`, `pause()` and `resume()`; counts what it forwarded."""

    def __init__(self, target_host: str, target_port: int) -> None:
        super().__init__(target_host, target_port)
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.state = "up"  # up | cut | paused
        self.held = 0  # bytes that arrived while paused and waited for `resume()` (more wait in kernel buffers)

    async def _read(self, src: asyncio.StreamReader) -> bytes:
        await self.flowing.wait()  # paused: leave the bytes in the kernel's buffers
        data = await src.read(65536)
        if data and not self.flowing.is_set():  # paused while this read was pending: hold what it got
            self.held += len(data)
            await self.flowing.wait()
        return data

    async def cut(self) -> None:
        """Drop every connection (RST) and refuse new ones until `resume()`."""
        await super().cut()
        self.flowing.set()
        self.state = "cut"

    async def pause(self) -> None:
        """Stop forwarding in both directions; sockets stay open, new connections are accepted but stall."""
        self.flowing.clear()
        self.state = "paused"

    async def resume(self) -> None:
        """Back to forwarding: listen again after a cut, let held bytes through after a pause."""
        if self.server is None:
            await self.start()
        self.flowing.set()
        self.state = "up"

    async def close(self) -> None:
        self.flowing.set()
        await super().close()


class ProxyLoop:
    """An event loop in a daemon thread that hosts proxies; `run()` awaits a coroutine on it from another loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fault-proxies", daemon=True)
        self.thread.start()
        self.proxies: list[FaultProxy] = []

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def proxy(self, host: str, port: int) -> FaultProxy:
        """A started FaultProxy to host:port, living on this loop."""

        async def make() -> FaultProxy:
            proxy = FaultProxy(host, port)
            await proxy.start()
            return proxy

        proxy = await self.run(make())
        self.proxies.append(proxy)
        return proxy

    async def cut(self, proxy: FaultProxy) -> None:
        await self.run(proxy.cut())

    async def pause(self, proxy: FaultProxy) -> None:
        await self.run(proxy.pause())

    async def resume(self, proxy: FaultProxy) -> None:
        await self.run(proxy.resume())

    async def close(self) -> None:
        """Close every proxy, then stop the loop and its thread."""
        for proxy in self.proxies:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.run(proxy.close()), 5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self.thread.join, 5)
        if not self.loop.is_running():
            self.loop.close()
