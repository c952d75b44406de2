"""What happens to one inbox row: filter, resolve the show, hand it to the tracker.

Synchronous functions over an open session; the caller owns the transaction, so a row's
outcome and the episode the built-in tracker marks are committed together (exactly once).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.destinations.builtin import BuiltinTracker, Marks, id_columns
from app.core.destinations.builtin_movies import MovieLookups
from app.core.matching import MatchResult, ShowIndex
from app.core.models import Conflict, PlexShow, ShowMapping, WebhookEvent
from app.core.payload import MAX_EPISODE, MAX_SEASON, PayloadError, PlexEvent, parse_payload
from app.core.pipeline_movies import movie_server_key, process_movie
from app.core.settle import nothing_close as _nothing_close
from app.core.settle import record as _record
from app.core.types import SELF_TEST_EVENT, Action, Outcome

if TYPE_CHECKING:
    from app.core.config import Settings

log = logging.getLogger(__name__)
_PLAYBACK = {"media.play", "media.pause", "media.resume", "media.rate", "playback.started"}
_NOT_TRACKED = {"track": "music is not tracked",
                "clip": "clips are not tracked", "photo": "photos are not tracked"}


@dataclass(frozen=True)
class PlexKnows:
    """What the Plex link adds to processing: whether it is signed in (so servers were
    asked), and each account's names and ids, any of which may be in accepted_accounts."""

    connected: bool = False
    aliases: Mapping[str, frozenset[str]] = field(default_factory=dict)  # casefolded -> all of that account's
    owner: frozenset[str] = frozenset()  # the server owner's names and ids (casefolded)


class Lookups:
    """What one transaction has read or made (mappings, and the tracker's :class:`Marks`),
    so a burst of one show costs no query per row. The session must not autoflush."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.marks = Marks(session)
        self.movies = MovieLookups(session)
        self._mappings: dict[str, ShowMapping | None] = {}
        self._server_shows: dict[tuple[str, str], PlexShow | None] = {}

    def mapping(self, plex_key: str) -> ShowMapping | None:
        if plex_key not in self._mappings:
            self._mappings[plex_key] = self.session.scalar(
                select(ShowMapping).where(ShowMapping.plex_key == plex_key))
        return self._mappings[plex_key]

    def add_mapping(self, mapping: ShowMapping) -> None:
        self.session.add(mapping)
        self._mappings[mapping.plex_key] = mapping

    def server_show(self, key: tuple[str, str]) -> PlexShow | None:
        """What the Plex server said about a show (asked before the batch: see Core)."""
        if key not in self._server_shows:
            self._server_shows[key] = self.session.get(PlexShow, key)
        return self._server_shows[key]


def server_show_key(ev: PlexEvent) -> tuple[str, str] | None:
    """(server, show rating key) when only the Plex server can name the show's ids: a
    new-agent (plex://) or unmatched episode, whose Guid ids are the episode's. For a movie
    that names no id (a history entry, a live session): (server, its own rating key)."""
    if ev.is_movie:
        return movie_server_key(ev)
    if not ev.is_episode or ev.show_ids or not ev.server_uuid or not ev.grandparent_rating_key:
        return None
    if not ev.grandparent_rating_key.isdigit():
        return None
    return ev.server_uuid, ev.grandparent_rating_key


def filter_reason(ev: PlexEvent, settings: Settings, server_progress: float | None = None,
                  plex: PlexKnows = PlexKnows()) -> str | None:
    """Why this event does not count as a watched episode, or None when it does.
    ``server_progress``: how far a stop went as the Plex server said, when the payload does not."""
    if ev.event == SELF_TEST_EVENT:
        return "self-test event"
    if ev.event in _PLAYBACK:
        return f"{ev.event} is a playback state, not a finished episode"
    if ev.event not in ("media.scrobble", "media.stop"):
        return f"{ev.event} is not a playback event"
    if not (ev.is_episode or ev.is_movie):
        return _NOT_TRACKED.get(ev.media_type or "", f"{ev.media_type or 'unknown'} items are not tracked")
    if not _account_accepted(ev, settings, plex):
        who = ev.account_title or ev.account_id or "unknown account"
        return f"played by {who}, an account that is not accepted"
    if ev.event == "media.stop":
        progress = ev.progress if ev.progress is not None else server_progress
        if progress is None:
            return "stopped, with no progress information"
        if progress < settings.stop_threshold:
            return (f"stopped at {progress:.0%}, below the "
                    f"{settings.stop_threshold:.0%} threshold")
    return None


def _account_accepted(ev: PlexEvent, settings: Settings, plex: PlexKnows) -> bool:
    if ev.user:
        return True
    accepted = {str(a).strip().casefold() for a in settings.accepted_accounts}
    # A name picked from the server's accounts also stands for its plex.tv and server ids.
    accepted |= {alias for a in accepted for alias in plex.aliases.get(a, ())}
    return any(v is not None and v.casefold() in accepted for v in (ev.account_id, ev.account_title))


Parsed = PlexEvent | PayloadError  # a payload as parse_payload left it


def parse(payload: str | bytes) -> Parsed:
    """A payload parsed, or why it cannot be (kept, so a batch parses each payload once)."""
    try:
        return parse_payload(payload)
    except PayloadError as exc:
        return exc


def process_row(session: Session, row: WebhookEvent, tracker: BuiltinTracker, index: ShowIndex,
                settings: Settings, lookups: Lookups | None = None, plex: PlexKnows = PlexKnows(),
                parsed: Parsed | None = None) -> Outcome:
    """Decide and apply the outcome of one pending inbox row.

    Several rows of one transaction share ``lookups`` (and the session must not autoflush).
    ``plex``: what the Plex link knows (see :class:`PlexKnows`). ``parsed``: the row's payload
    already parsed (by :func:`parse`, for the Plex questions before the batch).
    """
    if lookups is None:
        with session.no_autoflush:
            return process_row(session, row, tracker, index, settings, Lookups(session), plex, parsed)
    ev = parse(row.payload) if parsed is None else parsed
    if isinstance(ev, PayloadError):
        return _record(row, Action.FAILED, str(ev))
    row.event = ev.event
    row.account_id, row.account_title = ev.account_id, ev.account_title
    row.server_title, row.plex_title, row.episode_title = ev.server_title, ev.show_title, ev.episode_title
    row.season, row.episode = ev.season, ev.episode
    row.media_type = ev.media_type
    if ev.is_movie:  # (a movie's title is the item's own: kept where a show's title goes)
        row.plex_title, row.episode_title, row.plex_year = ev.episode_title, None, ev.year

    if reason := filter_reason(ev, settings, row.server_progress, plex):
        return _record(row, Action.IGNORED, reason)
    if ev.is_movie:
        return process_movie(session, row, ev, tracker, settings, lookups)
    if ev.season is None or ev.episode is None:
        return _record(row, Action.FAILED, "the payload has no season or episode number")
    if not (0 <= ev.season <= MAX_SEASON and 0 <= ev.episode <= MAX_EPISODE):
        return _record(row, Action.FAILED, f"season {ev.season}, episode {ev.episode} is not a real "
                                           "episode number: nothing was marked")
    if not settings.builtin_tracker:
        return _record(row, Action.COUNTED, "a finished episode, for your other trackers "
                                            "(the built-in tracker is off)")
    plex_key = ev.plex_key
    if plex_key is None:
        return _record(row, Action.FAILED, "the payload does not say which show this is")

    mapping = lookups.mapping(plex_key)
    if mapping is not None:
        if mapping.ignored or mapping.show_id is None:
            return _record(row, Action.IGNORED, "this Plex show is ignored (your choice)")
        row.match_method, row.confidence = "mapping", mapping.confidence
        return mark(tracker, lookups, row, mapping.show_id, ev, settings)

    conflict = session.scalar(
        select(Conflict).where(Conflict.plex_key == plex_key, Conflict.status == "open")
    )
    if conflict is not None:
        row.conflict_id = conflict.id
        return _record(row, Action.CONFLICT, f"waiting on conflict #{conflict.id}")

    ids, year = ev.show_ids, ev.year
    server_key = server_show_key(ev)
    known = lookups.server_show(server_key) if server_key else None
    if known is not None:
        ids, year = dict(known.ids or {}), known.year or ev.year
    result = index.resolve(ev.show_title, year, ids)
    if result.show_id is not None:
        lookups.add_mapping(ShowMapping(plex_key=plex_key, plex_title=ev.show_title,
                                        show_id=result.show_id, method=result.method or "title",
                                        confidence=result.confidence))
        row.match_method, row.confidence = result.method, result.confidence
        return mark(tracker, lookups, row, result.show_id, ev, settings)
    if settings.auto_add_shows and ev.show_title and _nothing_close(result) and id_columns(ids):
        # As the reference web tracker's auto_add_shows: a show Plex identifies that no
        # tracker show resembles is simply added. Anything alike still asks.
        show = tracker.new_show(session, ev.show_title, year, ids)
        lookups.add_mapping(ShowMapping(plex_key=plex_key, plex_title=ev.show_title, show_id=show.id,
                                        method="added", confidence=1.0))
        row.match_method, row.confidence = "added", 1.0
        log.info("added %r (show #%d) to the tracker, as Plex identifies it by %s", ev.show_title, show.id,
                 ", ".join(sorted(id_columns(ids))))
        return mark(tracker, lookups, row, show.id, ev, settings)
    conflict = _open_conflict(session, plex_key, ev, result, year, ids)
    row.conflict_id = conflict.id
    reason = _conflict_reason(result)
    if server_key and known is None and (ev.grandparent_guid or "").startswith("plex://"):
        reason += ("; the Plex server did not answer, so its ids for the show are unknown" if plex.connected
                   else "; signing in to Plex would have identified the show by its ids")
    outcome = _record(row, Action.CONFLICT, reason)
    return Outcome(outcome.event_id, outcome.action, outcome.reason, None, conflict.id, True,
                   conflict.plex_title)


def _conflict_reason(result: MatchResult) -> str:
    return {
        "no_match": "no tracker show matches this Plex show",
        "ambiguous": "several tracker shows match this Plex show",
        "low_confidence": "the best title match is not certain enough",
    }.get(result.conflict or "", "needs your decision")


def _open_conflict(session: Session, plex_key: str, ev: PlexEvent, result: MatchResult,
                   year: int | None, ids: dict[str, str]) -> Conflict:
    conflict = Conflict(
        plex_key=plex_key, plex_title=ev.show_title or plex_key, plex_year=year,
        guids=ev.guid_summary() | ({"server_ids": ids} if ids != ev.show_ids else {}),
        type=result.conflict or "no_match",
        candidates=[c.to_dict() for c in result.candidates],
    )
    session.add(conflict)
    session.flush()
    return conflict


def mark(tracker: BuiltinTracker, lookups: Lookups, row: WebhookEvent, show_id: int, ev: PlexEvent,
         settings: Settings) -> Outcome:
    """Have the tracker mark the row's episode watched, and record what it did."""
    assert ev.season is not None and ev.episode is not None
    done = tracker.mark(lookups.marks, show_id, ev.season, ev.episode, ev.episode_title,
                        ev.account_id or "?", row.received_at,
                        timedelta(hours=settings.dedup_window_hours), row.id)
    if done.episode is not None:
        row.show_id = show_id
        row.tracker_episode = done.episode  # (a new episode gets its id when the batch is flushed)
    return _record(row, done.action, done.reason)
