"""A PostgreSQL tracker's conflicts: its ``plex_conflicts`` table, for the desktop
conflicts dialog (blocking calls)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import text

from app.core.destinations.postgres.schema import IGNORED, insert
from app.core.destinations.postgres.tracker import PostgresTracker
from app.core.types import Candidate, ConflictRow

_CONFLICT_KIND = {"no_match": "no_match", "multiple_matches": "ambiguous"}
log = logging.getLogger(__name__)
T = TypeVar("T")


class OddConflict(ValueError):
    """A ``plex_conflicts`` row of a shape not understood (the message says what)."""


def _candidates(value: Any) -> tuple[Candidate, ...]:
    """``potential_matches``: a list of candidates (null: none)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise OddConflict(f"its potential_matches are {type(value).__name__}, not a list")
    try:
        return tuple(Candidate.from_dict(c) for c in value if isinstance(c, dict))
    except (KeyError, TypeError, ValueError) as exc:
        raise OddConflict(f"a potential match is not understood ({type(exc).__name__}: {exc})") from None


def conflict_row(r: Any) -> ConflictRow:
    """A ``plex_conflicts`` row as the dialog shows it; OddConflict when it cannot be."""
    title, key = r.get("plex_title"), r.get("plex_rating_key")
    if not isinstance(r.get("id"), int):
        raise OddConflict("it has no id")
    created = r.get("created_at")
    return ConflictRow(
        r["id"], str(key or title or ""), str(title or "?"), None,
        _CONFLICT_KIND.get(str(r.get("conflict_type") or ""), "no_match"),
        "resolved" if r.get("resolved") is True else "open", _candidates(r.get("potential_matches")),
        {"grandparent_guid": None, "guid": None, "show_ids": {}},
        created_at=created if isinstance(created, datetime) else None)


class PostgresConflicts:
    """The tracker's ``plex_conflicts``, for the desktop conflicts dialog (blocking calls)."""

    def __init__(self, tracker: PostgresTracker) -> None:
        self.tracker = tracker

    def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Awaitable[T]:
        """Run one of these blocking calls on the tracker's own threads."""
        return self.tracker.run(fn, *args, **kwargs)

    def conflicts(self, status: str | None = "open") -> list[ConflictRow]:
        """The tracker's conflicts; a row not understood is skipped (and logged once)."""
        engine = self.tracker._connect()
        schema = self.tracker.schema
        assert schema is not None
        if not schema.has("plex_conflicts"):
            return []
        where = " WHERE resolved IS NOT TRUE" if status == "open" and schema.has("plex_conflicts", "resolved") else ""
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT * FROM plex_conflicts{where} ORDER BY id")).mappings().all()
        out = []
        for r in rows:
            try:
                out.append(conflict_row(r))
            except OddConflict as exc:
                if (r.get("id"), str(exc)) not in self.tracker.odd_conflicts:
                    self.tracker.odd_conflicts.add((r.get("id"), str(exc)))
                    log.warning("%s: plex_conflicts row %s (“%s”) is skipped: %s", self.tracker.label,
                                r.get("id"), r.get("plex_title"), exc)
        return out

    def open_keys(self) -> set[str]:
        """The Plex shows (rating key, else title) with an open conflict, odd rows included."""
        engine = self.tracker._connect()
        schema = self.tracker.schema
        assert schema is not None
        if not schema.has("plex_conflicts"):
            return set()
        key = "plex_rating_key" if schema.has("plex_conflicts", "plex_rating_key") else "NULL"
        title = "plex_title" if schema.has("plex_conflicts", "plex_title") else "NULL"
        where = " WHERE resolved IS NOT TRUE" if schema.has("plex_conflicts", "resolved") else ""
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT {key}, {title} FROM plex_conflicts{where}")).all()
        return {str(k or t) for k, t in rows if k or t}

    def search_shows(self, query: str, limit: int = 20) -> list[Candidate]:
        with self.tracker._connect().connect() as conn:
            return self.tracker._shows().search(conn, query, limit=limit)

    def resolve(self, conflict_id: int, *, show_id: int | None = None, create: bool = False,
                ignore: bool = False) -> ConflictRow:
        """Answer a conflict: remember the mapping (or the choice to ignore), mark it resolved."""
        engine = self.tracker._connect()
        schema = self.tracker.schema
        assert schema is not None
        with engine.begin() as conn:
            row = conn.execute(text("SELECT * FROM plex_conflicts WHERE id = :i FOR UPDATE"),
                               {"i": conflict_id}).mappings().first()
            if row is None:
                raise LookupError(f"there is no conflict #{conflict_id} in the tracker")
            if create:
                show_id = int(conn.execute(text("INSERT INTO tvshows (title, seasons) VALUES (:t, '[]'::jsonb) "
                                                "RETURNING id"), {"t": row["plex_title"]}).scalar_one())
            elif show_id is not None and conn.execute(text("SELECT 1 FROM tvshows WHERE id = :i"),
                                                      {"i": show_id}).first() is None:
                raise LookupError(f"there is no tvshow #{show_id} in the tracker")
            insert(conn, schema, "plex_show_mappings", {
                "plex_rating_key": row.get("plex_rating_key"), "plex_title": row.get("plex_title"),
                "tvshow_id": None if ignore else show_id,
                "match_method": IGNORED if ignore else ("created" if create else "user"),
                "match_confidence": 1.0})
            if schema.has("plex_conflicts", "resolved"):
                conn.execute(text("UPDATE plex_conflicts SET resolved = true WHERE id = :i"), {"i": conflict_id})
        try:
            return dataclasses.replace(conflict_row(dict(row)), status="resolved")
        except OddConflict:  # answered all the same: the dialog needs only whose events to send again
            return ConflictRow(conflict_id, str(row.get("plex_rating_key") or row.get("plex_title") or ""),
                               str(row.get("plex_title") or "?"), None, "no_match", "resolved")

    def resolved_among(self, conflict_ids: set[int]) -> list[ConflictRow]:
        """Which of these conflicts have been resolved since (in the web app, say)."""
        return [c for c in self.conflicts(None) if c.id in conflict_ids and c.status == "resolved"]
