"""Typed events the core publishes; the CLI, headless runner and UI subscribe."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.core.types import Outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatusChanged:
    """Something in :class:`app.core.facade.CoreStatus` changed."""

    status: Any  # CoreStatus (imported lazily to keep this module dependency-free)


@dataclass(frozen=True)
class WebhookReceived:
    """An event was stored in the inbox (before it is processed)."""

    event_id: int
    source: str | None


@dataclass(frozen=True)
class ScrobbleRecorded:
    """An inbox row got its outcome."""

    outcome: Outcome


@dataclass(frozen=True)
class ConflictsChanged:
    """A conflict was opened or resolved; ``open_count`` is the new total."""

    open_count: int
    opened_id: int | None = None
    plex_title: str | None = None


@dataclass(frozen=True)
class DestinationsChanged:
    """A destination's delivery state changed (ask the core for :meth:`destinations`)."""


Listener = Callable[[Any], None]


class EventBus:
    """Synchronous publish/subscribe on the event loop's thread."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def publish(self, event: Any) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # one broken listener must not stop the others
                log.exception("event listener failed on %s", type(event).__name__)
