"""Settings → General: the webhook server, the tunnel and scrobbling, a form over
:class:`~app.core.config.Settings` that the window's Save applies."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Literal

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QMenu,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.config import PlexLocation, Settings, check_domain, check_token, clean_domain
from app.core.destinations import kinds
from app.core.facade import Core
from app.ui import icons
from app.ui.autostart import Autostart
from app.ui.routes_box import RoutesBox
from app.ui.settings_fields import Field, check_agent, check_database_url, check_port
from app.ui.tasks import spawn
from app.ui.widgets import Banner, muted

# Where Plex runs decides what "reachable" means (app.present.state): here, the LAN, or the tunnel.
PLEX_LOCATIONS = [("Not said yet", None), ("On this computer", PlexLocation.THIS),
                  ("On another computer on my network", PlexLocation.NETWORK),
                  ("Somewhere else (a NAS abroad, a seedbox, a friend's server)", PlexLocation.ELSEWHERE)]


class GeneralPage(QWidget):
    """Port, tunnel, ngrok authtoken and domain, accounts, stop threshold, database URL;
    start at login (applied when ticked: it is this computer's, not a setting)."""

    changed = Signal()  # a control changed: the window checks the form again
    failed = Signal(object)  # choosing accounts failed: the exception

    def __init__(self, core: Core, banner: Banner, autostart: Autostart | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self.banner = banner  # the window's messages, at the top of this page
        self.has_token = False

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
        self.retention = QSpinBox()
        self.retention.setRange(0, 3660)  # (config.CHECKS: the same range)
        self.retention.setSuffix(" days")
        self.retention.setSpecialValueText("for ever")
        self.retention.setMaximumWidth(110)
        self.notify = QCheckBox("Show a notification for every episode marked watched")
        self.auto_add = QCheckBox("Add a show or movie Plex identifies by its ids when nothing in the tracker "
                                  "resembles it")
        self.auto_add.setToolTip("Without this, such a show opens a conflict for you to answer. A show "
                                 "that resembles one already in the tracker always asks.")
        self.builtin = QCheckBox("Mark episodes in the built-in tracker too")
        self.builtin.setToolTip("Turn it off when another destination (a web tracker, a PostgreSQL "
                                "tracker) is the one that counts: no conflicts are asked for here then.")

        self.fields = {
            "port": Field(self.port, lambda: check_port(self.port.text())),
            "token": Field(self.token, self._check_token),
            "domain": Field(self.domain, lambda: check_domain(self.domain.text())),
            "agent": Field(self.agent, lambda: check_agent(self.agent.text())),
            "database_url": Field(self.database_url, lambda: check_database_url(self.database_url.text())),
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
        tform.addRow("Static domain:", self.fields["domain"].cell())
        agent_row = QHBoxLayout()
        agent_row.addLayout(self.fields["agent"].cell(), 1)
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
        self.choose_accounts.clicked.connect(lambda: spawn(self._choose_accounts(), self.failed.emit, owner=self))
        accounts_row.addWidget(self.choose_accounts)
        self.choose_accounts.setEnabled(core.status.plex.signed_in)
        accounts_cell.addLayout(accounts_row)
        accounts_cell.addWidget(muted("Plex account names or ids whose plays count, besides the "
                                      "server owner's. Separate them with commas. A name picked from "
                                      "your servers also matches that account's ids."))
        sform.addRow("Accepted accounts:", accounts_cell)
        self.routes_box = RoutesBox()
        sform.addRow("Where plays go:", self.routes_box)
        self.accounts.textChanged.connect(lambda: self.routes_box.fill(self.core.settings, self._accounts(), True))
        self.routes_box.changed.connect(self.changed)
        threshold_cell = QHBoxLayout()
        threshold_cell.addWidget(self.stop_threshold)
        threshold_cell.addWidget(muted("A stop past this point counts as watched", wrap=False), 1)
        sform.addRow("Stop threshold:", threshold_cell)
        sform.addRow("Database URL:", self.fields["database_url"].cell())
        retention_cell = QHBoxLayout()
        retention_cell.addWidget(self.retention)
        retention_cell.addWidget(muted("of a play, pause or resume (the event itself stays in Recent "
                                       "scrobbles)"), 1)
        sform.addRow("Keep raw webhooks:", retention_cell)
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

        general = QVBoxLayout(self)
        general.setContentsMargins(12, 12, 12, 12)
        general.addWidget(self.banner)
        general.addWidget(server_box)
        general.addWidget(tunnel_box)
        general.addWidget(scrobble_box)
        general.addStretch(1)

        for edit in (self.port, self.token, self.domain, self.agent, self.accounts, self.database_url):
            edit.textChanged.connect(self.changed)
        self.tunnel.toggled.connect(self.changed)
        self.plex_location.currentIndexChanged.connect(self.changed)
        self.listen.currentIndexChanged.connect(self.changed)
        self.forget_token.toggled.connect(self.changed)
        self.stop_threshold.valueChanged.connect(self.changed)
        self.retention.valueChanged.connect(self.changed)
        self.notify.toggled.connect(self.changed)
        self.builtin.toggled.connect(self.changed)
        self.auto_add.toggled.connect(self.changed)

    # -- form <-> settings -----------------------------------------------------------------------
    def load(self) -> None:
        """Fill the form from the core's current settings."""
        s = self.core.settings
        self.port.setText(str(s.port))
        self.tunnel.setChecked(s.tunnel_enabled if s.tunnel_enabled is not None else self.has_token)
        self.token.clear()
        self.forget_token.setChecked(False)
        self._show_token_state()
        self.domain.setText(s.ngrok_domain or "")
        if self.listen.findData(s.host) < 0:  # set by hand (a single address): kept as it is
            self.listen.addItem(f"Only {s.host}", s.host)
        self.listen.setCurrentIndex(self.listen.findData(s.host))
        self.agent.setText(s.ngrok_path or "")
        self.accounts.setText(", ".join(str(a) for a in s.accepted_accounts))
        self.routes_box.fill(s, self._accounts())
        self.stop_threshold.setValue(round(float(s.stop_threshold) * 100))
        self.database_url.setText(s.database_url or "")
        self.retention.setValue(int(s.payload_retention_days))
        self.notify.setChecked(bool(s.notify_each_scrobble))
        self.builtin.setChecked(bool(s.builtin_tracker))
        self.auto_add.setChecked(bool(s.auto_add_shows))
        self.plex_location.setCurrentIndex(max(0, self.plex_location.findData(s.plex_location)))
        self.changed.emit()
        spawn(self._load_token_state(), owner=self)

    async def _load_token_state(self) -> None:
        # The keyring may block on a D-Bus call: ask it off the UI thread.
        has = bool(await asyncio.get_running_loop().run_in_executor(None, self.core.authtoken))
        if has == self.has_token:
            return
        self.has_token = has
        if self.core.settings.tunnel_enabled is None:
            self.tunnel.setChecked(has)
        self._show_token_state()
        self.changed.emit()

    def _show_token_state(self) -> None:
        self.token.setPlaceholderText("A token is saved; type a new one to replace it" if self.has_token
                                      else "Paste your ngrok authtoken")
        self.forget_token.setVisible(self.has_token)

    def form_settings(self) -> Settings:
        """The settings the form describes (assumes it is valid)."""
        s = self.core.settings
        auto_tunnel = s.tunnel_enabled is None and self.tunnel.isChecked() == self.has_token
        return dataclasses.replace(
            s,
            port=int(self.port.text().strip()),
            host=self.listen.currentData(),
            ngrok_path=self.agent.text().strip() or None,
            tunnel_enabled=None if auto_tunnel else self.tunnel.isChecked(),
            ngrok_domain=clean_domain(self.domain.text()) or None,
            accepted_accounts=self._accounts(),
            routes=self._routes(s),
            stop_threshold=self.stop_threshold.value() / 100,
            database_url=self.database_url.text().strip() or None,
            payload_retention_days=self.retention.value(),
            notify_each_scrobble=self.notify.isChecked(),
            builtin_tracker=self.builtin.isChecked(),
            auto_add_shows=self.auto_add.isChecked(),
            plex_location=self.plex_location.currentData(),
        )

    def destinations_changed(self) -> None:
        """A destination was added or removed (it has left every route): show the accounts'
        destinations anew, keeping what is ticked."""
        self.routes_box.fill(self.core.settings, self._accounts(), keep_ticks=True)
        self.changed.emit()

    def _accounts(self) -> list[str]:
        return [a.strip() for a in self.accounts.text().split(",") if a.strip()]

    def _routes(self, s: Settings) -> dict[str, list[str]]:
        """The ticked routes, of destinations that still exist (one may have been removed
        on the Destinations page meanwhile: it has left every route), and the saved routes
        of accounts no longer listed (they count again if the account is accepted again)."""
        known = {t.id for _, t in kinds.targets(s)}
        shown = self.routes_box.routes()
        listed = {a.casefold() for a in ["owner", *self._accounts()]}
        kept = {a: ids for a, ids in s.routes.items() if a.casefold() not in listed}
        return kept | {a: [i for i in ids if i in known] for a, ids in shown.items()}

    def token_change(self) -> str | Literal[False] | None:
        """The new token, None to forget it, or False for no change."""
        typed = self.token.text().strip()
        if typed:
            return typed
        return None if self.forget_token.isChecked() else False

    def _check_token(self) -> str | None:
        if problem := check_token(self.token.text()):
            return problem
        change = self.token_change()
        will_have = bool(change) or (change is False and self.has_token)
        if self.tunnel.isChecked() and not will_have:
            return "The tunnel needs an ngrok authtoken."
        return None

    def validate(self) -> bool:
        """Show every field's problem inline; True when there is none."""
        return all([f.validate() for f in self.fields.values()])  # noqa: C419 (every field, not up to the first)

    # -- controls that act at once ---------------------------------------------------------------
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

    def show_signed_in(self, signed_in: bool) -> None:
        """Accounts can be picked from the servers once signed in to Plex."""
        self.choose_accounts.setEnabled(signed_in)

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
