"""Whose conflicts the desktop dialog shows, and keeping a PostgreSQL tracker's in step.

With the built-in tracker on, conflicts are its own, kept in the store
(:mod:`app.core.store.conflicts`). With it off and a PostgreSQL tracker configured, they
are that tracker's ``plex_conflicts``: the dialog offers its ``tvshows``, an answer is
written there (a ``plex_show_mappings`` row, ``resolved = true``), and the events the
conflict held are sent again. A conflict resolved in the web app is noticed too
(:meth:`Conflicts.sync`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, Awaitable, Callable

from app.core.destinations.postgres import PostgresConflicts, PostgresTracker
from app.core.matching import Candidate
from app.core.store import Store, StoreError
from app.core.types import ConflictRow, Outcome, ScrobbleRow, ShowRow

Db = Callable[..., Awaitable[Any]]


class Conflicts:
    """The conflicts API of the core, routed to the tracker that counts."""

    def __init__(self, store: Store, db: Db, wake: Callable[[], None]) -> None:
        self.store = store
        self._db = db  # runs a blocking call on the database thread
        self._wake = wake  # deliveries were queued again
        self._open: dict[str, dict[int, str]] = {}  # PostgreSQL tracker id -> open conflict id -> Plex key

    def _postgres(self) -> list[PostgresTracker]:
        return [d for d in self.store.destinations if isinstance(d, PostgresTracker) and d.enabled]

    @property
    def source(self) -> PostgresTracker | None:
        """The PostgreSQL tracker whose conflicts the dialog shows, or None (the built-in's)."""
        found = self._postgres()
        return found[0] if found and not self.store.settings.builtin_tracker else None

    async def conflicts(self, status: str | None = "open") -> list[ConflictRow]:
        if (pg := self.source) is None:
            return await self._db(self.store.conflicts, status)
        rows = await asyncio.to_thread(PostgresConflicts(pg).conflicts, status)
        held = await self._db(self.store.held_by_conflicts, pg.id)
        return [dataclasses.replace(c, waiting=len(held.get(c.plex_key, ()))) for c in rows]

    async def waiting_events(self, conflict_id: int) -> list[ScrobbleRow]:
        if (pg := self.source) is None:
            return await self._db(self.store.waiting_events, conflict_id)
        conflict = await self._find(pg, conflict_id)
        held = await self._db(self.store.held_by_conflicts, pg.id)
        return [row for _, row in held.get(conflict.plex_key, ())]

    async def search_shows(self, query: str, limit: int = 20) -> list[Candidate]:
        if (pg := self.source) is None:
            return await self._db(self.store.search_shows, query, limit)
        return await asyncio.to_thread(PostgresConflicts(pg).search_shows, query, limit)

    async def details(self, show_ids: list[int]) -> dict[int, ShowRow]:
        """The built-in tracker's shows of ``show_ids``, with their ids and episode counts
        (what tells candidates apart); a PostgreSQL tracker's: none."""
        if self.source is not None:
            return {}
        rows = await self._db(self.store.list_shows, None, None, show_ids)
        return {r.id: r for r in rows}

    async def resolve(self, conflict_id: int, **answer: Any) -> list[Outcome]:
        """Answer a conflict. The built-in tracker applies its waiting scrobbles at once (the
        outcomes); a PostgreSQL tracker gets them again through its queue."""
        if (pg := self.source) is None:
            return await self._db(self.store.resolve_conflict, conflict_id, **answer)
        if [answer.get("show_id") is not None, bool(answer.get("create")), bool(answer.get("ignore"))].count(True) != 1:
            raise StoreError("choose exactly one: a show to map to, create, or ignore")
        try:
            conflict = await asyncio.to_thread(PostgresConflicts(pg).resolve, conflict_id, **answer)
        except LookupError as exc:
            raise StoreError(str(exc)) from None
        await self._send_again(pg, conflict.plex_key)
        return []

    async def open_count(self) -> int:
        """Open conflicts; for an unreachable PostgreSQL tracker, the last count known."""
        if (pg := self.source) is None:
            return (await self._db(self.store.counts)).conflicts_open
        try:
            return len(await asyncio.to_thread(PostgresConflicts(pg).conflicts, "open"))
        except Exception:  # its sender says why it is unreachable
            return len(self._open.get(pg.id, {}))

    async def sync(self) -> bool:
        """Send again what waited on conflicts resolved in a PostgreSQL tracker's own app;
        True when something changed."""
        changed = False
        for pg in self._postgres():
            try:
                now = {c.id: c.plex_key for c in await asyncio.to_thread(PostgresConflicts(pg).conflicts, "open")}
            except Exception:  # unreachable: its sender reports that; try again next time
                continue
            before = self._open.get(pg.id, {})
            self._open[pg.id] = now
            for conflict_id in before.keys() - now.keys():  # resolved since: send its events again
                await self._send_again(pg, before[conflict_id])
            changed |= now.keys() != before.keys()
        return changed

    async def _send_again(self, pg: PostgresTracker, plex_key: str) -> None:
        held = (await self._db(self.store.held_by_conflicts, pg.id)).get(plex_key, ())
        if await self._db(self.store.send_again, [delivery_id for delivery_id, _ in held]):
            self._wake()

    async def _find(self, pg: PostgresTracker, conflict_id: int) -> ConflictRow:
        for c in await asyncio.to_thread(PostgresConflicts(pg).conflicts, None):
            if c.id == conflict_id:
                return c
        raise StoreError(f"there is no conflict #{conflict_id} in the tracker")
