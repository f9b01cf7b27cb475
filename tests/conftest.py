"""Fixtures: real Parley servers (subprocesses on free ports) and real clients."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.scale.services import pg_schema, postgres_url
from tests.support import ServerProcess, register

STORES = ["sqlite", "postgresql"]


@pytest.fixture(scope="module", params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Every test that uses a store runs once on SQLite and once on PostgreSQL (tests/scale/services.py:
    skipped with the reason when PostgreSQL is not there, failed under CI=true)."""
    if request.param == "postgresql":
        postgres_url()
    return request.param


@pytest.fixture
def db_url(store_kind: str, tmp_path: Path) -> Iterator[str]:
    """The store every server in a test shares: SQLite in the test's temp dir, or a fresh PostgreSQL schema."""
    if store_kind == "sqlite":
        yield f"sqlite:///{tmp_path}/parley.db"
        return
    with pg_schema() as url:
        yield url


@pytest.fixture
def make_server(db_url: str, tmp_path: Path) -> Iterator:
    """Start servers with extra flags: make_server("--rate", "0"). All are stopped after the test."""
    started: list[ServerProcess] = []

    def make(*args: str, db: str | None = None, **kwargs: object) -> ServerProcess:
        srv = ServerProcess(db or db_url, *args, log=tmp_path / f"server{len(started)}.log", **kwargs)  # type: ignore[arg-type]
        started.append(srv)
        return srv.start()

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def server(make_server) -> ServerProcess:
    """A fresh server with default settings."""
    return make_server()


@pytest.fixture(scope="module")
def shared_db_url(store_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The store of `shared_server` (one per test module and store kind, like `db_url`)."""
    if store_kind == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('shared')}/parley.db"
        return
    with pg_schema() as url:
        yield url


@pytest.fixture(scope="module")
def shared_server(shared_db_url: str, tmp_path_factory: pytest.TempPathFactory,
                  request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """One default server for a whole test module, for tests that only add their own users and rooms.

    Starting a server costs about a second, so tests that need no special flags, no restart and no
    fresh database share this one; they must use unique user and room names (`unique()`).
    A module may set SHARED_SERVER_FLAGS (e.g. ("--rate", "0") where it seeds hundreds of messages, which
    the default rate limit of 20/s per user would otherwise stretch over many seconds).
    """
    flags = getattr(request.module, "SHARED_SERVER_FLAGS", ())
    srv = ServerProcess(shared_db_url, *flags, log=tmp_path_factory.mktemp("shared-log") / "server.log")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def users(shared_server: ServerProcess) -> list[tuple[str, str]]:
    """Three accounts on `shared_server`, registered once per module: [(username, token), ...].

    Registering costs an argon2 hash; tests that need no account of their own reuse these (in rooms of
    their own, so presence and messages from other tests never mix in).
    """
    with ThreadPoolExecutor(3) as pool:
        return list(pool.map(lambda _: register(shared_server), range(3)))
