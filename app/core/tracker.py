"""The tracker service: synchronous operations over Scrobble Tray's database.

The inbox and its outcomes, conflicts, the built-in tracker's shows, and the outbox rows
written when an inbox row is settled. One object serves the CLI directly and the running
app through a single database thread (see :mod:`app.core.facade`). Everything it
returns is plain typed data (:mod:`app.core.types`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence, TypeVar

from sqlalchemy import Engine, delete, func, insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import FileGuard
from app.core.destinations import outbox
from app.core.destinations.base import Destination, Settled
from app.core.destinations.builtin import BuiltinTracker, show_ref
from app.core.matching import Candidate, ShowIndex
from app.core.models import Base, Conflict, Episode, PlexShow, Show, ShowMapping, Watch, WebhookEvent, utcnow
from app.core.models import Delivery as DeliveryRow
from app.core.payload import PayloadError, parse_payload
from app.core.plex.history import HistoryPlay
from app.core.pipeline import Lookups, PlexKnows, filter_reason, process_row, server_show_key
from app.core.types import (SELF_TEST_EVENT, Action, ConflictRow, Counts, EpisodeRow, Outcome, ScrobbleRow,
                            ShowFacts, ShowRow)

R = TypeVar("R")
HISTORY = "history"  # the source of an inbox row that catch-up added from a server's history


class TrackerError(ValueError):
    """A request the tracker cannot carry out; the message is meant for the user."""


@dataclass(frozen=True)
class PlexQuestions:
    shows: list[tuple[str, str]]  # (server uuid, show rating key)
    stops: list[tuple[int, str, str, datetime]]  # (event id, server uuid, episode key, time)


@dataclass(frozen=True)
class ImportResult:
    added: int
    skipped: int


def plain(cls: type[R], obj: Base, **extra: Any) -> R:
    """A table row as the frozen dataclass ``cls`` (the columns it names, plus ``extra``)."""
    values = {f.name: getattr(obj, f.name) for f in fields(cls)  # type: ignore[arg-type]
              if f.name not in extra and hasattr(obj, f.name)}
    return cls(**values, **extra)


def _scrobble(row: WebhookEvent, **extra: Any) -> ScrobbleRow:
    return plain(ScrobbleRow, row, action=Action(row.action) if row.action else None, **extra)


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
    """Shows, episodes, the inbox and conflicts over one database, and the outbox rows
    of the ``destinations`` that are not the built-in tracker."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings,
                 destinations: Sequence[Destination] = ()) -> None:
        self.sessions = sessions
        self.builtin = BuiltinTracker(sessions)
        self.settings = settings
        self.destinations = list(destinations)
        self.plex = PlexKnows()  # set by the core from its Plex link
        engine = sessions.kw["bind"]
        file_based = engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")
        self._guard = FileGuard(engine) if file_based else None
        # The sentence when a damaged file was moved aside at opening (see db.open_database).
        self.moved_aside: str | None = sessions.kw.get("info", {}).get("moved_aside")

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self._settings = settings
        self.builtin.enabled = settings.builtin_tracker

    def index(self, session: Session) -> ShowIndex:
        return self.builtin.index(session)

    # -- shows ----------------------------------------------------------------------
    def add_show(self, **values: Any) -> ShowRow:
        """Add one show; an exact duplicate (the same id, or the same title and year) is refused
        with the one already there, as it would only make an ambiguous conflict later."""
        clean = _clean_show(values, "show")
        with self.sessions.begin() as session:
            self._refuse_duplicate(session, clean)
            show = Show(**clean)
            session.add(show)
            session.flush()
            self.builtin.indexed(session, show)
            return plain(ShowRow, show)

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
                seen.update(self._show_keys(show_ref(show).__dict__))
            for rec in clean:
                keys = self._show_keys(rec)
                if keys & seen:
                    skipped += 1
                    continue
                seen.update(keys)
                session.add(Show(**rec))
                added += 1
        self.builtin.forget_index()
        return ImportResult(added, skipped)

    def _refuse_duplicate(self, session: Session, clean: dict[str, Any], but: int | None = None) -> None:
        """A TrackerError naming the show (other than ``but``) with one of these ids, or
        this title and year."""
        keys = self._show_keys(clean)
        alike = or_(Show.title.ilike(clean["title"]), *(getattr(Show, n) == v for n, v in keys if n != "title"))
        for existing in session.scalars(select(Show).where(alike, Show.id != (but if but is not None else -1))):
            if self._show_keys(show_ref(existing).__dict__) & keys:
                year = f" ({existing.year})" if existing.year else ""
                raise TrackerError(f"{existing.title}{year} is already in the tracker as show #{existing.id}")

    @staticmethod
    def _show_keys(rec: dict[str, Any]) -> set[tuple[str, Any]]:
        keys = {(n, rec[n]) for n in (*_ID_FIELDS, "imdb_id") if rec.get(n) is not None}
        keys.add(("title", (rec["title"].casefold(), rec.get("year"))))
        return keys

    def list_shows(self, search: str | None = None, limit: int | None = None,
                   ids: Sequence[int] | None = None) -> list[ShowRow]:
        """Shows by title (or only those of ``ids``), each with how many of its episodes the
        tracker knows."""
        known = (select(Episode.show_id, func.count().label("n")).group_by(Episode.show_id).subquery())
        with self.sessions() as session:
            q = (select(Show, func.coalesce(known.c.n, 0)).outerjoin(known, known.c.show_id == Show.id)
                 .order_by(Show.title, Show.id))
            if search:
                q = q.where(Show.title.ilike(f"%{search}%"))
            if ids is not None:
                q = q.where(Show.id.in_(ids))
            if limit:
                q = q.limit(limit)
            return [plain(ShowRow, s, known_episodes=n) for s, n in session.execute(q)]

    def update_show(self, show_id: int, **values: Any) -> ShowRow:
        """Change a show's title, year or ids (all given: a missing id is cleared)."""
        clean = _clean_show(values, "show")
        with self.sessions.begin() as session:
            show = session.get(Show, show_id)
            if show is None:
                raise TrackerError(f"there is no show #{show_id}")
            self._refuse_duplicate(session, clean, but=show_id)
            for name in ("title", "year", *_ID_FIELDS, "imdb_id"):
                setattr(show, name, clean.get(name))
            session.flush()
            row, ref = plain(ShowRow, show), show_ref(show)
        self.builtin.changed(ref)  # (not a rebuild of the whole index: 1.3 s for 100,000 shows)
        return row

    def delete_show(self, show_id: int) -> None:
        """Delete a show with its episodes and plays; Plex shows mapped to it will ask again."""
        with self.sessions.begin() as session:
            show = session.get(Show, show_id)
            if show is None:
                raise TrackerError(f"there is no show #{show_id}")
            episodes = select(Episode.id).where(Episode.show_id == show_id)
            session.execute(delete(Watch).where(Watch.episode_id.in_(episodes)))
            session.execute(delete(Episode).where(Episode.show_id == show_id))
            session.execute(delete(ShowMapping).where(ShowMapping.show_id == show_id))
            session.delete(show)
            session.flush()
            stamp = self.builtin.shows_stamp(session)
        self.builtin.deleted(show_id, stamp)

    def plays(self, show_id: int) -> dict[int, list[tuple[str, datetime]]]:
        """Each episode's counted plays, ``episode id -> [(account, when)]``, oldest first
        (the account by its Plex name where the webhook that counted the play gave one)."""
        account = func.coalesce(WebhookEvent.account_title, Watch.account_id)
        with self.sessions() as session:
            q = (select(Watch.episode_id, account, Watch.watched_at).join(Episode)
                 .outerjoin(WebhookEvent, WebhookEvent.id == Watch.event_id)
                 .where(Episode.show_id == show_id).order_by(Watch.watched_at))
            out: dict[int, list[tuple[str, datetime]]] = {}
            for episode_id, account, when in session.execute(q):
                out.setdefault(episode_id, []).append((account, when))
            return out

    def search_shows(self, query: str, limit: int = 20) -> list[Candidate]:
        """Ranked tracker shows for a title (the conflicts dialog's search)."""
        with self.sessions() as session:
            return self.index(session).search(query, limit=limit)

    def episodes(self, show_id: int) -> list[EpisodeRow]:
        with self.sessions() as session:
            if session.get(Show, show_id) is None:
                raise TrackerError(f"there is no show #{show_id}")
            q = select(Episode).where(Episode.show_id == show_id).order_by(Episode.season, Episode.number)
            return [plain(EpisodeRow, e) for e in session.scalars(q)]

    # -- the inbox ------------------------------------------------------------------
    def ingest(self, items: list[tuple[str, str | None]]) -> list[int]:
        """Store raw payloads (with their source address) in one commit; their ids."""
        now = utcnow()
        table = WebhookEvent.__table__
        engine = self.sessions.kw["bind"]
        if engine.dialect.name == "sqlite":
            as_stored = table.c.received_at.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
            if self._guard is None:
                return _ingest_sqlite(engine, items, as_stored(now))
            self._guard.before()
            ids = _ingest_sqlite(engine, items, as_stored(now))
            self._guard.after()
            return ids
        rows = [{"payload": p, "source": s, "status": "pending", "received_at": now} for p, s in items]
        with self.sessions.begin() as session:
            # One multi-row INSERT ... RETURNING on the table itself, in order: far cheaper
            # than ORM objects, which this hot path does not need.
            result = session.connection().execute(
                insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
            return list(result.scalars())

    def ingest_history(self, plays: Sequence[tuple[HistoryPlay, str]], window: timedelta) -> list[int]:
        """Add the plays of a server's history that no inbox row already has (the same
        episode by the same account within ``window``: its webhook came, or an earlier
        catch-up added it), each at the time it was played. Returns the new rows' ids."""
        if not plays:
            return []
        lo = min(p.viewed for p, _ in plays) - window
        hi = max(p.viewed for p, _ in plays) + window
        seen: dict[tuple[str, str, int, int], list[datetime]] = {}

        def note(account: str | None, title: str | None, season: int | None, episode: int | None,
                 when: datetime) -> None:
            if account is not None and title and season is not None and episode is not None:
                seen.setdefault((account, title.casefold(), season, episode), []).append(when)

        with self.sessions.begin() as session:
            rows = session.execute(select(WebhookEvent.account_id, WebhookEvent.plex_title, WebhookEvent.season,
                                          WebhookEvent.episode, WebhookEvent.received_at, WebhookEvent.status,
                                          WebhookEvent.payload)
                                   .where(WebhookEvent.received_at.between(lo, hi)))
            for account, title, season, episode, when, status, payload in rows:
                if status == "pending":  # not read yet: what does it say?
                    try:
                        ev = parse_payload(payload)
                    except PayloadError:
                        continue
                    account, title, season, episode = ev.account_id, ev.show_title, ev.season, ev.episode
                note(account, title, season, episode, when)
            new = []
            for play, payload in plays:
                key = (str(play.account_id), (play.show_title or "").casefold(), play.season, play.episode)
                if any(abs(when - play.viewed) <= window for when in seen.get(key, ())):  # type: ignore[arg-type]
                    continue
                note(*key, when=play.viewed)
                new.append({"payload": payload, "source": HISTORY, "status": "pending", "received_at": play.viewed})
            if not new:
                return []
            table = WebhookEvent.__table__
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

    def plex_questions(self, limit: int = 200) -> PlexQuestions:
        """What to ask the Plex servers about the next ``limit`` pending rows (the ones the
        next batch processes): shows that only their server can name and that no mapping
        or earlier answer covers, and stops without progress that would count if the play
        went far enough."""
        with self.sessions() as session:
            rows = session.execute(select(WebhookEvent.id, WebhookEvent.payload, WebhookEvent.received_at,
                                          WebhookEvent.server_progress)
                                   .where(WebhookEvent.status == "pending")
                                   .order_by(WebhookEvent.id).limit(limit)).all()
            shows: dict[tuple[str, str], str] = {}
            stops = []
            for event_id, payload, received_at, server_progress in rows:
                try:
                    ev = parse_payload(payload)
                except PayloadError:
                    continue
                if filter_reason(ev, self.settings, 1.0, self.plex) is not None:
                    continue  # would not count however far it went
                if (key := server_show_key(ev)) and ev.plex_key:
                    shows[key] = ev.plex_key
                if (ev.event == "media.stop" and ev.progress is None and server_progress is None
                        and ev.server_uuid and ev.rating_key and ev.rating_key.isdigit()):
                    stops.append((event_id, ev.server_uuid, ev.rating_key, received_at))
            mapped = set(session.scalars(select(ShowMapping.plex_key)
                                         .where(ShowMapping.plex_key.in_(set(shows.values()))))) if shows else set()
            unknown = [k for k, plex_key in shows.items()
                       if plex_key not in mapped and session.get(PlexShow, k) is None]
        return PlexQuestions(unknown, stops)

    def save_server_progress(self, progress: dict[int, float]) -> None:
        with self.sessions.begin() as session:
            for event_id, value in progress.items():
                if (row := session.get(WebhookEvent, event_id)) is not None:
                    row.server_progress = value

    def save_server_shows(self, facts: dict[tuple[str, str], ShowFacts]) -> None:
        """Remember what Plex servers said about their shows."""
        with self.sessions.begin() as session:
            for (uuid, key), f in facts.items():
                session.merge(PlexShow(server_uuid=uuid, rating_key=key, ids=dict(f.ids), year=f.year,
                                       title=f.title))

    def server_show(self, server_uuid: str, rating_key: str) -> ShowFacts | None:
        with self.sessions() as session:
            row = session.get(PlexShow, (server_uuid, rating_key))
            return None if row is None else ShowFacts(dict(row.ids or {}), row.year, row.title)

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
                outcomes = [self._process_one(session, row, index) for row in rows]
            else:
                with session.no_autoflush:
                    lookups = Lookups(session)
                    outcomes = [process_row(session, row, self.builtin, index, self.settings, lookups,
                                                          self.plex)
                                for row in rows]
            self._settle(session, rows, outcomes)
            return outcomes

    def _settle(self, session: Session, rows: Sequence[WebhookEvent], outcomes: Sequence[Outcome]) -> None:
        """Queue the deliveries of settled rows, in the transaction that settles them."""
        if self.destinations:
            outbox.enqueue(session, [Settled(r.id, r.event, o.action) for r, o in zip(rows, outcomes)],
                           self.destinations)

    def _process_one(self, session: Session, row: WebhookEvent, index: ShowIndex) -> Outcome:
        """One row in its own savepoint: an unexpected error fails that row only."""
        try:
            with session.begin_nested():
                return process_row(session, row, self.builtin, index, self.settings,
                                   plex=self.plex)
        except Exception as exc:  # recorded on the row; the rest of the batch goes on
            row.status, row.action = "done", Action.FAILED.value
            row.reason = f"internal error: {type(exc).__name__}: {exc}"[:1000]
            row.processed_at = utcnow()
            return Outcome(row.id, Action.FAILED, row.reason)

    def scrobbles(self, limit: int = 50, action: str | None = None,
                  search: str | None = None) -> list[ScrobbleRow]:
        """The log, newest first, with where each event was delivered (Diagnostics' own
        self-test events are kept in the inbox but not listed)."""
        with self.sessions() as session:
            q = (select(WebhookEvent, Show.title).outerjoin(Show, Show.id == WebhookEvent.show_id)
                 .where(or_(WebhookEvent.event.is_(None), WebhookEvent.event != SELF_TEST_EVENT)))
            if action:
                q = q.where(WebhookEvent.action == action)
            if search:
                like = f"%{search}%"
                q = q.where(or_(WebhookEvent.plex_title.ilike(like), WebhookEvent.episode_title.ilike(like),
                                WebhookEvent.account_title.ilike(like), Show.title.ilike(like)))
            q = q.order_by(WebhookEvent.id.desc()).limit(limit)
            found = session.execute(q).all()
            labels = {d.id: d.label for d in (self.builtin, *self.destinations)}
            where = outbox.marks_for(session, [row.id for row, _ in found], labels)
            return [_scrobble(row, show_title=title, deliveries=tuple(where.get(row.id, ())))
                    for row, title in found]

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
            outcome = self._process_one(session, row, self.index(session))
            self._settle(session, [row], [outcome])
            return outcome

    def undo(self, event_id: int) -> Outcome:
        """Take back the watch an event counted."""
        with self.sessions.begin() as session:
            row = session.get(WebhookEvent, event_id)
            if row is None:
                raise TrackerError(f"there is no event #{event_id}")
            if not self.builtin.undo(session, row.id):
                if row.action in (Action.MARKED.value, Action.REWATCH.value) and (
                        row.show_id is None or session.get(Show, row.show_id) is None):
                    raise TrackerError(f"event #{event_id} marked a show that is no longer in the tracker: "
                                       "its marks went with it")
                raise TrackerError(f"event #{event_id} did not mark anything")
            row.action = Action.UNDONE.value
            row.reason = "marked, then undone by you"
            return Outcome(row.id, Action.UNDONE, row.reason, row.show_id)

    # -- conflicts --------------------------------------------------------------------
    def conflicts(self, status: str | None = "open") -> list[ConflictRow]:
        with self.sessions() as session:
            waiting = (select(WebhookEvent.conflict_id, func.count().label("n"))
                       .where(WebhookEvent.action == Action.CONFLICT.value)
                       .group_by(WebhookEvent.conflict_id).subquery())
            q = select(Conflict, waiting.c.n).outerjoin(waiting, waiting.c.conflict_id == Conflict.id)
            if status:
                q = q.where(Conflict.status == status)
            return [plain(ConflictRow, c, waiting=n or 0, candidates=tuple(Candidate.from_dict(d) for d in c.candidates or ()))
                    for c, n in session.execute(q.order_by(Conflict.id))]

    def waiting_events(self, conflict_id: int) -> list[ScrobbleRow]:
        """The scrobbles held by a conflict (what the dialog lists)."""
        with self.sessions() as session:
            q = select(WebhookEvent).where(WebhookEvent.conflict_id == conflict_id,
                                           WebhookEvent.action == Action.CONFLICT.value)
            return [_scrobble(r) for r in session.scalars(q.order_by(WebhookEvent.id))]

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
            self._settle(session, waiting, outcomes)
            return outcomes

    # -- the outbox, without a running app (the CLI) ----------------------------------
    def retry_deliveries(self, destination: str) -> int:
        return outbox.Outbox(self.sessions).retry(destination)

    def forget_deliveries(self, destination: str) -> None:
        outbox.Outbox(self.sessions).forget(destination)

    def delivery_stats(self) -> dict[str, outbox.QueueStats]:
        return outbox.Outbox(self.sessions).stats()

    def held_by_conflicts(self, destination: str) -> dict[str, list[tuple[int, ScrobbleRow]]]:
        """Deliveries a destination answered with a conflict, by Plex show (its rating key,
        or its title where Plex gave none): ``{key: [(delivery id, event)]}``."""
        with self.sessions() as session:
            q = (select(DeliveryRow.id, WebhookEvent).join(WebhookEvent, WebhookEvent.id == DeliveryRow.event_id)
                 .where(DeliveryRow.destination == destination, DeliveryRow.outcome == "conflict_created")
                 .order_by(DeliveryRow.event_id))
            out: dict[str, list[tuple[int, ScrobbleRow]]] = {}
            for delivery_id, row in session.execute(q):
                try:
                    ev = parse_payload(row.payload)
                except PayloadError:
                    continue
                if key := ev.grandparent_rating_key or ev.show_title:
                    out.setdefault(key, []).append((delivery_id, _scrobble(row)))
            return out

    def send_again(self, delivery_ids: list[int]) -> int:
        """Put deliveries back in their queue (a conflict they waited on was resolved)."""
        return outbox.Outbox(self.sessions).send_again(delivery_ids)

    # -- status -------------------------------------------------------------------------
    def counts(self) -> Counts:
        """Figures for the status window and diagnostics."""
        since = utcnow() - timedelta(hours=24)
        with self.sessions() as session:
            return Counts(
                shows=session.scalar(select(func.count(Show.id))) or 0,
                scrobbles_24h=session.scalar(select(func.count()).where(
                    WebhookEvent.received_at >= since,
                    WebhookEvent.action.in_([Action.MARKED.value, Action.REWATCH.value]))) or 0,
                conflicts_open=session.scalar(select(func.count(Conflict.id))
                                              .where(Conflict.status == "open")) or 0,
                pending=session.scalar(select(func.count()).where(WebhookEvent.status == "pending")) or 0,
                last_webhook_at=session.scalar(select(func.max(WebhookEvent.received_at))),
            )


def _reset(row: WebhookEvent) -> None:
    """Clear a row's outcome so that it can be processed again."""
    row.status, row.action, row.reason = "pending", None, None
    row.show_id = row.episode_id = row.conflict_id = None
    row.match_method, row.confidence, row.processed_at = None, None, None


def _ingest_sqlite(engine: Engine, items: list[tuple[str, str | None]], received_at: str) -> list[int]:
    """``Tracker.ingest`` on the driver's own connection: half the CPU of a session's
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
