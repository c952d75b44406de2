"""Settings: validated as typed, applied through ``Core.apply_settings`` without a restart.

The window holds three tabs, a module each: General (:mod:`app.ui.general_page`, applied
with Save), Destinations (:mod:`app.ui.destinations_page`, each change applied at once)
and Plex (:mod:`app.ui.plex_page`)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QPushButton, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from app.core.facade import Core
from app.core.types import CoreStatus
from app.ui import icons
from app.ui.autostart import Autostart
from app.ui.bridge import CoreBridge
from app.ui.destinations_page import DestinationsPage
from app.ui.general_page import GeneralPage
from app.ui.plex_page import PlexPage
from app.ui.tasks import spawn
from app.ui.widgets import Banner, Busy


class SettingsWindow(QWidget):
    """General: port, tunnel, ngrok authtoken and domain, accounts, stop threshold, database URL
    (applied with Save). Destinations: the built-in tracker and the relay targets (each change
    applied at once, see :class:`DestinationsPage`)."""

    saved = Signal(object)  # the new Settings

    def __init__(self, core: Core, bridge: CoreBridge | None = None, parent: QWidget | None = None,
                 autostart: Autostart | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.core = core
        self.saving = False
        self.setWindowTitle("Settings — Scrobble Tray")
        self.setWindowIcon(icons.icon("app"))

        self.banner = Banner()
        self.general = GeneralPage(core, self.banner, autostart)
        self.busy = Busy()
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.close_button = QPushButton("Close")
        self.save_button.clicked.connect(self.save)
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.busy)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.save_button)

        self.destinations = DestinationsPage(core)
        self.destinations.busyChanged.connect(lambda _busy: self.validate())
        # a destination added or removed there: the accounts' lists of destinations follow
        self.destinations.changed.connect(self.general.destinations_changed)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        # (scrolled: with each account's destinations it can be taller than a small screen)
        self.general_scroll = QScrollArea()
        self.general_scroll.setWidgetResizable(True)
        self.general_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.general_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.general_scroll.setWidget(self.general)
        self.tabs.addTab(self.general_scroll, "General")
        self.tabs.addTab(self.destinations, "Destinations")
        self.plex = PlexPage(core)
        self.tabs.addTab(self.plex, "Plex")
        if bridge is not None:
            bridge.statusChanged.connect(self._status_changed)
        self.tabs.currentChanged.connect(self._tab_changed)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 14)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(buttons)
        self.resize(680, 730)

        self.general.changed.connect(self.validate)
        self.general.failed.connect(self._save_failed)
        self.load()

    # -- form <-> settings -----------------------------------------------------------------------
    def load(self) -> None:
        """Fill the form from the core's current settings."""
        self.general.load()

    def validate(self) -> bool:
        """Show every field's problem inline; Save is enabled only for a valid change."""
        ok = self.general.validate()
        changed = ok and (self.general.form_settings() != self.core.settings
                          or self.general.token_change() is not False)
        self.save_button.setEnabled(ok and changed and not self.saving and not self.destinations.working)
        return ok

    @property
    def is_dirty(self) -> bool:
        return self.save_button.isEnabled()

    # -- saving ----------------------------------------------------------------------------------
    def save(self) -> None:
        if self.validate() and not self.saving:
            spawn(self._save(), self._save_failed, owner=self)

    async def _save(self) -> None:
        new = self.general.form_settings()
        token = self.general.token_change()
        old = self.core.settings
        self.saving = True
        self.save_button.setEnabled(False)
        self.destinations.set_locked(True)
        self.busy.set_busy(True)
        self.banner.show_message("Applying…", "info")
        try:
            where = None
            # Also when nothing changed: a server that failed to start is tried again.
            try:
                await self.core.apply_settings(new)
            except OSError as exc:
                raise RuntimeError(f"saved, but the server still cannot start: {exc}") from exc
            if token is not False:
                where = await self.core.set_authtoken(token)
                self.general.has_token = bool(token)
        finally:
            self.saving = False
            self.destinations.set_locked(False)
            self.busy.set_busy(False)
        words = ["Saved."]
        if new.port != old.port:
            words.append(f"The server now listens on port {self.core.status.port}: "
                         "copy the new webhook URL into Plex.")
        if where:
            words.append(f"The authtoken is kept in {where}." if token else "The authtoken was removed.")
        self.load()
        self.banner.show_message(" ".join(words), "success")
        self.saved.emit(new)

    def _save_failed(self, exc: BaseException) -> None:
        self.banner.show_message(f"Not saved: {exc}", "error")
        self.validate()

    # -- tabs ------------------------------------------------------------------------------------
    def show_destinations(self) -> DestinationsPage:
        """Switch to the Destinations tab (and show the window); returns the page."""
        self.tabs.setCurrentWidget(self.destinations)
        self.show()
        return self.destinations

    def _status_changed(self, status: CoreStatus) -> None:
        self.plex.show_status(status.plex)
        self.general.show_signed_in(status.plex.signed_in)

    def show_plex(self) -> PlexPage:
        """Switch to the Plex tab (and show the window); returns the page."""
        self.tabs.setCurrentWidget(self.plex)
        self.show()
        return self.plex

    def show_general(self) -> None:
        self.tabs.setCurrentWidget(self.general_scroll)
        self.show()

    def _tab_changed(self, _index: int) -> None:
        # Save applies the General tab only; destinations apply each change at once.
        self.save_button.setVisible(self.tabs.currentWidget() is self.general_scroll)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if not self.saving and not self.is_dirty:
            self.load()  # settings may have changed elsewhere (the CLI) since last shown
