"""Fixtures: real Parley servers (subprocesses on free ports) and real clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ServerProcess


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """The store every server in a test shares (SQLite in the test's temp dir)."""
    return f"sqlite:///{tmp_path}/parley.db"


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
