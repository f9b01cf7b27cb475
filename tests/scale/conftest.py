"""Fixtures for the scale-out tests: a fresh PostgreSQL schema, a Redis key prefix, and nodes on both."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.scale.services import pg_schema, redis_url
from tests.support import ServerProcess

PRESENCE_INTERVAL = "0.5"  # seconds: a crashed node's users go offline within 4 x this

MakeNode = Callable[..., ServerProcess]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A --db URL for an empty PostgreSQL schema of this test's own."""
    with pg_schema() as url:
        yield url


@pytest.fixture
def broker_url() -> str:
    """A --broker URL on the shared test Redis, with a key prefix of this test's own."""
    return redis_url(presence_interval=PRESENCE_INTERVAL)


@pytest.fixture
def make_node(pg_url: str, broker_url: str, tmp_path: Path) -> Iterator[MakeNode]:
    """Start a node on the test's PostgreSQL schema and Redis prefix: make_node("--rate", "0", db=..., broker=...).
    Every node is stopped after the test."""
    started: list[ServerProcess] = []

    def make(*args: str, db: str | None = None, broker: str | None = None, start: bool = True,
             **kwargs: object) -> ServerProcess:
        node = ServerProcess(db or pg_url, "--broker", broker or broker_url, *args,
                             log=tmp_path / f"node{len(started)}.log", **kwargs)  # type: ignore[arg-type]
        started.append(node)
        return node.start() if start else node

    yield make
    for node in started:
        node.stop()
    for i, node in enumerate(started):  # shown by pytest only when the test failed
        print(f"--- node{i} log (last 60 lines) ---", *node.logs().splitlines()[-60:], sep="\n")
