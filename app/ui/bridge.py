"""The one place where the core's events become Qt signals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.core.events import ConflictsChanged, DestinationsChanged, ScrobbleRecorded, StatusChanged, WebhookReceived
from app.core.facade import Core


class CoreBridge(QObject):
    """Subscribes to ``core.events`` and re-emits each event as a typed signal.

    Core listeners run on the asyncio loop's thread, which under qasync is the Qt main
    thread, so the signals are delivered directly; were an event ever published from
    another thread, Qt's automatic connection would queue it to the receivers' thread.
    """

    statusChanged = Signal(object)  # CoreStatus
    webhookReceived = Signal(int, str)  # event id, source address ("" if unknown)
    scrobbleRecorded = Signal(object)  # app.core.types.Outcome
    conflictsChanged = Signal(int, object, object)  # open count, opened id or None, Plex title or None
    destinationsChanged = Signal()  # ask core.destinations() for the new state
    #: Anything the store's data may have changed through (for windows that re-query).
    dataChanged = Signal()

    def __init__(self, core: Core, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self._unsubscribe: Callable[[], None] | None = core.events.subscribe(self._on_event)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, StatusChanged):
            self.statusChanged.emit(event.status)
        elif isinstance(event, WebhookReceived):
            self.webhookReceived.emit(event.event_id, event.source or "")
            self.dataChanged.emit()
        elif isinstance(event, ScrobbleRecorded):
            self.scrobbleRecorded.emit(event.outcome)
            self.dataChanged.emit()
        elif isinstance(event, ConflictsChanged):
            self.conflictsChanged.emit(event.open_count, event.opened_id, event.plex_title)
            self.dataChanged.emit()
        elif isinstance(event, DestinationsChanged):
            self.destinationsChanged.emit()

    def close(self) -> None:
        """Stop listening (before the core or this object goes away)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
