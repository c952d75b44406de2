"""Add a PostgreSQL tracker: its database URL (the password goes to the keyring) and a label.

Nothing to edit afterwards: remove it and add it again.
"""

from __future__ import annotations

from app.ui.target_dialog import TargetDialog


class PostgresDialog(TargetDialog):
    kind = "postgres"
    add_text = "Add PostgreSQL…"
    add_tip = "Mark episodes straight in your tracker's PostgreSQL database"
    add_title = "Add a PostgreSQL tracker"
    test_hint = "the schema it finds"
    url_title = "Database URL:"
    url_placeholder = "postgresql://user:password@localhost:5432/tracker"
    url_hint = ("The database your web tracker uses. The password is kept in the system keyring; "
                "nothing in that database is ever created or changed but rows (marks, logs, mappings).")
    url_missing = "Enter the tracker's database URL."
    label_placeholder = "Optional, e.g. Episode tracker database"
