"""Group commit: room events submitted while a transaction is in flight are stored together in the next one.

One writer task per process drains the queue; each item carries a callback instead of a future, so a
send costs no extra task or future on the hot path.
"""

import asyncio
import logging
from collections.abc import Callable

from parley.store.base import NewEvent, Saved, Store, StoreRejected, StoreUnavailable

log = logging.getLogger("parley.store")

STALL_AFTER = 5.0  # seconds a batch may be in flight before what waits behind it is refused

Done = Callable[[Saved | None, Exception | None], None]


class GroupCommitter:
    def __init__(self, store: Store, max_batch: int = 1000) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: list[tuple[NewEvent, Done]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._busy = False  # a batch is being stored
        self._batch_no = 0
        self._stalled = False  # the batch in flight has taken longer than STALL_AFTER
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

    async def drain(self, timeout: float) -> bool:
        """Wait until everything submitted so far is stored and answered (at most `timeout` seconds)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (self._queue or self._busy) and loop.time() < deadline:
            await asyncio.sleep(0.01)
        return not (self._queue or self._busy)

    def submit(self, event: NewEvent, done: Done) -> None:
        if self._stalled:  # the store has hung on the batch in flight: do not queue behind it
            done(None, StoreUnavailable(f"the store has not answered for {STALL_AFTER:g} s"))
            return
        self._queue.append((event, done))
        self._wake.set()

    def _check_stall(self, batch: int) -> None:
        """STALL_AFTER seconds into batch number `batch`: if it is still in flight the store hangs (a link that
        neither answers nor resets); what waits behind it is answered `unavailable` now, not stored, so
        senders can retry instead of waiting for the store's own timeout after it."""
        if not self._busy or self._batch_no != batch:
            return
        self._stalled = True
        waiting, self._queue = self._queue, []
        if waiting:
            log.warning("the store has not answered for %gs; %d event(s) refused", STALL_AFTER, len(waiting))
        error = StoreUnavailable(f"the store has not answered for {STALL_AFTER:g} s")
        for _, done in waiting:
            try:
                done(None, error)
            except Exception:
                log.exception("answering a refused event failed")

    async def _run(self) -> None:
        while not self._stopping or self._queue:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
                self._busy = True
                self._batch_no += 1
                timer = asyncio.get_running_loop().call_later(STALL_AFTER, self._check_stall, self._batch_no)
                try:
                    await self._commit(batch)
                finally:
                    timer.cancel()
                    self._busy = self._stalled = False

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
