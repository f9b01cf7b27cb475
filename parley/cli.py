"""The `parley` command: serve, manage users, benchmark a running server."""

import asyncio
import logging
import sys

import click

from parley.config import Settings


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
    return url


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="PARLEY_HOST")
@click.option("--port", default=8080, show_default=True, type=int, envvar="PARLEY_PORT")
@click.option("--db", default="sqlite:///parley.db", show_default=True, envvar="PARLEY_DB",
              help="sqlite:///path.db or postgresql://user@host/db")
@click.option("--broker", default="memory://", show_default=True, envvar="PARLEY_BROKER",
              help="memory:// (one process) or redis://host:6379/0")
@click.option("--tls-cert", envvar="PARLEY_TLS_CERT", type=click.Path(exists=True, dir_okay=False),
              help="PEM certificate: serve https and wss")
@click.option("--tls-key", envvar="PARLEY_TLS_KEY", type=click.Path(exists=True, dir_okay=False))
@click.option("--allowed-origin", "allowed_origins", multiple=True, envvar="PARLEY_ALLOWED_ORIGIN",
              help="browser Origin allowed to open WebSockets (repeatable; '*' for any); default: own origin")
@click.option("--log-level", default="info", show_default=True, envvar="PARLEY_LOG_LEVEL",
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False))
@click.option("--heartbeat", default=20.0, show_default=True, type=float, envvar="PARLEY_HEARTBEAT",
              help="seconds between pings; two missed pongs drop the peer")
@click.option("--auth-timeout", default=10.0, show_default=True, type=float, envvar="PARLEY_AUTH_TIMEOUT",
              help="seconds a new WebSocket has to send auth (close 4401 after)")
@click.option("--max-frame", default=64 * 1024, show_default=True, type=int, envvar="PARLEY_MAX_FRAME",
              help="largest client frame in bytes (close 1009 above)")
@click.option("--max-text", default=4000, show_default=True, type=int, envvar="PARLEY_MAX_TEXT",
              help="longest message text in characters")
@click.option("--max-pending", default=4 * 1024 * 1024, show_default=True, type=int, envvar="PARLEY_MAX_PENDING",
              help="bytes of unsent output a connection may hold; over it for 5 s, it is dropped (close 4408)")
@click.option("--rate", default=20.0, show_default=True, type=float, envvar="PARLEY_RATE",
              help="messages per second per connection; 0 disables the limit")
@click.option("--burst", default=40, show_default=True, type=int, envvar="PARLEY_BURST")
@click.option("--token-ttl", default=7 * 24 * 3600, show_default=True, type=int, envvar="PARLEY_TOKEN_TTL",
              help="seconds a login token stays valid")
@click.option("--echo-path", default=None, envvar="PARLEY_ECHO_PATH",
              help="also serve an echo WebSocket at this path (conformance tests)")
@click.option("--workers", default=1, show_default=True, type=int, envvar="PARLEY_WORKERS",
              help="processes sharing the port (needs PostgreSQL and Redis)")
def serve(**options: object) -> None:
    """Run the chat server."""
    options["allowed_origins"] = list(options["allowed_origins"])  # type: ignore[call-overload]
    settings = Settings(**options)  # type: ignore[arg-type]
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    _setup_logging(settings.log_level)
    try:
        where = _describe_db(settings.db)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"Parley: storing in {where}", err=True)
    from parley.server import run

    run(settings)


@main.group()
def user() -> None:
    """Manage accounts."""


@user.command("add")
@click.argument("name")
@click.option("--db", default="sqlite:///parley.db", show_default=True, envvar="PARLEY_DB")
@click.option("--password", envvar="PARLEY_PASSWORD", help="default: prompt, or read one line from stdin")
def user_add(name: str, db: str, password: str | None) -> None:
    """Create user NAME (password from a prompt, or from stdin when it is not a terminal)."""
    if password is None:
        if sys.stdin.isatty():
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            password = sys.stdin.readline().rstrip("\n")
    from parley.service import AccountError, ChatService

    async def add() -> str:
        service = ChatService(Settings(db=db))
        await service.store.open()
        try:
            return await service.create_user(name, password)
        finally:
            await service.store.close()

    try:
        created = asyncio.run(add())
    except AccountError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"created user {created} in {_describe_db(db)}")


if __name__ == "__main__":  # pragma: no cover
    main()
