"""The UI's centre: owns the bridge, the tray icon and the windows, and wires them up.

Each window is built (and its module imported) when first shown: the tray app idles in
the tray for days with none open, and a window it never shows costs memory for nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QSystemTrayIcon, QWidget

from app.core.config import load_state, save_state
from app.core.facade import Core
from app.core.state_keys import StateKey
from app.core.types import CoreStatus, Outcome
from app.present.errors import error_text
from app.present.formatting import plex_item, sxxeyy
from app.ui.autostart import Autostart, launch_command
from app.ui.bridge import CoreBridge
from app.ui.tasks import spawn
from app.ui.tray import Tray

if TYPE_CHECKING:
    from app.ui.conflicts_dialog import ConflictsDialog
    from app.ui.diagnostics_window import DiagnosticsWindow
    from app.ui.scrobbles_window import ScrobblesWindow
    from app.ui.settings_window import SettingsWindow
    from app.ui.setup_wizard import SetupWizard
    from app.ui.status_window import StatusWindow
    from app.ui.tracker_window import TrackerWindow

log = logging.getLogger(__name__)


class UiController(QObject):
    """Creates windows on first use, routes tray and window requests, shows notifications.

    ``tray_available`` and ``autostart`` are injectable so tests can choose either mode
    and never touch the real ``~/.config/autostart``.
    """

    #: A notification was shown (title, message); also emitted without a tray.
    notified = Signal(str, str)
    #: The user asked to quit (tray menu, or closing the main window without a tray).
    quitRequested = Signal()

    def __init__(self, core: Core, *, tray_available: bool | None = None,
                 autostart: Autostart | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self.bridge = CoreBridge(core, self)
        self.autostart = autostart or Autostart(command=launch_command(core.paths))
        if tray_available is None:
            tray_available = QSystemTrayIcon.isSystemTrayAvailable()
        self.tray: Tray | None = None
        self._windows: dict[str, QWidget] = {}
        self._status_window: StatusWindow | None = None
        if tray_available:
            self.tray = Tray(core, self.bridge, self.autostart, self)
            self._wire_tray(self.tray)
        self.bridge.conflictsChanged.connect(self._conflicts_changed)
        self.bridge.scrobbleRecorded.connect(self._scrobble_recorded)
        self.bridge.statusChanged.connect(self._database_trouble)
        self._pending_marks: list[Outcome] = []
        self._database_problem: str | None = None

    @property
    def status_window(self) -> StatusWindow:
        """The status window, built when first asked for (without a tray, it is the main
        window: closing it quits)."""
        if self._status_window is None:
            from app.ui.status_window import StatusWindow

            self._status_window = StatusWindow(self.core, self.bridge)
            self._status_window.quit_on_close = self.tray is None
            self._wire_status(self._status_window)
        return self._status_window

    # -- start / stop ------------------------------------------------------------------------------
    def show_initial(self) -> None:
        """The tray icon, or (without a tray) the status window; on first start the set-up."""
        if self.tray is not None:
            self.tray.show()
        else:
            self.show_status()
        if self.core.settings.plex_location is None and not load_state(self.core.paths).get(StateKey.SETUP_OFFERED):
            save_state(self.core.paths, **{StateKey.SETUP_OFFERED: True})
            self.show_setup()
            self.notify("Set up Scrobble Tray", "Tell it where your Plex server runs, and paste the URL "
                        "it gives into Plex.")

    def show_setup(self) -> SetupWizard:
        from app.ui.setup_wizard import SetupWizard

        def make() -> SetupWizard:
            w = SetupWizard(self.core, self.bridge)

            def finished(_result: int) -> None:
                if self._windows.pop("setup", None) is not None:
                    w.deleteLater()

            w.finished.connect(finished)
            return w
        window = self._window("setup", make)
        assert isinstance(window, SetupWizard)
        self._present(window)
        return window

    def close(self) -> None:
        """Hide everything and stop listening to the core."""
        self.bridge.close()
        if self._status_window is not None:
            self._status_window.quit_on_close = False
        for window in [*filter(None, [self._status_window]), *self._windows.values()]:
            window.close()
            window.deleteLater()
        self._windows.clear()
        if self.tray is not None:
            self.tray.close()

    # -- windows -------------------------------------------------------------------------------------
    def _window(self, name: str, make: Callable[[], QWidget]) -> QWidget:
        window = self._windows.get(name)
        if window is None:
            window = self._windows[name] = make()
        return window

    @staticmethod
    def _present(window: QWidget) -> QWidget:
        window.show()
        window.setWindowState(window.windowState() & ~window.windowState().WindowMinimized)
        window.raise_()
        window.activateWindow()
        return window

    def show_status(self) -> StatusWindow:
        self._present(self.status_window)
        return self.status_window

    def show_scrobbles(self) -> ScrobblesWindow:
        from app.ui.scrobbles_window import ScrobblesWindow

        def make() -> ScrobblesWindow:
            w = ScrobblesWindow(self.core, self.bridge)
            w.openConflicts.connect(self.show_conflicts)
            return w
        window = self._window("scrobbles", make)
        assert isinstance(window, ScrobblesWindow)
        self._present(window)
        return window

    def show_conflicts(self) -> ConflictsDialog:
        from app.ui.conflicts_dialog import ConflictsDialog

        def make() -> ConflictsDialog:
            return ConflictsDialog(self.core, self.bridge)
        window = self._window("conflicts", make)
        assert isinstance(window, ConflictsDialog)
        self._present(window)
        return window

    def show_tracker(self) -> TrackerWindow:
        from app.ui.tracker_window import TrackerWindow

        def make() -> TrackerWindow:
            w = TrackerWindow(self.core)
            w.changed.connect(self._refresh_status)
            return w
        window = self._window("tracker", make)
        assert isinstance(window, TrackerWindow)
        self._present(window)
        return window

    def show_diagnostics(self) -> DiagnosticsWindow:
        from app.ui.diagnostics_window import DiagnosticsWindow

        window = self._window("diagnostics", lambda: DiagnosticsWindow(self.core))
        assert isinstance(window, DiagnosticsWindow)
        was_open = window.isVisible()
        self._present(window)
        if was_open:
            window.run_checks()
        return window

    def show_settings(self) -> SettingsWindow:
        from app.ui.settings_window import SettingsWindow

        window = self._window("settings", lambda: SettingsWindow(self.core, self.bridge, autostart=self.autostart))
        assert isinstance(window, SettingsWindow)
        self._present(window)
        return window

    def show_plex(self) -> None:
        """Settings on its Plex tab; signed out, the sign-in starts (Plex's page opens)."""
        page = self.show_settings().show_plex()
        if not self.core.status.plex.signed_in:
            page.start_sign_in()

    def _refresh_status(self) -> None:
        if self._status_window is not None:  # (one built later reads the counts as it opens)
            self._status_window.refresh()

    def window(self, name: str) -> QWidget | None:
        """A window made earlier (``scrobbles``, ``tracker``, ``conflicts``, ``diagnostics``, ``settings``)."""
        return self._windows.get(name)

    # -- actions --------------------------------------------------------------------------------------
    def copy_webhook_url(self) -> None:
        url = self.core.best_webhook_url()
        if not url:
            self.notify("No webhook URL yet", "The server is not listening; see Diagnostics.", "warn")
            return
        QGuiApplication.clipboard().setText(url)
        self.notify("Webhook URL copied",
                    "Paste it in Plex Web: Settings → Webhooks → Add Webhook.")

    def set_paused(self, paused: bool) -> None:
        self.core.set_paused(paused)

    def set_autostart(self, enabled: bool) -> None:
        try:
            self.autostart.set_enabled(enabled)
        except OSError as exc:
            log.warning("start at login: %s", exc)
            self.notify("Start at login failed", error_text(exc), "error")

    def request_quit(self) -> None:
        self.quitRequested.emit()

    def notify(self, title: str, message: str, kind: str = "info") -> None:
        """A tray notification (nothing to show it on without a tray, but still signalled)."""
        if self.tray is not None:
            self.tray.notify(title, message, kind)
        self.notified.emit(title, message)

    # -- wiring ----------------------------------------------------------------------------------------
    def _wire_status(self, w: StatusWindow) -> None:
        w.openScrobbles.connect(self.show_scrobbles)
        w.openTracker.connect(self.show_tracker)
        w.openSetup.connect(self.show_setup)
        w.openConflicts.connect(self.show_conflicts)
        w.openDiagnostics.connect(self.show_diagnostics)
        w.openSettings.connect(self.show_settings)
        w.openPlex.connect(self.show_plex)
        w.pauseToggled.connect(self.set_paused)
        w.quitRequested.connect(self.request_quit)

    def _wire_tray(self, t: Tray) -> None:
        t.openStatus.connect(self.show_status)
        t.openScrobbles.connect(self.show_scrobbles)
        t.openTracker.connect(self.show_tracker)
        t.openSetup.connect(self.show_setup)
        t.openConflicts.connect(self.show_conflicts)
        t.openDiagnostics.connect(self.show_diagnostics)
        t.openSettings.connect(self.show_settings)
        t.openPlex.connect(self.show_plex)
        t.copyUrl.connect(self.copy_webhook_url)
        t.pauseToggled.connect(self.set_paused)
        t.autostartToggled.connect(self.set_autostart)
        t.quitRequested.connect(self.request_quit)
        t.icon.messageClicked.connect(self._message_clicked)

    # -- notifications -----------------------------------------------------------------------------------
    def _database_trouble(self, status: CoreStatus) -> None:
        """Say so once when the database stops taking webhooks (the icon turns red too)."""
        if status.database_problem and not self._database_problem:
            self.notify("Webhooks are not being saved", f"{status.database_problem}. {status.database_fix}.",
                        "error")
        self._database_problem = status.database_problem

    def _message_clicked(self) -> None:
        if self.core.status.database_problem:
            self.show_status()
        elif self.core.settings.plex_location is None:
            self.show_setup()
        elif self.core.status.conflicts_open:
            self.show_conflicts()
        else:
            self.show_scrobbles()

    def _conflicts_changed(self, open_count: int, opened_id: Any, plex_title: Any) -> None:
        if opened_id is not None:
            spawn(self._announce_conflict(opened_id, plex_title, open_count), owner=self)

    async def _announce_conflict(self, conflict_id: int, plex_title: str | None, open_count: int) -> None:
        what = f"“{plex_title}”" if plex_title else "A Plex show or movie"  # (a conflict is of either)
        self.notify("New conflict", f"{what} needs you to pick its match in your tracker "
                                    f"({open_count} waiting). Click to resolve.", "warn")

    def _scrobble_recorded(self, outcome: Outcome) -> None:
        if not self.core.settings.notify_each_scrobble or outcome.action.value not in ("marked", "rewatch"):
            return
        self._pending_marks.append(outcome)
        if len(self._pending_marks) == 1:  # one lookup per burst
            spawn(self._announce_marks(), owner=self)

    async def _announce_marks(self) -> None:
        rows = await self.core.scrobbles(50)
        marks, self._pending_marks = self._pending_marks, []
        by_id = {r.id: r for r in rows}
        if len(marks) == 1 and (row := by_id.get(marks[0].event_id)) is not None:
            name = row.show_title or row.plex_title or "An episode"
            ep = sxxeyy(row.season, row.episode)
            title = f" “{row.episode_title}”" if row.episode_title else ""
            text = plex_item(row) if row.kind == "movie" else f"{name} {ep}{title}".strip()
            self.notify("Marked watched", text)
        else:
            self.notify("Marked watched", f"{len(marks)} plays marked watched.")
