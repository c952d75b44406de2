"""The tray icon: its look and tooltip say the state; its menu is built when it opens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from app.core.facade import Core
from app.core.types import CoreStatus
from app.present.state import Summary, summarize
from app.ui import icons
from app.ui.autostart import UNSUPPORTED_TIP, Autostart
from app.ui.bridge import CoreBridge


class Tray(QObject):
    """A :class:`QSystemTrayIcon` and its menu; actions are reported as signals."""

    openStatus = Signal()
    openScrobbles = Signal()
    openTracker = Signal()
    openSetup = Signal()
    openConflicts = Signal()
    openDiagnostics = Signal()
    openSettings = Signal()
    openPlex = Signal()  # sign in with Plex, or see the account
    copyUrl = Signal()
    pauseToggled = Signal(bool)
    autostartToggled = Signal(bool)
    quitRequested = Signal()

    def __init__(self, core: Core, bridge: CoreBridge, autostart: Autostart,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self.autostart = autostart
        self.summary: Summary = summarize(core.status)
        self.icon = QSystemTrayIcon(icons.tray_icon(self.summary.state), self)
        self.menu = QMenu()
        self.menu.aboutToShow.connect(self.build_menu)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        bridge.statusChanged.connect(self.show_status)
        self.actions: dict[str, QAction] = {}
        self.show_status(core.status)
        self.build_menu()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def show_status(self, status: CoreStatus) -> None:
        """Icon and tooltip for ``status`` (on every StatusChanged)."""
        self.summary = summarize(status)
        self.icon.setIcon(icons.tray_icon(self.summary.state))
        self.icon.setToolTip(self.summary.tooltip)

    def build_menu(self) -> None:
        """(Re)build the menu from the current state; connected to ``aboutToShow``."""
        status = self.core.status
        summary = summarize(status)
        menu = self.menu
        menu.clear()
        a: dict[str, QAction] = {}
        a["state"] = menu.addAction(icons.tray_icon(summary.state), summary.headline)
        a["state"].setEnabled(False)
        menu.addSeparator()
        add = self._adder(menu, a)
        add("status", "Open Scrobble Tray", self.openStatus)
        add("copy", "Copy webhook URL", self.copyUrl, "copy")
        a["copy"].setEnabled(self.core.best_webhook_url() is not None)
        menu.addSeparator()
        add("scrobbles", "Recent scrobbles…", self.openScrobbles)
        add("tracker", "Tracker…", self.openTracker)
        n = status.conflicts_open
        add("conflicts", f"Conflicts ({n})…", self.openConflicts)
        if n:
            a["conflicts"].setIcon(icons.check_icon("warn"))
        add("diagnostics", "Diagnostics…", self.openDiagnostics)
        add("plex", "Plex account…" if status.plex.signed_in else "Sign in with Plex…", self.openPlex)
        add("settings", "Settings…", self.openSettings)
        add("setup", "Set up…", self.openSetup)
        menu.addSeparator()
        a["pause"] = menu.addAction("Pause processing")
        a["pause"].setCheckable(True)
        a["pause"].setChecked(status.paused)
        a["pause"].toggled.connect(self.pauseToggled)
        a["autostart"] = menu.addAction("Start at login")
        a["autostart"].setCheckable(True)
        if self.autostart.supported:
            a["autostart"].setChecked(self.autostart.is_enabled())
        else:
            a["autostart"].setEnabled(False)
            a["autostart"].setToolTip(UNSUPPORTED_TIP)
            menu.setToolTipsVisible(True)
        a["autostart"].toggled.connect(self.autostartToggled)
        menu.addSeparator()
        add("quit", "Quit Scrobble Tray", self.quitRequested)
        self.actions = a

    @staticmethod
    def _adder(menu: QMenu, actions: dict[str, QAction]) -> Callable[..., QAction]:
        def add(key: str, text: str, signal: Any, icon_name: str | None = None) -> QAction:
            action = menu.addAction(text)
            if icon_name:
                action.setIcon(icons.icon(icon_name))
            action.triggered.connect(signal)  # signal to signal: no Python in between
            actions[key] = action
            return action
        return add

    def notify(self, title: str, message: str, kind: str = "info") -> None:
        """A desktop notification from the tray icon."""
        icon = {"warn": QSystemTrayIcon.MessageIcon.Warning,
                "error": QSystemTrayIcon.MessageIcon.Critical}.get(kind, QSystemTrayIcon.MessageIcon.Information)
        self.icon.showMessage(title, message, icon, 6000)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger,
                      QSystemTrayIcon.ActivationReason.DoubleClick):
            self.openStatus.emit()

    def close(self) -> None:
        self.icon.hide()
        self.menu.deleteLater()
