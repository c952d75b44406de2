"""Settings → Plex: sign in with Plex (no password typed here), register the webhook URL.

Sign-in is Plex's PIN flow: Plex's own page opens in the browser, and this page waits
until Plex confirms it. The token goes to the keyring and is never shown.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime

from PySide6.QtCore import QDate, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.facade import Core
from app.core.timefmt import ago
from app.core.types import PlexStatus
from app.present.errors import error_text
from app.ui.tasks import spawn
from app.ui.widgets import Banner, Busy, muted


class PlexPage(QWidget):
    """The Plex account: signed out, waiting for Plex's page, or signed in."""

    busyChanged = Signal(bool)

    def __init__(self, core: Core, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self._waiting: asyncio.Task[None] | None = None
        self.sign_in_url = ""
        self.open_url = lambda url: QDesktopServices.openUrl(QUrl(url))  # tests look instead

        self.banner = Banner()
        self.state = QLabel()
        self.state.setTextFormat(Qt.TextFormat.PlainText)
        self.state.setWordWrap(True)
        self.explain = muted("Sign in once, and Scrobble Tray puts its webhook URL in your Plex account "
                             "(and again whenever the URL changes), and asks your Plex server which show "
                             "a new-agent episode belongs to. You sign in on Plex's own page: no password "
                             "is typed here.")
        self.sign_in = QPushButton("Sign in with Plex…")
        self.sign_in.setDefault(True)
        self.cancel = QPushButton("Cancel")
        self.waiting = QLabel()
        self.waiting.setWordWrap(True)
        self.waiting.setOpenExternalLinks(True)
        self.busy = Busy()
        self.sign_out = QPushButton("Sign out")
        self.servers = QLabel()
        self.servers.setWordWrap(True)
        self.plex_pass = QLabel()

        account = QGroupBox("Plex account")
        aform = QFormLayout(account)
        top = QHBoxLayout()
        top.addWidget(self.state, 1)
        top.addWidget(self.sign_out)
        aform.addRow(top)
        aform.addRow(self.explain)
        row = QHBoxLayout()
        row.addWidget(self.sign_in)
        row.addWidget(self.cancel)
        row.addWidget(self.busy)
        row.addStretch(1)
        aform.addRow(row)
        aform.addRow(self.waiting)
        self.pass_label = QLabel("Plex Pass:")
        self.servers_label = QLabel("Servers:")
        aform.addRow(self.pass_label, self.plex_pass)
        aform.addRow(self.servers_label, self.servers)

        self.registered = QLabel()
        self.registered.setWordWrap(True)
        self.registered.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.register = QPushButton("Register in Plex")
        self.register.setToolTip("Put the current public webhook URL in your Plex account's webhooks, "
                                 "keeping every other URL there")
        self.auto = QCheckBox("Register the new URL by itself whenever it changes")
        webhook = QGroupBox("Webhook")
        wform = QFormLayout(webhook)
        wform.addRow(self.registered)
        wrow = QHBoxLayout()
        wrow.addWidget(self.register)
        wrow.addStretch(1)
        wform.addRow(wrow)
        wform.addRow(self.auto)
        self.webhook_box = webhook

        self.history_box = QGroupBox("Missed plays")
        hform = QFormLayout(self.history_box)
        self.caught_up = muted()
        self.since = QDateEdit(QDate.currentDate().addDays(-30))
        self.since.setCalendarPopup(True)
        self.since.setDisplayFormat("yyyy-MM-dd")
        self.since.setMaximumDate(QDate.currentDate())
        self.import_button = QPushButton("Import history")
        self.import_button.setToolTip("Add the plays of your servers' history since that day that Scrobble "
                                      "Tray never got as a webhook (each counts once)")
        self.import_progress = QLabel()
        hrow = QHBoxLayout()
        hrow.addWidget(QLabel("Plays since"))
        hrow.addWidget(self.since)
        hrow.addWidget(self.import_button)
        hrow.addWidget(self.import_progress)
        hrow.addStretch(1)
        hform.addRow(self.caught_up)
        hform.addRow(hrow)
        self.live = QCheckBox("Follow plays live on my servers (no webhooks needed: for accounts without Plex Pass)")
        self.live.toggled.connect(self._live_toggled)
        self.live_state = muted()
        hform.addRow(self.live)
        hform.addRow(self.live_state)
        self.undo_unmarked = QCheckBox("When I mark an episode unplayed in Plex, take its watch back in the "
                                       "built-in tracker")
        self.undo_unmarked.setToolTip("Marks made by hand in Plex are always counted; un-marking is only shown "
                                      "in the log unless this is ticked.")
        self.undo_unmarked.toggled.connect(self._undo_unmarked_toggled)
        hform.addRow(self.undo_unmarked)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(self.banner)
        layout.addWidget(account)
        layout.addWidget(webhook)
        layout.addWidget(self.history_box)
        layout.addStretch(1)

        self.sign_in.clicked.connect(self.start_sign_in)
        self.cancel.clicked.connect(self.cancel_sign_in)
        self.sign_out.clicked.connect(lambda: spawn(self._sign_out(), self._failed, owner=self))
        self.register.clicked.connect(lambda: spawn(self._register(), self._failed, owner=self))
        self.auto.toggled.connect(self._auto_toggled)
        self.import_button.clicked.connect(lambda: spawn(self.import_history(), self._failed, owner=self))
        self.show_status(core.status.plex)

    # -- state -------------------------------------------------------------------------
    @property
    def signing_in(self) -> bool:
        return self._waiting is not None and not self._waiting.done()

    def show_status(self, st: PlexStatus) -> None:
        """Show the account as the core has it (called on every status change)."""
        signing_in = self.signing_in
        if st.signed_in:
            self.state.setText(f"Signed in as {st.username}" if st.username else "Signed in")
        elif st.problem:
            self.state.setText(f"Not signed in: {st.problem}")
        else:
            self.state.setText("Not signed in")
        self.explain.setVisible(not st.signed_in)
        self.sign_in.setVisible(not st.signed_in and not signing_in)
        self.cancel.setVisible(signing_in)
        self.waiting.setVisible(signing_in)
        self.sign_out.setVisible(st.signed_in)
        known = st.signed_in and st.plex_pass is not None
        for w in (self.pass_label, self.plex_pass, self.servers_label, self.servers):
            w.setVisible(known)
        self.plex_pass.setText("Yes" if st.plex_pass else "No: Plex sends webhooks only for Plex Pass accounts")
        self.servers.setText(", ".join(st.servers) or "None on this account")
        self.webhook_box.setEnabled(st.signed_in)
        url = self.core.public_webhook_url
        if not st.signed_in:
            self.registered.setText("Sign in first.")
        elif url is None:
            self.registered.setText("No public URL yet: turn the tunnel on (General), then register it.")
        elif st.registered:
            self.registered.setText(f"Registered: {st.registered_url or url.replace(self.core.secret, '…')}")
        elif st.registered is False:
            self.registered.setText("Not registered: Plex sends its webhooks somewhere else.")
        else:
            self.registered.setText("Not checked yet.")
        self.register.setEnabled(url is not None and st.plex_pass is not False)
        self.history_box.setEnabled(st.signed_in)
        c = st.caught_up
        self.caught_up.setText(
            "Scrobble Tray reads your servers' play history at start, hourly and when the tunnel comes back, "
            "and adds the plays whose webhook never came. "
            + (f"Last: {ago(c.at)}, {c.added} added." if c and c.at else "Not run yet.")
            + (f" New here: {', '.join(c.new_servers)}; import its older plays:" if c and c.new_servers else ""))
        self.live.blockSignals(True)
        self.live.setChecked(self.core.live_wanted())
        self.live.blockSignals(False)
        self.live_state.setText(f"Following: {', '.join(st.live)}" if st.live else "")
        self.live_state.setVisible(bool(st.live))
        self.undo_unmarked.blockSignals(True)
        self.undo_unmarked.setChecked(self.core.settings.plex_undo_unmarked)
        self.undo_unmarked.blockSignals(False)
        self.auto.blockSignals(True)
        self.auto.setChecked(self.core.settings.plex_auto_register)
        self.auto.blockSignals(False)

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self.banner.show_message(error_text(exc), "error")
        self.show_status(self.core.status.plex)

    def _set_busy(self, busy: bool) -> None:
        self.busy.set_busy(busy)
        self.busyChanged.emit(busy)

    # -- signing in ----------------------------------------------------------------------
    def start_sign_in(self) -> None:
        """Open Plex's sign-in page and wait for Plex to confirm it."""
        if not self.signing_in:
            self._waiting = spawn(self._sign_in(), self._failed, owner=self)

    async def _sign_in(self) -> None:
        self.banner.clear()
        self._set_busy(True)
        try:
            sign_in = await self.core.plex_begin_sign_in()
            self.sign_in_url = sign_in.url
            self.waiting.setText(f'Waiting for you to sign in on Plex\'s page… It did not open? '
                                 f'<a href="{sign_in.url}">Open it here</a>.')
            self.show_status(self.core.status.plex)
            self.open_url(sign_in.url)
            token = await sign_in.token()
            await self.core.plex_signed_in(token)
        finally:
            self._set_busy(False)
            self._waiting = None
            self.show_status(self.core.status.plex)
        st = self.core.status.plex
        self.banner.show_message(st.note or "Signed in to Plex.", "success" if not st.problem else "warn")

    def cancel_sign_in(self) -> None:
        if self._waiting is not None:
            self._waiting.cancel()
            self._waiting = None
        self._set_busy(False)
        self.banner.show_message("Sign-in cancelled.", "info")
        self.show_status(self.core.status.plex)

    async def _sign_out(self) -> None:
        await self.core.plex_sign_out()
        self.banner.show_message("Signed out of Plex on this computer. Your Plex account keeps its "
                                 "webhook URLs.", "info")
        self.show_status(self.core.status.plex)

    async def _register(self) -> None:
        self._set_busy(True)
        self.register.setEnabled(False)
        try:
            note = await self.core.plex_register()
        finally:
            self._set_busy(False)
            self.show_status(self.core.status.plex)
        self.banner.show_message(note + ".", "success")

    async def import_history(self) -> None:
        """Import the servers' plays since the chosen day; say what became of them."""
        day = self.since.date()
        since = datetime(day.year(), day.month(), day.day()).astimezone()
        self.import_button.setEnabled(False)
        self._set_busy(True)
        try:
            result, outcomes = await self.core.catch_up(
                since, lambda n: self.import_progress.setText(f"{n:,} read…"))
        finally:
            self._set_busy(False)
            self.import_button.setEnabled(True)
            self.import_progress.clear()
        made = ", ".join(f"{n} {action}" for action, n in sorted(outcomes.items()))
        text = (f"Read {result.read:,} play(s): {result.added:,} added"
                + (f" ({made})" if made and not result.marks_read else "")
                + f", {result.already:,} already here, {result.ignored:,} not counted.")
        if result.marks_read:  # (the outcomes then are of both)
            text += (f" Marked viewed in Plex since then: {result.marks_read:,}, of which {result.marks_added:,} "
                     "marked by hand." + (f" What became of those added: {made}." if made else ""))
        if result.failed:
            text += f" Could not read {', '.join(result.failed)}."
        self.banner.show_message(text, "warn" if result.failed else "success")

    def _live_toggled(self, on: bool) -> None:
        spawn(self.core.apply_settings(dataclasses.replace(self.core.settings, plex_live=on)),
              self._failed, owner=self)

    def _undo_unmarked_toggled(self, on: bool) -> None:
        spawn(self.core.apply_settings(dataclasses.replace(self.core.settings, plex_undo_unmarked=on)),
              self._failed, owner=self)

    def _auto_toggled(self, on: bool) -> None:
        spawn(self.core.apply_settings(dataclasses.replace(self.core.settings, plex_auto_register=on)),
              self._failed, owner=self)
