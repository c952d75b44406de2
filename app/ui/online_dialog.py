"""Add or edit a Trakt or Simkl account, with the sign-in inline: the code to enter and
where, shown large, while the app waits for the user to allow it (Cancel stops waiting).

The client secret (Trakt's) is typed into a password field and goes to the keyring;
neither it nor the tokens ever reach a widget that shows text.
"""

from __future__ import annotations

import asyncio
import html
from datetime import datetime
from typing import Any, ClassVar

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from app.core.destinations.kinds import KINDS
from app.core.destinations.online.apps import carried
from app.core.logs import redact
from app.present.formatting import MASK
from app.ui.target_dialog import Row, TargetDialog, error_label
from app.ui.tasks import spawn
from app.ui.widgets import muted


class OnlineDialog(TargetDialog):
    """What the Trakt and Simkl dialogs share."""

    service: ClassVar[str]
    can_edit = True
    test_hint = "the network, the sign-in and the account"
    apps_url: ClassVar[str]
    apps_words: ClassVar[str]  # where the user makes an API app, and what it takes
    secret_needed: ClassVar[bool] = False
    live_words: ClassVar[str]

    def make_fields(self) -> None:
        self.carried = carried(self.kind, "client_id") is not None
        self.client_id = QLineEdit()
        self.client_id.setPlaceholderText("Built in: leave empty" if self.carried else "Your app's client id")
        self.client_secret = QLineEdit()
        self.client_secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.client_secret.setPlaceholderText("Built in: leave empty" if self.carried else "Its client secret")
        self.app_words = muted(wrap=False)  # (editing) which app it signs in with
        self.live = QCheckBox(self.live_words)
        self.live.setChecked(any(o.default for o in KINDS[self.kind].options if o.name == "live"))
        self.enabled = QCheckBox(f"Mark plays in this {self.service} account")
        self.enabled.setChecked(True)
        self.apps_hint = muted(self.apps_words)
        self.apps_hint.setOpenExternalLinks(True)
        self.code = QLabel()
        self.code.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.code.setStyleSheet("font-size: 22px; font-weight: 600; letter-spacing: 3px;")
        self.where = muted("")
        self.where.setOpenExternalLinks(True)
        self.copy_button = QPushButton("Copy code")
        self.open_button = QPushButton("Open page")
        self.sign_status = muted(f"{self.service} then gives a code to enter on its site, to allow Scrobble Tray.")
        self.sign_error = error_label()
        self.sign_button = QPushButton("Sign in again")
        self.copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.code.text()))
        self._page = ""
        self.open_button.clicked.connect(lambda: QDesktopServices.openUrl(QUrl(self._page)))
        self.sign_button.clicked.connect(self._sign_in_again)
        self._cancel: asyncio.Event | None = None
        for w in (self.client_id, self.client_secret):
            w.textChanged.connect(self.validate)
        for box in (self.live, self.enabled):
            box.toggled.connect(self.validate)
        self.save_button.setText("Save" if self.target else "Add and sign in")
        self.cancel_button.clicked.disconnect()
        self.cancel_button.clicked.connect(self._cancel_or_close)

    def rows(self) -> list[Row]:
        code_row = QHBoxLayout()
        code_row.addWidget(self.code)
        code_row.addStretch(1)
        code_row.addWidget(self.copy_button)
        code_row.addWidget(self.open_button)
        sign = QVBoxLayout()
        sign.setSpacing(4)
        sign.addLayout(code_row)
        for w in (self.where, self.sign_error, self.sign_status):
            sign.addWidget(w)
        sign.addWidget(self.sign_button, alignment=Qt.AlignmentFlag.AlignLeft)
        self.sign_button.setVisible(self.target is not None)
        self._code_widgets: tuple[QWidget, ...] = (self.code, self.copy_button, self.open_button, self.where)
        for widget in self._code_widgets:
            widget.hide()
        _, label = super().rows()
        if self.target is not None:
            rows: list[Row] = [("API app:", self.app_words)]
        else:  # the hint in the last field's cell (a wrapped label on a row of its own gets gaps)
            fields = [("Client id:", self.client_id)]
            if self.secret_needed:
                fields.append(("Client secret:", self.client_secret))
            last = QVBoxLayout()
            last.setSpacing(2)
            last.addWidget(fields[-1][1])
            last.addWidget(self.apps_hint)
            rows = [*fields[:-1], (fields[-1][0], last)]
        return [*rows, label, ("", self.live), ("", self.enabled), ("Sign-in:", sign)]

    def show_target(self, target: Any) -> None:
        self.live.setChecked(target.live)
        self.enabled.setChecked(target.enabled)
        self.app_words.setText(f"Your app, client id {target.client_id[:8]}…" if target.client_id
                               else "The app built into Scrobble Tray")
        self.sign_status.setText(f"Signed in as {target.account}." if target.account else "Not signed in yet.")

    def options(self) -> dict[str, Any]:
        values: dict[str, Any] = {"live": self.live.isChecked(), "enabled": self.enabled.isChecked()}
        if self.target is None:
            values["client_id"] = self.client_id.text().strip()
            if self.secret_needed:
                values["client_secret"] = self.client_secret.text().strip()
        return values

    def values(self) -> dict[str, Any]:
        return {"url": self.target.url if self.target else "", "label": self.label.text().strip(), **self.options()}

    def inputs(self) -> list[QWidget]:
        added = self.target is not None  # (its app is kept: not asked again)
        return [*(() if added else (self.client_id, self.client_secret)), self.live, self.enabled, self.sign_button]

    def validate(self) -> bool:
        problem = None
        if self.target is None and not self.carried:
            if not self.client_id.text().strip():
                problem = "client id"
            elif self.secret_needed and not self.client_secret.text().strip():
                problem = "client secret"
        values = self.values()
        changed = self.target is None or values != {k: getattr(self.target, k) for k in values}
        self.save_button.setEnabled(problem is None and changed and not self.saving and self._cancel is None)
        return problem is None

    # -- saving, then signing in ---------------------------------------------------------------
    def forget_typed_secrets(self) -> None:
        if self.client_secret.text():
            self.client_secret.clear()
            self.client_secret.setPlaceholderText("Saved (never shown)")

    async def saved_then(self, target_id: str, added: bool) -> None:
        if not added:
            self.accept()
            return
        # Added: from here on this is the account's own dialog (Save edits it, Sign in again).
        self.setWindowTitle(self.edit_title)
        self.save_button.setText("Save")
        for w in (self.client_id, self.client_secret):
            w.setEnabled(False)
        try:
            await self._sign_in(target_id)
        except Exception as exc:  # said under the sign-in: the account stays added
            self._sign_in_failed(exc)

    def _sign_in_again(self) -> None:
        if self.target is not None and self._cancel is None:
            spawn(self._sign_in(self.target.id), self._sign_in_failed, owner=self)

    async def _sign_in(self, tid: str) -> None:
        self._cancel = asyncio.Event()
        self.sign_error.hide()
        self.sign_status.setText(f"Asking {self.service} for a code…")
        self.save_button.setEnabled(False)
        self.cancel_button.setText("Cancel sign-in")
        self.sign_button.hide()
        try:
            account = await self.core.sign_in(tid, self._show_code, self._cancel)
        finally:
            self._cancel = None
            self.cancel_button.setText("Close")
            self.sign_button.show()
            for w in self._code_widgets:
                w.hide()
            self.validate()
        self.sign_status.setText(f"Signed in to {self.service}" + (f" as {account}." if account else "."))
        if self.target is not None:
            self.saved.emit(self.target.id)  # (who signed in is part of how it is shown)
        self.accept()

    def _show_code(self, prompt: Any) -> None:
        self._page = prompt.verification_url
        self.code.setText(prompt.user_code)
        until = datetime.fromtimestamp(prompt.expires_at).strftime("%H:%M")
        page = html.escape(self._page)  # (the service's words, shown as rich text)
        self.where.setText(f'Open <a href="{page}">{page}</a>, sign in to {self.service} and enter this code '
                           f"before {until}.")
        self.sign_status.setText(f"Waiting for you to allow Scrobble Tray on {self.service}…")
        for w in self._code_widgets:
            w.show()
        self._fit()

    def _sign_in_failed(self, exc: BaseException) -> None:
        found = [t for t in getattr(self.core.settings, self.kind) if self.target and t.id == self.target.id]
        account = found[0].account if found else ""  # signed in before: that sign-in is kept
        fix = getattr(exc, "fix", None)
        words = f"Not signed in{' again' if account else ''}: {exc}" + (f"\n{fix}" if fix else "")
        self.sign_error.setText(redact(words, *self.core.secrets(), mask=MASK))
        self.sign_error.show()
        self.sign_status.setText(f"Still signed in as {account}, as before." if account else
                                 "Its plays wait until it is signed in: press Sign in again when you are ready.")
        self._fit()

    def _cancel_or_close(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
        else:
            self.reject()


class TraktDialog(OnlineDialog):
    kind = "trakt"
    service = "Trakt"
    add_text = "Add Trakt…"
    add_tip = "Mark plays in your Trakt history"
    add_title = "Add a Trakt account"
    edit_title = "Trakt account"
    label_placeholder = "Optional, e.g. My Trakt"
    secret_needed = True
    apps_url = "https://trakt.tv/oauth/applications"
    apps_words = ('Trakt needs an API app\'s client id and secret: make one at <a href="https://trakt.tv/oauth/'
                  'applications">trakt.tv/oauth/applications</a> (redirect URI: urn:ietf:wg:oauth:2.0:oob). '
                  "Since July 2026 making an app needs Trakt VIP, and a free account may connect one app only.")
    live_words = "Show what is playing now on Trakt (live play, pause and stop only)"


class SimklDialog(OnlineDialog):
    kind = "simkl"
    service = "Simkl"
    add_text = "Add Simkl…"
    add_tip = "Mark plays in your Simkl history"
    add_title = "Add a Simkl account"
    edit_title = "Simkl account"
    label_placeholder = "Optional, e.g. My Simkl"
    apps_url = "https://simkl.com/settings/developer/"
    apps_words = ('Simkl needs an app\'s client id (no secret): make one at <a href="https://simkl.com/settings/'
                  'developer/">simkl.com/settings/developer</a>. The sign-in never expires.')
    live_words = "Show what is playing now on Simkl (live play, pause and stop only)"
