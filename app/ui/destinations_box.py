"""The status window's Destinations section: where marks go, what waits, why, and Retry."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QPushButton, QWidget

from app.core.facade import Core
from app.core.types import DestinationState, DestinationStatus
from app.present.state import destination_words
from app.ui import icons
from app.ui.bridge import CoreBridge
from app.ui.tasks import Coalescer, spawn
from app.ui.widgets import muted


class DestinationsBox(QGroupBox):
    """One row per destination: its state in words, the fix, and Retry when it helps."""

    refreshed = Signal()
    retried = Signal(str, int)  # destination id, failed events queued again

    def __init__(self, core: Core, bridge: CoreBridge, parent: QWidget | None = None) -> None:
        super().__init__("Destinations", parent)
        self.core = core
        self.destinations: list[DestinationStatus] = []
        self.retry_buttons: dict[str, QPushButton] = {}
        self.state_labels: dict[str, QLabel] = {}
        self._grid = QGridLayout(self)
        self._grid.setColumnStretch(1, 1)
        self._grid.setHorizontalSpacing(10)
        self._loader = Coalescer(self._load, 250, self)
        bridge.destinationsChanged.connect(self._loader.trigger)
        bridge.statusChanged.connect(lambda _: self._loader.trigger())
        bridge.dataChanged.connect(self._loader.trigger)  # (processed events queue deliveries: "N waiting")

    def refresh(self) -> None:
        self._loader.now()

    async def _load(self) -> None:
        self.destinations = await self.core.destinations()
        self._fill()
        self.refreshed.emit()

    def _fill(self) -> None:
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item is not None and (w := item.widget()) is not None:
                w.deleteLater()
        self.retry_buttons.clear()
        self.state_labels.clear()
        for row, d in enumerate(self.destinations):
            kind, words, fix = destination_words(d)
            icon = QLabel()
            icon.setPixmap(icons.pixmap(f"check-{kind}", 16))
            name = QLabel(f"<b>{d.label}</b>")
            name.setTextFormat(Qt.TextFormat.RichText)
            name.setToolTip("\n".join(filter(None, [d.target, d.note])))  # (note: what its tracker cannot do)
            state = QLabel(words)
            state.setWordWrap(True)
            state.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            where = muted(d.target or "", wrap=False)
            self.state_labels[d.id] = state
            self._grid.addWidget(icon, 2 * row, 0, Qt.AlignmentFlag.AlignTop)
            self._grid.addWidget(name, 2 * row, 1)
            self._grid.addWidget(where, 2 * row, 2, Qt.AlignmentFlag.AlignRight)
            self._grid.addWidget(state, 2 * row + 1, 1, 1, 2)
            if fix:
                state.setText(f"{words}\n{fix}")
            if d.kind != "builtin" and (d.failed or d.state in (DestinationState.FAILING, DestinationState.PAUSED,
                                                                  DestinationState.STOPPED)):
                button = QPushButton("Retry")
                button.setToolTip("Send the failed events again, and the waiting ones now")
                button.clicked.connect(lambda _=False, i=d.id: self.retry(i))
                self.retry_buttons[d.id] = button
                self._grid.addWidget(button, 2 * row, 3, 2, 1, Qt.AlignmentFlag.AlignVCenter)

    def retry(self, destination_id: str) -> None:
        spawn(self._retry(destination_id), owner=self)

    async def _retry(self, destination_id: str) -> None:
        if (button := self.retry_buttons.get(destination_id)) is not None and shiboken6.isValid(button):
            button.setEnabled(False)
        n = await self.core.retry_destination(destination_id)
        self.retried.emit(destination_id, n)
        await self._load()
