"""The tracker's tables and columns, read by reflection (never changed: no DDL, ever),
and the one way rows are added to them: only the columns the table has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, inspect, text

from app.core.destinations.postgres.seasons import Spelling, detect_spelling

TABLES = ("tvshows", "plex_config", "plex_show_mappings", "plex_webhook_logs", "plex_conflicts")
OWN_CHOICE = ("movies",)  # read where present; a tracker without one simply keeps no movies
NEEDED = {"tvshows": ("id", "title", "seasons")}
OPTIONAL = {"tvshows": ("tmdb_id", "watched_episodes", "updated_at"),
            "plex_webhook_logs": ("event_type", "plex_title", "plex_season", "plex_episode", "status",
                                  "action_taken", "error_message", "payload"),
            "plex_show_mappings": ("plex_rating_key", "plex_guid", "plex_title", "tvshow_id",
                                   "match_method", "match_confidence"),
            "plex_conflicts": ("plex_rating_key", "plex_title", "conflict_type", "potential_matches",
                               "resolved"),
            "plex_config": ("auto_add_shows", "last_webhook_received")}
EFFECT = {("plex_webhook_logs", "payload"): "events are logged without it, and the event id that "
                                            "makes a retry harmless cannot be kept (a mark is still never doubled)",
          ("tvshows", "watched_episodes"): "no counter is kept beside the JSON",
          ("tvshows", "updated_at"): "the row's change time is not set",
          ("tvshows", "tmdb_id"): "shows are matched by title only"}
IGNORED = "ignored"  # plex_show_mappings.match_method of a Plex show the user chose to ignore


@dataclass(frozen=True)
class Schema:
    """What reflection found in the tracker's database."""

    columns: dict[str, frozenset[str]]
    spelling: Spelling
    missing: tuple[str, ...] = ()  # sentences for the user

    def has(self, table: str, column: str | None = None) -> bool:
        cols = self.columns.get(table)
        return cols is not None and (column is None or column in cols)

    @property
    def usable(self) -> bool:
        return all(self.has(t, c) for t, cs in NEEDED.items() for c in cs)


def read_schema(engine: Engine, override: dict[str, str] | None = None) -> Schema:
    """Reflect the tables and columns, and detect the key spellings from existing rows."""
    insp = inspect(engine)
    names = set(insp.get_table_names())
    columns = {t: frozenset(c["name"] for c in insp.get_columns(t)) for t in TABLES + OWN_CHOICE if t in names}
    missing = [f"there is no table {t}: " + ("shows cannot be found" if t == "tvshows" else
                                             f"{t.removeprefix('plex_').replace('_', ' ')} are skipped")
               for t in TABLES if t not in columns]
    for table, cols in (NEEDED | OPTIONAL).items():
        if table in columns:
            missing += [f"table {table} has no column {c}: " + EFFECT.get((table, c), "it is left out")
                        for c in cols if c not in columns[table]]
    seasons: list[Any] = []
    if {"seasons"} <= columns.get("tvshows", frozenset()):
        with engine.connect() as conn:
            seasons = [v for (v,) in conn.execute(text(
                "SELECT seasons FROM tvshows WHERE seasons IS NOT NULL AND seasons::text <> '[]' LIMIT 50"))]
    return Schema(columns, detect_spelling(seasons, override), tuple(missing))


def insert(conn: Any, schema: Schema, table: str, values: dict[str, Any]) -> None:
    """INSERT only the columns the table has (the shape is the tracker's, not ours)."""
    cols = [c for c in values if schema.has(table, c)]
    if not cols:
        return
    casts = {"potential_matches": "CAST(:potential_matches AS jsonb)", "payload": "CAST(:payload AS jsonb)"}
    conn.execute(text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                      f"({', '.join(casts.get(c, ':' + c) for c in cols)})"), {c: values[c] for c in cols})
