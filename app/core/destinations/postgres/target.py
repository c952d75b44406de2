"""What ``settings.json`` keeps of a PostgreSQL tracker, and the check of its URL."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from app.core.destinations.base import Target


@dataclass
class PostgresTarget(Target):
    """A tracker's own PostgreSQL database that Scrobble Tray marks episodes in.

    ``url`` carries no password: that is kept with the other secrets (see
    :func:`app.core.credentials.get_secret`, key :attr:`secret_key`).
    """

    id: str
    url: str  # postgresql+psycopg://user@host:5432/dbname
    enabled: bool = True
    label: str = ""
    spelling: dict[str, str] = field(default_factory=dict)  # key spellings in seasons, if not detected

    @property
    def secret_key(self) -> str:
        return f"postgres-password-{self.id}"


def postgres_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a PostgreSQL tracker's URL, or None."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("postgres", "postgresql", "postgresql+psycopg") or not parts.hostname \
            or not parts.path.strip("/"):
        return "the tracker must be a PostgreSQL URL like postgresql://user:password@localhost:5432/tracker"
    return None


def label_for(target: PostgresTarget) -> str:
    """The name of a tracker without a label: its database and host."""
    from sqlalchemy.engine import make_url  # (loaded by a PostgreSQL target only)

    url = make_url(target.url)
    return f"PostgreSQL tracker {url.database} on {url.host}"
