"""First-run setup: where Plex runs decides how it reaches us; then the URL, and the first webhook.

Three paths: Plex on this computer (the loopback URL works as it is), on another computer
of the local network (listen there too, offer the LAN address), or somewhere else (a NAS
abroad, a seedbox: the ngrok tunnel, its authtoken validated by really starting it).
Shown on first start and from the tray menu ("Set up…").
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.core.config import PlexLocation, Settings, check_domain, check_token, clean_domain
from app.core.facade import Core
from app.core.tunnel import AUTHTOKEN_URL, DOMAINS_URL
from app.core.types import CoreStatus, TunnelState
from app.core.urls import ANY_HOST, http_base, lan_addresses, webhook_url
from app.ui import icons
from app.ui.bridge import CoreBridge
from app.ui.tasks import spawn
from app.ui.widgets import UrlField, muted

WHERE = ((PlexLocation.THIS, "On this computer"),
         (PlexLocation.NETWORK, "On another computer on my network (a NAS or PC at home)"),
         (PlexLocation.ELSEWHERE, "Somewhere else: a NAS abroad, a seedbox, a friend's server"))
PAGE_WHERE, PAGE_NETWORK, PAGE_TUNNEL, PAGE_URL = range(4)


class _WherePage(QWizardPage):
    def __init__(self, current: str | None) -> None:
        super().__init__()
        self.setTitle("Where does your Plex server run?")
        self.setSubTitle("Plex sends a webhook when an episode is finished; it has to be able to reach "
                         "this computer.")
        self.group = QButtonGroup(self)
        layout = QVBoxLayout(self)
        for i, (value, label) in enumerate(WHERE):
            button = QRadioButton(label)
            button.setProperty("where", value)
            self.group.addButton(button, i)
            layout.addWidget(button)
            button.setChecked(value == (current or PlexLocation.ELSEWHERE))
        layout.addWidget(muted("Not sure? In Plex Web, Settings → your server → General shows its "
                               "name; if it is not this computer or one at home, choose the last."))
        layout.addStretch(1)

    def where(self) -> str:
        button = self.group.checkedButton()  # none when the saved answer is unknown: the last one
        return str(button.property("where")) if button is not None else WHERE[-1][0]

    def nextId(self) -> int:  # noqa: N802 (Qt's name)
        pages: dict[str, int] = {PlexLocation.THIS: PAGE_URL, PlexLocation.NETWORK: PAGE_NETWORK}
        return pages.get(self.where(), PAGE_TUNNEL)


class _NetworkPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Your local network")
        self.setSubTitle("Scrobble Tray will also listen on the local network, so the Plex server at "
                         "home reaches it without a tunnel.")
        self.address = QComboBox()
        self._found: list[str] = []
        form = QFormLayout(self)
        form.addRow("This computer's address:", self.address)
        form.addRow(muted("Pick the address on the same network as the Plex server. Anyone on this "
                          "network can reach the webhook URL; it still needs its secret. A firewall "
                          "must let the port through."))

    def initializePage(self) -> None:  # noqa: N802
        self._found = lan_addresses()  # (once: Qt asks isComplete often, and this may resolve a name)
        self.address.clear()
        self.address.addItems(self._found or ["none found: is this computer on a network?"])
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        return bool(self._found)

    def nextId(self) -> int:  # noqa: N802
        return PAGE_URL


class _TunnelPage(QWizardPage):
    def __init__(self, core: Core, bridge: CoreBridge) -> None:
        super().__init__()
        self.core = core
        self.setTitle("A public address, through ngrok")
        self.setSubTitle("ngrok gives this computer a public HTTPS address that your Plex server can "
                         "reach from anywhere. Its free plan is enough.")
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("Paste your ngrok authtoken")
        self.domain = QLineEdit(core.settings.ngrok_domain or "")
        self.domain.setPlaceholderText("Optional, e.g. my-name.ngrok-free.dev")
        self.start = QPushButton("Start the tunnel")
        self.start.clicked.connect(self.start_tunnel)
        self.result = QLabel()
        self.result.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow(QLabel(f'1. Sign up (free) and copy your authtoken: <a href="{AUTHTOKEN_URL}">'
                           f'{AUTHTOKEN_URL}</a>', openExternalLinks=True))
        form.addRow("Authtoken:", self.token)
        form.addRow(QLabel(f'2. Optional: claim your free static domain at <a href="{DOMAINS_URL}">'
                           f'{DOMAINS_URL}</a>, so the URL never changes', openExternalLinks=True))
        form.addRow("Static domain:", self.domain)
        form.addRow(self.start)
        form.addRow(self.result)
        bridge.statusChanged.connect(self._status)
        self._starting = False
        if core.authtoken():
            self.token.setPlaceholderText("A token is saved; type a new one to replace it")

    def start_tunnel(self) -> None:
        token = self.token.text().strip()
        problem = check_token(token) or check_domain(self.domain.text())
        if not token and not self.core.authtoken():
            problem = "Paste the authtoken first."
        if problem:
            self._say(problem, "fail")
            return
        self._starting = True
        self.start.setEnabled(False)
        self._say("Starting the tunnel…", "info")
        spawn(self._start(token), lambda exc: self._say(f"Could not start it: {exc}", "fail"), owner=self)

    async def _start(self, token: str) -> None:
        core = self.core
        # On once a token is known (so not before it is saved), with the domain asked for.
        await core.apply_settings(dataclasses.replace(
            core.settings, ngrok_domain=clean_domain(self.domain.text()) or None, tunnel_enabled=None,
            plex_location=PlexLocation.ELSEWHERE))
        if token:
            await core.set_authtoken(token)  # opens the tunnel with it
        else:
            await core.start_tunnel()

    def _status(self, status: CoreStatus) -> None:
        if not self._starting:
            return
        if status.tunnel == TunnelState.ONLINE and status.public_url:
            self._starting = False
            self._say(f"The tunnel is up: {status.public_url}", "pass")
        elif status.tunnel == TunnelState.ERROR:
            self._starting = False
            reason = (status.tunnel_reason or "The tunnel failed").rstrip(".")
            self._say(f"{reason}. {status.tunnel_fix or ''}".strip(), "fail")
        elif status.tunnel == TunnelState.INSTALLING:
            self._say("Downloading ngrok's agent…", "info")
        self.start.setEnabled(not self._starting)
        self.completeChanged.emit()

    def _say(self, text: str, kind: str) -> None:
        colour = {"pass": "#2b8a3e", "fail": "#b3261e"}.get(kind, "")
        self.result.setStyleSheet(f"color: {colour};" if colour else "")
        self.result.setText(text)

    def isComplete(self) -> bool:  # noqa: N802
        return self.core.status.tunnel == TunnelState.ONLINE and not self._starting

    def nextId(self) -> int:  # noqa: N802
        return PAGE_URL


class _UrlPage(QWizardPage):
    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__()
        self.wizard_ = wizard
        self.setTitle("Paste this URL into Plex")
        self.setSubTitle("In Plex Web: Settings → Webhooks → Add Webhook, paste it and Save Changes. "
                         "(Webhooks need a Plex Pass on the server owner's account.)")
        self.url = UrlField()
        self.waiting = QLabel("Waiting for the first webhook… play an episode to its end, or just "
                              "skip to the end of one.")
        self.waiting.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.url)
        layout.addSpacing(12)
        layout.addWidget(self.waiting)
        layout.addStretch(1)

    def initializePage(self) -> None:  # noqa: N802
        self.url.set_url(None)
        spawn(self.wizard_.apply_choice(), self.wizard_.failed, owner=self)

    def nextId(self) -> int:  # noqa: N802
        return -1


class SetupWizard(QWizard):
    """The three ways to Plex, the URL to paste, and the first webhook turning it green."""

    #: The choice was applied (tests and the status window wait on it).
    applied = Signal()

    def __init__(self, core: Core, bridge: CoreBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self.setWindowTitle("Set up Scrobble Tray")
        self.setWindowIcon(icons.icon("app"))
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.where_page = _WherePage(core.settings.plex_location)
        self.network_page = _NetworkPage()
        self.tunnel_page = _TunnelPage(core, bridge)
        self.url_page = _UrlPage(self)
        for page_id, page in ((PAGE_WHERE, self.where_page), (PAGE_NETWORK, self.network_page),
                              (PAGE_TUNNEL, self.tunnel_page), (PAGE_URL, self.url_page)):
            self.setPage(page_id, page)
        self.setStartId(PAGE_WHERE)
        bridge.webhookReceived.connect(self._webhook)
        self.resize(640, 420)

    def chosen_settings(self) -> Settings:
        """The settings the choice amounts to."""
        s, where = self.core.settings, self.where_page.where()
        if where == PlexLocation.NETWORK:
            return dataclasses.replace(s, plex_location=where, host=ANY_HOST[0])
        return dataclasses.replace(s, plex_location=where)

    def url_for_plex(self) -> str | None:
        where, core = self.where_page.where(), self.core
        if where == PlexLocation.NETWORK and core.status.port and self.network_page.address.count():
            return webhook_url(http_base(self.network_page.address.currentText(), core.status.port), core.secret)
        if where == PlexLocation.ELSEWHERE:
            return core.public_webhook_url
        return core.best_webhook_url()

    async def apply_choice(self) -> None:
        new = self.chosen_settings()
        if new != self.core.settings:
            await self.core.apply_settings(new)
        self.url_page.url.set_url(self.url_for_plex(), self.core.secrets())
        self.applied.emit()

    def failed(self, exc: BaseException) -> None:
        self.url_page.waiting.setText(f"Could not apply that: {exc}. Change it in Settings.")

    def _webhook(self, event_id: int, source: str) -> None:
        if self.currentId() != PAGE_URL:
            return
        stats = self.core.webhook_stats()
        server = f" from {stats.last_server}" if stats.last_server else ""
        self.url_page.waiting.setText(f"✓ The first webhook arrived{server}: Scrobble Tray is set up. "
                                      "Each finished episode will now be marked watched.")
        self.url_page.waiting.setStyleSheet("color: #2b8a3e; font-weight: 600;")
