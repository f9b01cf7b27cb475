"""Group commit: room events submitted while a transaction is in flight are stored together in the next one.

One writer task per process drains the queue; each item carries a callback instead of a future, so a
send costs no extra task or future on the hot path.
"""

import asyncio
import logging
from collections.abc import Callable

from parley.store.base import NewEvent, Saved, Store, StoreRejected, StoreUnavailable

log = logging.getLogger("parley.store")

Done = Callable[[Saved | None, Exception | None], None]


class GroupCommitter:
    def __init__(self, store: Store, max_batch: int = 1000) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: list[tuple[NewEvent, Done]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.batches = 0
        self.stored = 0

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name="parley-group-commit")

    async def stop(self) -> None:
        """Store what is queued, then stop."""
        if self._task:
            self._stopping = True
            self._wake.set()
            await self._task
            self._task = None

    def submit(self, event: NewEvent, done: Done) -> None:
        self._queue.append((event, done))
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping or self._queue:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
                await self._commit(batch)

    async def _commit(self, items: list[tuple[NewEvent, Done]]) -> None:
        outcomes = await self._save(items)
        for (_, done), (saved, error) in zip(items, outcomes, strict=True):
            try:  # one failing callback must not keep the others (or the writer task) from going on
                done(saved, error)
            except Exception:
                log.exception("answering a stored event failed")

    async def _save(self, items: list[tuple[NewEvent, Done]]) -> list[tuple[Saved | None, Exception | None]]:
        """Store `items` in one transaction; if the database refuses the batch for something other than being
        unavailable, one row may be at fault: store each half on its own, down to that row, so a bad row
        answers only its own sender (about 2 log2(n) transactions for one bad row among n)."""
        try:
            results = await self.store.save_events([e for e, _ in items])
        except StoreUnavailable as exc:
            log.warning("store unavailable, %d event(s) refused: %s", len(items), exc)
            return [(None, exc)] * len(items)
        except Exception as exc:
            if len(items) > 1:
                mid = len(items) // 2
                return await self._save(items[:mid]) + await self._save(items[mid:])
            if isinstance(exc, StoreRejected):
                log.warning("the store refused an event from %s: %s", items[0][0].sender, exc)
            else:
                log.exception("storing an event failed")
            return [(None, exc)]
        self.batches += 1
        self.stored += len(items)
        return [(saved, None) for saved in results]
