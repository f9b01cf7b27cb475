"""The real services the tests use besides Parley itself: PostgreSQL and Redis.

Where they are: PARLEY_TEST_PG (default postgresql://postgres@127.0.0.1:5432/test, falling back to the
current OS user) and PARLEY_TEST_REDIS (default redis://127.0.0.1:6379/0). A test that needs one that
does not answer is skipped with the reason, except under CI (CI=true), where it fails: CI must run them.

Each PostgreSQL test gets a schema of its own (`?search_path=ptest_<pid>_<random>` in the --db URL;
PostgresStore creates it on start), dropped afterwards; schemas left by a killed test run are dropped by
the next run. Each Redis user gets a key prefix of its own (`?prefix=`), so runs do not hear each other.
"""

from __future__ import annotations

import asyncio
import functools
import getpass
import os
import re
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg
import pytest
import redis

T = TypeVar("T")

PG_ENV = "PARLEY_TEST_PG"
REDIS_ENV = "PARLEY_TEST_REDIS"
SCHEMA_RE = re.compile(r"^ptest_(\d+)_[0-9a-f]+$")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require(service: str, problem: str | None) -> None:
    """Skip (locally) or fail (under CI) the current test when `service` is not usable."""
    if problem is None:
        return
    message = f"{service} not available: {problem}"
    if in_ci():
        pytest.fail(f"{message} (CI must run the PostgreSQL/Redis tests)", pytrace=False)
    pytest.skip(message)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a private loop in a worker thread (safe inside pytest-asyncio)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


# PostgreSQL ------------------------------------------------------------------------------------------


def _pg_candidates() -> list[str]:
    if os.environ.get(PG_ENV):
        return [os.environ[PG_ENV]]
    return [f"postgresql://{user}@127.0.0.1:5432/test" for user in dict.fromkeys(["postgres", getpass.getuser()])]


@functools.cache
def postgres() -> tuple[str | None, str | None]:
    """(base URL, None) when PostgreSQL answers, else (None, why not)."""
    problems = []
    for url in _pg_candidates():
        try:
            run_sync(_pg_run(url, "SELECT 1"))
        except Exception as exc:
            problems.append(f"{url}: {type(exc).__name__}: {exc}")
            continue
        run_sync(_drop_stale_schemas(url))
        return url, None
    return None, "; ".join(problems) + f" (set {PG_ENV})"


def postgres_url() -> str:
    """The base URL of the test PostgreSQL; skips/fails the test when there is none."""
    url, problem = postgres()
    require("PostgreSQL", problem)
    assert url is not None
    return url


async def _pg_run(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


async def _drop_stale_schemas(url: str) -> None:
    """Schemas of test runs that are no longer running (killed before their teardown)."""
    conn = await asyncpg.connect(url, timeout=5)
    try:
        names = [r[0] for r in await conn.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'ptest\\_%'")]
        for name in names:
            m = SCHEMA_RE.match(name)
            if m and not _alive(int(m.group(1))):
                await conn.execute("SET lock_timeout = '2s'")
                with suppress(asyncpg.PostgresError):
                    await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def with_query(url: str, **params: str) -> str:
    sep = "&" if urlsplit(url).query else "?"
    return url + sep + "&".join(f"{k}={v}" for k, v in params.items())


@contextmanager
def pg_schema() -> Iterator[str]:
    """A --db URL for a fresh, empty schema (created by the server on start), dropped afterwards."""
    base = postgres_url()
    schema = f"ptest_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    try:
        yield with_query(base, search_path=schema)
    finally:
        try:
            run_sync(_pg_run(base, "SET lock_timeout = '10s'", f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        except Exception as exc:  # a leftover is dropped by the next run
            print(f"could not drop schema {schema}: {exc}")


# Redis -----------------------------------------------------------------------------------------------


@functools.cache
def redis_problem() -> str | None:
    url = os.environ.get(REDIS_ENV, "redis://127.0.0.1:6379/0")
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:
        return f"{url}: {type(exc).__name__}: {exc} (set {REDIS_ENV})"
    return None


def redis_url(prefix: str | None = None, **params: str) -> str:
    """A --broker URL on the test Redis with a key prefix of its own; skips/fails when Redis is missing."""
    require("Redis", redis_problem())
    base = os.environ.get(REDIS_ENV, "redis://127.0.0.1:6379/0")
    return with_query(base, prefix=prefix or f"ptest-{uuid.uuid4().hex[:12]}", **params)
