"""What the role in the tracker's URL may do to its tables: the rights a delivery needs,
asked of PostgreSQL (``has_table_privilege``), so a test says what is lacking and the fix."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text

from app.core.destinations.postgres.schema import Schema

# What each delivery (or answer to a conflict) does to each table.
NEEDED: dict[str, tuple[str, ...]] = {
    "tvshows": ("SELECT", "UPDATE"),
    "plex_webhook_logs": ("SELECT", "INSERT"),
    "plex_show_mappings": ("SELECT", "INSERT"),
    "plex_conflicts": ("SELECT", "INSERT", "UPDATE"),
    "plex_config": ("SELECT", "UPDATE"),
}
OPTIONAL: dict[str, tuple[str, ...]] = {"tvshows": ("INSERT",)}  # only to add shows (auto-add, "create")
INSERTED = ("plex_webhook_logs", "plex_show_mappings", "plex_conflicts")  # their ids come from a sequence


def _ident(name: str) -> str:
    return name if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) else '"' + name.replace('"', '""') + '"'


def missing_privileges(conn: Any, schema: Schema) -> tuple[str, list[str], list[str]]:
    """``(role, lacking, lacking_optional)``, rights worded "UPDATE on tvshows" (only for
    the tables the tracker has)."""
    role = str(conn.execute(text("SELECT current_user")).scalar_one())

    def lacking(wanted: dict[str, tuple[str, ...]]) -> list[str]:
        return [f"{privilege} on {table}" for table, privileges in wanted.items() if schema.has(table)
                for privilege in privileges
                if not conn.execute(text("SELECT has_table_privilege(:t, :p)"),
                                    {"t": _ident(table), "p": privilege}).scalar_one()]

    needed = lacking(NEEDED)
    for table in INSERTED:
        if schema.has(table, "id"):
            seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": _ident(table)}).scalar()
            if seq and not conn.execute(text("SELECT has_sequence_privilege(:s, 'USAGE')"), {"s": seq}).scalar():
                needed.append(f"USAGE on SEQUENCE {seq}")
    return role, needed, lacking(OPTIONAL)


def grants(role: str, rights: list[str]) -> str:
    """The GRANT statements that give ``rights`` (as :func:`missing_privileges` words them)."""
    by_object: dict[str, list[str]] = {}
    for right in rights:
        privilege, on = right.split(" on ", 1)
        by_object.setdefault(on, []).append(privilege)
    return " ".join(f"GRANT {', '.join(ps)} ON {on} TO {_ident(role)};" for on, ps in by_object.items())
