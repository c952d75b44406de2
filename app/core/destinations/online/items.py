"""What a play is to Trakt and Simkl: the ``/sync/history`` body for one play, ids best
first, and whether a history entry read back is that play (to send it once only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.core.payload import PlexEvent

SHOW_IDS = ("tvdb", "tmdb", "imdb")  # a show's ids both services take, strongest first
MOVIE_IDS = ("imdb", "tmdb")


def stamp(when: datetime) -> str:
    """``when`` (naive UTC or aware) as both services write it: 2026-12-03T21:04:05.000Z."""
    aware = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return aware.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_stamp(value: Any) -> datetime | None:
    """A service's timestamp as an aware datetime; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _ids(ids: dict[str, str], names: tuple[str, ...]) -> dict[str, Any]:
    """The ids among ``names``, numbers as numbers (as the services send them back)."""
    return {n: int(ids[n]) if ids[n].isdigit() else ids[n] for n in names if ids.get(n)}


@dataclass(frozen=True)
class Play:
    """One play to send: the history body and, in words, what it names."""

    body: dict[str, Any]
    words: str  # e.g. "Severance S01E02 (tvdb 371980, tmdb 95396)"
    movie: bool
    show_ids: dict[str, Any]
    own_ids: dict[str, Any]  # the episode's own, or the movie's
    season: int | None
    number: int | None
    watched_at: str
    live: dict[str, Any]  # the item as /scrobble names it

    def scrobble(self, progress: float) -> dict[str, Any]:
        """The ``/scrobble/start|pause|stop`` body at ``progress`` per cent."""
        return {**self.live, "progress": progress}

    def matches(self, entry: Any) -> bool:
        """Whether a history entry read back from the service is this play."""
        if not isinstance(entry, dict):
            return False
        when, mine = parse_stamp(entry.get("watched_at")), parse_stamp(self.watched_at)
        if when is None or mine is None or abs((when - mine).total_seconds()) >= 1:
            return False
        if self.movie:
            return _same(entry.get("movie"), self.own_ids)
        episode = entry.get("episode")
        if not isinstance(episode, dict):
            return False
        if _same(episode, self.own_ids):
            return True
        return (episode.get("season"), episode.get("number")) == (self.season, self.number) \
            and _same(entry.get("show"), self.show_ids)


def _same(item: Any, ids: dict[str, Any]) -> bool:
    theirs = item.get("ids") if isinstance(item, dict) else None
    return isinstance(theirs, dict) and any(str(theirs.get(k)) == str(v) for k, v in ids.items() if v)


def play(ev: PlexEvent, watched_at: datetime, extra_show_ids: dict[str, str] | None = None,
         tracker_ids: dict[str, str] | None = None) -> Play | None:
    """The history body for this play, or None when it names nothing either service could
    find (no ids at all). Ids best first: the payload's, the Plex server's for its show
    (``extra_show_ids``), then those of the show or movie the built-in tracker matched it to."""
    at = stamp(watched_at)
    fill = tracker_ids or {}
    if ev.is_movie:
        ids = _ids(fill | ev.movie_ids, MOVIE_IDS)
        if not ids:
            return None
        item = {"title": ev.episode_title, "year": ev.year, "ids": ids, "watched_at": at}
        return Play({"movies": [item]}, f"{ev.episode_title} ({ev.year}) {_said(ids)}", True, {}, ids,
                    None, None, at, {"movie": {k: v for k, v in item.items() if k != "watched_at"}})
    show_ids = _ids(fill | ev.show_ids | (extra_show_ids or {}), SHOW_IDS)
    episode_ids = _ids(ev.episode_ids, SHOW_IDS)
    numbered = ev.season is not None and ev.episode is not None
    where = f"{ev.show_title} S{ev.season or 0:02d}E{ev.episode or 0:02d}" if numbered else f"{ev.show_title}"
    if show_ids and numbered:
        body = {"shows": [{"title": ev.show_title, "ids": show_ids, "seasons": [
            {"number": ev.season, "episodes": [{"number": ev.episode, "watched_at": at}]}]}]}
        return Play(body, f"{where} (show {_said(show_ids)})", False, show_ids, episode_ids, ev.season,
                    ev.episode, at, {"show": {"title": ev.show_title, "ids": show_ids},
                                     "episode": {"season": ev.season, "number": ev.episode}})
    if episode_ids:
        return Play({"episodes": [{"ids": episode_ids, "watched_at": at}]}, f"{where} (episode {_said(episode_ids)})",
                    False, show_ids, episode_ids, ev.season, ev.episode, at, {"episode": {"ids": episode_ids}})
    return None


def _said(ids: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in ids.items())


def counted(answer: Any) -> int:
    """How many plays a ``/sync/history`` answer says it added (or updated)."""
    if not isinstance(answer, dict):
        return 0
    total = 0
    for part in ("added", "updated"):
        numbers = answer.get(part)
        if isinstance(numbers, dict):
            total += sum(n for k, n in numbers.items() if k in ("movies", "episodes") and isinstance(n, int))
    return total


def not_found(answer: Any) -> list[str]:
    """What a ``/sync/history`` answer says it could not find, in words ("episodes: tvdb 5")."""
    missing = answer.get("not_found") if isinstance(answer, dict) else None
    if not isinstance(missing, dict):
        return []
    out = []
    for kind, items in missing.items():
        for item in items if isinstance(items, list) else ():
            ids = item.get("ids") if isinstance(item, dict) else None
            out.append(f"{kind}: " + (_said(ids) if isinstance(ids, dict) and ids else str(item)[:80]))
    return out
