"""The `parley` command: serve, manage users, benchmark a running server."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from parley.config import Settings, redact

if TYPE_CHECKING:
    from parley.service import ChatService

T = TypeVar("T")


def _default(name: str) -> Any:
    """The default of `Settings.<name>`: option defaults live in parley/config.py only, so --help shows them."""
    for f in dataclasses.fields(Settings):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            raise LookupError(f"Settings.{name} has no default")
    raise LookupError(f"Settings has no field {name!r}")


@click.group()
@click.version_option(package_name="parley")
def main() -> None:
    """Parley: a real-time chat server."""


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)


def _describe_db(url: str) -> str:
    if url.startswith("sqlite"):
        from parley.store.sqlite import sqlite_path

        return f"SQLite file {sqlite_path(url).resolve()}"
    return redact(url)


def _check_workers(settings: Settings) -> None:
    """--workers N > 1 runs N processes, which must share their store and their broker."""
    if settings.workers < 1:
        raise click.UsageError("--workers must be at least 1")
    if settings.workers == 1:
        return
    db = settings.db.split(":", 1)[0].split("+", 1)[0].lower()
    broker = settings.broker.split(":", 1)[0].lower()
    if db not in ("postgresql", "postgres") or broker not in ("redis", "rediss"):
        raise click.UsageError(
            f"--workers {settings.workers} runs {settings.workers} processes, and they must share one store and "
            f"one broker: use --db postgresql://user@host/db and --broker redis://host:6379/0 "
            f"(got --db {settings.db} and --broker {settings.broker}; SQLite and memory:// belong to one process)")


@main.command()
@click.option("--host", default=_default("host"), show_default=True, envvar="PARLEY_HOST")
@click.option("--port", default=_default("port"), show_default=True, type=int, envvar="PARLEY_PORT")
@click.option("--db", default=_default("db"), show_default=True, envvar="PARLEY_DB",
              help="sqlite:///path.db or postgresql://user@host/db")
@click.option("--broker", default=_default("broker"), show_default=True, envvar="PARLEY_BROKER",
              help="memory:// (one process) or redis://host:6379/0")
@click.option("--tls-cert", default=_default("tls_cert"), envvar="PARLEY_TLS_CERT",
              type=click.Path(exists=True, dir_okay=False),
              help="PEM certificate: serve https and wss")
@click.option("--tls-key", default=_default("tls_key"), envvar="PARLEY_TLS_KEY",
              type=click.Path(exists=True, dir_okay=False))
@click.option("--allowed-origin", "allowed_origins", multiple=True, default=_default("allowed_origins"),
              envvar="PARLEY_ALLOWED_ORIGIN",
              help="browser Origin allowed to open WebSockets (repeatable; '*' for any); default: own origin")
@click.option("--allowed-host", "allowed_hosts", multiple=True, default=_default("allowed_hosts"),
              envvar="PARLEY_ALLOWED_HOST",
              help="Host header this server answers to, as name or name:port (repeatable); default: any")
@click.option("--log-level", default=_default("log_level"), show_default=True, envvar="PARLEY_LOG_LEVEL",
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False))
@click.option("--heartbeat", default=_default("heartbeat"), show_default=True, type=float,
              envvar="PARLEY_HEARTBEAT",
              help="seconds between pings; two missed pongs drop the peer")
@click.option("--auth-timeout", default=_default("auth_timeout"), show_default=True, type=float,
              envvar="PARLEY_AUTH_TIMEOUT",
              help="seconds a new WebSocket has to send auth (close 4401 after)")
@click.option("--request-timeout", default=_default("request_timeout"), show_default=True, type=float,
              envvar="PARLEY_REQUEST_TIMEOUT",
              help="seconds a connection has to send a request head or body, or finish a TLS handshake; "
                   "also how long an idle keep-alive connection is kept")
@click.option("--max-frame", default=_default("max_frame"), show_default=True, type=int,
              envvar="PARLEY_MAX_FRAME",
              help="largest client frame in bytes (close 1009 above)")
@click.option("--max-text", default=_default("max_text"), show_default=True, type=int, envvar="PARLEY_MAX_TEXT",
              help="longest message text in characters")
@click.option("--max-rooms", default=_default("max_rooms"), show_default=True, type=int,
              envvar="PARLEY_MAX_ROOMS", help="rooms one connection or poll may follow at once")
@click.option("--max-pending", default=_default("max_pending"), show_default=True, type=int,
              envvar="PARLEY_MAX_PENDING",
              help="bytes of unsent output a connection may hold; over it for 5 s, it is dropped (close 4408)")
@click.option("--rate", default=_default("rate"), show_default=True, type=float, envvar="PARLEY_RATE",
              help="messages per second per user (all their connections and REST together); 0 disables the limit")
@click.option("--burst", default=_default("burst"), show_default=True, type=int, envvar="PARLEY_BURST")
@click.option("--registration", default=_default("registration"), show_default=True, envvar="PARLEY_REGISTRATION",
              type=click.Choice(["open", "invite", "closed"]),
              help="who may create an account: anyone, holders of an admin's invite code, or nobody "
                   "(only `parley user add`)")
@click.option("--room-creation", default=_default("room_creation"), show_default=True,
              envvar="PARLEY_ROOM_CREATION", type=click.Choice(["anyone", "admins"]),
              help="who may create rooms (public rooms otherwise come into being on first join)")
@click.option("--new-rooms", default=_default("new_rooms"), show_default=True, type=int, envvar="PARLEY_NEW_ROOMS",
              help="rooms a user may create per hour (that many at once, then refilled over the hour); 0: no limit")
@click.option("--token-ttl", default=_default("token_ttl"), show_default=True, type=int,
              envvar="PARLEY_TOKEN_TTL",
              help="seconds a login token stays valid")
@click.option("--files", default=_default("files"), envvar="PARLEY_FILES",
              help="where uploaded files are kept: a directory (file:///dir) or postgresql://user@host/db "
                   "(unset: parley-files beside the SQLite file; with a PostgreSQL store, that database)")
@click.option("--max-upload", default=_default("max_upload"), show_default=True, type=int,
              envvar="PARLEY_MAX_UPLOAD", help="largest uploaded file in bytes (413 above)")
@click.option("--upload-quota", default=_default("upload_quota"), show_default=True, type=int,
              envvar="PARLEY_UPLOAD_QUOTA", help="bytes a user may upload per day; 0: no quota")
@click.option("--ice-server", "ice_servers", multiple=True, default=_default("ice_servers"),
              envvar="PARLEY_ICE_SERVERS",
              help="a STUN or TURN server for calls (stun:host:3478, turn:host:3478?transport=udp, turns:...); "
                   "repeat for several. TURN needs --turn-secret")
@click.option("--turn-secret", default=_default("turn_secret"), envvar="PARLEY_TURN_SECRET",
              help="the TURN server's shared secret (coturn use-auth-secret / static-auth-secret)")
@click.option("--turn-ttl", default=_default("turn_ttl"), show_default=True, type=int, envvar="PARLEY_TURN_TTL",
              help="seconds the TURN credentials handed to a browser stay valid")
@click.option("--ring-timeout", default=_default("ring_timeout"), show_default=True, type=float,
              envvar="PARLEY_RING_TIMEOUT", help="seconds a call rings before it is missed")
@click.option("--echo-path", default=_default("echo_path"), envvar="PARLEY_ECHO_PATH",
              help="also serve an echo WebSocket at this path (conformance tests)")
@click.option("--workers", default=_default("workers"), show_default=True, type=int,
              envvar="PARLEY_WORKERS",
              help="processes sharing the port (needs PostgreSQL and Redis)")
def serve(**options: object) -> None:
    """Run the chat server."""
    options["allowed_origins"] = list(options["allowed_origins"])  # type: ignore[call-overload]
    options["allowed_hosts"] = list(options["allowed_hosts"])  # type: ignore[call-overload]
    options["ice_servers"] = list(options["ice_servers"])  # type: ignore[call-overload]
    settings = Settings(**options)  # type: ignore[arg-type]
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if settings.max_upload < 1 or settings.upload_quota < 0:
        raise click.UsageError("--max-upload must be at least 1 and --upload-quota at least 0")
    if settings.max_rooms < 1:
        raise click.UsageError("--max-rooms must be at least 1")
    from parley.service.ice import valid_ice_url

    for url in settings.ice_servers:
        if not valid_ice_url(url):
            raise click.UsageError(f"--ice-server {url!r}: give a stun:, turn: or turns: URL")
    if settings.turn_ttl < 60:
        raise click.UsageError("--turn-ttl must be at least 60 seconds")
    _check_workers(settings)
    _setup_logging(settings.log_level)
    try:
        where = _describe_db(settings.db)
        from parley.broker import broker_for_url

        broker_for_url(settings.broker)  # checks the URL and its options; connects nothing
        from parley.files import storage_for_url

        storage_for_url(settings.files, settings.db)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"Parley: storing in {where}", err=True)
    from parley.server import run

    run(settings)


@main.group()
def user() -> None:
    """Manage accounts."""


def _with_service(db: str, work: Callable[[ChatService], Awaitable[T]]) -> T:
    """Run `work` against the store at `db` (no server: command-line account management)."""
    from parley.service import ChatService

    async def run() -> T:
        service = ChatService(Settings(db=db))
        await service.open_store()
        try:
            return await work(service)
        finally:
            await service.close_store()

    return asyncio.run(run())


@user.command("add")
@click.argument("name")
@click.option("--db", default=_default("db"), show_default=True, envvar="PARLEY_DB")
@click.option("--password", envvar="PARLEY_PASSWORD", help="default: prompt, or read one line from stdin")
@click.option("--admin", is_flag=True, help="a server admin: may do everything in every room, and make invites")
def user_add(name: str, db: str, password: str | None, admin: bool) -> None:
    """Create user NAME (password from a prompt, or from stdin when it is not a terminal)."""
    if password is None:
        if sys.stdin.isatty():
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            password = sys.stdin.readline().rstrip("\n")
    from parley.service import AccountError

    try:
        created = _with_service(db, lambda service: service.accounts.create_user(name, password, admin=admin))
    except AccountError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"created {'admin' if admin else 'user'} {created} in {_describe_db(db)}")


@user.command("admin")
@click.argument("name")
@click.option("--db", default=_default("db"), show_default=True, envvar="PARLEY_DB")
@click.option("--revoke", is_flag=True, help="take the admin flag away instead")
def user_admin(name: str, db: str, revoke: bool) -> None:
    """Make user NAME a server admin (or, with --revoke, no longer one); running servers see it within a minute."""
    if not _with_service(db, lambda service: service.accounts.set_admin(name, not revoke)):
        raise click.ClickException(f"no user {name!r} in {_describe_db(db)}")
    click.echo(f"{name} is {'no longer ' if revoke else ''}a server admin")


@user.command("delete")
@click.argument("name")
@click.option("--db", default=_default("db"), show_default=True, envvar="PARLEY_DB")
def user_delete(name: str, db: str) -> None:
    """Delete user NAME: their tokens stop working and running servers end their sessions within a
    heartbeat interval. Their messages stay."""
    if not _with_service(db, lambda service: service.accounts.delete_user(name)):
        raise click.ClickException(f"no user {name!r} in {_describe_db(db)}")
    click.echo(f"deleted user {name} from {_describe_db(db)}")


@main.group()
def invite() -> None:
    """Invite codes for --registration invite."""


@invite.command("create")
@click.option("--db", default=_default("db"), show_default=True, envvar="PARLEY_DB")
@click.option("--uses", default=1, show_default=True, type=click.IntRange(1, 1000), help="accounts it may create")
@click.option("--expires", default=7 * 24 * 3600, show_default=True, type=click.IntRange(60, 365 * 86400),
              help="seconds until it expires")
@click.option("--by", default="admin", show_default=True, help="recorded as its creator")
def invite_create(db: str, uses: int, expires: int, by: str) -> None:
    """Make an invite code; it is printed on the last line."""
    made = _with_service(db, lambda service: service.accounts.create_invite(by, uses, expires))
    click.echo(f"invite for {uses} account(s), valid {expires} s:", err=True)
    click.echo(made.code)


@main.command()
@click.option("--url", default="ws://127.0.0.1:8080/ws", show_default=True,
              help="the server's WebSocket URL; /api/register and /api/login are found next to it")
@click.option("--clients", default=100, show_default=True, type=click.IntRange(min=1), help="connections")
@click.option("--rooms", default=1, show_default=True, type=click.IntRange(min=1),
              help="rooms; clients are spread over them round-robin")
@click.option("--publishers", default=1, show_default=True, type=click.IntRange(min=0),
              help="clients per room that send messages")
@click.option("--messages", default=100, show_default=True, type=click.IntRange(min=0),
              help="messages each publisher sends")
@click.option("--window", default=2, show_default=True, type=click.IntRange(min=1),
              help="messages each publisher keeps in flight (sent, not yet received back)")
@click.option("--size", default=64, show_default=True, type=click.IntRange(min=1), help="bytes of message text")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True),
              help="publish for this many seconds instead of --messages each")
@click.option("--users", type=click.IntRange(min=1),
              help="accounts to create (clients share them round-robin); default: one per publisher, at least 20")
@click.option("--password", default="bench-password-1", show_default=True, help="password of the bench accounts")
@click.option("--sample", default=20, show_default=True, type=click.IntRange(min=1),
              help="every n-th client records end-to-end latency")
@click.option("--concurrency", default=200, show_default=True, type=click.IntRange(min=1),
              help="connections being set up at once")
@click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="seconds a phase may go without progress before the run gives up")
@click.option("--transport", default="ws", show_default=True, type=click.Choice(["ws", "poll"]),
              help="ws: WebSocket clients; poll: long-polling HTTP clients (GET /api/poll, posts over REST; "
                   "--url may then be http://host:port)")
@click.option("--idle", type=click.FloatRange(min=0, min_open=True),
              help="instead of publishing, hold the clients idle this many seconds and report the server's "
                   "memory (when it runs on this machine)")
@click.option("--poll-timeout", default=25, show_default=True, type=click.IntRange(0, 30),
              help="poll: seconds the server may hold each poll (its `timeout` parameter)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of tables")
@click.option("--plot", type=click.Path(dir_okay=False, writable=True),
              help="write the latency distribution to this PNG (needs matplotlib)")
def bench(url: str, clients: int, rooms: int, publishers: int, messages: int, window: int, size: int,
          duration: float | None, users: int | None, password: str, sample: int, concurrency: int,
          timeout: float, transport: str, idle: float | None, poll_timeout: int, as_json: bool,
          plot: str | None) -> None:
    """Load-test a running Parley: connection setup, deliveries/s, end-to-end and close latency.

    Start the server with --rate 0 (or PARLEY_RATE=0): its default rate limit (20 messages/s per
    connection) would reject most of the load.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from parley.bench import BenchOptions, OptionError, RichProgress, run
    from parley.bench.report import render, to_json

    options = BenchOptions(url=url, clients=clients, rooms=rooms, publishers=publishers, messages=messages,
                           window=window, size=size, duration=duration, users=users, password=password,
                           sample=sample, concurrency=concurrency, timeout=timeout, transport=transport,
                           idle=idle, poll_timeout=poll_timeout)
    try:
        options.check()
    except OptionError as exc:
        raise click.UsageError(str(exc)) from None
    if plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise click.UsageError("--plot needs matplotlib: pip install 'parley[plot]'") from None
    err = Console(stderr=True)
    columns = (TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=as_json) as bar:
        results = run(options, RichProgress(bar))
    if plot:
        from parley.bench.plot import plot as draw

        draw(results, plot)
    if as_json:
        click.echo(to_json(results))
    else:
        render(results, Console())
        if plot:
            click.echo(f"latency plot: {plot}")
    if not results.complete:
        sys.exit(1)


@main.command("call-echo")
@click.option("--url", default="http://127.0.0.1:8080", show_default=True,
              help="the server; its WebSocket is /ws there")
@click.option("--user", "username", envvar="PARLEY_USER", help="the account the bot signs in as (call this user)")
@click.option("--password", envvar="PARLEY_PASSWORD", help="its password (default: prompt)")
@click.option("--token", envvar="PARLEY_TOKEN", help="a token instead of --user and --password")
@click.option("--max-calls", default=4, show_default=True, type=click.IntRange(min=1),
              help="calls answered at once; more are declined as busy")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False))
def call_echo(url: str, username: str | None, password: str | None, token: str | None, max_calls: int,
              log_level: str) -> None:
    """Answer every call to a user and send the caller's audio and video back, until Ctrl-C.

    For testing calls by hand: run it, call its user from the page (a direct message), and hear and see
    yourself. Needs aiortc: pip install 'parley[calls]'.
    """
    if token is None and username is None:
        raise click.UsageError("give --user (and --password) or --token")
    if token is None and password is None:
        password = click.prompt("Password", hide_input=True)
    try:
        from parley.bots.call_echo import CallEcho, EchoError
    except ImportError as exc:
        raise click.UsageError(f"call-echo needs aiortc: pip install 'parley[calls]' ({exc})") from None
    _setup_logging(log_level)
    if log_level.lower() != "debug":
        logging.getLogger("aioice").setLevel(logging.WARNING)  # every ICE check at info
    try:
        bot = CallEcho(url, token=token, user=username, password=password, max_calls=max_calls)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    async def run() -> None:
        import signal

        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # (Windows: Ctrl-C raises KeyboardInterrupt instead)
                loop.add_signal_handler(sig, stop.set)
        task = asyncio.create_task(bot.run())
        ready, stopping = asyncio.create_task(bot.ready.wait()), asyncio.create_task(stop.wait())
        await asyncio.wait([task, ready, stopping], return_when=asyncio.FIRST_COMPLETED)
        if ready.done() and not stopping.done():
            click.echo(f"call-echo: call {bot.user} from {bot.http_url} (party {bot.party_id}); Ctrl-C to stop",
                       err=True)
            await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        stopping.cancel()
        if not task.done():
            await bot.stop()
        await task

    try:
        asyncio.run(run())
    except EchoError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        pass

if __name__ == "__main__":  # pragma: no cover
    main()
