"""When the pipeline runs: after a lull in arrivals, in short batches, never starved, and
keeping pace with a steady stream.

Acknowledging webhooks comes first. Processing competes with the inbox for the GIL and
SQLite's one write lock, so once it has caught up it waits for a lull in arrivals — but
never more than :data:`MAX_DEFER`, so a steady stream is still processed. While it is
behind (the last batch was full) it no longer waits for a lull, only for an inbox commit
in flight: while webhooks keep arriving its batches stay short (:data:`BUSY_BATCH`, back to
back: a batch holds the write lock while it commits, and a 200 waits for it); in a lull
they double, up to :data:`MAX_BATCH` (a burst's backlog goes in a few transactions). Inside
a batch, the database thread gives way to webhooks waiting for their commit
(:meth:`Worker.give_way`). Relay senders give way to arrivals the same way (:meth:`Worker.busy`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from app.core.inbox import Inbox
from app.core.types import Outcome

log = logging.getLogger(__name__)
BATCH = 10  # inbox rows per transaction when caught up: short, so the inbox seldom waits for the write lock
# The most while behind and webhooks keep arriving: a webhook's commit waits for a batch's
# (SQLite's busy wait sleeps 1, 2, 5, 10 ms between tries). At a steady 200/s, Plex's 200
# p99 was 14-18 ms with 20, 8-10 ms with 10 (and with 5), for ~30 % more CPU per event.
BUSY_BATCH = 10
MAX_BATCH = 400  # the most while behind in a lull: a burst's backlog goes in a few transactions
LULL = 0.02  # seconds without a new webhook before processing resumes...
MAX_DEFER = 0.5  # ...or at most this long (once caught up)
GIVE_WAY = 0.05  # while behind: the longest wait for the inbox's commit to end
GIVE_WAY_ROW = 0.005  # the same, between a batch's rows (on the database thread)
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

    def quiet_for(self) -> float:
        """Seconds since the last webhook arrived (a long time if none did)."""
        return asyncio.get_running_loop().time() - self._last_arrival

    def busy(self) -> bool:
        """Webhooks are arriving or waiting for their commit."""
        return self._inbox.busy or asyncio.get_running_loop().time() - self._last_arrival < LULL

    def give_way(self) -> None:
        """On the database thread, between a batch's rows and before its commit: while
        webhooks wait for their commit, let them have the GIL and the write lock first (for at
        most :data:`GIVE_WAY_ROW` each time, so a batch always ends)."""
        until = time.monotonic() + GIVE_WAY_ROW
        while self._inbox.busy and time.monotonic() < until:
            time.sleep(GIVE_WAY_ROW / 20)

    async def _wait_turn(self, behind: bool) -> None:
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
                await self._wait_turn(behind)
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
