"""A PostgreSQL tracker's conflicts: its ``plex_conflicts`` table, for the desktop
conflicts dialog (blocking calls)."""

from __future__ import annotations

from sqlalchemy import text

from app.core.destinations.postgres.schema import IGNORED, insert
from app.core.destinations.postgres.tracker import PostgresTracker
from app.core.types import Candidate, ConflictRow

_CONFLICT_KIND = {"no_match": "no_match", "multiple_matches": "ambiguous"}


class PostgresConflicts:
    """The tracker's ``plex_conflicts``, for the desktop conflicts dialog (blocking calls)."""

    def __init__(self, tracker: PostgresTracker) -> None:
        self.tracker = tracker

    def conflicts(self, status: str | None = "open") -> list[ConflictRow]:
        engine = self.tracker._connect()
        schema = self.tracker.schema
        assert schema is not None
        if not schema.has("plex_conflicts"):
            return []
        where = " WHERE NOT resolved" if status == "open" and schema.has("plex_conflicts", "resolved") else ""
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT * FROM plex_conflicts{where} ORDER BY id")).mappings().all()
        return [ConflictRow(
            r["id"], r.get("plex_rating_key") or r.get("plex_title") or "", r.get("plex_title") or "?", None,
            _CONFLICT_KIND.get(r.get("conflict_type") or "", "no_match"),
            "resolved" if r.get("resolved") else "open",
            tuple(Candidate.from_dict(c) for c in (r.get("potential_matches") or []) if isinstance(c, dict)),
            {"grandparent_guid": None, "guid": None, "show_ids": {}}, created_at=r.get("created_at"))
            for r in rows]

    def search_shows(self, query: str, limit: int = 20) -> list[Candidate]:
        with self.tracker._connect().connect() as conn:
            return self.tracker._shows(conn).search(query, limit=limit)

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
                self.tracker._index = None
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
        return next(c for c in self.conflicts(None) if c.id == conflict_id)

    def resolved_among(self, conflict_ids: set[int]) -> list[ConflictRow]:
        """Which of these conflicts have been resolved since (in the web app, say)."""
        return [c for c in self.conflicts(None) if c.id in conflict_ids and c.status == "resolved"]
