"""The built-in tracker's conflicts: Plex shows it could not match on its own, the
scrobbles each one holds, and the answer (map, create or ignore) that lets them through."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.models import Conflict, Movie, MovieMapping, Show, ShowMapping, WebhookEvent, utcnow
from app.core.store.base import StoreError, plain, scrobble_row
from app.core.store.processing import Processing, reset
from app.core.types import Action, Candidate, ConflictRow, Outcome, ScrobbleRow


class ConflictAnswers(Processing):
    """Conflicts listed and answered (an answer processes the scrobbles it held)."""

    def conflicts(self, status: str | None = "open") -> list[ConflictRow]:
        with self.sessions() as session:
            waiting = (select(WebhookEvent.conflict_id, func.count().label("n"))
                       .where(WebhookEvent.action == Action.CONFLICT.value)
                       .group_by(WebhookEvent.conflict_id).subquery())
            q = select(Conflict, waiting.c.n).outerjoin(waiting, waiting.c.conflict_id == Conflict.id)
            if status:
                q = q.where(Conflict.status == status)
            return [plain(ConflictRow, c, waiting=n or 0,
                          candidates=tuple(Candidate.from_dict(d) for d in c.candidates or ()))
                    for c, n in session.execute(q.order_by(Conflict.id))]

    def waiting_events(self, conflict_id: int) -> list[ScrobbleRow]:
        """The scrobbles held by a conflict (what the dialog lists)."""
        with self.sessions() as session:
            q = select(WebhookEvent).where(WebhookEvent.conflict_id == conflict_id,
                                           WebhookEvent.action == Action.CONFLICT.value)
            return [scrobble_row(r) for r in session.scalars(q.order_by(WebhookEvent.id))]

    def resolve_conflict(self, conflict_id: int, *, show_id: int | None = None,
                         create: bool = False, ignore: bool = False, kind: str | None = None) -> list[Outcome]:
        """Answer a conflict (map, create or ignore) and apply every waiting scrobble;
        ``kind`` ("show" or "movie"): what ``show_id`` names, when the answer says."""
        if [show_id is not None, create, ignore].count(True) != 1:
            raise StoreError("choose exactly one: a show to map to, create, or ignore")
        with self.sessions.begin() as session:
            conflict = session.get(Conflict, conflict_id)
            if conflict is None:
                raise StoreError(f"there is no conflict #{conflict_id}")
            if conflict.status != "open":
                raise StoreError(f"conflict #{conflict_id} is already {conflict.status}")
            if kind is not None and kind != (conflict.kind or "show"):
                raise StoreError(f"conflict #{conflict_id} is about a {conflict.kind or 'show'}: answer it with "
                                 f"--{conflict.kind or 'show'} ID, --create or --ignore")
            if conflict.kind == "movie":  # (show_id names a tracker movie)
                show_id = self._answer_movie(session, conflict, show_id, create, ignore)
            else:
                show_id = self._answer_show(session, conflict, show_id, create, ignore)
            conflict.status = "resolved"
            conflict.resolution = "ignored" if ignore else "created" if create else "mapped"
            conflict.show_id = show_id
            conflict.resolved_at = utcnow()
            session.flush()
            waiting = session.scalars(select(WebhookEvent).where(
                WebhookEvent.conflict_id == conflict_id,
                WebhookEvent.action == Action.CONFLICT.value).order_by(WebhookEvent.id)).all()
            index = self.index(session)
            outcomes = []
            for row in waiting:
                reset(row)
                outcomes.append(self._process_one(session, row, index))
            self._settle(session, waiting, outcomes)
            return outcomes

    def _answer_show(self, session: Session, conflict: Conflict, show_id: int | None, create: bool,
                     ignore: bool) -> int | None:
        """Remember the answer for a Plex show; the tracker show it maps to."""
        if show_id is not None and session.get(Show, show_id) is None:
            raise StoreError(f"there is no show #{show_id}")
        if create:
            guids = conflict.guids or {}
            ids = guids.get("server_ids") or guids.get("show_ids", {})  # the Plex server's, if it said
            show_id = self.builtin.new_show(session, conflict.plex_title, conflict.plex_year, ids).id
        existing = session.scalar(select(ShowMapping).where(ShowMapping.plex_key == conflict.plex_key))
        if existing is not None:
            session.delete(existing)
            session.flush()
        session.add(ShowMapping(plex_key=conflict.plex_key, plex_title=conflict.plex_title,
                                show_id=None if ignore else show_id, ignored=ignore,
                                method="created" if create else "user", confidence=1.0))
        return show_id

    def _answer_movie(self, session: Session, conflict: Conflict, movie_id: int | None, create: bool,
                      ignore: bool) -> int | None:
        """Remember the answer for a Plex movie; the tracker movie it maps to."""
        if movie_id is not None and session.get(Movie, movie_id) is None:
            raise StoreError(f"there is no movie #{movie_id}")
        if create:
            ids = (conflict.guids or {}).get("movie_ids") or {}
            movie_id = self.builtin.movies.new_movie(session, conflict.plex_title, conflict.plex_year, ids).id
        existing = session.scalar(select(MovieMapping).where(MovieMapping.plex_key == conflict.plex_key))
        if existing is not None:
            session.delete(existing)
            session.flush()
        session.add(MovieMapping(plex_key=conflict.plex_key, plex_title=conflict.plex_title,
                                 movie_id=None if ignore else movie_id, ignored=ignore,
                                 method="created" if create else "user", confidence=1.0))
        return movie_id
