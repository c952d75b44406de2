"""When the pipeline runs: after a lull in arrivals, in short batches, never starved, and
keeping pace with a steady stream.

Acknowledging webhooks comes first. Processing competes with the inbox for the GIL and
SQLite's one write lock, so once it has caught up it waits for a lull in arrivals — but
never more than :data:`MAX_DEFER`, so a steady stream is still processed. While it is
behind (the last batch was full) it only gives way to an inbox commit in flight, and its
batches grow: to :data:`BUSY_BATCH` while webhooks keep arriving (a batch holds the write
lock while it commits, and a 200 waits for it), to :data:`MAX_BATCH` in a lull (a burst's
backlog). Relay senders give way to arrivals the same way (:meth:`Worker.busy`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from app.core.inbox import Inbox
from app.core.types import Outcome

log = logging.getLogger(__name__)
BATCH = 20  # inbox rows per transaction when caught up: short, so the inbox seldom waits for the write lock
BUSY_BATCH = 40  # the most while behind and webhooks keep arriving
MAX_BATCH = 400  # the most while behind in a lull: a burst's backlog goes in a few transactions
LULL = 0.02  # seconds without a new webhook before processing resumes...
MAX_DEFER = 0.5  # ...or at most this long (once caught up)
GIVE_WAY = 0.05  # while behind: the longest wait for the inbox's commit to end
RETRY_EVERY = 2.0  # seconds between tries of a batch that failed


def next_limit(limit: int, done: int, arriving: bool) -> int:
    """The next batch's size: doubled while behind (the last batch was full), up to what
    arrivals allow; back to :data:`BATCH` once caught up."""
    if done < limit:
        return BATCH
    return min(limit * 2, BUSY_BATCH if arriving else MAX_BATCH)


class Worker:
    """Runs ``process(limit)`` until the inbox has nothing pending, whenever woken."""

    def __init__(self, inbox: Inbox, process: Callable[[int], Awaitable[list[Outcome]]],
                 publish: Callable[[list[Outcome]], Awaitable[None]], paused: Callable[[], bool],
                 failing: Callable[[Exception | None], None] = lambda exc: None) -> None:
        self._inbox = inbox
        self._process = process
        self._publish = publish
        self._paused = paused
        self._failing = failing  # hears each new failure, and None once a batch goes through
        self._wake = asyncio.Event()
        self._last_arrival = 0.0

    def arrived(self) -> None:
        """A webhook was stored: process it (after the burst it belongs to)."""
        self._last_arrival = asyncio.get_running_loop().time()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def busy(self) -> bool:
        """Webhooks are arriving or waiting for their commit."""
        return self._inbox.busy or asyncio.get_running_loop().time() - self._last_arrival < LULL

    async def _give_way(self, behind: bool) -> None:
        """Wait for a lull in arrivals (bounded), or while behind for the inbox's commit only."""
        loop = asyncio.get_running_loop()
        since = loop.time()
        if behind:
            while self._inbox.busy and loop.time() - since < GIVE_WAY:
                await asyncio.sleep(LULL / 8)
            return
        while self.busy() and loop.time() - since < MAX_DEFER:
            await asyncio.sleep(LULL / 4)

    async def run(self) -> None:
        failing = ""  # the last failure's text: its traceback is logged once, not every 2 s
        limit, behind = BATCH, False
        while True:
            await self._wake.wait()
            self._wake.clear()
            while not self._paused():
                await self._give_way(behind)
                try:
                    outcomes = await self._process(limit)
                except Exception as exc:
                    if str(exc) != failing:
                        log.exception("processing failed; trying again every %g s", RETRY_EVERY)
                        self._failing(exc)
                    failing = str(exc)
                    await asyncio.sleep(RETRY_EVERY)
                    continue
                if failing:
                    log.warning("processing goes on again")
                    self._failing(None)
                failing = ""
                behind = len(outcomes) >= limit
                limit = next_limit(limit, len(outcomes), self.busy())
                if not outcomes:
                    break
                await self._publish(outcomes)
