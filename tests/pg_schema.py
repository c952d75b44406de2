"""The reference tracker's PostgreSQL schema (/work/shared/TRACKERS.md §2) and its seed.

``create_reference_schema(conn, optional_columns=True)`` creates the tables;
``seed_reference_data(conn, spelling=SNAKE, optional_columns=True)`` fills them. Both take
a psycopg connection or a SQLAlchemy ``Connection`` and leave committing to the caller.

``VARIANTS`` names the shapes tests ask for (``pg_tracker_db`` in tests/conftest_pg.py):
the same shows in other key spellings inside ``seasons``, a schema without the optional
columns (``tvshows.watched_episodes``, ``tvshows.updated_at``,
``plex_webhook_logs.payload``), and an empty database.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

# -- the schema ----------------------------------------------------------------------------
# Columns marked "(assumed)" in TRACKERS.md that the tracker may lack are in OPTIONAL_SQL,
# added by ALTER TABLE so the base tables read the same in both shapes.
# (No semicolons inside comments: the text is split into statements on them.)
SCHEMA_SQL = """
-- the tracker's shows: episodes live in a JSON column, not in their own table
CREATE TABLE tvshows (
  id          serial PRIMARY KEY,
  title       text NOT NULL,
  tmdb_id     integer,
  seasons     jsonb            -- [{season_number, episodes: [{episode_number, name,
                               --    watched (bool), dateWatched (ISO text or null)}]}]
);

CREATE TABLE plex_config (
  user_id                integer,
  enabled                boolean,
  auto_add_shows         boolean,
  auto_mark_watched      boolean,
  webhook_secret         text,
  last_webhook_received  timestamptz
);

CREATE TABLE plex_show_mappings (
  id                serial PRIMARY KEY,
  plex_rating_key   text,
  plex_guid         text,
  plex_title        text,
  tvshow_id         integer REFERENCES tvshows(id),
  match_method      text,
  match_confidence  real,
  created_at        timestamptz DEFAULT now()
);

CREATE TABLE plex_webhook_logs (
  id             serial PRIMARY KEY,
  event_type     text,
  plex_title     text,
  plex_season    integer,
  plex_episode   integer,
  status         text,           -- success / ignored / error
  action_taken   text,           -- episode_marked, conflict_created, event_not_scrobble
  error_message  text,
  created_at     timestamptz DEFAULT now()
);

CREATE TABLE plex_conflicts (
  id                 serial PRIMARY KEY,
  plex_rating_key    text,
  plex_title         text,
  conflict_type      text,       -- no_match / multiple_matches
  potential_matches  jsonb,
  resolved           boolean DEFAULT false,
  created_at         timestamptz DEFAULT now()
);
"""

OPTIONAL_SQL = """
ALTER TABLE tvshows ADD COLUMN watched_episodes integer;   -- a counter kept beside the JSON
ALTER TABLE tvshows ADD COLUMN updated_at timestamptz;
ALTER TABLE plex_webhook_logs ADD COLUMN payload jsonb;
"""

TABLES = ("tvshows", "plex_config", "plex_show_mappings", "plex_webhook_logs", "plex_conflicts")
OPTIONAL_COLUMNS = {"tvshows": ("watched_episodes", "updated_at"), "plex_webhook_logs": ("payload",)}


# -- key spellings inside tvshows.seasons --------------------------------------------------
@dataclass(frozen=True)
class Spelling:
    """The keys of ``seasons``: ``[{season: n, "episodes": [{episode: n, name, watched,
    dateWatched}]}]``; only the two number keys vary between trackers."""
    season: str
    episode: str
    episodes: str = "episodes"
    name: str = "name"
    watched: str = "watched"
    date_watched: str = "dateWatched"


SNAKE = Spelling("season_number", "episode_number")   # the reference tracker's
CAMEL = Spelling("seasonNumber", "episodeNumber")
NUMBER = Spelling("seasonNumber", "number")


# -- the seed ------------------------------------------------------------------------------
WEBHOOK_SECRET = hashlib.sha256(b"scrobbletray test tracker").hexdigest()  # 64 hex
SEEDED_AT = "2024-05-01T12:00:00+00:00"
BREAKING_BAD_ID = 30


@dataclass(frozen=True)
class Episode:
    number: int
    name: str
    date_watched: str | None = None  # ISO text, as the web app writes it; None = unwatched

    @property
    def watched(self) -> bool:
        return self.date_watched is not None


@dataclass(frozen=True)
class Show:
    id: int
    title: str
    tmdb_id: int
    seasons: dict[int, tuple[Episode, ...]]

    @property
    def watched_count(self) -> int:
        return sum(e.watched for eps in self.seasons.values() for e in eps)

    def seasons_json(self, spelling: Spelling = SNAKE) -> list[dict[str, Any]]:
        s = spelling
        return [{s.season: number,
                 s.episodes: [{s.episode: e.number, s.name: e.name, s.watched: e.watched,
                               s.date_watched: e.date_watched} for e in episodes]}
                for number, episodes in self.seasons.items()]


SHOWS: tuple[Show, ...] = (
    Show(BREAKING_BAD_ID, "Breaking Bad", 1396, {
        1: (Episode(1, "Pilot"), Episode(2, "Cat's in the Bag..."),
            Episode(3, "...And the Bag's in the River")),
        2: (Episode(1, "Seven Thirty-Seven"), Episode(2, "Grilled"),
            Episode(3, "Bit by a Dead Bee")),
    }),
    Show(12, "The Wire", 1438, {
        1: (Episode(1, "The Target", "2024-03-02T21:15:00.000Z"),
            Episode(2, "The Detail", "2024-03-03T20:40:00.000Z"), Episode(3, "The Buys")),
    }),
    Show(41, "Severance", 95396, {
        1: (Episode(1, "Good News About Hell"), Episode(2, "Half Loop")),
        2: (Episode(1, "Hello, Ms. Cobel"),),
    }),
)
SHOWS_BY_ID = {s.id: s for s in SHOWS}

PLEX_CONFIG = {"user_id": 1, "enabled": True, "auto_add_shows": False,
               "auto_mark_watched": True, "webhook_secret": WEBHOOK_SECRET,
               "last_webhook_received": None}


# -- applying it ---------------------------------------------------------------------------
def statements(sql: str) -> list[str]:
    """``sql`` split into statements (on semicolons; comment-only pieces dropped)."""
    out = []
    for piece in sql.split(";"):
        code = "\n".join(line for line in piece.splitlines() if not line.strip().startswith("--"))
        if code.strip():
            out.append(piece.strip())
    return out


def _execute(conn: Any, sql: str, params: dict[str, Any] | None = None) -> None:
    if hasattr(conn, "exec_driver_sql"):  # SQLAlchemy Connection (psycopg underneath)
        conn.exec_driver_sql(sql, params) if params is not None else conn.exec_driver_sql(sql)
    else:  # psycopg (or any DB-API connection with pyformat placeholders)
        conn.execute(sql, params)


def create_reference_schema(conn: Any, *, optional_columns: bool = True) -> None:
    """The tables of TRACKERS.md §2; ``optional_columns=False`` leaves out
    ``tvshows.watched_episodes``, ``tvshows.updated_at`` and ``plex_webhook_logs.payload``."""
    for sql in statements(SCHEMA_SQL) + (statements(OPTIONAL_SQL) if optional_columns else []):
        _execute(conn, sql)


def seed_reference_data(conn: Any, *, spelling: Spelling = SNAKE,
                        optional_columns: bool = True) -> None:
    """``SHOWS`` (``seasons`` in ``spelling``) and the one ``PLEX_CONFIG`` row."""
    for show in SHOWS:
        params: dict[str, Any] = {"id": show.id, "title": show.title, "tmdb_id": show.tmdb_id,
                                  "seasons": json.dumps(show.seasons_json(spelling))}
        cols, vals = "id, title, tmdb_id, seasons", "%(id)s, %(title)s, %(tmdb_id)s, %(seasons)s::jsonb"
        if optional_columns:
            params.update(watched=show.watched_count, updated_at=SEEDED_AT)
            cols += ", watched_episodes, updated_at"
            vals += ", %(watched)s, %(updated_at)s::timestamptz"
        _execute(conn, f"INSERT INTO tvshows ({cols}) VALUES ({vals})", params)
    # explicit ids: move the serial on, so the next INSERT gets a fresh one
    _execute(conn, "SELECT setval(pg_get_serial_sequence('tvshows', 'id'), "
                   "(SELECT max(id) FROM tvshows))")
    _execute(conn, "INSERT INTO plex_config (user_id, enabled, auto_add_shows, auto_mark_watched,"
                   " webhook_secret, last_webhook_received) VALUES (%(user_id)s, %(enabled)s,"
                   " %(auto_add_shows)s, %(auto_mark_watched)s, %(webhook_secret)s,"
                   " %(last_webhook_received)s)", dict(PLEX_CONFIG))


@dataclass(frozen=True)
class Variant:
    """A shape of tracker database: which keys in ``seasons``, which optional columns."""
    name: str
    spelling: Spelling = SNAKE
    optional_columns: bool = True
    tables: bool = True   # False: an empty database (no tables, no rows)

    def build(self, conn: Any) -> None:
        if self.tables:
            create_reference_schema(conn, optional_columns=self.optional_columns)
            seed_reference_data(conn, spelling=self.spelling, optional_columns=self.optional_columns)


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("reference"),                                    # TRACKERS.md §2 as written
    Variant("camel", CAMEL),                                 # seasonNumber / episodeNumber
    Variant("number", NUMBER),                               # seasonNumber / number
    Variant("minimal", SNAKE, optional_columns=False),       # no counter, updated_at, payload
    Variant("legacy", NUMBER, optional_columns=False),       # other keys and fewer columns
    Variant("empty", tables=False),                          # a database without the tables
)}
