"""Group commit: concurrent webhooks share one database commit, none is acknowledged early.

When the database cannot take them (full, locked, its file deleted), each request is
answered with the error (the server's 503) and its payload is held here, in memory, and
stored as soon as the database takes writes again: Plex never sends a webhook twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor

log = logging.getLogger(__name__)

Item = tuple[str, str | None]  # (payload, source address)
Health = Callable[[Exception | None, int], None]  # (what is wrong or None, payloads held)

RETRY_EVERY = 2.0  # seconds between tries to store held payloads
SLOW_AFTER = 8.0  # a commit taking longer than this is reported as trouble
HOLD_AT_MOST = 5_000  # payloads held in memory (a few KB each); beyond it the newest are lost, logged


class DatabaseSlow(TimeoutError):
    """A commit has been waiting for the database for more than ``SLOW_AFTER`` seconds."""


class Inbox:
    """Queue raw payloads and store them in batches.

    While one batch is being committed, new arrivals wait together for the next one, so
    a burst of N requests costs a handful of disk syncs rather than N. ``put`` returns
    only after the row is committed. ``health`` hears of trouble (and of its end).
    """

    def __init__(self, ingest: Callable[[list[Item]], list[int]], executor: Executor,
                 max_batch: int = 500, health: Health | None = None) -> None:
        self._ingest = ingest
        self._executor = executor
        self._max_batch = max_batch
        self._health = health or (lambda problem, held: None)
        self._waiting: list[tuple[str, str | None, asyncio.Future[int]]] = []
        self._held: list[Item] = []  # refused with an error; stored first when the database is back
        self._flushing = False
        self._retry: asyncio.TimerHandle | None = None
        self.problem: Exception | None = None

    @property
    def busy(self) -> bool:
        """Whether webhooks are waiting for (or in) a commit."""
        return self._flushing or bool(self._waiting)

    @property
    def held(self) -> int:
        """Payloads refused with an error, waiting in memory for the database."""
        return len(self._held)

    async def put(self, payload: str, source: str | None) -> int:
        """Store one payload; returns its inbox id once committed."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((payload, source, future))
        self._start()
        return await future

    def _start(self) -> None:
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting or self._held:
                await asyncio.sleep(0)  # requests already read join this commit
                held = self._held[: self._max_batch]
                del self._held[: len(held)]
                fresh = self._waiting[: self._max_batch - len(held)]
                del self._waiting[: len(fresh)]
                slow = loop.call_later(SLOW_AFTER, self._slow)
                try:
                    ids = await loop.run_in_executor(
                        self._executor, self._ingest, held + [(p, s) for p, s, _ in fresh])
                except Exception as exc:
                    self._failed(held, fresh, exc)
                    return
                finally:
                    slow.cancel()
                for (*_, fut), event_id in zip(fresh, ids[len(held):], strict=True):
                    if not fut.done():
                        fut.set_result(event_id)
                if self.problem is not None and not self._held:
                    log.warning("the database takes writes again%s",
                                f"; {len(held)} held webhook(s) stored" if held else "")
                    self._report(None)
        finally:
            self._flushing = False

    def _failed(self, held: list[Item], fresh: list[tuple[str, str | None, asyncio.Future[int]]],
                exc: Exception) -> None:
        for *_, fut in fresh:
            if not fut.done():
                fut.set_exception(exc)
        self._held[:0] = held + [(p, s) for p, s, _ in fresh]  # in the order they came
        if len(self._held) > HOLD_AT_MOST:
            log.error("%d webhook(s) lost: %d are already held waiting for the database",
                      len(self._held) - HOLD_AT_MOST, HOLD_AT_MOST)
            del self._held[HOLD_AT_MOST:]
        if self.problem is None or type(exc) is not type(self.problem):
            log.error("the database cannot take webhooks (%s): holding them and trying again every %g s",
                      exc, RETRY_EVERY)
        self._report(exc)
        if self._retry is None:
            self._retry = asyncio.get_running_loop().call_later(RETRY_EVERY, self._try_again)

    def _try_again(self) -> None:
        self._retry = None
        if self._held or self._waiting:
            self._start()

    def _slow(self) -> None:
        self._report(DatabaseSlow(f"the database has not answered for {SLOW_AFTER:g} s"))

    def _report(self, problem: Exception | None) -> None:
        self.problem = problem
        self._health(problem, self.held)

    def close(self) -> None:
        """Stop retrying; held payloads are lost with it (and logged)."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._held:
            log.error("%d webhook(s) held for the database are lost: it never took them", len(self._held))
