"""Group commit: concurrent webhooks share one database commit, none is acknowledged early."""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from typing import Callable


class Inbox:
    """Queue raw payloads and store them in batches.

    While one batch is being committed, new arrivals wait together for the next one, so
    a burst of N requests costs a handful of disk syncs rather than N. ``put`` returns
    only after the row is committed.
    """

    def __init__(self, ingest: Callable[[list[tuple[str, str | None]]], list[int]],
                 executor: Executor, max_batch: int = 500) -> None:
        self._ingest = ingest
        self._executor = executor
        self._max_batch = max_batch
        self._waiting: list[tuple[str, str | None, asyncio.Future[int]]] = []
        self._flushing = False

    @property
    def busy(self) -> bool:
        """Whether payloads are waiting for (or in) a commit."""
        return self._flushing or bool(self._waiting)

    async def put(self, payload: str, source: str | None) -> int:
        """Store one payload; returns its inbox id once committed."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((payload, source, future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                await asyncio.sleep(0)  # requests already read join this commit
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                try:
                    ids = await loop.run_in_executor(
                        self._executor, self._ingest, [(p, s) for p, s, _ in batch])
                except Exception as exc:
                    for *_, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                for (*_, fut), event_id in zip(batch, ids):
                    if not fut.done():
                        fut.set_result(event_id)
        finally:
            self._flushing = False
