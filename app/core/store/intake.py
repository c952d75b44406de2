"""The inbox: raw webhooks stored as they come, plays added from a server's history, and
how far a set of inbox rows has got."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, insert, select

from app.core.models import WebhookEvent, table_of, utcnow
from app.core.payload import PayloadError, parse_payload
from app.core.plex.history import HistoryPlay
from app.core.store.base import StoreBase

HISTORY = "history"  # the source of an inbox row that catch-up added from a server's history


class Intake(StoreBase):
    """Inbox rows in: webhooks and history plays; and what became of them."""

    def ingest(self, items: list[tuple[str, str | None]]) -> list[int]:
        """Store raw payloads (with their source address) in one commit; their ids."""
        now = utcnow()
        table = table_of(WebhookEvent)
        engine = self.sessions.kw["bind"]
        if engine.dialect.name == "sqlite":
            as_stored = table.c.received_at.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
            assert as_stored is not None  # SQLite keeps a DateTime as text: it always has one
            stamp: str = as_stored(now)
            if self._guard is None:
                return _ingest_sqlite(engine, items, stamp)
            self._guard.before()
            ids = _ingest_sqlite(engine, items, stamp)
            self._guard.after()
            return ids
        rows = [{"payload": p, "source": s, "status": "pending", "received_at": now} for p, s in items]
        with self.sessions.begin() as session:
            # One multi-row INSERT ... RETURNING on the table itself, in order: far cheaper
            # than ORM objects, which this hot path does not need.
            result = session.connection().execute(
                insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
            return list(result.scalars())

    def ingest_history(self, plays: Sequence[tuple[HistoryPlay, str]], window: timedelta,
                       source: str = HISTORY) -> list[int]:
        """Add the plays of a server's history (or marks made by hand: ``source``) that no
        inbox row already has (the same episode by the same account within ``window``: its
        webhook came, or an earlier catch-up added it), each at the time it was played.
        Returns the new rows' ids."""
        if not plays:
            return []
        lo = min(p.viewed for p, _ in plays) - window
        hi = max(p.viewed for p, _ in plays) + window
        seen: dict[tuple[str, str, int | None, int | None, int | None], list[datetime]] = {}

        def note(account: str | None, title: str | None, season: int | None, episode: int | None,
                 year: int | None, when: datetime) -> None:
            # (a movie has neither season nor number: its title and year stand for it; remakes share titles)
            if account is not None and title and (season is None) == (episode is None):
                movie_year = year if season is None else None
                seen.setdefault((account, title.casefold(), season, episode, movie_year), []).append(when)

        with self.sessions.begin() as session:
            rows = session.execute(select(WebhookEvent.account_id, WebhookEvent.plex_title, WebhookEvent.season,
                                          WebhookEvent.episode, WebhookEvent.plex_year, WebhookEvent.received_at,
                                          WebhookEvent.status, WebhookEvent.payload)
                                   .where(WebhookEvent.received_at.between(lo, hi)))
            for account, title, season, episode, year, when, status, payload in rows:
                if status == "pending":  # not read yet: what does it say?
                    try:
                        ev = parse_payload(payload)
                    except PayloadError:
                        continue
                    account, season, episode, year = ev.account_id, ev.season, ev.episode, ev.year
                    title = ev.episode_title if ev.is_movie else ev.show_title
                note(account, title, season, episode, year, when)
            new = []
            for play, payload in plays:
                title = play.episode_title if play.media_type == "movie" else play.show_title
                movie_year = play.year if play.media_type == "movie" else None
                key = (str(play.account_id), (title or "").casefold(), play.season, play.episode, movie_year)
                if any(abs(when - play.viewed) <= window for when in seen.get(key, ())):
                    continue
                note(*key, when=play.viewed)
                new.append({"payload": payload, "source": source, "status": "pending", "received_at": play.viewed})
            if not new:
                return []
            table = table_of(WebhookEvent)
            result = session.connection().execute(
                insert(table).returning(table.c.id, sort_by_parameter_order=True), new)
            return list(result.scalars())

    def actions_of(self, event_ids: Sequence[int]) -> dict[str, int]:
        """How many of these inbox rows came to each outcome (``pending`` while not processed)."""
        out: dict[str, int] = {}
        with self.sessions() as session:
            for i in range(0, len(event_ids), 500):
                chunk = event_ids[i:i + 500]
                for status, action, n in session.execute(
                        select(WebhookEvent.status, WebhookEvent.action, func.count())
                        .where(WebhookEvent.id.in_(chunk)).group_by(WebhookEvent.status, WebhookEvent.action)):
                    key = action if status == "done" and action else "pending"
                    out[key] = out.get(key, 0) + n
        return out

    def pending_count(self) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).where(WebhookEvent.status == "pending")) or 0)


def _ingest_sqlite(engine: Engine, items: list[tuple[str, str | None]], received_at: str) -> list[int]:
    """``Store.ingest`` on the driver's own connection: half the CPU of a session's
    INSERT, on the thread that runs beside the event loop for every group of webhooks.

    One multi-row INSERT holding the write lock gives each row the next rowid, in order,
    so the ids sorted are the items' ids (RETURNING itself promises no order).
    """
    sql = ("INSERT INTO webhook_events (payload, source, status, received_at) VALUES "
           + ",".join(["(?, ?, 'pending', ?)"] * len(items)) + " RETURNING id")
    conn = engine.raw_connection()
    try:
        ids = sorted(row[0] for row in conn.cursor().execute(sql, [v for p, s in items for v in (p, s, received_at)]))
        conn.commit()
        return ids
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()
