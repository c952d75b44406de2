"""The status window: is it working, what to paste into Plex, and what happened lately."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices, QShowEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import AppError
from app.core.facade import Core
from app.core.logs import redact
from app.core.timefmt import ago
from app.core.types import CoreStatus, Counts
from app.present.formatting import MASK, plex_text
from app.present.state import destinations_text, summarize, tunnel_text
from app.ui import icons
from app.ui.bridge import CoreBridge
from app.ui.destinations_box import DestinationsBox
from app.ui.tasks import Coalescer
from app.ui.widgets import Banner, StatCard, UrlField, heading, muted

PLEX_HINT = ("In Plex Web, open <b>Settings → Webhooks → Add Webhook</b>, paste this URL and "
             "click <b>Save Changes</b>. Webhooks need a Plex Pass on the server owner's account.")


class StatusWindow(QWidget):
    """Server, tunnel, webhook URL, last webhook and counts; live."""

    openScrobbles = Signal()
    openTracker = Signal()
    openSetup = Signal()
    openConflicts = Signal()
    openDiagnostics = Signal()
    openSettings = Signal()
    openPlex = Signal()  # sign in with Plex, or register the URL there
    pauseToggled = Signal(bool)
    urlCopied = Signal(str)
    #: The user closed the window while it is the main window (no tray): quit.
    quitRequested = Signal()

    def __init__(self, core: Core, bridge: CoreBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.core = core
        self.quit_on_close = False
        self.counts: Counts | None = None
        self.open_url = QDesktopServices.openUrl  # tests look instead
        self.setWindowTitle("Scrobble Tray")
        self.setWindowIcon(icons.icon("app"))

        # -- header: the state in words -------------------------------------------------
        self.state_icon = QLabel()
        self.headline = heading("Starting…", size_delta=4)
        self.headline.setWordWrap(True)
        self.details = muted()
        head_text = QVBoxLayout()
        head_text.setSpacing(2)
        head_text.addWidget(self.headline)
        head_text.addWidget(self.details)
        header = QHBoxLayout()
        header.setSpacing(12)
        header.addWidget(self.state_icon, 0, Qt.AlignmentFlag.AlignTop)
        header.addLayout(head_text, 1)

        self.banner = Banner()
        self.banner.action.clicked.connect(self._banner_action)

        # -- what to paste into Plex ----------------------------------------------------
        self.webhook_url = UrlField("The URL appears once the server listens")
        self.webhook_url.copied.connect(self.urlCopied)
        hint = QLabel(PLEX_HINT)
        hint.setWordWrap(True)
        hint.setTextFormat(Qt.TextFormat.RichText)
        plex_box = QGroupBox("Webhook URL for Plex")
        plex_layout = QVBoxLayout(plex_box)
        plex_layout.addWidget(self.webhook_url)
        plex_layout.addWidget(hint)

        # -- connection -----------------------------------------------------------------
        self.server_label = QLabel("–")
        self.tunnel_label = QLabel("–")
        self.tunnel_progress = QProgressBar()
        self.tunnel_progress.setRange(0, 100)
        self.tunnel_progress.setMaximumHeight(10)
        self.tunnel_progress.setTextVisible(False)
        self.tunnel_progress.hide()
        self.public_url = UrlField("No tunnel: only a Plex server on this computer can reach it")
        self.public_url.copied.connect(self.urlCopied)
        self.last_webhook = QLabel("never")
        self.plex_label = QLabel("Not signed in")
        self.plex_label.setWordWrap(True)
        tunnel_cell = QVBoxLayout()
        tunnel_cell.setSpacing(4)
        tunnel_cell.addWidget(self.tunnel_label)
        tunnel_cell.addWidget(self.tunnel_progress)
        conn_box = QGroupBox("Connection")
        form = QFormLayout(conn_box)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("Server:", self.server_label)
        form.addRow("Tunnel:", tunnel_cell)
        form.addRow("Public URL:", self.public_url)
        form.addRow("Last webhook:", self.last_webhook)
        form.addRow("Plex:", self.plex_label)

        self.destinations_box = DestinationsBox(core, bridge)
        self.destinations_box.refreshed.connect(lambda: QTimer.singleShot(0, self._fit_height))

        # -- counts ---------------------------------------------------------------------
        self.shows_card = StatCard("shows in the tracker")
        self.movies_card = StatCard("movies in the tracker")
        self.today_card = StatCard("plays counted today")
        self.conflicts_card = StatCard("conflicts open")
        cards = QGridLayout()
        cards.setHorizontalSpacing(10)
        for i, card in enumerate((self.shows_card, self.movies_card, self.today_card, self.conflicts_card)):
            cards.addWidget(card, 0, i)

        # -- where to go next -------------------------------------------------------------
        self.scrobbles_button = QPushButton("Recent scrobbles")
        self.tracker_button = QPushButton("Tracker")
        self.tracker_button.setToolTip("The built-in tracker's shows, episodes and plays")
        self.tracker_button.clicked.connect(self.openTracker)
        self.conflicts_button = QPushButton("Conflicts")
        self.diagnostics_button = QPushButton("Diagnostics")
        self.settings_button = QPushButton("Settings")
        self.pause_button = QPushButton("Pause processing")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Webhooks are still received and kept; they are processed "
                                     "when you resume.")
        self.scrobbles_button.clicked.connect(self.openScrobbles)
        self.conflicts_button.clicked.connect(self.openConflicts)
        self.diagnostics_button.clicked.connect(self.openDiagnostics)
        self.settings_button.clicked.connect(self.openSettings)
        self.pause_button.toggled.connect(self._pause_clicked)
        buttons = QHBoxLayout()
        for b in (self.scrobbles_button, self.tracker_button, self.conflicts_button, self.diagnostics_button,
                  self.settings_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.pause_button)
        self.quit_button = QPushButton("Quit")
        self.quit_button.setToolTip("Stop Scrobble Tray: webhooks are no longer received until it starts again")
        self.quit_button.clicked.connect(self.quitRequested)
        buttons.addWidget(self.quit_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 16)
        layout.setSpacing(12)
        layout.addLayout(header)
        layout.addWidget(self.banner)
        layout.addWidget(plex_box)
        layout.addWidget(conn_box)
        layout.addWidget(self.destinations_box)
        layout.addLayout(cards)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.resize(660, 480)

        self._last_server: str | None = None
        self._counts = Coalescer(self._load_counts, 250, self)
        bridge.statusChanged.connect(self.show_status)
        bridge.dataChanged.connect(self._counts.trigger)
        self._clock = QTimer(self)  # "2 min ago" must age while the window is open
        self._clock.setInterval(2_000)  # (and refused requests counted meanwhile must show)
        self._clock.timeout.connect(self._show_last_webhook)
        self.show_status(core.status)

    # -- updates --------------------------------------------------------------------------
    def show_status(self, status: CoreStatus) -> None:
        """Show ``status`` (called on every StatusChanged)."""
        if status.server == "listening" and self._last_server != "listening":
            self._counts.trigger()  # the database is open now (the window may predate it)
        self._last_server = status.server
        summary = summarize(status)
        self.state_icon.setPixmap(icons.tray_icon(summary.state).pixmap(48, 48))
        self.headline.setText(summary.headline)
        self.details.setText("\n".join(summary.details))
        self.details.setVisible(bool(summary.details))

        secrets = self.core.secrets()
        self.webhook_url.set_url(self.core.best_webhook_url(), secrets)
        if status.server == "listening":
            self.server_label.setText(f"Listening on {status.host}, port {status.port}")
        elif status.server == "error":
            self.server_label.setText("Not listening (see above)")
            self.server_label.setToolTip(status.server_error or "")
        else:
            self.server_label.setText(status.server.capitalize() + "…" if status.server == "starting"
                                      else status.server.capitalize())
        words = (tunnel_text(status) or "Tunnel: off").removeprefix("Tunnel: ")
        self.tunnel_label.setText(redact(words[:1].upper() + words[1:], *secrets, mask=MASK))
        self.tunnel_label.setToolTip("" if status.tunnel != "off" else
                                     "Turn the tunnel on in Settings so a Plex server on another "
                                     "network can reach Scrobble Tray.")
        installing = status.tunnel == "installing" and status.tunnel_progress is not None
        self.tunnel_progress.setVisible(installing)
        if installing:
            self.tunnel_progress.setValue(int((status.tunnel_progress or 0) * 100))
        self.public_url.set_url(status.public_url, secrets)
        self.plex_label.setText(plex_text(status.plex))

        n = status.conflicts_open
        self.conflicts_button.setText(f"Conflicts ({n})" if n else "Conflicts")
        self.conflicts_card.set_value(n)
        if self.pause_button.isChecked() != status.paused:
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(status.paused)
            self.pause_button.blockSignals(False)
        self.pause_button.setText("Resume processing" if status.paused else "Pause processing")

        if status.database_problem:
            self.banner.show_message(f"{status.database_fix}. Until then, webhooks are held in memory and saved "
                                     "the moment it can: keep Scrobble Tray running.", "error")
        elif status.database_notice:
            self.banner.show_message(status.database_notice, "warn", "Show the files")
        elif status.tunnel == "error":
            fix = f" {status.tunnel_fix}" if status.tunnel_fix else ""
            self.banner.show_message(redact(f"The tunnel failed: {status.tunnel_reason or 'unknown error'}."
                                            f"{fix}", *secrets, mask=MASK), "error")
        elif status.url_changed and status.plex.signed_in:
            self.banner.show_message("The public URL changed and is not in Plex yet.", "warn", "Register in Plex…")
        elif status.url_changed:
            self.banner.show_message("The public URL changed. Copy the webhook URL above and replace the "
                                     "old one in Plex, or sign in with Plex and it is done for you.", "warn",
                                     "Sign in with Plex…")
        elif status.paused:
            self.banner.show_message("Processing is paused. Webhooks are still received and "
                                     "kept; they are processed when you resume.", "info", "Resume")
        elif n:
            self.banner.show_message("Scrobbles are waiting until you pick the matching tracker "
                                     f"show for {'a Plex show' if n == 1 else f'{n} Plex shows'}.",
                                     "warn", "Resolve…")
        elif status.destinations_failing:
            self.banner.show_message(destinations_text(status.destinations_failing).split(":")[0]
                                     + ": its events wait in Scrobble Tray, nothing is lost. "
                                     "See Destinations below for why.", "warn")
        elif summary.unreachable:
            self.banner.show_message("Your Plex server may not reach this URL. Tell Scrobble Tray where it "
                                     "runs, and it sets up the way there.", "warn", "Set up…")
        elif status.tunnel == "online" and not status.plex.signed_in:
            self.banner.show_message("Sign in with Plex, and the webhook URL is put in your Plex account "
                                     "for you, and kept there when it changes.", "info", "Sign in with Plex…")
        else:
            self.banner.clear()
        self._show_last_webhook()
        QTimer.singleShot(0, self._fit_height)

    def _fit_height(self) -> None:
        """Grow to fit the contents at the current width (a banner may have appeared).

        The minimum size Qt enforces is computed at the minimum width, where the wrapped
        Plex hint is shorter than it really is; ask the layout for this width instead.
        """
        if not shiboken6.isValid(self) or (layout := self.layout()) is None:
            return
        needed = layout.totalHeightForWidth(self.width())
        if needed > self.height():
            self.resize(self.width(), needed)

    def _banner_action(self) -> None:
        if self.banner.action.text() == "Show the files":
            self.open_url(QUrl.fromLocalFile(str(self.core.paths.data_dir)))
        elif self.banner.action.text() == "Set up…":
            self.openSetup.emit()
        elif "Plex" in self.banner.action.text():
            self.openPlex.emit()
        elif self.core.status.paused:
            self.pause_button.setChecked(False)
        else:
            self.openConflicts.emit()

    def _pause_clicked(self, checked: bool) -> None:
        self.pauseToggled.emit(checked)

    async def _load_counts(self) -> None:
        try:
            self.counts = await self.core.counts()
        except AppError:  # not open yet: the window may predate the database
            return
        self.shows_card.set_value(self.counts.shows)
        self.movies_card.set_value(self.counts.movies)
        self.today_card.set_value(self.counts.scrobbles_24h)
        self.conflicts_card.set_value(self.counts.conflicts_open)
        self._show_last_webhook()

    def refresh(self) -> None:
        """Re-read the counts and the destinations now."""
        self._counts.now()
        self.destinations_box.refresh()

    def _show_last_webhook(self) -> None:
        stats = self.core.webhook_stats()
        if stats.last_webhook_at is not None:
            where = stats.last_server or "an unknown server"
            text = f"{ago(stats.last_webhook_at)} from {where}"
            if stats.last_source:
                text += f" ({stats.last_source})"
        elif self.counts and self.counts.last_webhook_at:
            text = f"{ago(self.counts.last_webhook_at)} (before this start)"
        else:
            text = "None yet: add the URL above in Plex, then play something"
        if refused := stats.refused_text():
            text += f" · {refused}"
            self.last_webhook.setToolTip("Requests to the webhook URL that were answered with an error "
                                         "since Scrobble Tray started: someone knocking, or a wrong URL in Plex.")
        self.last_webhook.setText(text)

    # -- window -----------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self._clock.start()
        self.refresh()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self._clock.stop()
        super().closeEvent(event)
        if self.quit_on_close:
            self.quitRequested.emit()
