"""What happens to one inbox row: filter, resolve the show, mark the episode.

Synchronous functions over an open session; the caller owns the transaction, so a row's
outcome and the episode it marks are committed together (exactly once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.matching import MatchResult, ShowIndex
from app.core.models import Conflict, Episode, Show, ShowMapping, Watch, WebhookEvent, utcnow
from app.core.payload import PayloadError, PlexEvent, parse_payload

SELF_TEST_EVENT = "scrobbletray.selftest"

_PLAYBACK = {"media.play", "media.pause", "media.resume", "media.rate", "playback.started"}
_NOT_TRACKED = {"movie": "movies are not tracked", "track": "music is not tracked",
                "clip": "clips are not tracked", "photo": "photos are not tracked"}


class Action(str, Enum):
    """The outcome recorded on an inbox row."""

    MARKED = "marked"
    REWATCH = "rewatch"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    CONFLICT = "conflict"
    FAILED = "failed"
    UNDONE = "undone"


@dataclass(frozen=True)
class Outcome:
    """What became of one event, published after the commit."""

    event_id: int
    action: Action
    reason: str | None = None
    show_id: int | None = None
    conflict_id: int | None = None
    conflict_opened: bool = False
    plex_title: str | None = None  # set when a conflict was opened


class Lookups:
    """What one transaction has read or made, so a burst of one show costs no query per row.

    Used with the session's autoflush off: new watches are checked here, in memory,
    before the database is asked.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._mappings: dict[str, ShowMapping | None] = {}
        self._episodes: dict[tuple[int, int, int], Episode | None] = {}  # (show, season, number)
        self._new_watches: list[Watch] = []

    def mapping(self, plex_key: str) -> ShowMapping | None:
        if plex_key not in self._mappings:
            self._mappings[plex_key] = self.session.scalar(
                select(ShowMapping).where(ShowMapping.plex_key == plex_key))
        return self._mappings[plex_key]

    def add_mapping(self, mapping: ShowMapping) -> None:
        self.session.add(mapping)
        self._mappings[mapping.plex_key] = mapping

    def episode(self, show_id: int, season: int, number: int) -> Episode | None:
        key = (show_id, season, number)
        if key not in self._episodes:
            self._episodes[key] = self.session.scalar(select(Episode).where(
                Episode.show_id == show_id, Episode.season == season, Episode.number == number))
        return self._episodes[key]

    def add_episode(self, episode: Episode) -> None:
        self.session.add(episode)
        self._episodes[episode.show_id, episode.season, episode.number] = episode

    def earlier_watch(self, episode: Episode, account: str, when: datetime, window: timedelta) -> Watch | None:
        """A watch of this episode by this account within ``window`` of ``when``."""
        for w in self._new_watches:
            if w.episode is episode and w.account_id == account and abs(w.watched_at - when) < window:
                return w
        if episode.id is None:  # made in this transaction: no older watches
            return None
        return self.session.scalar(select(Watch).where(
            Watch.episode_id == episode.id, Watch.account_id == account,
            Watch.watched_at > when - window, Watch.watched_at < when + window).limit(1))

    def add_watch(self, watch: Watch) -> None:
        self.session.add(watch)
        self._new_watches.append(watch)


def _record(row: WebhookEvent, action: Action, reason: str | None = None) -> Outcome:
    row.action = action.value
    row.reason = reason
    row.status = "done"
    row.processed_at = utcnow()
    return Outcome(row.id, action, reason, row.show_id, row.conflict_id)


def filter_reason(ev: PlexEvent, settings: Settings) -> str | None:
    """Why this event does not count as a watched episode, or None when it does."""
    if ev.event == SELF_TEST_EVENT:
        return "self-test event"
    if ev.event in _PLAYBACK:
        return f"{ev.event} is a playback state, not a finished episode"
    if ev.event not in ("media.scrobble", "media.stop"):
        return f"{ev.event} is not a playback event"
    if not ev.is_episode:
        return _NOT_TRACKED.get(ev.media_type or "", f"{ev.media_type or 'unknown'} items are not tracked")
    if not _account_accepted(ev, settings):
        who = ev.account_title or ev.account_id or "unknown account"
        return f"played by {who}, an account that is not accepted"
    if ev.event == "media.stop":
        progress = ev.progress
        if progress is None:
            return "stopped, with no progress information"
        if progress < settings.stop_threshold:
            return (f"stopped at {progress:.0%}, below the "
                    f"{settings.stop_threshold:.0%} threshold")
    return None


def _account_accepted(ev: PlexEvent, settings: Settings) -> bool:
    if ev.user:
        return True
    accepted = {str(a).strip().casefold() for a in settings.accepted_accounts}
    return any(v is not None and v.casefold() in accepted for v in (ev.account_id, ev.account_title))


def process_row(session: Session, row: WebhookEvent, index: ShowIndex, settings: Settings,
                lookups: Lookups | None = None) -> Outcome:
    """Decide and apply the outcome of one pending inbox row.

    Several rows of one transaction share ``lookups`` (and the session must not autoflush).
    """
    if lookups is None:
        with session.no_autoflush:
            return process_row(session, row, index, settings, Lookups(session))
    try:
        ev = parse_payload(row.payload)
    except PayloadError as exc:
        return _record(row, Action.FAILED, str(exc))
    row.event = ev.event
    row.account_id, row.account_title = ev.account_id, ev.account_title
    row.server_title, row.plex_title, row.episode_title = ev.server_title, ev.show_title, ev.episode_title
    row.season, row.episode = ev.season, ev.episode

    if reason := filter_reason(ev, settings):
        return _record(row, Action.IGNORED, reason)
    if ev.season is None or ev.episode is None:
        return _record(row, Action.FAILED, "the payload has no season or episode number")
    plex_key = ev.plex_key
    if plex_key is None:
        return _record(row, Action.FAILED, "the payload does not say which show this is")

    mapping = lookups.mapping(plex_key)
    if mapping is not None:
        if mapping.ignored or mapping.show_id is None:
            return _record(row, Action.IGNORED, "this Plex show is ignored (your choice)")
        row.match_method, row.confidence = "mapping", mapping.confidence
        return mark(lookups, row, mapping.show_id, ev, settings)

    conflict = session.scalar(
        select(Conflict).where(Conflict.plex_key == plex_key, Conflict.status == "open")
    )
    if conflict is not None:
        row.conflict_id = conflict.id
        return _record(row, Action.CONFLICT, f"waiting on conflict #{conflict.id}")

    result = index.resolve(ev.show_title, ev.year, ev.show_ids)
    if result.show_id is not None:
        lookups.add_mapping(ShowMapping(plex_key=plex_key, plex_title=ev.show_title,
                                        show_id=result.show_id, method=result.method or "title",
                                        confidence=result.confidence))
        row.match_method, row.confidence = result.method, result.confidence
        return mark(lookups, row, result.show_id, ev, settings)
    conflict = _open_conflict(session, plex_key, ev, result)
    row.conflict_id = conflict.id
    outcome = _record(row, Action.CONFLICT, _conflict_reason(result))
    return Outcome(outcome.event_id, outcome.action, outcome.reason, None, conflict.id, True,
                   conflict.plex_title)


def _conflict_reason(result: MatchResult) -> str:
    return {
        "no_match": "no tracker show matches this Plex show",
        "ambiguous": "several tracker shows match this Plex show",
        "low_confidence": "the best title match is not certain enough",
    }.get(result.conflict or "", "needs your decision")


def _open_conflict(session: Session, plex_key: str, ev: PlexEvent, result: MatchResult) -> Conflict:
    conflict = Conflict(
        plex_key=plex_key, plex_title=ev.show_title or plex_key, plex_year=ev.year,
        guids=ev.guid_summary(), type=result.conflict or "no_match",
        candidates=[c.to_dict() for c in result.candidates],
    )
    session.add(conflict)
    session.flush()
    return conflict


def mark(lookups: Lookups, row: WebhookEvent, show_id: int, ev: PlexEvent, settings: Settings) -> Outcome:
    """Mark the row's episode watched for its account (created if the tracker lacks it)."""
    session = lookups.session
    show = session.get(Show, show_id)
    if show is None:
        return _record(row, Action.FAILED, f"tracker show #{show_id} no longer exists")
    row.show_id = show_id
    assert ev.season is not None and ev.episode is not None
    episode = lookups.episode(show_id, ev.season, ev.episode)
    if episode is None:
        episode = Episode(show_id=show_id, season=ev.season, number=ev.episode,
                          title=ev.episode_title, watch_count=0)
        lookups.add_episode(episode)
    elif not episode.title and ev.episode_title:
        episode.title = ev.episode_title
    row.tracker_episode = episode  # (a new episode gets its id when the batch is flushed)

    account = ev.account_id or "?"
    when = row.received_at
    earlier = lookups.earlier_watch(episode, account, when, timedelta(hours=settings.dedup_window_hours))
    if earlier is not None:
        return _record(row, Action.DUPLICATE,
                       f"this play was already counted (event #{earlier.event_id})")

    rewatch = episode.watch_count > 0
    lookups.add_watch(Watch(episode=episode, account_id=account, watched_at=when, event_id=row.id))
    _count(show, episode, when, +1)
    if rewatch:
        return _record(row, Action.REWATCH, f"watched {episode.watch_count} times")
    return _record(row, Action.MARKED)


def _count(show: Show, episode: Episode, when: datetime | None, delta: int) -> None:
    """Keep episode and show counters right after a watch is added or removed."""
    before = episode.watch_count
    episode.watch_count = max(0, before + delta)
    show.total_plays = max(0, show.total_plays + delta)
    if before == 0 and episode.watch_count > 0:
        show.watched_episodes += 1
        episode.first_watched_at = when
    elif before > 0 and episode.watch_count == 0:
        show.watched_episodes = max(0, show.watched_episodes - 1)
        episode.first_watched_at = None
    if delta > 0 and when is not None:
        episode.last_watched_at = max(filter(None, [episode.last_watched_at, when]))
        show.last_watched_at = max(filter(None, [show.last_watched_at, when]))


def undo_mark(session: Session, row: WebhookEvent) -> bool:
    """Take back the watch this row counted; False when it counted none."""
    watch = session.scalar(select(Watch).where(Watch.event_id == row.id))
    if watch is None:
        return False
    episode = session.get(Episode, watch.episode_id)
    session.delete(watch)
    session.flush()
    if episode is not None:
        show = session.get(Show, episode.show_id)
        last = session.scalar(select(Watch.watched_at).where(Watch.episode_id == episode.id)
                              .order_by(Watch.watched_at.desc()).limit(1))
        if show is not None:
            _count(show, episode, None, -1)
        episode.last_watched_at = last
    row.action = Action.UNDONE.value
    row.reason = "marked, then undone by you"
    return True
