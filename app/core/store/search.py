"""Searching the log fast in SQLite: the FTS5 trigram index over the inbox's titles
(migration 0009, kept in step by triggers) finds the newest rows holding a text of three
characters or more without reading the others; the tracker's own titles are matched in the
shows and movies tables and found through the rows' show and movie indexes. A shorter text
is looked for with LIKE in the newest ``SEARCH_RECENT`` rows only (a trigram index finds
nothing shorter than ``SEARCH_MIN_CHARS``). Another database, and an
SQLite without FTS5's trigram tokenizer, search as ``ScrobbleLog.scrobbles`` always did."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.core.types import SEARCH_RECENT, SELF_TEST_EVENT

TABLE = "webhook_search"  # as migration 0009 names it
_TRACKER = (("shows", "show_id"), ("movies", "movie_id"))  # the tracker's titles, and the rows' column


def has_index(session: Session) -> bool:
    """Whether this database has the search index (SQLite with FTS5's trigram tokenizer)."""
    if session.get_bind().dialect.name != "sqlite":
        return False
    return session.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :n"),
                           {"n": TABLE}).first() is not None


def phrase(search: str) -> str:
    """The user's text as one FTS5 string (no operator, column filter or prefix in it)."""
    return '"' + search.replace('"', '""') + '"'


def _like(search: str) -> str:
    """A LIKE pattern (ESCAPE '\\') for rows holding ``search`` as typed (``%``, ``_`` too)."""
    return "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _titled(session: Session, titles: str, search: str) -> list[int]:
    """The ids of the tracker's shows or movies whose title holds ``search`` in any case."""
    if search.isascii():  # SQLite's LIKE ignores the case of ASCII letters only
        return list(session.execute(text(f"SELECT id FROM {titles} WHERE title LIKE :like ESCAPE '\\'"),
                                    {"like": _like(search)}).scalars())
    needle = search.casefold()  # (folded here as FTS5 folds: a few thousand titles)
    return [i for i, title in session.execute(text(f"SELECT id, title FROM {titles}"))
            if title and needle in title.casefold()]


def _listed(ids: list[int]) -> str:
    """Ids for an SQL ``IN (...)``: integers only, so written into the text safely."""
    return ", ".join(str(int(i)) for i in ids)


def _params(action: str | None, limit: int, **more: Any) -> dict[str, Any]:
    return {"selftest": SELF_TEST_EVENT, "action": action, "limit": limit, **more}


def matching_ids(session: Session, search: str, action: str | None, limit: int) -> list[int]:
    """Through the index: the ids of the newest ``limit`` rows (Diagnostics' self-tests
    apart) whose Plex title, episode title, account or tracker title holds ``search`` (any
    case), newest first."""
    only = " AND w.action = :action" if action else ""
    # The index hands out its rows newest first and stops at the limit (no sort of every match).
    found = set(session.execute(text(
        f"SELECT w.id FROM {TABLE} s JOIN webhook_events w ON w.id = s.rowid "
        f"WHERE {TABLE} MATCH :q AND (w.event IS NULL OR w.event != :selftest){only} "
        "ORDER BY s.rowid DESC LIMIT :limit"), _params(action, limit, q=phrase(search))).scalars())
    for titles, column in _TRACKER:
        ids = _titled(session, titles, search)
        if not ids:
            continue
        # (without statistics SQLite would rather walk every row of the action's index)
        found.update(session.execute(text(
            f"SELECT id FROM webhook_events w INDEXED BY ix_webhook_events_{column} "
            f"WHERE {column} IS NOT NULL AND {column} IN ({_listed(ids)}) "
            f"AND (w.event IS NULL OR w.event != :selftest){only} ORDER BY id DESC LIMIT :limit"),
            _params(action, limit)).scalars())
    return sorted(found, reverse=True)[:limit]


def recent_ids(session: Session, search: str, action: str | None, limit: int) -> list[int]:
    """As :func:`matching_ids` (SQLite's LIKE: ASCII letters in any case) in the newest
    ``SEARCH_RECENT`` rows only, for a text too short for the index: one pass over those rows
    by their ids, without the joins of the log's own query."""
    tracker = []
    for titles, column in _TRACKER:
        ids = _titled(session, titles, search)
        if ids:
            tracker.append(f" OR {column} IN ({_listed(ids)})")
    only = " AND action = :action" if action else ""
    sql = ("SELECT id FROM webhook_events WHERE id > (SELECT max(id) FROM webhook_events) - :recent "
           "AND (event IS NULL OR event != :selftest)" + only + " AND (plex_title LIKE :like ESCAPE '\\' "
           "OR episode_title LIKE :like ESCAPE '\\' OR account_title LIKE :like ESCAPE '\\'" + "".join(tracker)
           + ") ORDER BY id DESC LIMIT :limit")
    params = _params(action, limit, recent=SEARCH_RECENT, like=_like(search))
    return list(session.execute(text(sql), params).scalars())
