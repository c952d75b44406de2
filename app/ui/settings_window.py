"""Settings: validated as typed, applied through ``Core.apply_settings`` without a restart."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QMenu, QPushButton, QSpinBox, QTabWidget, QVBoxLayout, QWidget)

from app.core.config import Settings, check_domain, check_token, clean_domain, port_problem
from app.core.facade import Core
from app.core.types import CoreStatus
from app.ui import icons
from app.ui.autostart import Autostart
from app.ui.bridge import CoreBridge
from app.ui.destinations_page import DestinationsPage
from app.ui.plex_page import PlexPage
from app.ui.tasks import spawn
from app.ui.widgets import Banner, Busy, muted



def check_port(text: str) -> str | None:
    """The problem with a typed port, or None."""
    text = text.strip()
    if not text:
        return "Enter a port number."
    if not text.isdigit():
        return "The port must be a whole number."
    return port_problem(int(text))


def check_agent(text: str) -> str | None:
    """The problem with a typed ngrok agent path, or None (empty: the downloaded one)."""
    path = Path(text.strip()).expanduser()
    if not text.strip():
        return None
    if not path.is_file():
        return "No file there: choose the ngrok program, or leave it empty."
    if not os.access(path, os.X_OK):
        return f"That file cannot be run (chmod +x {path})."
    return None


def check_database_url(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(text)
    except (ArgumentError, ValueError):
        return "Not a database URL; e.g. postgresql+psycopg://user@host/tracker"
    return None


# Where Plex runs decides what "reachable" means (app.present.state): here, the LAN, or the tunnel.
PLEX_LOCATIONS = [("Not said yet", None), ("On this computer", "this"),
                  ("On another computer on my network", "network"),
                  ("Somewhere else (a NAS abroad, a seedbox, a friend's server)", "elsewhere")]


class _Field:
    """An input with an inline error label below it."""

    def __init__(self, widget: QWidget, check: Callable[[], str | None]) -> None:
        self.widget = widget
        self.check = check
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c92a2a;")
        self.error.hide()

    def validate(self) -> bool:
        problem = self.check()
        self.error.setText(problem or "")
        self.error.setVisible(bool(problem))
        return problem is None


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
        self._has_token = False
        self.setWindowTitle("Settings — Scrobble Tray")
        self.setWindowIcon(icons.icon("app"))

        self.plex_location = QComboBox()
        for label, value in PLEX_LOCATIONS:
            self.plex_location.addItem(label, value)
        self.port = QLineEdit()
        self.port.setMaxLength(6)
        self.port.setMaximumWidth(110)
        self.tunnel = QCheckBox("Open an ngrok tunnel, so a Plex server anywhere can reach this computer")
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("Paste your ngrok authtoken")
        self.reveal = self.token.addAction(icons.icon("eye"), QLineEdit.ActionPosition.TrailingPosition)
        self.reveal.setCheckable(True)
        self.reveal.setToolTip("Show the token")
        self.reveal.toggled.connect(self._toggle_reveal)
        self.forget_token = QPushButton("Forget saved token")
        self.forget_token.setCheckable(True)
        self.forget_token.setToolTip("Remove the saved authtoken when you save")
        token_row = QHBoxLayout()
        token_row.addWidget(self.token, 1)
        token_row.addWidget(self.forget_token)
        self.token_where = muted("Free at dashboard.ngrok.com → Your Authtoken. Kept in the system "
                                 "keyring (or, where there is none, a private file in the data folder), "
                                 "never in the settings file.")
        self.domain = QLineEdit()
        self.domain.setPlaceholderText("Optional, e.g. my-name.ngrok-free.dev (keeps the URL fixed)")
        self.listen = QComboBox()
        self.listen.addItem("This computer only", "127.0.0.1")
        self.listen.addItem("This computer and the local network", "0.0.0.0")
        self.listen.setToolTip("The local network lets a Plex server at home reach Scrobble Tray "
                               "without a tunnel; anyone on that network can then reach the webhook URL "
                               "(it still needs its secret).")
        self.agent = QLineEdit()
        self.agent.setPlaceholderText("Default: Scrobble Tray downloads ngrok's agent on first use")
        self.choose_agent = QPushButton("Choose…")
        self.choose_agent.setToolTip("Use an ngrok agent already on this computer")
        self.choose_agent.clicked.connect(self._choose_agent)
        self.accounts = QLineEdit()
        self.accounts.setPlaceholderText("e.g. alice, 12345678")
        self.stop_threshold = QSpinBox()
        self.stop_threshold.setRange(50, 100)
        self.stop_threshold.setSuffix(" %")
        self.stop_threshold.setMaximumWidth(110)
        self.database_url = QLineEdit()
        self.database_url.setPlaceholderText("Default: a SQLite file in the data folder")
        self.notify = QCheckBox("Show a notification for every episode marked watched")
        self.auto_add = QCheckBox("Add a show Plex identifies by its ids when no tracker show resembles it")
        self.auto_add.setToolTip("Without this, such a show opens a conflict for you to answer. A show "
                                 "that resembles one already in the tracker always asks.")
        self.builtin = QCheckBox("Mark episodes in the built-in tracker too")
        self.builtin.setToolTip("Turn it off when another destination (a web tracker, a PostgreSQL "
                                "tracker) is the one that counts: no conflicts are asked for here then.")

        self.fields = {
            "port": _Field(self.port, lambda: check_port(self.port.text())),
            "token": _Field(self.token, self._check_token),
            "domain": _Field(self.domain, lambda: check_domain(self.domain.text())),
            "agent": _Field(self.agent, lambda: check_agent(self.agent.text())),
            "database_url": _Field(self.database_url, lambda: check_database_url(self.database_url.text())),
        }

        server_box = QGroupBox("Webhook server")
        form = QFormLayout(server_box)
        port_row = QHBoxLayout()
        port_row.addWidget(self.port)
        port_row.addWidget(muted("Changing it changes the webhook URL to paste into Plex.", wrap=False), 1)
        port_cell = QVBoxLayout()
        port_cell.setSpacing(2)
        port_cell.addLayout(port_row)
        port_cell.addWidget(self.fields["port"].error)
        form.addRow("Port:", port_cell)
        form.addRow("Listen on:", self.listen)
        form.addRow("Your Plex server runs:", self.plex_location)
        tunnel_box = QGroupBox("Tunnel")
        tform = QFormLayout(tunnel_box)
        tform.addRow(self.tunnel)
        token_cell = QVBoxLayout()
        token_cell.setSpacing(2)
        token_cell.addLayout(token_row)
        token_cell.addWidget(self.fields["token"].error)
        token_cell.addWidget(self.token_where)
        tform.addRow("ngrok authtoken:", token_cell)
        tform.addRow("Static domain:", self._with_error(self.domain, "domain"))
        agent_row = QHBoxLayout()
        agent_row.addLayout(self._with_error(self.agent, "agent"), 1)
        agent_row.addWidget(self.choose_agent, 0, Qt.AlignmentFlag.AlignTop)
        tform.addRow("ngrok agent:", agent_row)
        scrobble_box = QGroupBox("Scrobbling")
        sform = QFormLayout(scrobble_box)
        accounts_cell = QVBoxLayout()
        accounts_cell.setSpacing(2)
        accounts_row = QHBoxLayout()
        accounts_row.addWidget(self.accounts, 1)
        self.choose_accounts = QPushButton("Choose…")
        self.choose_accounts.setToolTip("Pick from the accounts of your Plex servers (sign in to Plex first)")
        self.choose_accounts.clicked.connect(lambda: spawn(self._choose_accounts(), self._save_failed, owner=self))
        accounts_row.addWidget(self.choose_accounts)
        self.choose_accounts.setEnabled(core.status.plex.signed_in)
        accounts_cell.addLayout(accounts_row)
        accounts_cell.addWidget(muted("Plex account names or ids whose plays count, besides the "
                                      "server owner's. Separate them with commas. A name picked from "
                                      "your servers also matches that account's ids."))
        sform.addRow("Accepted accounts:", accounts_cell)
        threshold_cell = QHBoxLayout()
        threshold_cell.addWidget(self.stop_threshold)
        threshold_cell.addWidget(muted("A stop past this point counts as watched", wrap=False), 1)
        sform.addRow("Stop threshold:", threshold_cell)
        sform.addRow("Database URL:", self._with_error(self.database_url, "database_url"))
        sform.addRow(self.notify)
        sform.addRow(self.auto_add)
        sform.addRow(self.builtin)
        # Applied when ticked, as in the tray menu (it is this computer's, not a setting).
        self.autostart = autostart
        self.start_at_login = QCheckBox("Start Scrobble Tray when I log in")
        if autostart is not None and autostart.supported:
            self.start_at_login.setChecked(autostart.is_enabled())
            self.start_at_login.toggled.connect(self._set_autostart)
        else:
            self.start_at_login.setEnabled(False)
            self.start_at_login.setToolTip("Not available on this system yet")
        sform.addRow(self.start_at_login)

        self.banner = Banner()
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

        self.general = QWidget()
        general = QVBoxLayout(self.general)
        general.setContentsMargins(12, 12, 12, 12)
        general.addWidget(self.banner)
        general.addWidget(server_box)
        general.addWidget(tunnel_box)
        general.addWidget(scrobble_box)
        general.addStretch(1)
        self.destinations = DestinationsPage(core)
        self.destinations.busyChanged.connect(lambda _busy: self.validate())
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.general, "General")
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

        for edit in (self.port, self.token, self.domain, self.agent, self.accounts, self.database_url):
            edit.textChanged.connect(self.validate)
        self.tunnel.toggled.connect(self.validate)
        self.plex_location.currentIndexChanged.connect(self.validate)
        self.listen.currentIndexChanged.connect(self.validate)
        self.forget_token.toggled.connect(self.validate)
        self.stop_threshold.valueChanged.connect(self.validate)
        self.notify.toggled.connect(self.validate)
        self.builtin.toggled.connect(self.validate)
        self.auto_add.toggled.connect(self.validate)
        self.load()

    def _with_error(self, widget: QWidget, key: str) -> QVBoxLayout:
        cell = QVBoxLayout()
        cell.setSpacing(2)
        cell.addWidget(widget)
        cell.addWidget(self.fields[key].error)
        return cell

    # -- form <-> settings -----------------------------------------------------------------------
    def load(self) -> None:
        """Fill the form from the core's current settings."""
        s = self.core.settings
        self.port.setText(str(s.port))
        self.tunnel.setChecked(s.tunnel_enabled if s.tunnel_enabled is not None else self._has_token)
        self.token.clear()
        self.forget_token.setChecked(False)
        self._show_token_state()
        self.domain.setText(s.ngrok_domain or "")
        if self.listen.findData(s.host) < 0:  # set by hand (a single address): kept as it is
            self.listen.addItem(f"Only {s.host}", s.host)
        self.listen.setCurrentIndex(self.listen.findData(s.host))
        self.agent.setText(s.ngrok_path or "")
        self.accounts.setText(", ".join(str(a) for a in s.accepted_accounts))
        self.stop_threshold.setValue(round(float(s.stop_threshold) * 100))
        self.database_url.setText(s.database_url or "")
        self.notify.setChecked(bool(s.notify_each_scrobble))
        self.builtin.setChecked(bool(s.builtin_tracker))
        self.auto_add.setChecked(bool(s.auto_add_shows))
        self.plex_location.setCurrentIndex(max(0, self.plex_location.findData(s.plex_location)))
        self.validate()
        spawn(self._load_token_state(), owner=self)

    async def _load_token_state(self) -> None:
        # The keyring may block on a D-Bus call: ask it off the UI thread.
        has = bool(await asyncio.get_running_loop().run_in_executor(None, self.core.authtoken))
        if has == self._has_token:
            return
        self._has_token = has
        if self.core.settings.tunnel_enabled is None:
            self.tunnel.setChecked(has)
        self._show_token_state()
        self.validate()

    def _show_token_state(self) -> None:
        self.token.setPlaceholderText("A token is saved; type a new one to replace it" if self._has_token
                                      else "Paste your ngrok authtoken")
        self.forget_token.setVisible(self._has_token)

    def form_settings(self) -> Settings:
        """The settings the form describes (assumes it is valid)."""
        s = self.core.settings
        auto_tunnel = s.tunnel_enabled is None and self.tunnel.isChecked() == self._has_token
        return dataclasses.replace(
            s,
            port=int(self.port.text().strip()),
            host=self.listen.currentData(),
            ngrok_path=self.agent.text().strip() or None,
            tunnel_enabled=None if auto_tunnel else self.tunnel.isChecked(),
            ngrok_domain=clean_domain(self.domain.text()) or None,
            accepted_accounts=[a.strip() for a in self.accounts.text().split(",") if a.strip()],
            stop_threshold=self.stop_threshold.value() / 100,
            database_url=self.database_url.text().strip() or None,
            notify_each_scrobble=self.notify.isChecked(),
            builtin_tracker=self.builtin.isChecked(),
            auto_add_shows=self.auto_add.isChecked(),
            plex_location=self.plex_location.currentData(),
        )

    def _token_change(self) -> str | None | bool:
        """The new token, None to forget it, or False for no change."""
        typed = self.token.text().strip()
        if typed:
            return typed
        return None if self.forget_token.isChecked() else False

    def _check_token(self) -> str | None:
        if problem := check_token(self.token.text()):
            return problem
        change = self._token_change()
        will_have = bool(change) or (change is False and self._has_token)
        if self.tunnel.isChecked() and not will_have:
            return "The tunnel needs an ngrok authtoken."
        return None

    def validate(self) -> bool:
        """Show every field's problem inline; Save is enabled only for a valid change."""
        ok = all([f.validate() for f in self.fields.values()])
        changed = ok and (self.form_settings() != self.core.settings or self._token_change() is not False)
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
        new = self.form_settings()
        token = self._token_change()
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
                self._has_token = bool(token)
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

    def _set_autostart(self, enabled: bool) -> None:
        assert self.autostart is not None
        try:
            self.autostart.set_enabled(enabled)
        except OSError as exc:
            self.banner.show_message(f"Start at login could not be changed: {exc}", "error")

    def _choose_agent(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Choose the ngrok agent", self.agent.text() or str(Path.home()))
        if name:
            self.agent.setText(name)

    def _toggle_reveal(self, shown: bool) -> None:
        self.token.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)
        self.reveal.setIcon(icons.icon("eye-off" if shown else "eye"))
        self.reveal.setToolTip("Hide the token" if shown else "Show the token")

    # -- tabs ------------------------------------------------------------------------------------
    def show_destinations(self) -> DestinationsPage:
        """Switch to the Destinations tab (and show the window); returns the page."""
        self.tabs.setCurrentWidget(self.destinations)
        self.show()
        return self.destinations

    def _status_changed(self, status: CoreStatus) -> None:
        self.plex.show_status(status.plex)
        self.choose_accounts.setEnabled(status.plex.signed_in)

    async def _choose_accounts(self) -> None:
        """A menu of the servers' accounts; ticking one adds its name to the field."""
        users = await self.core.plex_users()
        chosen = [a.strip() for a in self.accounts.text().split(",") if a.strip()]
        menu = QMenu(self)
        self.accounts_menu = menu
        for user in users:
            label = f"{user.name} (the server owner: always counts)" if user.owner else user.name
            action = menu.addAction(label)
            action.setCheckable(True)
            action.setChecked(user.owner or user.name.casefold() in {c.casefold() for c in chosen})
            action.setEnabled(not user.owner)
            action.toggled.connect(lambda on, name=user.name: self._pick_account(name, on))
        if not users:
            menu.addAction("No accounts found: sign in to Plex (the Plex tab)").setEnabled(False)
        menu.popup(self.choose_accounts.mapToGlobal(self.choose_accounts.rect().bottomLeft()))

    def _pick_account(self, name: str, on: bool) -> None:
        chosen = [a.strip() for a in self.accounts.text().split(",") if a.strip()]
        chosen = [a for a in chosen if a.casefold() != name.casefold()] + ([name] if on else [])
        self.accounts.setText(", ".join(chosen))

    def show_plex(self) -> PlexPage:
        """Switch to the Plex tab (and show the window); returns the page."""
        self.tabs.setCurrentWidget(self.plex)
        self.show()
        return self.plex

    def show_general(self) -> None:
        self.tabs.setCurrentWidget(self.general)
        self.show()

    def _tab_changed(self, _index: int) -> None:
        # Save applies the General tab only; destinations apply each change at once.
        self.save_button.setVisible(self.tabs.currentWidget() is self.general)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if not self.saving and not self.is_dirty:
            self.load()  # settings may have changed elsewhere (the CLI) since last shown
