"""The ``seasons`` JSON of a tracker's show: the key spellings its rows use, and marking
an episode watched inside it."""

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
            for ep in season.get("episodes") or []:
                if isinstance(ep, dict):
                    found.setdefault("episode", next((k for k in _EPISODE_KEYS if k in ep), ""))
                    found.setdefault("date_watched", next((k for k in _DATE_KEYS if k in ep), ""))
    values = {k: v for k, v in found.items() if v} | (override or {})
    return Spelling(**values)



def mark_in_seasons(seasons: list[Any], s: Spelling, season: int, number: int, title: str | None,
                    when: str) -> tuple[bool, bool]:
    """Mark an episode watched inside ``seasons`` (in place), adding the season or episode
    in the same shape when the tracker lacks it. Returns ``(added, already watched)``."""
    entry = next((x for x in seasons if isinstance(x, dict) and x.get(s.season) == season), None)
    added = False
    if entry is None:
        entry = {s.season: season, s.episodes: []}
        seasons.append(entry)
        seasons.sort(key=lambda x: x.get(s.season, 0) if isinstance(x, dict) else 0)
    episodes = entry.setdefault(s.episodes, [])
    ep = next((e for e in episodes if isinstance(e, dict) and e.get(s.episode) == number), None)
    if ep is None:
        ep = {s.episode: number, s.name: title, s.watched: False, s.date_watched: None}
        episodes.append(ep)
        episodes.sort(key=lambda e: e.get(s.episode, 0) if isinstance(e, dict) else 0)
        added = True
    already = bool(ep.get(s.watched))
    if not already:
        ep[s.watched] = True
        ep[s.date_watched] = when
    return added, already


def watched_count(seasons: list[Any], s: Spelling) -> int:
    return sum(1 for x in seasons if isinstance(x, dict) for e in x.get(s.episodes) or []
               if isinstance(e, dict) and e.get(s.watched))
