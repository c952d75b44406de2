"""Searching the log fast: SQLite's FTS5 trigram index over the inbox's titles (migration
0009, kept in step by triggers) finds the newest rows holding a text of three characters or
more without reading the others; the tracker's own titles are matched in the shows and
movies tables and found through the rows' show and movie indexes. Shorter texts, and an
SQLite without FTS5's trigram tokenizer, fall back to LIKE (see ``ScrobbleLog.scrobbles``)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.core.types import SELF_TEST_EVENT

TABLE = "webhook_search"  # as migration 0009 names it
MIN_CHARS = 3  # a trigram index finds nothing shorter
RECENT = 20_000  # a shorter text is looked for in this many of the newest rows only


def has_index(session: Session) -> bool:
    """Whether this database has the search index (SQLite with FTS5's trigram tokenizer)."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    return session.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :n"),
                           {"n": TABLE}).first() is not None


def phrase(search: str) -> str:
    """The user's text as one FTS5 string (no operator, column filter or prefix in it)."""
    return '"' + search.replace('"', '""') + '"'


def matching_ids(session: Session, search: str, action: str | None, limit: int) -> list[int]:
    """The ids of the newest ``limit`` rows (Diagnostics' self-tests apart) whose Plex title,
    episode title, account or tracker title holds ``search`` (any case), newest first."""
    only = " AND w.action = :action" if action else ""
    # The index hands out its rows newest first and stops at the limit (no sort of every match).
    found = set(session.execute(text(
        f"SELECT w.id FROM {TABLE} s JOIN webhook_events w ON w.id = s.rowid "
        f"WHERE {TABLE} MATCH :q AND (w.event IS NULL OR w.event != :selftest){only} "
        "ORDER BY s.rowid DESC LIMIT :limit"),
        {"q": phrase(search), "selftest": SELF_TEST_EVENT, "action": action, "limit": limit}).scalars())
    needle = search.casefold()
    for titles, column in (("shows", "show_id"), ("movies", "movie_id")):
        if search.isascii():  # SQLite's LIKE ignores the case of ASCII letters only
            like = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            titled = list(session.execute(text(f"SELECT id FROM {titles} WHERE title LIKE :like ESCAPE '\\'"),
                                          {"like": f"%{like}%"}).scalars())
        else:  # (folded here as FTS5 folds)
            titled = [i for i, title in session.execute(text(f"SELECT id, title FROM {titles}"))
                      if title and needle in title.casefold()]
        if not titled:
            continue
        marks = ", ".join(str(int(i)) for i in titled)
        # (without statistics SQLite would rather walk every row of the action's index)
        found.update(session.execute(text(
            f"SELECT id FROM webhook_events w INDEXED BY ix_webhook_events_{column} "
            f"WHERE {column} IS NOT NULL AND {column} IN ({marks}) "
            f"AND (w.event IS NULL OR w.event != :selftest){only} ORDER BY id DESC LIMIT :limit"),
            {"selftest": SELF_TEST_EVENT, "action": action, "limit": limit}).scalars())
    return sorted(found, reverse=True)[:limit]
