"""What every job of the store shares: its sessions, settings and show index, the error it
raises, and turning table rows into the plain data it returns."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import FileGuard
from app.core.destinations.base import OutboxDestination
from app.core.destinations.builtin import WARM_PAUSE, BuiltinTracker
from app.core.errors import AppError
from app.core.matching import ShowIndex
from app.core.models import Base, WebhookEvent
from app.core.pipeline import PlexKnows
from app.core.types import Action, ScrobbleRow

R = TypeVar("R")
log = logging.getLogger(__name__)


class StoreError(AppError, ValueError):
    """A request the store cannot carry out; the message is meant for the user."""


def plain(cls: type[R], obj: object, **extra: Any) -> R:
    """A table row (an ORM object, or a result row of its columns) as the frozen dataclass
    ``cls`` (the columns it names, plus ``extra``)."""
    values = {f.name: getattr(obj, f.name) for f in fields(cls)  # type: ignore[arg-type]
              if f.name not in extra and hasattr(obj, f.name)}
    return cls(**values, **extra)


def row_columns(cls: type[Any], table: type[Base]) -> list[Any]:
    """The columns of ``table`` that the dataclass ``cls`` names: select these, not whole
    ORM objects, where many rows are read (a page of a list in a third of the time)."""
    return [getattr(table, f.name) for f in fields(cls) if f.name in table.__table__.c]


SCROBBLE_COLUMNS = row_columns(ScrobbleRow, WebhookEvent)
_SCROBBLE_NAMES = [column.key for column in SCROBBLE_COLUMNS]


def scrobble_row(row: WebhookEvent | Mapping[Any, Any], **extra: Any) -> ScrobbleRow:
    """An inbox row as the log shows it: a ``WebhookEvent``, or a result row's mapping of
    its :data:`SCROBBLE_COLUMNS` (the log reads those: half the time of ORM objects)."""
    if isinstance(row, Mapping):
        values = {name: row[name] for name in _SCROBBLE_NAMES}
    else:
        values = {name: getattr(row, name) for name in _SCROBBLE_NAMES}
    action = values.pop("action")
    return ScrobbleRow(**values, action=Action(action) if action else None,
                       kind="movie" if values["media_type"] == "movie" else "episode", **extra)


class StoreBase:
    """The state the jobs (mixins) of :class:`app.core.store.Store` share."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings,
                 destinations: Sequence[OutboxDestination] = ()) -> None:
        self.sessions = sessions
        self.builtin = BuiltinTracker(sessions)
        self.settings = settings
        self.destinations = list(destinations)
        self.plex = PlexKnows()  # set by the core from its Plex link
        engine = sessions.kw["bind"]
        file_based = engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")
        self._guard = FileGuard(engine) if file_based else None
        # The sentence when a damaged file was moved aside at opening (see db.open_database).
        self.moved_aside: str | None = sessions.kw.get("info", {}).get("moved_aside")

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self._settings = settings
        self.builtin.enabled = settings.builtin_tracker

    def index(self, session: Session) -> ShowIndex:
        return self.builtin.index(session)

    def warm_index(self) -> tuple[ShowIndex, tuple[int, int], int] | None:
        """A match index built now (at start), not on the first webhook: on any thread, and
        gently (builtin.WARM_PAUSE); ``builtin.install_index`` takes it on the database
        thread. A failure here is only logged (the first webhook builds it, and says why
        it cannot)."""
        try:
            with self.sessions() as session:
                return self.builtin.built_index(session, pause=WARM_PAUSE)
        except Exception as exc:
            log.warning("building the match index at start failed: %s", exc)
            return None
