"""The titles a Trakt or Simkl stand-in knows, and the reading of a ``POST /sync/history``
body against them (both services take the same shapes: ``movies[{ids, watched_at}]``,
``shows[{ids, seasons[{number, episodes[{number, watched_at}]}]}]``,
``episodes[{ids, watched_at}]``; Trakt also ``seasons[{ids}]``). Sources are named in
``tests/fake_trakt.py`` and ``tests/fake_simkl.py``.

Where an item is not known it is echoed, as sent, into ``not_found`` under its own key.
A known show whose season or episode is not known is echoed under ``shows`` with only the
missing seasons/episodes (neither contract says where those go: the stand-in's choice).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fake_online import parse_time


class BadBody(ValueError):
    """A history body that does not have the documented shape (the service answers 400)."""


@dataclass
class Movie:
    title: str
    year: int | None
    ids: dict[str, Any]

    def obj(self) -> dict[str, Any]:
        return {"title": self.title, "year": self.year, "ids": dict(self.ids)}


@dataclass
class Show:
    title: str
    year: int | None
    ids: dict[str, Any]
    seasons: dict[int, int]  # season number -> episode count
    season_ids: dict[int, dict[str, Any]] = field(default_factory=dict)
    episode_ids: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)

    def obj(self) -> dict[str, Any]:
        return {"title": self.title, "year": self.year, "ids": dict(self.ids)}

    def episode_obj(self, season: int, number: int) -> dict[str, Any]:
        return {"season": season, "number": number, "title": f"Episode {number}",
                "ids": dict(self.episode_ids[(season, number)])}

    def episodes(self, season: int | None = None) -> list[tuple[int, int]]:
        return [key for key in self.episode_ids if season is None or key[0] == season]


@dataclass
class Play:
    """One watch the body asked for: a movie, or an episode of a show."""

    watched_at: float
    movie: Movie | None = None
    show: Show | None = None
    season: int = 0
    number: int = 0


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _matches(known: dict[str, Any], sent: Any) -> bool:
    """Any id sent equals the known one (ids compared as text: Simkl writes "1396" or 1396)."""
    if not isinstance(sent, dict):
        return False
    return any(v is not None and k in known and str(known[k]) == str(v) for k, v in sent.items())


def _items(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = body.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise BadBody(f"{key} must be a list of objects")
    return items


class Catalog:
    """Shows and movies with ids; ``own`` is the service's own id key (``trakt``/``simkl``)."""

    def __init__(self, own: str) -> None:
        self.own = own
        self.movies: list[Movie] = []
        self.shows: list[Show] = []
        self._next = 100

    def _new_id(self) -> int:
        self._next += 1
        return self._next

    def add_show(self, title: str, ids: dict[str, Any], seasons: dict[int, int], year: int | None = None) -> Show:
        show = Show(title, year, {self.own: self._new_id(), "slug": _slug(title), **ids}, dict(seasons))
        for season, count in seasons.items():
            show.season_ids[season] = {self.own: self._new_id(), "tvdb": 7_000_000 + self._next}
            for number in range(1, count + 1):
                show.episode_ids[(season, number)] = {self.own: self._new_id(), "tvdb": 9_000_000 + self._next}
        self.shows.append(show)
        return show

    def add_movie(self, title: str, year: int | None, ids: dict[str, Any]) -> Movie:
        movie = Movie(title, year, {self.own: self._new_id(), "slug": _slug(f"{title} {year or ''}"), **ids})
        self.movies.append(movie)
        return movie

    # -- look-ups --------------------------------------------------------------------
    def find_movie(self, item: dict[str, Any]) -> Movie | None:
        for movie in self.movies:
            if _matches(movie.ids, item.get("ids")) or (
                    "ids" not in item and item.get("title") == movie.title
                    and str(item.get("year")) == str(movie.year)):
                return movie
        return None

    def find_show(self, item: dict[str, Any]) -> Show | None:
        for show in self.shows:
            if _matches(show.ids, item.get("ids")) or (
                    "ids" not in item and item.get("title") == show.title
                    and (item.get("year") is None or str(item.get("year")) == str(show.year))):
                return show
        return None

    def find_episode(self, ids: Any) -> tuple[Show, int, int] | None:
        for show in self.shows:
            for (season, number), known in show.episode_ids.items():
                if _matches(known, ids):
                    return show, season, number
        return None

    def find_season(self, ids: Any) -> tuple[Show, int] | None:
        for show in self.shows:
            for season, known in show.season_ids.items():
                if _matches(known, ids):
                    return show, season
        return None

    def find_by_id(self, id_type: str, value: str) -> list[tuple[str, Any]]:
        """Every (type, item) with ``ids[id_type] == value``: ("movie", Movie), ("show", Show),
        ("episode", (Show, season, number))."""
        probe = {id_type: value}
        found: list[tuple[str, Any]] = [("movie", m) for m in self.movies if _matches(m.ids, probe)]
        found += [("show", s) for s in self.shows if _matches(s.ids, probe)]
        episode = self.find_episode(probe)
        if episode is not None:
            found.append(("episode", episode))
        return found

    # -- a history body -----------------------------------------------------------------
    def resolve(self, body: Any, keys: tuple[str, ...]) -> tuple[list[Play], dict[str, list[Any]]]:
        """The plays a ``/sync/history`` body asks for, and ``not_found`` (one list per key)."""
        if not isinstance(body, dict):
            raise BadBody("the body must be a JSON object")
        now = time.time()
        plays: list[Play] = []
        missing: dict[str, list[Any]] = {key: [] for key in keys}
        for item in _items(body, "movies"):
            movie = self.find_movie(item)
            if movie is None:
                missing["movies"].append(item)
            else:
                plays.append(Play(_when(item, None, now), movie=movie))
        for item in _items(body, "shows"):
            show = self.find_show(item)
            if show is None:
                missing["shows"].append(item)
                continue
            unknown = self._show_plays(show, item, now, plays)
            if unknown:
                missing["shows"].append({**item, "seasons": unknown})
        if "seasons" in keys:
            for item in _items(body, "seasons"):
                found = self.find_season(item.get("ids"))
                if found is None:
                    missing["seasons"].append(item)
                    continue
                show, season = found
                at = _when(item, None, now)
                plays += [Play(at, show=show, season=s, number=n) for s, n in show.episodes(season)]
        for item in _items(body, "episodes"):
            episode = self.find_episode(item.get("ids"))
            if episode is None:
                missing["episodes"].append(item)
            else:
                plays.append(Play(_when(item, None, now), show=episode[0], season=episode[1], number=episode[2]))
        return plays, missing

    def _show_plays(self, show: Show, item: dict[str, Any], now: float, plays: list[Play]) -> list[Any]:
        """Adds the plays of one show item; returns its seasons/episodes that are not known."""
        show_at = item.get("watched_at")
        seasons = _items(item, "seasons")
        if not seasons:  # "If only a show is passed, all episodes for the show will be added."
            at = _when(item, None, now)
            plays += [Play(at, show=show, season=s, number=n) for s, n in show.episodes()]
            return []
        unknown: list[Any] = []
        for season in seasons:
            number = season.get("number")
            if number not in show.seasons:
                unknown.append(season)
                continue
            season_at = season.get("watched_at") or show_at
            episodes = _items(season, "episodes")
            if not episodes:
                at = _when(season, show_at, now)
                plays += [Play(at, show=show, season=s, number=n) for s, n in show.episodes(number)]
                continue
            lost = []
            for episode in episodes:
                by_ids = [k for k in show.episodes(number) if _matches(show.episode_ids[k], episode.get("ids"))]
                key = by_ids[0] if by_ids else (number, episode.get("number"))
                if key in show.episode_ids:
                    plays.append(Play(_when(episode, season_at, now), show=show, season=key[0], number=key[1]))
                else:
                    lost.append(episode)
            if lost:
                unknown.append({**season, "episodes": lost})
        return unknown


def _when(item: dict[str, Any], inherited: Any, now: float) -> float:
    """``watched_at`` of an item (or its parent's): none means now; Trakt's ``released`` and
    ``unknown`` are kept as the epoch (the stand-in has no release dates)."""
    value = item.get("watched_at") or inherited
    if value is None:
        return now
    if value in ("released", "unknown"):
        return 0.0
    at = parse_time(value)
    if at is None:
        raise BadBody(f"watched_at {value!r} is not a UTC datetime")
    return at
