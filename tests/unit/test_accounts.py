"""Accounts in-process (tests/unit/fakes.py FakeStore): what a node knows of revoked tokens."""

import asyncio

import pytest

from parley.auth import InvalidToken
from parley.broker.memory import MemoryBroker
from parley.config import Settings
from parley.service.accounts import Accounts
from parley.session.registry import SessionRegistry
from tests.unit.fakes import FakeStore


async def test_a_check_overlapping_a_sign_out_does_not_bring_the_token_back():
    """The periodic check reads the revoked token ids from the store; a sign-out on this node while that read
    is under way must not be undone when the (older) answer arrives."""
    store = FakeStore()
    accounts = Accounts(Settings(), store, MemoryBroker(), SessionRegistry())
    await accounts.start()
    token = accounts._issue("alice", 0)[0]
    bearer = accounts.authenticate(token)

    real = store.revoked_tokens
    read, release = asyncio.Event(), asyncio.Event()

    async def slow_read(now_ms: int) -> dict[str, int]:  # a store round trip that takes a moment
        snapshot = await real(now_ms)
        read.set()
        await release.wait()
        return snapshot

    store.revoked_tokens = slow_read  # type: ignore[method-assign]
    check = asyncio.create_task(accounts.end_stale_sessions([]))  # the periodic check starts
    await read.wait()
    store.revoked_tokens = real  # type: ignore[method-assign]
    await accounts.sign_out(bearer)  # meanwhile the device signs out
    with pytest.raises(InvalidToken):
        accounts.authenticate(token)
    release.set()
    await check
    with pytest.raises(InvalidToken):
        accounts.authenticate(token)
