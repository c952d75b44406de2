"""The interface every destination implements, and the data it is handed.

Modelled on Vorta's keyring ABC and Home Assistant's notify platforms: each destination
says what it wants from an inbox event, how it delivers, whether a repeated delivery is
harmless, and how to check it; retries, pacing and bookkeeping live once, in
:mod:`.sender` and :mod:`.outbox`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Awaitable, Callable, ClassVar

from app.core.types import Action, Check, CheckStatus

if TYPE_CHECKING:
    from app.core.config import Settings
    from app.core.payload import PlexEvent
    from app.core.pipeline import PlexKnows
    from app.core.types import ShowFacts


@dataclass(frozen=True)
class Settled:
    """What a destination may look at to decide whether it wants an inbox event."""

    event_id: int
    event: str | None  # Plex's event name, e.g. media.scrobble
    action: Action  # what the pipeline made of it


@dataclass(frozen=True)
class Delivery:
    """One outbox row to send, with the event's raw payload."""

    id: int
    event_id: int
    payload: str
    attempts: int
    next_attempt_at: datetime | None  # naive UTC
    received_at: datetime | None = None  # when Plex sent it (naive UTC): the time of the play
    server_progress: float | None = None  # how far a stop went, as the Plex server said


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # the destination could not take it now: try again later
    REFUSED = "refused"  # the destination will never take it: stop trying this event


@dataclass(frozen=True)
class Attempt:
    """The result of one send."""

    verdict: Verdict
    detail: str  # for the user: what happened
    status: int | None = None  # the HTTP status, when the destination answered
    retry_after: float | None = None  # seconds the destination asked us to wait
    fix: str | None = None  # what the user can do about it
    outcome: str | None = None  # what the destination did with it (e.g. episode_marked, conflict_created)


@dataclass(frozen=True)
class Live:
    """What a running core lends its destinations: asked at each delivery, never copied, so
    a change of settings (or of the Plex sign-in) counts from the next event on."""

    settings: Callable[[], "Settings"]  # the settings as last applied
    server_show: Callable[["PlexEvent"], Awaitable["ShowFacts | None"]] | None = None  # a show's ids, from Plex
    plex: Callable[[], "PlexKnows"] | None = None  # the Plex accounts' names and ids


class Destination(ABC):
    """Somewhere a scrobble is delivered."""

    kind: ClassVar[str]
    exactly_once: ClassVar[bool] = False  # delivered in the inbox row's own transaction
    idempotent: ClassVar[bool] = False  # a repeated delivery is harmless at the far end

    def __init__(self, id: str, label: str) -> None:
        self.id = id
        self.label = label

    @abstractmethod
    def wants(self, event: Settled) -> bool:
        """Whether this event is to be delivered here."""

    @abstractmethod
    async def checks(self) -> list[Check]:
        """Diagnostics: reach the destination and say which hop failed, if one did."""


class OutboxDestination(Destination):
    """A destination reached after the commit: its deliveries wait in the outbox."""

    enabled: bool = True  # turned on in Settings
    only_watched: bool = False  # takes only the events that counted as watched
    shown_url: str | None = None  # where it delivers, as it may be shown (secrets masked)

    @abstractmethod
    async def send(self, delivery: Delivery) -> Attempt:
        """Deliver one event; never raises for the destination's own failures."""

    async def test(self) -> Attempt:
        """What the user's Test does: by default, the diagnostics checks as one answer."""
        checks = await self.checks()
        ok = all(c.status != CheckStatus.FAIL for c in checks)
        return Attempt(Verdict.DELIVERED if ok else Verdict.REFUSED, "; ".join(c.detail for c in checks),
                       fix=next((c.fix for c in checks if c.fix), None))

    def attach(self, live: Live) -> None:
        """Take what the running core lends (see :class:`Live`); by default, nothing."""

    async def close(self) -> None:
        """Release connections (the sender is stopping)."""
