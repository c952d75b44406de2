"""The tracker service: synchronous operations over the database.

One object serves the CLI directly and the running app through a single database
thread (see :mod:`app.core.facade`), so every write goes through here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import func, insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.matching import Candidate, ShowIndex, ShowRef
from app.core.models import Base, Conflict, Episode, Show, ShowMapping, WebhookEvent, utcnow
from app.core.pipeline import Action, Lookups, Outcome, process_row, undo_mark


class TrackerError(ValueError):
    """A request the tracker cannot carry out; the message is meant for the user."""


@dataclass(frozen=True)
class ImportResult:
    added: int
    skipped: int


def row_dict(obj: Base, **extra: Any) -> dict[str, Any]:
    """A table row as a plain dict keyed by column name (datetimes as ISO text)."""
    out: dict[str, Any] = {}
    for col in obj.__table__.columns:
        value = getattr(obj, col.key)
        out[col.key] = value.isoformat(sep=" ", timespec="seconds") if isinstance(value, datetime) else value
    out.update(extra)
    return out


def _ref(show: Show) -> ShowRef:
    return ShowRef(show.id, show.title, show.year, show.tmdb_id, show.tvdb_id, show.imdb_id,
                   show.anidb_id)


_ID_FIELDS = ("tmdb_id", "tvdb_id", "anidb_id")
_NUMBER = re.compile(r"[0-9]{1,11}")


def _clean_show(data: Any, where: str) -> dict[str, Any]:
    """Validate one show record (from the CLI or an import file)."""
    if not isinstance(data, dict):
        raise TrackerError(f"{where}: expected an object with a title")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise TrackerError(f"{where}: a show needs a non-empty title")
    clean: dict[str, Any] = {"title": title.strip()[:500]}
    year = data.get("year")
    if year not in (None, ""):
        if not _NUMBER.fullmatch(str(year)) or isinstance(year, bool) or not 1900 <= int(year) <= 2100:
            raise TrackerError(f"{where}: year must be a year like 2008, not {year!r}")
        clean["year"] = int(year)
    for name in _ID_FIELDS:
        value = data.get(name)
        if value in (None, ""):
            continue
        if isinstance(value, bool) or not _NUMBER.fullmatch(str(value)):
            raise TrackerError(f"{where}: {name} must be a number, not {value!r}")
        clean[name] = int(value)
    imdb = data.get("imdb_id")
    if imdb not in (None, ""):
        if not isinstance(imdb, str) or not re.fullmatch(r"tt\d{5,10}", imdb.strip()):
            raise TrackerError(f"{where}: imdb_id must look like tt0903747, not {imdb!r}")
        clean["imdb_id"] = imdb.strip()
    return clean


class Tracker:
    """Shows, episodes, the inbox and conflicts, over one database."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings
        self._index: ShowIndex | None = None
        self._stamp: tuple[int, int] | None = None

    # -- the show index -----------------------------------------------------------
    def _shows_stamp(self, session: Session) -> tuple[int, int]:
        count, top = session.execute(select(func.count(Show.id), func.max(Show.id))).one()
        return int(count), int(top or 0)

    def index(self, session: Session) -> ShowIndex:
        """The show index, rebuilt when another process changed the shows."""
        stamp = self._shows_stamp(session)
        if self._index is None or stamp != self._stamp:
            shows = session.scalars(select(Show)).all()
            self._index = ShowIndex(_ref(s) for s in shows)
            self._stamp = stamp
        return self._index

    def _indexed(self, session: Session, show: Show) -> None:
        if self._index is not None and self._stamp is not None:
            self._index.add(_ref(show))
            self._stamp = self._shows_stamp(session)

    # -- shows ----------------------------------------------------------------------
    def add_show(self, **fields: Any) -> dict[str, Any]:
        """Add one show; returns it as a dict."""
        clean = _clean_show(fields, "show")
        with self.sessions.begin() as session:
            show = Show(**clean)
            session.add(show)
            session.flush()
            self._indexed(session, show)
            return row_dict(show)

    def import_shows(self, records: Iterable[Any]) -> ImportResult:
        """Add shows from records like ``{title, year, tmdb_id, tvdb_id, imdb_id}``.

        All records are checked before any is written; a show already in the tracker
        (same id, or same title and year) is skipped.
        """
        if not isinstance(records, list):
            raise TrackerError("the import file must hold a JSON list of shows")
        clean = [_clean_show(r, f"show #{i + 1}") for i, r in enumerate(records)]
        added = skipped = 0
        with self.sessions.begin() as session:
            seen: set[tuple[str, Any]] = set()
            for show in session.scalars(select(Show)):
                seen.update(self._show_keys(_ref(show).__dict__))
            for rec in clean:
                keys = self._show_keys(rec)
                if keys & seen:
                    skipped += 1
                    continue
                seen.update(keys)
                session.add(Show(**rec))
                added += 1
        self._index = None
        return ImportResult(added, skipped)

    @staticmethod
    def _show_keys(rec: dict[str, Any]) -> set[tuple[str, Any]]:
        keys = {(n, rec[n]) for n in (*_ID_FIELDS, "imdb_id") if rec.get(n) is not None}
        keys.add(("title", (rec["title"].casefold(), rec.get("year"))))
        return keys

    def list_shows(self, search: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        with self.sessions() as session:
            q = select(Show).order_by(Show.title, Show.id)
            if search:
                q = q.where(Show.title.ilike(f"%{search}%"))
            if limit:
                q = q.limit(limit)
            return [row_dict(s) for s in session.scalars(q)]

    def search_shows(self, query: str, limit: int = 20) -> list[Candidate]:
        """Ranked tracker shows for a title (the conflicts dialog's search)."""
        with self.sessions() as session:
            return self.index(session).search(query, limit=limit)

    def episodes(self, show_id: int) -> list[dict[str, Any]]:
        with self.sessions() as session:
            if session.get(Show, show_id) is None:
                raise TrackerError(f"there is no show #{show_id}")
            q = select(Episode).where(Episode.show_id == show_id).order_by(Episode.season, Episode.number)
            return [row_dict(e, watched=e.watched) for e in session.scalars(q)]

    # -- the inbox ------------------------------------------------------------------
    def ingest(self, items: list[tuple[str, str | None]]) -> list[int]:
        """Store raw payloads (with their source address) in one commit; their ids."""
        now = utcnow()
        rows = [{"payload": p, "source": s, "status": "pending", "received_at": now} for p, s in items]
        table = WebhookEvent.__table__
        with self.sessions.begin() as session:
            # One multi-row INSERT ... RETURNING on the table itself, in order: far cheaper
            # than ORM objects, which this hot path does not need.
            result = session.connection().execute(
                insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
            return list(result.scalars())

    def pending_count(self) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).where(WebhookEvent.status == "pending")) or 0)

    def process_pending(self, limit: int = 200) -> list[Outcome]:
        """Process up to ``limit`` pending rows, oldest first, in one transaction.

        The batch runs without per-row savepoints; if any row raises, the batch is
        rolled back and done again row by row, so only the faulty row fails.
        """
        try:
            return self._process_batch(limit, isolate=False)
        except Exception:
            return self._process_batch(limit, isolate=True)

    def _process_batch(self, limit: int, isolate: bool) -> list[Outcome]:
        with self.sessions.begin() as session:
            rows = session.scalars(select(WebhookEvent).where(WebhookEvent.status == "pending")
                                   .order_by(WebhookEvent.id).limit(limit)).all()
            if not rows:
                return []
            index = self.index(session)
            if isolate:
                return [self._process_one(session, row, index) for row in rows]
            with session.no_autoflush:
                lookups = Lookups(session)
                return [process_row(session, row, index, self.settings, lookups) for row in rows]

    def _process_one(self, session: Session, row: WebhookEvent, index: ShowIndex) -> Outcome:
        """One row in its own savepoint: an unexpected error fails that row only."""
        try:
            with session.begin_nested():
                return process_row(session, row, index, self.settings)
        except Exception as exc:  # recorded on the row; the rest of the batch goes on
            row.status, row.action = "done", Action.FAILED.value
            row.reason = f"internal error: {type(exc).__name__}: {exc}"[:1000]
            row.processed_at = utcnow()
            return Outcome(row.id, Action.FAILED, row.reason)

    def scrobbles(self, limit: int = 50, action: str | None = None,
                  search: str | None = None) -> list[dict[str, Any]]:
        """The log, newest first, without the raw payloads."""
        with self.sessions() as session:
            q = select(WebhookEvent, Show.title).outerjoin(Show, Show.id == WebhookEvent.show_id)
            if action:
                q = q.where(WebhookEvent.action == action)
            if search:
                like = f"%{search}%"
                q = q.where(or_(WebhookEvent.plex_title.ilike(like), WebhookEvent.episode_title.ilike(like),
                                WebhookEvent.account_title.ilike(like), Show.title.ilike(like)))
            q = q.order_by(WebhookEvent.id.desc()).limit(limit)
            out = []
            for row, show_title in session.execute(q):
                d = row_dict(row, show_title=show_title)
                del d["payload"]
                out.append(d)
            return out

    def event_payload(self, event_id: int) -> str:
        with self.sessions() as session:
            row = session.get(WebhookEvent, event_id)
            if row is None:
                raise TrackerError(f"there is no event #{event_id}")
            return row.payload

    def rerun(self, event_id: int) -> Outcome:
        """Process a failed or ignored event again (after a fix or a settings change)."""
        with self.sessions.begin() as session:
            row = session.get(WebhookEvent, event_id)
            if row is None:
                raise TrackerError(f"there is no event #{event_id}")
            if row.action not in (Action.FAILED.value, Action.IGNORED.value):
                raise TrackerError(f"event #{event_id} was {row.action}; only failed or ignored events are re-run")
            _reset(row)
            return self._process_one(session, row, self.index(session))

    def undo(self, event_id: int) -> Outcome:
        """Take back the watch an event counted."""
        with self.sessions.begin() as session:
            row = session.get(WebhookEvent, event_id)
            if row is None:
                raise TrackerError(f"there is no event #{event_id}")
            if not undo_mark(session, row):
                raise TrackerError(f"event #{event_id} did not mark anything")
            return Outcome(row.id, Action.UNDONE, row.reason, row.show_id)

    # -- conflicts --------------------------------------------------------------------
    def conflicts(self, status: str | None = "open") -> list[dict[str, Any]]:
        with self.sessions() as session:
            waiting = (select(WebhookEvent.conflict_id, func.count().label("n"))
                       .where(WebhookEvent.action == Action.CONFLICT.value)
                       .group_by(WebhookEvent.conflict_id).subquery())
            q = select(Conflict, waiting.c.n).outerjoin(waiting, waiting.c.conflict_id == Conflict.id)
            if status:
                q = q.where(Conflict.status == status)
            return [row_dict(c, waiting=n or 0) for c, n in session.execute(q.order_by(Conflict.id))]

    def waiting_events(self, conflict_id: int) -> list[dict[str, Any]]:
        """The scrobbles held by a conflict (what the dialog lists)."""
        with self.sessions() as session:
            q = select(WebhookEvent).where(WebhookEvent.conflict_id == conflict_id,
                                           WebhookEvent.action == Action.CONFLICT.value)
            return [{k: v for k, v in row_dict(r).items() if k != "payload"}
                    for r in session.scalars(q.order_by(WebhookEvent.id))]

    def resolve_conflict(self, conflict_id: int, *, show_id: int | None = None,
                         create: bool = False, ignore: bool = False) -> list[Outcome]:
        """Answer a conflict (map, create or ignore) and apply every waiting scrobble."""
        if [show_id is not None, create, ignore].count(True) != 1:
            raise TrackerError("choose exactly one: a show to map to, create, or ignore")
        with self.sessions.begin() as session:
            conflict = session.get(Conflict, conflict_id)
            if conflict is None:
                raise TrackerError(f"there is no conflict #{conflict_id}")
            if conflict.status != "open":
                raise TrackerError(f"conflict #{conflict_id} is already {conflict.status}")
            if show_id is not None and session.get(Show, show_id) is None:
                raise TrackerError(f"there is no show #{show_id}")
            if create:
                ids = (conflict.guids or {}).get("show_ids", {})
                show = Show(title=conflict.plex_title, year=conflict.plex_year,
                            **{f"{k}_id": (v if k == "imdb" else int(v)) for k, v in ids.items()
                               if k in ("tmdb", "tvdb", "imdb", "anidb")})
                session.add(show)
                session.flush()
                self._indexed(session, show)
                show_id = show.id
            existing = session.scalar(select(ShowMapping).where(ShowMapping.plex_key == conflict.plex_key))
            if existing is not None:
                session.delete(existing)
                session.flush()
            session.add(ShowMapping(plex_key=conflict.plex_key, plex_title=conflict.plex_title,
                                    show_id=None if ignore else show_id, ignored=ignore,
                                    method="created" if create else "user", confidence=1.0))
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
                _reset(row)
                outcomes.append(self._process_one(session, row, index))
            return outcomes

    # -- status -------------------------------------------------------------------------
    def counts(self) -> dict[str, Any]:
        """Figures for the status window and diagnostics."""
        since = utcnow() - timedelta(hours=24)
        with self.sessions() as session:
            last = session.scalar(select(func.max(WebhookEvent.received_at)))
            return {
                "shows": session.scalar(select(func.count(Show.id))),
                "scrobbles_24h": session.scalar(select(func.count()).where(
                    WebhookEvent.received_at >= since,
                    WebhookEvent.action.in_([Action.MARKED.value, Action.REWATCH.value]))),
                "conflicts_open": session.scalar(select(func.count(Conflict.id)).where(Conflict.status == "open")),
                "pending": session.scalar(select(func.count()).where(WebhookEvent.status == "pending")),
                "last_webhook_at": last.isoformat(sep=" ", timespec="seconds") if last else None,
            }


def _reset(row: WebhookEvent) -> None:
    """Clear a row's outcome so that it can be processed again."""
    row.status, row.action, row.reason = "pending", None, None
    row.show_id = row.episode_id = row.conflict_id = None
    row.match_method, row.confidence, row.processed_at = None, None, None
