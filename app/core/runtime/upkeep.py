"""The runtime's upkeep of its database, in idle time: old payloads that nothing needs are
dropped (:mod:`app.core.store.retention`) and SQLite gives the space back, in steps short
enough that a webhook never waits long for its 200 (each step holds the write lock for
milliseconds, and runs only after :data:`QUIET` seconds without a webhook).

An older file made before auto-vacuum was on is switched over once by a VACUUM, which
holds the write lock while it rewrites the file: only when idle and only for a file up to
:data:`SWITCH_MAX_BYTES`; a larger one keeps reusing its freed pages without shrinking
(the log and Diagnostics say so).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from app.core.instance import InstanceLock
from app.core.runtime.parts import Parts
from app.core.store import StoreError
from app.core.types import Check, CheckStatus, Compacted

log = logging.getLogger(__name__)
T = TypeVar("T")
FIRST_AFTER = 120.0  # seconds after start before the first round (start-up and catch-up go first)
EVERY = 3600.0  # seconds between rounds
QUIET = 5.0  # seconds without a webhook (and nothing pending) before each step
PRUNE_BATCH = 200  # rows rewritten per transaction
VACUUM_PAGES = 256  # pages given back per transaction (1 MB of 4 KB pages)
SWITCH_MAX_BYTES = 64 << 20  # the largest older file switched to incremental auto-vacuum (one VACUUM)


@dataclass(frozen=True)
class UpkeepResult:
    """What one round did."""

    pruned: int = 0  # payloads dropped
    freed_pages: int = 0  # pages given back to the file system
    switched: bool = False  # an older file was switched to incremental auto-vacuum
    longest_step: float = 0.0  # seconds: the longest one transaction held the write lock


class Upkeep(Parts):
    """A part of :class:`app.core.runtime.Runtime`."""

    _switch_tried = False  # at most one VACUUM per run

    async def _in_db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        raise NotImplementedError

    async def _upkeep_loop(self) -> None:
        await asyncio.sleep(FIRST_AFTER)
        while True:
            try:
                await self.upkeep()
            except Exception:  # tried again next round; the log has why
                log.exception("the database's upkeep failed; trying again in %g s", EVERY)
            await asyncio.sleep(EVERY)

    async def _until_quiet(self, quiet: float) -> None:
        """Wait until no webhook came for ``quiet`` seconds and processing is idle."""
        while self._worker is not None and (
                self._worker.busy() or self._worker.quiet_for() < quiet
                or self._status.paused or self._status.database_problem is not None):
            await asyncio.sleep(min(0.25, max(0.01, quiet / 4)))
        if self._worker is not None and quiet and await self._in_db(self._store().pending_count):
            await asyncio.sleep(quiet)  # the pipeline has work: let it finish first
            await self._until_quiet(quiet)

    async def upkeep(self, quiet: float = QUIET) -> UpkeepResult:
        """One round: switch an older file over (once), prune, give the space back."""
        store = self._store()
        longest = 0.0

        async def step(fn: Callable[..., T], *args: Any) -> T:
            await self._until_quiet(quiet)

            def timed() -> T:  # (on the database thread: the time it holds the write lock, not its wait)
                nonlocal longest
                started = time.perf_counter()
                try:
                    return fn(*args)
                finally:
                    longest = max(longest, time.perf_counter() - started)
            return await self._in_db(timed)

        switched = False
        space = await self._in_db(store.space)
        if space.pages and space.auto_vacuum == 0 and not self._switch_tried:
            self._switch_tried = True
            if space.file_bytes <= SWITCH_MAX_BYTES:
                await step(store.switch_to_incremental)
                switched = True
                log.info("the database now gives freed space back (incremental auto-vacuum): %.1f s", longest)
            else:
                log.info("the database (%d MB) was made before it could give freed space back, and is too "
                         "large to switch while running: freed pages are reused, the file does not shrink",
                         space.file_bytes >> 20)
        pruned = freed = 0
        while (n := await step(store.prune_payloads, PRUNE_BATCH)) > 0:
            pruned += n
            if n < PRUNE_BATCH:
                break
        while (n := await step(store.vacuum_step, VACUUM_PAGES)) > 0:
            freed += n
        if pruned or freed:
            await self._in_db(store.checkpoint)
            log.info("database upkeep: %d old payloads dropped, %d pages given back (longest step %.0f ms)",
                     pruned, freed, longest * 1000)
        return UpkeepResult(pruned, freed, switched, longest)

    async def compact(self) -> Compacted:
        """Drop every old payload nothing needs and shrink the file with one VACUUM (turning
        incremental auto-vacuum on): only while no core serves this folder, as it holds the
        write lock throughout. :class:`app.core.instance.AlreadyRunning` when one does."""
        store = self._store()
        lock = InstanceLock(self.paths)  # (its own: this core may be opened for a command only)
        await asyncio.to_thread(lock.acquire)
        try:
            before = await self._in_db(store.space)
            if not before.pages:
                raise StoreError("only the built-in SQLite database is compacted here: a database server keeps "
                                 "its own space (PostgreSQL: VACUUM)")
            pruned = 0
            while n := await self._in_db(store.prune_payloads, 1000):
                pruned += n
            await self._in_db(store.switch_to_incremental)
            await self._in_db(store.checkpoint)
            after = await self._in_db(store.space)
        finally:
            lock.release()
        return Compacted(before.file_bytes, after.file_bytes, pruned)

    async def space_check(self) -> Check:
        """Diagnostics: the file's size, what is kept, and whether it gives space back."""
        try:
            space = await self._in_db(self._store().space)
        except Exception as exc:  # (the Database row says what is wrong with it)
            return Check("Database size", CheckStatus.WARN, f"could not be read now: {exc}")
        days = self.settings.payload_retention_days
        kept = (f"the raw webhooks of events that never count are kept {days} days" if days
                else "every raw webhook is kept (retention 0)")
        if not space.pages:  # not SQLite: its own server keeps its space
            return Check("Database size", CheckStatus.PASS, kept[0].upper() + kept[1:])
        size = f"{space.file_bytes / 1e6:,.1f} MB; {kept}"
        if space.auto_vacuum == 2:
            return Check("Database size", CheckStatus.PASS, f"{size}; freed space goes back to the disk in idle time")
        if space.file_bytes <= SWITCH_MAX_BYTES and not self._switch_tried:
            return Check("Database size", CheckStatus.PASS, f"{size}; it starts giving freed space back in the "
                                                            "next idle moment")
        return Check("Database size", CheckStatus.PASS,
                     f"{size}. The file was made by an older version and is too large to convert while "
                     "webhooks may arrive: freed space is reused, but the file does not shrink",
                     "To shrink it once, quit Scrobble Tray and run: scrobbletray database compact")
