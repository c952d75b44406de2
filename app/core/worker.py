"""When the pipeline runs: after a lull in arrivals, in short batches, never starved.

Acknowledging webhooks comes first. Processing competes with the inbox for the GIL and
SQLite's one write lock, so while webhooks are arriving or waiting for their commit it
waits for a lull — but never more than :data:`MAX_DEFER` between batches, so a backlog
always moves. Relay senders give way to arrivals the same way (:meth:`Worker.busy`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from app.core.inbox import Inbox
from app.core.types import Outcome

log = logging.getLogger(__name__)
BATCH = 20  # inbox rows per transaction: short, so the inbox seldom waits for the write lock
LULL = 0.02  # seconds without a new webhook before processing resumes...
MAX_DEFER = 0.5  # ...or at most this long
RETRY_EVERY = 2.0  # seconds between tries of a batch that failed


class Worker:
    """Runs ``process(BATCH)`` until the inbox has nothing pending, whenever woken."""

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

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        failing = ""  # the last failure's text: its traceback is logged once, not every 2 s
        while True:
            await self._wake.wait()
            self._wake.clear()
            while not self._paused():
                deferred_since = loop.time()
                while self.busy() and loop.time() - deferred_since < MAX_DEFER:
                    await asyncio.sleep(LULL / 4)
                try:
                    outcomes = await self._process(BATCH)
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
                if not outcomes:
                    break
                await self._publish(outcomes)
