"""Movies in a PostgreSQL tracker: only where its schema has a ``movies`` table (found by
reflection, never created). A movie is found by its ids, then by title and year, and its
watched columns (whichever the table has) are set; nothing is added to the table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from app.core.destinations.postgres.schema import Schema
from app.core.payload import PlexEvent

TABLE = "movies"
YEAR_COLUMNS = ("year", "release_year")
WATCHED_AT = ("watched_at", "last_watched_at", "date_watched")
COUNTS = ("watch_count", "plays", "times_watched")


def _name(ev: PlexEvent) -> str:
    return f"“{ev.episode_title or '?'}”" + (f" ({ev.year})" if ev.year else "")


def mark_movie(conn: Any, schema: Schema, ev: PlexEvent, when: str) -> tuple[str, str, str]:
    """(status, action, detail) as the tracker's log words them; the movie's row updated
    when exactly one row is that movie."""
    if not schema.has(TABLE, "id"):
        return "ignored", "movies_not_tracked", "the tracker's database has no movies table: movies are not kept there"
    found = _by_ids(conn, schema, ev.movie_ids) or _by_title(conn, schema, ev)
    if len(found) != 1:
        how = "several movies" if found else "no movie"
        return "ignored", "movie_not_found", f"{how} in the tracker's movies table match {_name(ev)}"
    movie_id = found[0]
    sets, params = [], {"i": movie_id, "w": when}
    if schema.has(TABLE, "watched"):
        sets.append("watched = true")
    sets += [f"{c} = COALESCE({c}, 0) + 1" for c in COUNTS if schema.has(TABLE, c)]
    sets += [f"{c} = CAST(:w AS timestamptz)" for c in WATCHED_AT if schema.has(TABLE, c)]
    if schema.has(TABLE, "updated_at"):
        sets.append("updated_at = now()")
    if not sets:
        return "ignored", "movies_not_tracked", "the tracker's movies table has no column to mark a movie watched"
    conn.execute(text(f"UPDATE {TABLE} SET {', '.join(sets)} WHERE id = :i"), params)
    return "success", "movie_marked", f"{_name(ev)} marked in movie #{movie_id}"


def _by_ids(conn: Any, schema: Schema, ids: dict[str, str]) -> list[int]:
    where: list[str] = []
    params: dict[str, Any] = {}
    if schema.has(TABLE, "tmdb_id") and ids.get("tmdb", "").isdigit():
        where.append("tmdb_id = :tmdb")
        params["tmdb"] = int(ids["tmdb"])
    if schema.has(TABLE, "imdb_id") and ids.get("imdb"):
        where.append("imdb_id = :imdb")
        params["imdb"] = ids["imdb"]
    if not where:
        return []
    return [int(r[0]) for r in conn.execute(text(f"SELECT id FROM {TABLE} WHERE {' OR '.join(where)} LIMIT 2"),
                                            params)]


def _by_title(conn: Any, schema: Schema, ev: PlexEvent) -> list[int]:
    """The rows of this title, and of this year where the table has one and Plex gave it
    (remakes share titles: without a year, two of one title are not told apart)."""
    if not ev.episode_title or not schema.has(TABLE, "title"):
        return []
    where = ["lower(title) = lower(:t)"]
    params: dict[str, Any] = {"t": ev.episode_title}
    year = next((c for c in YEAR_COLUMNS if schema.has(TABLE, c)), None)
    if year and ev.year:
        where.append(f"({year} IS NULL OR abs({year} - :y) <= 1)")
        params["y"] = ev.year
    return [int(r[0]) for r in conn.execute(text(f"SELECT id FROM {TABLE} WHERE {' AND '.join(where)} LIMIT 2"),
                                            params)]
