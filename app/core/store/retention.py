"""Keeping the database from growing without bound: the raw payload of an event that can
never count is dropped once older than ``Settings.payload_retention_days``, and SQLite
gives the space back in small steps (``PRAGMA incremental_vacuum``).

What is kept for ever: every inbox row with its columns (event, account, titles, outcome:
the log still shows it), marks, plays, mappings, conflicts, deliveries. Only the
``payload`` column of a row is emptied (:data:`PRUNED`), and only when nothing can read it
again. The code that reads ``payload`` (``grep -rn payload app/core``), and why a pruned
row is never one it reads:

- ``pipeline.process_row`` (processing a pending row, re-run, a resolved conflict's rows):
  pending rows are never pruned; a conflict's rows have the action ``conflict``; a re-run
  (``Processing.rerun``) of a pruned row is refused in words. Only rows whose event is not
  ``media.scrobble`` or ``media.stop`` are pruned, and ``pipeline.filter_reason`` ignores
  those before it reads any setting: a re-run could only ignore them again.
- ``plex_facts.plex_questions`` and ``intake.ingest_history``: pending rows only.
- ``outbox.Outbox.due`` (a delivery sends the payload): a row with a delivery that is
  pending or failed (``retry`` makes it pending), or that a destination answered with a
  conflict (``send_again`` queues it once the conflict is resolved; ``Deliveries.
  held_by_conflicts`` reads its payload) keeps its payload. A delivery being sent has the
  state pending. Only rows whose every delivery was delivered, with another answer, lose it.
- undo: reads the watches an event counted, never its payload (an ignored row counted none).
- ``ScrobbleLog.event_payload``: says that the payload was dropped.
- catch-up and marks made by hand parse the payloads they make, never stored ones.

Rows are found through a partial index (``models.PRUNABLE``), so a round reads only rows
still to prune. In SQLite a row is deleted and written again without its payload (foreign
keys off for that transaction, so nothing cascades): an UPDATE that shrinks a row leaves
its page as full as before, a DELETE merges half-empty pages and frees the rest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, DateTime, bindparam, text, update

from app.core.models import PRUNABLE, WebhookEvent, utcnow
from app.core.store.base import StoreBase
from app.core.types import DeliveryState

log = logging.getLogger(__name__)
PRUNED = ""  # the payload of a row whose raw webhook was dropped

# The rows past retention that nothing needs (PRUNABLE first, word for word, for its index).
_CANDIDATES = (
    "SELECT id FROM webhook_events{hint} WHERE " + PRUNABLE + " AND received_at < :cutoff "
    "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = webhook_events.id "
    f"AND NOT (d.state = '{DeliveryState.DELIVERED.value}' AND COALESCE(d.outcome, '') <> 'conflict_created')) "
    "ORDER BY received_at LIMIT :limit")
# SQLite's planner, without statistics, would rather walk every ignored row (the action
# index); the partial index holds only those still to prune (an error if it no longer
# fits). The cutoff is bound as the column stores its times (SQLite: as text).
_SQLITE_CANDIDATES = text(_CANDIDATES.format(hint=" INDEXED BY ix_webhook_events_prunable")).bindparams(
    bindparam("cutoff", type_=DateTime()))
_OTHER_CANDIDATES = text(_CANDIDATES.format(hint="")).bindparams(bindparam("cutoff", type_=DateTime()))


@dataclass(frozen=True)
class Space:
    """How an SQLite file uses its pages."""

    page_size: int = 0
    pages: int = 0
    free: int = 0  # pages on the freelist: space the file holds but uses for nothing
    auto_vacuum: int = 0  # 0 none, 1 full, 2 incremental
    file_bytes: int = 0  # the file on disk (its -wal apart)


class Retention(StoreBase):
    """Pruning payloads and giving the space back; each call is one short transaction."""

    def _sqlite(self) -> bool:
        return bool(self.sessions.kw["bind"].dialect.name == "sqlite")

    def prune_payloads(self, limit: int = 200, now: datetime | None = None) -> int:
        """Drop the payload of up to ``limit`` rows past retention that nothing needs; how
        many. Nothing when ``payload_retention_days`` is 0 (keep for ever)."""
        days = self.settings.payload_retention_days
        if not days:
            return 0
        cutoff = (now or utcnow()) - timedelta(days=days)
        engine = self.sessions.kw["bind"]
        with engine.connect() as conn:
            if self._sqlite():
                return self._prune_sqlite(conn, cutoff, limit)
            with conn.begin():
                ids = list(conn.execute(_OTHER_CANDIDATES, {"cutoff": cutoff, "limit": limit}).scalars())
                if ids:
                    conn.execute(update(WebhookEvent).where(WebhookEvent.id.in_(ids)).values(payload=PRUNED))
                return len(ids)

    def _prune_sqlite(self, conn: Connection, cutoff: datetime, limit: int) -> int:
        # The pragma only takes effect outside a transaction; the pool's other users want it on.
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.commit()
        try:
            with conn.begin():
                # The write lock first: nothing changes these rows between the look and the rewrite.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                ids = list(conn.execute(_SQLITE_CANDIDATES, {"cutoff": cutoff, "limit": limit}).scalars())
                if not ids:
                    return 0
                names = [r[1] for r in conn.exec_driver_sql("PRAGMA table_info(webhook_events)")]
                cols = ", ".join(names)
                marks = ", ".join("?" * len(ids))
                # As stored, column for column (raw: no type goes through a conversion).
                rows = conn.exec_driver_sql(f"SELECT {cols} FROM webhook_events WHERE id IN ({marks})",
                                            tuple(ids)).all()
                at = names.index("payload")
                conn.exec_driver_sql(f"DELETE FROM webhook_events WHERE id IN ({marks})", tuple(ids))
                conn.exec_driver_sql(f"INSERT INTO webhook_events ({cols}) VALUES ({', '.join('?' * len(names))})",
                                     [(*r[:at], PRUNED, *r[at + 1:]) for r in rows])
            return len(ids)
        finally:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()

    def space(self) -> Space:
        """The SQLite file's pages (an empty :class:`Space` for another database)."""
        engine = self.sessions.kw["bind"]
        if not self._sqlite():
            return Space()
        with engine.connect() as conn:
            def pragma(name: str) -> int:
                return int(conn.exec_driver_sql(f"PRAGMA {name}").scalar() or 0)
            page_size, pages, free, auto = (pragma(n) for n in ("page_size", "page_count", "freelist_count",
                                                                  "auto_vacuum"))
        path = Path(engine.url.database or "")
        size = path.stat().st_size if engine.url.database not in (None, "", ":memory:") and path.exists() else 0
        return Space(page_size, pages, free, auto, size)

    def vacuum_step(self, pages: int = 256) -> int:
        """Give back up to ``pages`` free pages (incremental auto-vacuum only); how many."""
        if not self._sqlite():
            return 0
        with self.sessions.kw["bind"].connect() as conn:
            before = int(conn.exec_driver_sql("PRAGMA freelist_count").scalar() or 0)
            if not before or conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() != 2:
                return 0
            # The pragma frees a page per step of its statement, and the driver's execute()
            # takes one step (its rows have no columns to fetch); a script runs it to the end.
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.executescript(f"PRAGMA incremental_vacuum({int(pages)});")
            return before - int(conn.exec_driver_sql("PRAGMA freelist_count").scalar() or 0)

    def switch_to_incremental(self) -> None:
        """Turn an older file's auto-vacuum to incremental: one VACUUM, which rewrites the
        whole file while holding the write lock (webhooks wait for it: the caller decides
        when, and for how large a file)."""
        with self.sessions.kw["bind"].connect() as conn:
            conn.exec_driver_sql("PRAGMA auto_vacuum=INCREMENTAL")
            conn.exec_driver_sql("VACUUM")
            conn.commit()

    def checkpoint(self) -> None:
        """Copy the WAL into the file without waiting for anyone (the file shrinks then)."""
        if self._sqlite():
            with self.sessions.kw["bind"].connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").all()
