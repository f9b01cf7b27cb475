"""Assembles the aiohttp application (WebSocket, REST, web client, metrics) and runs it on uvloop."""

import asyncio
import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import ssl
import sys
import time
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from parley.api import SERVICE, add_routes, error_middleware
from parley.api.cors import cors_middleware
from parley.api.poll import POLLERS
from parley.api.webapp import add_webapp_routes
from parley.config import Settings, redact
from parley.metrics import render
from parley.service import ChatService
from parley.session import Session
from parley.transports.connections import Connections
from parley.transports.echo import Echo
from parley.transports.front import FrontSite, Routes
from parley.transports.origin import host_allowed
from parley.transports.poll import Pollers
from parley.transports.upgrade import serve_websocket
from parley.transports.websocket import WsConnection, accept

log = logging.getLogger("parley")

CONNECTIONS = web.AppKey("connections", Connections)
WS_ROUTES = web.AppKey("ws_routes", dict)


def build_app(settings: Settings, service: ChatService | None = None) -> web.Application:
    service = service or ChatService(settings)
    connections = Connections(settings.heartbeat)
    @web.middleware
    async def host_check(request: web.Request, handler: Any) -> web.StreamResponse:
        if not host_allowed(request.headers.get("Host"), settings):
            raise web.HTTPMisdirectedRequest(text="this server does not answer to that Host\n")
        return await handler(request)

    app = web.Application(middlewares=[host_check, cors_middleware(settings), error_middleware],
                          client_max_size=1024 * 1024)
    app[SERVICE] = service
    app[CONNECTIONS] = connections
    pollers = app[POLLERS] = Pollers(service, connections)

    def chat_handler(conn: WsConnection) -> Session:
        return _chat_session(service, conn)

    async def chat_socket(request: web.Request) -> web.StreamResponse:
        return await serve_websocket(request, settings, connections, chat_handler)

    async def echo_socket(request: web.Request) -> web.StreamResponse:
        return await serve_websocket(request, settings, connections, Echo)

    # the same endpoints for transports/front.py, which answers plain upgrades before aiohttp
    routes: Routes = {"/ws": lambda t, tail: accept(t, tail, settings, connections, chat_handler)}
    if settings.echo_path:
        routes[settings.echo_path] = lambda t, tail: accept(t, tail, settings, connections, Echo)
    app[WS_ROUTES] = routes

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=render(service, connections), content_type="text/plain")

    app.router.add_get("/ws", chat_socket)
    if settings.echo_path:
        app.router.add_get(settings.echo_path, echo_socket)
    app.router.add_get("/metrics", metrics)
    add_webapp_routes(app)
    add_routes(app)

    async def startup(app: web.Application) -> None:
        await service.start()
        connections.start()

    async def shutdown(app: web.Application) -> None:
        # no new requests; what was received is stored and acked before the 1001 close frames go out
        connections.quiet()
        await service.drain()
        pollers.stop()
        await connections.stop()

    async def cleanup(app: web.Application) -> None:
        await service.stop()

    app.on_startup.append(startup)
    app.on_shutdown.append(shutdown)
    app.on_cleanup.append(cleanup)
    return app


def _chat_session(service: ChatService, conn: WsConnection) -> Session:
    session = Session(service, conn)
    timeout = service.settings.auth_timeout

    def expire() -> None:
        if not session.user and session.held is None and not session.closed:  # (not while auth is confirmed)
            session.handle_timeout()

    asyncio.get_running_loop().call_later(timeout, expire)
    return session


class _NoBadRequestTracebacks(logging.Filter):
    """aiohttp logs a full traceback for every malformed request (a missing Host header, junk bytes): a
    client's error, answered with 400, and under a flood megabytes of log a second. Keep them out."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, HttpProcessingError)


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.tls_cert:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(settings.tls_cert, settings.tls_key)
    return ctx


GC_THRESHOLDS = (50_000, 20, 20)  # CPython's defaults are (700, 10, 10)


def tune_gc() -> None:
    """Collect cycles less often. With thousands of sessions alive, CPython's default of a young collection
    every 700 allocations spent about a quarter of the server's CPU in the collector when connections
    arrived in bursts (perf, docs/performance.md); what is allocated at start-up is frozen out of every
    collection. Cycles are still collected, only in larger batches."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run(settings: Settings, worker: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM, on uvloop where available; then close connections and the store.

    With settings.workers > 1 this process supervises that many workers (see run_workers).
    """
    if settings.workers > 1 and worker is None:
        run_workers(settings)
        return
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported platform
        pass
    logging.getLogger("aiohttp.server").addFilter(_NoBadRequestTracebacks())
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = build_app(settings)
    runner = web.AppRunner(app, handle_signals=True, access_log=None, shutdown_timeout=5,
                           keepalive_timeout=settings.request_timeout)
    try:
        loop.run_until_complete(runner.setup())
        site = FrontSite(runner, app[WS_ROUTES], settings, host=settings.host, port=settings.port,
                         ssl_context=ssl_context(settings), backlog=4096, reuse_port=settings.workers > 1)
        loop.run_until_complete(site.start())
        where = f"{settings.scheme}://{settings.host}:{settings.port}"
        log.info("Parley serving %s (WebSocket %s/ws), store %s, broker %s",
                 where, where.replace("http", "ws", 1), redact(settings.db), redact(settings.broker))
        tune_gc()
        loop.run_forever()
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        loop.run_until_complete(runner.cleanup())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


WORKER_STARTUP = 10.0  # seconds; a worker failing sooner than this is a configuration problem, not a crash


def run_workers(settings: Settings) -> None:
    """Run `settings.workers` server processes on one port (SO_REUSEPORT: the kernel spreads connections).

    They share rooms through the store and the broker (PostgreSQL and Redis, checked by the CLI). A worker
    that dies is replaced; one that fails while starting stops them all (exit status 1). SIGINT/SIGTERM
    stop every worker gracefully.
    """
    ctx = multiprocessing.get_context("fork")  # no event loop or thread exists yet in this process
    started: dict[int, float] = {}

    def spawn(index: int) -> multiprocessing.process.BaseProcess:
        proc = ctx.Process(target=run, args=(settings, index), name=f"parley-worker-{index}")
        proc.start()
        started[index] = time.monotonic()
        return proc

    procs = [spawn(i) for i in range(settings.workers)]
    log.info("Parley supervisor %d: %d workers on port %d (pids %s)", os.getpid(), len(procs), settings.port,
             ", ".join(str(p.pid) for p in procs))
    stopping = False
    failed = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping:
            multiprocessing.connection.wait([p.sentinel for p in procs], timeout=0.5)
            for i, proc in enumerate(procs):
                code = proc.exitcode
                if code is None or stopping:
                    continue
                if code > 0 and time.monotonic() - started[i] < WORKER_STARTUP:
                    log.error("worker %d (pid %s) failed while starting (exit status %d); stopping", i, proc.pid, code)
                    stopping = failed = True
                    break
                log.warning("worker %d (pid %s) exited with status %d; starting another", i, proc.pid, code)
                procs[i] = spawn(i)
    finally:
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.join(15)
            if proc.is_alive():
                proc.kill()
                proc.join()
    if failed:
        sys.exit(1)
