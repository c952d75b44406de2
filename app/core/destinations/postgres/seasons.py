"""The ``seasons`` JSON of a tracker's show: the key spellings its rows use, and marking
an episode watched inside it.

The value is someone else's, so what is not understood is never written: a ``seasons``
that is not a JSON list, a season or episode list that is not a list, a number that is
neither a number nor its digits, two entries with the same number, or a ``watched`` that
is neither a boolean nor ``"true"``/``"false"`` raises :class:`SeasonsNotUnderstood`,
before anything is changed. Understood safely: a number written as its digits (``"1"``
is season 1; it is left as written), ``watched`` as the text ``"true"``/``"false"``
(``"false"`` is not watched; marking writes ``true``), ``watched`` or the date missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Spelling:
    """The keys used inside ``seasons``."""

    season: str = "season_number"
    episodes: str = "episodes"
    episode: str = "episode_number"
    name: str = "name"
    watched: str = "watched"
    date_watched: str = "dateWatched"


class SeasonsNotUnderstood(ValueError):
    """A ``seasons`` value of a shape Scrobble Tray does not understand (the message says what)."""


_SEASON_KEYS = ("season_number", "seasonNumber", "season", "number")
_EPISODE_KEYS = ("episode_number", "episodeNumber", "episode", "number")
_DATE_KEYS = ("dateWatched", "date_watched", "watchedAt", "watched_at")


def detect_spelling(seasons_values: list[Any], override: dict[str, str] | None = None) -> Spelling:
    """The key spellings the tracker's existing rows use (the reference's when there are none)."""
    found: dict[str, str] = {}
    for seasons in seasons_values:
        for season in seasons if isinstance(seasons, list) else []:
            if not isinstance(season, dict):
                continue
            found.setdefault("season", next((k for k in _SEASON_KEYS if k in season), ""))
            episodes = season.get("episodes")
            for ep in episodes if isinstance(episodes, list) else []:
                if isinstance(ep, dict):
                    found.setdefault("episode", next((k for k in _EPISODE_KEYS if k in ep), ""))
                    found.setdefault("date_watched", next((k for k in _DATE_KEYS if k in ep), ""))
    values = {k: v for k, v in found.items() if v} | (override or {})
    return Spelling(**values)


def shape_of(value: Any) -> str:
    """What a JSON value is, in words (for a reason shown to the user)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}" + ("…" if len(value) > 40 else "")
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else type(value).__name__


def _number(value: Any) -> int | None:
    """A season or episode number as the tracker wrote it: an integer or its digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def is_watched(value: Any) -> bool | None:
    """``watched`` as a boolean; None when it is neither a boolean nor "true"/"false" (or missing/null)."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _find(items: list[Any], key: str, number: int, what: str) -> dict[str, Any] | None:
    """The one entry of ``items`` numbered ``number``; SeasonsNotUnderstood when odd."""
    found = None
    for item in items:
        if not isinstance(item, dict):
            raise SeasonsNotUnderstood(f"a {what} in the list is {shape_of(item)}, not an object")
        n = _number(item.get(key))
        if n is None and item.get(key) is not None:
            raise SeasonsNotUnderstood(f"a {what} is numbered {shape_of(item.get(key))}")
        if n == number:
            if found is not None:
                raise SeasonsNotUnderstood(f"two {what}s are numbered {number}")
            found = item
    return found


def _insert_in_order(items: list[Any], key: str, entry: dict[str, Any]) -> None:
    """Add ``entry`` before the first item numbered higher (the others keep their order)."""
    number = _number(entry[key]) or 0
    at = next((i for i, x in enumerate(items) if (_number(x.get(key)) or 0) > number), len(items))
    items.insert(at, entry)


def mark_in_seasons(seasons: list[Any], s: Spelling, season: int, number: int, title: str | None,
                    when: str) -> tuple[bool, bool]:
    """Mark an episode watched inside ``seasons`` (in place), adding the season or episode
    in the same shape when the tracker lacks it. Returns ``(added, already watched)``.

    Raises :class:`SeasonsNotUnderstood` (with ``seasons`` unchanged) for a shape it does
    not understand."""
    if not isinstance(seasons, list):
        raise SeasonsNotUnderstood(f"its seasons are {shape_of(seasons)}, not a list")
    entry = _find(seasons, s.season, season, "season")
    episodes = entry.get(s.episodes, []) if entry is not None else []
    if not isinstance(episodes, list):
        raise SeasonsNotUnderstood(f"the episodes of season {season} are {shape_of(episodes)}, not a list")
    ep = _find(episodes, s.episode, number, f"episode of season {season}")
    already = is_watched(ep.get(s.watched)) if ep is not None else False
    if already is None:
        raise SeasonsNotUnderstood(f"S{season:02d}E{number:02d} is marked watched as "
                                   f"{shape_of(ep.get(s.watched) if ep else None)}")
    # Understood: only now is anything changed.
    if entry is None:
        entry = {s.season: season, s.episodes: episodes}
        _insert_in_order(seasons, s.season, entry)
    elif s.episodes not in entry:
        entry[s.episodes] = episodes
    added = ep is None
    if ep is None:
        ep = {s.episode: number, s.name: title, s.watched: False, s.date_watched: None}
        _insert_in_order(episodes, s.episode, ep)
    if not already:
        ep[s.watched] = True
        ep[s.date_watched] = when
    return added, already


def watched_count(seasons: list[Any], s: Spelling) -> int:
    """Episodes marked watched (a ``watched`` not understood does not count)."""
    return sum(1 for x in seasons if isinstance(x, dict) and isinstance(x.get(s.episodes), list)
               for e in x[s.episodes] if isinstance(e, dict) and is_watched(e.get(s.watched)))
