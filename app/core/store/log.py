"""Reading what happened: the scrobble log with where each event went, one event's raw
payload, and the figures the status window and diagnostics show."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.core.destinations import outbox
from app.core.models import Conflict, Movie, Show, WebhookEvent, utcnow
from app.core.store import search as search_index
from app.core.store.base import SCROBBLE_COLUMNS, StoreBase, StoreError, scrobble_row
from app.core.store.retention import PRUNED
from app.core.types import SEARCH_MIN_CHARS, SEARCH_RECENT, SELF_TEST_EVENT, Action, Counts, ScrobbleRow

COUNTING = [a.value for a in Action if a.watched]  # the day's plays: marked here, or counted for the others


class ScrobbleLog(StoreBase):
    """The log and the counts."""

    _has_search_index: bool | None = None  # whether the database has it (known at the first search)

    def _searchable(self, session: Session) -> bool:
        if self._has_search_index is None:
            self._has_search_index = search_index.has_index(session)
        return self._has_search_index

    def scrobbles(self, limit: int = 50, action: str | None = None,
                  search: str | None = None) -> list[ScrobbleRow]:
        """The log, newest first, with where each event was delivered (Diagnostics' own
        self-test events are kept in the inbox but not listed)."""
        with self.sessions() as session:
            # (the columns the log shows, not ORM objects: a third of the time for 500 rows)
            q = (select(*SCROBBLE_COLUMNS, Show.title.label("tracker_show"), Movie.title.label("tracker_movie"))
                 .outerjoin(Show, Show.id == WebhookEvent.show_id)
                 .outerjoin(Movie, Movie.id == WebhookEvent.movie_id)
                 .where(or_(WebhookEvent.event.is_(None), WebhookEvent.event != SELF_TEST_EVENT)))
            short = bool(search) and len(search or "") < SEARCH_MIN_CHARS
            sqlite = session.get_bind().dialect.name == "sqlite"
            if search and (sqlite if short else self._searchable(session)):
                # Ids first, by the search index or a short pass over the newest rows; then
                # only those rows are read with their titles (the action is applied already).
                find = search_index.recent_ids if short else search_index.matching_ids
                ids = find(session, search, action, limit)
                if not ids:
                    return []
                q = q.where(WebhookEvent.id.in_(ids))
            else:
                if action:
                    q = q.where(WebhookEvent.action == action)
                if search:
                    if short:  # (the window says so)
                        newest = select(func.max(WebhookEvent.id)).scalar_subquery()
                        q = q.where(WebhookEvent.id > newest - SEARCH_RECENT)
                    like = f"%{search}%"
                    q = q.where(or_(WebhookEvent.plex_title.ilike(like), WebhookEvent.episode_title.ilike(like),
                                    WebhookEvent.account_title.ilike(like), Show.title.ilike(like),
                                    Movie.title.ilike(like)))
            q = q.order_by(WebhookEvent.id.desc()).limit(limit)
            found = session.execute(q).all()
            labels = {d.id: d.label for d in (self.builtin, *self.destinations)}
            where = outbox.marks_for(session, [row.id for row in found], labels)
            # (a movie's tracker title stands where a show's does)
            return [scrobble_row(row._mapping, show_title=row.tracker_show or row.tracker_movie,
                                 deliveries=tuple(where.get(row.id, ()))) for row in found]

    def event_payload(self, event_id: int) -> str:
        with self.sessions() as session:
            row = session.get(WebhookEvent, event_id)
            if row is None:
                raise StoreError(f"there is no event #{event_id}")
            if row.payload == PRUNED:
                raise StoreError(f"the raw webhook of event #{event_id} ({row.event}, which can never count) "
                                 "was dropped after the retention period (payload_retention_days)")
            return row.payload

    def counts(self) -> Counts:
        """Figures for the status window and diagnostics."""
        since = utcnow() - timedelta(hours=24)
        with self.sessions() as session:
            return Counts(
                shows=session.scalar(select(func.count(Show.id))) or 0,
                movies=session.scalar(select(func.count(Movie.id))) or 0,
                # (coalesce: the day's rows by the date index, not five years of plays by the action one)
                scrobbles_24h=session.scalar(select(func.count()).where(
                    WebhookEvent.received_at >= since,
                    func.coalesce(WebhookEvent.action, "").in_(COUNTING))) or 0,
                conflicts_open=session.scalar(select(func.count(Conflict.id))
                                              .where(Conflict.status == "open")) or 0,
                pending=session.scalar(select(func.count()).where(WebhookEvent.status == "pending")) or 0,
                last_webhook_at=session.scalar(select(func.max(WebhookEvent.received_at))),
            )
