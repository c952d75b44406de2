"""What happens to one inbox row that is a finished movie: resolve the movie (remembered
mapping, ids, then title and year), have the built-in tracker count it, or ask."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.destinations.builtin import BuiltinTracker
from app.core.destinations.builtin_movies import movie_columns
from app.core.matching import MatchResult
from app.core.models import Conflict, MovieMapping, WebhookEvent
from app.core.payload import PlexEvent
from app.core.settle import nothing_close, record
from app.core.types import Action, Outcome

if TYPE_CHECKING:
    from app.core.config import Settings
    from app.core.pipeline import Lookups  # (it calls this module)

log = logging.getLogger(__name__)


def movie_server_key(ev: PlexEvent) -> tuple[str, str] | None:
    """(server, the movie's rating key) for a movie that names no id (a history entry, a live
    session): its server can name them."""
    if ev.movie_ids or not ev.server_uuid or not ev.rating_key or not ev.rating_key.isdigit():
        return None
    return ev.server_uuid, ev.rating_key


def process_movie(session: Session, row: WebhookEvent, ev: PlexEvent, tracker: BuiltinTracker,
                  settings: Settings, lookups: Lookups) -> Outcome:
    """A finished, accepted movie play: counted in the built-in tracker, or a conflict."""
    if not settings.builtin_tracker:
        return record(row, Action.COUNTED, "a finished movie, for your other trackers "
                                            "(the built-in tracker is off)")
    plex_key = ev.movie_key
    if plex_key is None:
        return record(row, Action.FAILED, "the payload does not say which movie this is")
    mapping = lookups.movies.mapping(plex_key)
    if mapping is not None:
        if mapping.ignored or mapping.movie_id is None:
            return record(row, Action.IGNORED, "this Plex movie is ignored (your choice)")
        row.match_method, row.confidence = "mapping", mapping.confidence
        return _mark(tracker, lookups, row, mapping.movie_id, ev, settings)

    conflict = session.scalar(select(Conflict).where(
        Conflict.plex_key == plex_key, Conflict.kind == "movie", Conflict.status == "open"))
    if conflict is not None:
        row.conflict_id = conflict.id
        return record(row, Action.CONFLICT, f"waiting on conflict #{conflict.id}")

    title, ids, year = ev.episode_title, ev.movie_ids, ev.year
    server_key = movie_server_key(ev)
    if server_key and (known := lookups.server_show(server_key)) is not None:  # what its server said
        ids, year = dict(known.ids or {}), known.year or year
    result = tracker.movies.index(session).resolve(title, year, ids)
    if result.show_id is not None:
        lookups.movies.add_mapping(MovieMapping(plex_key=plex_key, plex_title=title, movie_id=result.show_id,
                                                method=result.method or "title", confidence=result.confidence))
        row.match_method, row.confidence = result.method, result.confidence
        return _mark(tracker, lookups, row, result.show_id, ev, settings)
    if settings.auto_add_shows and title and nothing_close(result) and movie_columns(ids):
        # As for shows: a movie Plex identifies that no tracker movie resembles is added.
        movie = tracker.movies.new_movie(session, title, year, ids)
        lookups.movies.add_mapping(MovieMapping(plex_key=plex_key, plex_title=title, movie_id=movie.id,
                                                method="added", confidence=1.0))
        row.match_method, row.confidence = "added", 1.0
        log.info("added the movie %r (#%d) to the tracker, as Plex identifies it", title, movie.id)
        return _mark(tracker, lookups, row, movie.id, ev, settings)
    conflict = Conflict(kind="movie", plex_key=plex_key, plex_title=title or plex_key, plex_year=year,
                        guids={"guid": ev.guid, "movie_ids": ids}, type=result.conflict or "no_match",
                        candidates=[c.to_dict() for c in result.candidates])
    session.add(conflict)
    session.flush()
    row.conflict_id = conflict.id
    outcome = record(row, Action.CONFLICT, _conflict_reason(result, year))
    return Outcome(outcome.event_id, outcome.action, outcome.reason, None, conflict.id, True, conflict.plex_title)


def _conflict_reason(result: MatchResult, year: int | None) -> str:
    if result.conflict == "ambiguous":
        return ("several tracker movies match this Plex movie" if year is not None else
                "several tracker movies have this title and Plex gave no year to tell them apart")
    if result.conflict == "low_confidence":
        return "no tracker movie of that title and year; the closest are not certain enough"
    return "no tracker movie matches this Plex movie"


def _mark(tracker: BuiltinTracker, lookups: Lookups, row: WebhookEvent, movie_id: int, ev: PlexEvent,
          settings: Settings) -> Outcome:
    done = tracker.movies.mark(lookups.movies, movie_id, ev.account_id or "?", row.received_at,
                               timedelta(hours=settings.dedup_window_hours), row.id)
    if done.movie is not None:
        row.movie_id = movie_id
    return record(row, done.action, done.reason)
