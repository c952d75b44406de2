"""Whose conflicts the desktop dialog shows, and keeping a destination's own in step.

With the built-in tracker on, conflicts are its own, kept in the store (:mod:`app.core.store.conflicts`).
With it off and a destination of a kind that holds conflicts configured (a PostgreSQL
tracker: see ``Kind.holds_conflicts``), they are that destination's own (a PostgreSQL
tracker's ``plex_conflicts``): the dialog offers its shows, an answer is written there (a
``plex_show_mappings`` row, ``resolved = true``), and the events the conflict held are
sent again. A conflict resolved in the tracker's own app is noticed too
(:meth:`Conflicts.sync`), whenever it was answered: what waits on a conflict is sent again
once the tracker has no open conflict for its show (so an answer given while Scrobble
Tray was stopped, or between two looks, counts as well).

A destination's calls run on its own threads (its ``run``), never on the default pool.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from app.core.destinations.base import ConflictSource, OutboxDestination
from app.core.destinations.kinds import KINDS
from app.core.store import Store, StoreError
from app.core.types import Candidate, ConflictRow, Outcome, ScrobbleRow, ShowRow

T = TypeVar("T")


class Db(Protocol):
    """Runs a blocking call of the database service on its thread."""

    def __call__(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Awaitable[T]: ...


def _own(destination: OutboxDestination) -> ConflictSource:
    """A destination's own conflicts, as its kind reads them."""
    return KINDS[destination.kind].conflicts(destination)


async def _call(destination: OutboxDestination, name: str, /, *args: Any, **kwargs: Any) -> Any:
    """A blocking call of a destination's conflicts, on its own threads if it has them."""
    source = _own(destination)
    return await source.run(getattr(source, name), *args, **kwargs)


class Conflicts:
    """The conflicts API of the core, routed to the tracker that counts."""

    def __init__(self, store: Store, db: Db, wake: Callable[[], None]) -> None:
        self.store = store
        self._db = db  # runs a blocking call on the database thread
        self._wake = wake  # deliveries were queued again
        self._open: dict[str, dict[int, str]] = {}  # destination id -> open conflict id -> Plex key

    def _holders(self) -> list[OutboxDestination]:
        """The destinations that are on and of a kind that holds conflicts."""
        return [d for d in self.store.destinations if isinstance(d, OutboxDestination) and d.enabled
                and (kind := KINDS.get(d.kind)) is not None and kind.holds_conflicts]

    @property
    def source(self) -> OutboxDestination | None:
        """The destination whose conflicts the dialog shows, or None (the built-in tracker's)."""
        found = self._holders()
        return found[0] if found and not self.store.settings.builtin_tracker else None

    async def conflicts(self, status: str | None = "open") -> list[ConflictRow]:
        if (dest := self.source) is None:
            return await self._db(self.store.conflicts, status)
        rows = await _call(dest, "conflicts", status)
        held = await self._db(self.store.held_by_conflicts, dest.id)
        return [dataclasses.replace(c, waiting=len(held.get(c.plex_key, ()))) for c in rows]

    async def waiting_events(self, conflict_id: int) -> list[ScrobbleRow]:
        if (dest := self.source) is None:
            return await self._db(self.store.waiting_events, conflict_id)
        conflict = await self._find(dest, conflict_id)
        held = await self._db(self.store.held_by_conflicts, dest.id)
        return [row for _, row in held.get(conflict.plex_key, ())]

    async def search_shows(self, query: str, limit: int = 20) -> list[Candidate]:
        if (dest := self.source) is None:
            return await self._db(self.store.search_shows, query, limit)
        return list(await _call(dest, "search_shows", query, limit))

    async def details(self, show_ids: list[int]) -> dict[int, ShowRow]:
        """The built-in tracker's shows of ``show_ids``, with their ids and episode counts
        (what tells candidates apart); another destination's: none."""
        if self.source is not None:
            return {}
        rows = await self._db(self.store.list_shows, None, None, show_ids)
        return {r.id: r for r in rows}

    async def resolve(self, conflict_id: int, **answer: Any) -> list[Outcome]:
        """Answer a conflict. The built-in tracker applies its waiting scrobbles at once (the
        outcomes); a destination gets them again through its queue."""
        if (dest := self.source) is None:
            return await self._db(self.store.resolve_conflict, conflict_id, **answer)
        if answer.pop("kind", None) == "movie":
            raise StoreError("the tracker's conflicts are about shows: answer with a show (--show)")
        if [answer.get("show_id") is not None, bool(answer.get("create")), bool(answer.get("ignore"))].count(True) != 1:
            raise StoreError("choose exactly one: a show to map to, create, or ignore")
        try:
            conflict = await _call(dest, "resolve", conflict_id, **answer)
        except LookupError as exc:
            raise StoreError(str(exc)) from None
        await self._send_again(dest, conflict.plex_key)
        return []

    async def open_count(self) -> int:
        """Open conflicts; for an unreachable destination, the last count known."""
        if (dest := self.source) is None:
            return (await self._db(self.store.counts)).conflicts_open
        try:
            return len(await _call(dest, "conflicts", "open"))
        except Exception:  # its sender says why it is unreachable
            return len(self._open.get(dest.id, {}))

    async def sync(self) -> bool:
        """Send again what waits on a conflict the destination no longer has open (answered
        in its own app, at any time); True when something changed."""
        changed = False
        for dest in self._holders():
            # What waits is read first: a conflict is in the tracker before its event is
            # recorded here as waiting on it, so a show seen waiting here and without an
            # open conflict there was answered (not yet to be created).
            held = await self._db(self.store.held_by_conflicts, dest.id)
            try:
                now = {c.id: c.plex_key for c in await _call(dest, "conflicts", "open")}
                open_keys = set(await _call(dest, "open_keys"))
            except Exception:  # unreachable: its sender reports that; try again next time
                continue
            # (a tracker without plex_rating_key keeps its conflicts by title)
            answered = [delivery_id for key, rows in held.items() for delivery_id, row in rows
                        if key not in open_keys and row.plex_title not in open_keys]
            if answered and await self._send_ids(answered):
                self._wake()
                changed = True
            before = self._open.get(dest.id, {})
            self._open[dest.id] = now
            changed |= now.keys() != before.keys()
        return changed

    async def _send_again(self, dest: OutboxDestination, plex_key: str) -> None:
        held = (await self._db(self.store.held_by_conflicts, dest.id)).get(plex_key, ())
        if await self._send_ids([delivery_id for delivery_id, _ in held]):
            self._wake()

    async def _send_ids(self, delivery_ids: list[int]) -> int:
        sent: int = await self._db(self.store.send_again, delivery_ids)
        return sent

    async def _find(self, dest: OutboxDestination, conflict_id: int) -> ConflictRow:
        rows: list[ConflictRow] = await _call(dest, "conflicts", None)
        for c in rows:
            if c.id == conflict_id:
                return c
        raise StoreError(f"there is no conflict #{conflict_id} in the tracker")
