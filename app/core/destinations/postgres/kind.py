"""The declaration of the PostgreSQL tracker kind, listed in :mod:`app.core.destinations.kinds`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from app.core.destinations.base import Context, Kind, Target
from app.core.destinations.postgres.target import PostgresTarget, label_for, postgres_url_problem
from app.core.errors import SettingsInvalid

if TYPE_CHECKING:
    from app.core.destinations.postgres.conflicts import PostgresConflicts
    from app.core.destinations.postgres.tracker import PostgresTracker


class PostgresKind(Kind):
    """PostgreSQL trackers: a web tracker's own database, marked in directly."""

    name = "postgres"
    label = "PostgreSQL tracker"
    settings_key = "postgres"
    target = PostgresTarget
    add_help = "mark episodes straight in a tracker's PostgreSQL database"
    url_help = "e.g. 'postgresql://user:password@localhost:5432/tracker' (the password goes to the keyring)"
    holds_conflicts = True

    def url_problem(self, url: str) -> str | None:
        return postgres_url_problem(url)

    def new_target(self, id: str, url: str, label: str = "", **options: Any) -> tuple[Target, dict[str, str | None]]:
        """The URL without its password (that is kept with the secrets), as psycopg's."""
        if problem := postgres_url_problem(url):
            raise SettingsInvalid([problem])
        parts = urlsplit(url.strip())
        password = unquote(parts.password) if parts.password else None
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0].split(":", 1)[0] if len(netloc) == 2 else ""
        host = netloc[-1]
        clean = parts._replace(scheme="postgresql+psycopg", netloc=f"{user}@{host}" if user else host).geturl()
        target = PostgresTarget(id, clean, True, label.strip(), **options)
        return target, {target.secret_key: password}

    def secrets(self, target: Any) -> list[str]:
        return [target.secret_key]

    def default_label(self, target: Any) -> str:
        return label_for(target)

    def sends(self, target: Any) -> str:
        return "Watched plays"  # episodes (and movies, where its schema has a movies table)

    def build(self, target: Any, context: Context) -> PostgresTracker:
        from app.core.destinations.postgres.tracker import PostgresTracker  # (SQLAlchemy: when one is built)
        from app.core.tmdb import TMDB_KEY, Tmdb

        key = context.secret(TMDB_KEY)
        tmdb = Tmdb(key, context.settings().tmdb_base_url) if key else None
        return PostgresTracker(target, context.secret(target.secret_key), context.settings, context.install_id,
                               context.timeout, tmdb)

    def conflicts(self, destination: Any) -> PostgresConflicts:
        from app.core.destinations.postgres.conflicts import PostgresConflicts

        return PostgresConflicts(destination)


POSTGRES = PostgresKind()
