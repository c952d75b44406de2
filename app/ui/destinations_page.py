"""Settings → Destinations: the built-in tracker and the relay targets, each applied at once.

A relay target is a web tracker's own Plex webhook URL; Scrobble Tray forwards Plex's
webhooks there, store-and-forward. Its URL usually carries the tracker's secret, so the
list only ever shows it through :func:`redact_url`; the Add/Edit dialog shows the real
URL, which is the user's own, while they edit it.
"""

from __future__ import annotations

import asyncio
import re
from typing import Callable
from urllib.parse import urlsplit

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QShowEvent
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QDialog, QFormLayout, QHBoxLayout,
                               QHeaderView, QLabel, QLineEdit, QMessageBox, QPushButton, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from app.core.config import PostgresTarget, RelayTarget, postgres_url_problem, relay_url_problem
from app.core.destinations.base import Attempt, Verdict
from app.core.destinations.relay import redact_url, url_secrets
from app.core.facade import Core
from app.core.types import DestinationState, DestinationStatus
from app.core.logs import redact
from app.present.formatting import MASK
from app.ui.tasks import spawn
from app.ui.widgets import Banner, Busy, muted

BUILTIN_ROW = "builtin"
EVERY_EVENT = "Every Plex event"
ONLY_WATCHED = "Only watched episodes"
ID_ROLE = Qt.ItemDataRole.UserRole
ERROR_COLOUR = "#c92a2a"

Confirm = Callable[[QWidget, str, str], bool]


def ask(parent: QWidget, title: str, text: str) -> bool:
    """A Yes/No question; the default answer is No."""
    answer = QMessageBox.question(parent, title, text,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def check_relay_url(text: str) -> str | None:
    """The problem with a typed target URL, for the user; None when it can be saved."""
    text = text.strip()
    if not text:
        return "Enter the tracker's Plex webhook URL."
    problem = relay_url_problem(text)
    return sentence(problem) + ("" if problem.endswith(".") else ".") if problem else None


Target = RelayTarget | PostgresTarget


def target_name(target: Target) -> str:
    """The label, or where the target is (as the core names an unlabelled one)."""
    if target.label:
        return target.label
    parts = urlsplit(target.url)
    if isinstance(target, PostgresTarget):
        return f"PostgreSQL tracker {parts.path.strip('/')} on {parts.hostname}"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"Web tracker at {parts.hostname}:{port or (443 if parts.scheme == 'https' else 80)}"


def describe_test(attempt: Attempt, name: str, postgres: bool = False) -> tuple[str, str]:
    """A test's result in words, and the banner kind (success or error)."""
    if postgres:
        ok = attempt.verdict is Verdict.DELIVERED
        text = f"{'Checked' if ok else 'Not usable'}: {attempt.detail}"
        return (text if ok or not attempt.fix else f"{text}\n{attempt.fix}"), "success" if ok else "error"
    if attempt.verdict is Verdict.DELIVERED:
        said = re.fullmatch(r"accepted \((.*)\)", attempt.detail, re.DOTALL)
        return (f"Accepted: {said.group(1) if said else attempt.detail}. {name} received the test "
                "event (it is not a play, so nothing is marked there)."), "success"
    words = f"Not delivered to {name}: {attempt.detail}."
    if attempt.fix:
        words += f"\n{attempt.fix}"
    return words, "error"


def _state_words(target: Target, status: DestinationStatus | None) -> tuple[str, str | None, bool]:
    """The state column: words, a tooltip, and whether it wants attention."""
    if not target.enabled:
        return "Off", "Nothing is sent to this target while it is off.", False
    if status is None:
        return "On", None, False
    tip = "\n".join(t for t in (status.reason, status.fix) if t) or None
    if status.state is DestinationState.PAUSED:
        return "On · paused", tip, True
    if status.state is DestinationState.FAILING:
        return "On · failing", tip, True
    if status.pending:
        return f"On · {status.pending} waiting", tip, False
    return "On", tip, False


class RelayDialog(QDialog):
    """Add or edit one relay target; saving applies it to the running core."""

    saved = Signal(str)  # the target's id

    def __init__(self, core: Core, target: RelayTarget | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self.target = target
        self.saving = False
        self.setWindowTitle("Edit relay target" if target else "Add relay target")
        self.setMinimumWidth(560)

        self.url = QLineEdit()
        self.url.setPlaceholderText("http://localhost:3000/api/plex/webhook?secret=…")
        self.url_error = QLabel()
        self.url_error.setWordWrap(True)
        self.url_error.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.url_error.hide()
        self.url_hint = muted("The web tracker's own Plex webhook URL, with its secret: copy it from "
                              "the tracker's settings. It is kept in settings.json, readable by you only.")
        self.only_watched = QCheckBox("Only episodes Scrobble Tray counted as watched")
        self.only_watched_hint = muted("Off: every Plex event (play, pause, stop, scrobble) is forwarded "
                                       "and the tracker decides what counts.")
        self.label = QLineEdit()
        self.label.setPlaceholderText("Optional, e.g. Episode tracker")
        self.enabled = QCheckBox("Send events to this target")
        self.enabled.setChecked(True)

        self.error = QLabel()  # the core refused (or failed while applying)
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.error.hide()
        self.busy = Busy()
        self.save_button = QPushButton("Save" if target else "Add")
        self.save_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.save_button.clicked.connect(self.save)
        self.cancel_button.clicked.connect(self.reject)

        url_cell = QVBoxLayout()
        url_cell.setSpacing(2)
        url_cell.addWidget(self.url)
        url_cell.addWidget(self.url_error)
        url_cell.addWidget(self.url_hint)
        watched_cell = QVBoxLayout()
        watched_cell.setSpacing(2)
        watched_cell.addWidget(self.only_watched)
        watched_cell.addWidget(self.only_watched_hint)
        form = QFormLayout()
        form.addRow("Webhook URL:", url_cell)
        form.addRow("Send:", watched_cell)
        form.addRow("Label:", self.label)
        form.addRow("", self.enabled)
        buttons = QHBoxLayout()
        buttons.addWidget(self.busy)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 14)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addStretch(1)
        layout.addLayout(buttons)

        if target is not None:
            self.url.setText(target.url)
            self.url.setCursorPosition(0)
            self.only_watched.setChecked(target.only_watched)
            self.label.setText(target.label)
            self.enabled.setChecked(target.enabled)
        self.url.textChanged.connect(self.validate)
        self.label.textChanged.connect(self.validate)
        self.only_watched.toggled.connect(self.validate)
        self.enabled.toggled.connect(self.validate)
        self.validate()

    def validate(self) -> bool:
        """Check the URL as typed (an empty Add form shows no error yet); Save only when valid."""
        text = self.url.text()
        problem = check_relay_url(text)
        shown = problem if text.strip() or self.target is not None else None
        if (shown or "") != self.url_error.text():
            self.url_error.setText(shown or "")
            self.url_error.setVisible(bool(shown))
            QTimer.singleShot(0, self._fit)
        changed = self.target is None or self.values() != (
            self.target.url, self.target.only_watched, self.target.label, self.target.enabled)
        self.save_button.setEnabled(problem is None and changed and not self.saving)
        return problem is None

    def _fit(self) -> None:
        """Grow (or shrink back) to the height the wrapped texts need at this width."""
        if self.layout() is not None:
            self.layout().activate()
            self.resize(self.width(), max(self.minimumSizeHint().height(), self.heightForWidth(self.width())))

    def values(self) -> tuple[str, bool, str, bool]:
        return (self.url.text().strip(), self.only_watched.isChecked(), self.label.text().strip(),
                self.enabled.isChecked())

    def save(self) -> None:
        if self.validate() and not self.saving:
            spawn(self._save(), self._failed, owner=self)

    async def _save(self) -> None:
        url, only_watched, label, enabled = self.values()
        self._set_saving(True)
        try:
            if self.target is None:
                rid = await self.core.add_relay(url, only_watched=only_watched, label=label)
                # Added: should turning it off fail, Save again edits it (no second copy).
                self.target = next((r for r in self.core.settings.relays if r.id == rid), None)
                if not enabled:
                    await self.core.update_relay(rid, enabled=False)
            else:
                rid = self.target.id
                await self.core.update_relay(rid, url=url, only_watched=only_watched, label=label,
                                             enabled=enabled)
        finally:
            self._set_saving(False)
        self.saved.emit(rid)
        self.accept()

    def _set_saving(self, saving: bool) -> None:
        self.saving = saving
        self.busy.set_busy(saving)
        for w in (self.url, self.only_watched, self.label, self.enabled):
            w.setEnabled(not saving)
        self.validate()

    def _failed(self, exc: BaseException) -> None:
        secrets = url_secrets(self.url.text())
        self.error.setText(redact(f"Not saved: {exc}", *secrets, mask=MASK))
        self.error.show()


class PostgresDialog(QDialog):
    """Add a PostgreSQL tracker: its database URL (the password goes to the keyring)."""

    saved = Signal(str)  # the tracker's id

    def __init__(self, core: Core, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self.setWindowTitle("Add a PostgreSQL tracker")
        self.setMinimumWidth(560)
        self.url = QLineEdit()
        self.url.setPlaceholderText("postgresql://user:password@localhost:5432/tracker")
        self.url_error = QLabel()
        self.url_error.setWordWrap(True)
        self.url_error.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.url_error.hide()
        hint = muted("The database your web tracker uses. The password is kept in the system keyring; "
                     "nothing in that database is ever created or changed but rows (marks, logs, mappings).")
        self.label = QLineEdit()
        self.label.setPlaceholderText("Optional, e.g. Episode tracker database")
        self.busy = Busy()
        self.save_button = QPushButton("Add")
        self.save_button.setDefault(True)
        cancel = QPushButton("Cancel")
        self.save_button.clicked.connect(self.save)
        cancel.clicked.connect(self.reject)
        cell = QVBoxLayout()
        cell.setSpacing(2)
        for w in (self.url, self.url_error, hint):
            cell.addWidget(w)
        form = QFormLayout()
        form.addRow("Database URL:", cell)
        form.addRow("Label:", self.label)
        buttons = QHBoxLayout()
        buttons.addWidget(self.busy)
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 14)
        layout.addLayout(form)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.url.textChanged.connect(self.validate)
        self.validate()

    def validate(self) -> bool:
        text = self.url.text().strip()
        problem = postgres_url_problem(text) if text else "Enter the tracker's database URL."
        self.url_error.setText(sentence(problem) + "." if problem and text else "")
        self.url_error.setVisible(bool(problem and text))
        self.save_button.setEnabled(problem is None)
        return problem is None

    def save(self) -> None:
        if self.validate():
            spawn(self._save(), self._failed, owner=self)

    async def _save(self) -> None:
        self.busy.set_busy(True)
        self.save_button.setEnabled(False)
        try:
            pid = await self.core.add_postgres(self.url.text().strip(), self.label.text().strip())
        finally:
            self.busy.set_busy(False)
        self.url.clear()  # the password is in the keyring now: not in a widget any longer
        self.saved.emit(pid)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.url_error.setText(redact(f"Not saved: {exc}", *url_secrets(self.url.text()), mask=MASK))
        self.url_error.show()
        self.validate()


class DestinationsPage(QWidget):
    """The built-in tracker and the relay targets, with Add…, Edit…, Test and Remove."""

    changed = Signal()  # a target was added, changed or removed
    tested = Signal(str, object)  # the target's id, the Attempt
    refreshed = Signal()
    busyChanged = Signal(bool)  # a test, an on/off or a removal started or ended

    def __init__(self, core: Core, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.core = core
        #: Asks before Remove; tests replace it (``lambda parent, title, text: True``).
        self.confirm: Confirm = ask
        self.dialog: RelayDialog | None = None
        self.postgres_dialog: PostgresDialog | None = None
        self.working = False  # a test or a removal is running
        self.locked = False  # the window is saving its other settings
        self._statuses: dict[str, DestinationStatus] = {}
        self._populating = False

        self.intro = muted("Scrobble Tray marks episodes in its built-in tracker. It can also forward "
                           "Plex's webhooks to web trackers of your own (relay targets), and mark "
                           "episodes straight in a tracker's PostgreSQL database; an event waits here "
                           "until each destination takes it. Changes on this page apply at once.")
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Destination", "Sends", "State"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(False)
        self.tree.setWordWrap(False)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setStyleSheet("QTreeWidget::item { padding: 4px 2px; }")
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.tree.itemDoubleClicked.connect(lambda *_: self.open_edit_dialog())
        self.tree.itemChanged.connect(self._item_changed)

        self.empty = muted("No relay targets yet. Click Add… and paste the Plex webhook URL from "
                           "your web tracker's settings.")
        self.empty.hide()
        self.add_button = QPushButton("Add…")
        self.add_button.setToolTip("Add a web tracker's Plex webhook URL")
        self.add_postgres_button = QPushButton("Add PostgreSQL…")
        self.add_postgres_button.setToolTip("Mark episodes straight in your tracker's PostgreSQL database")
        self.add_postgres_button.clicked.connect(lambda: self.open_postgres_dialog())
        self.edit_button = QPushButton("Edit…")
        self.test_button = QPushButton("Test")
        self.test_button.setToolTip("Send a harmless test event (not a play) and show the answer")
        self.remove_button = QPushButton("Remove")
        self.add_button.clicked.connect(lambda: self.open_add_dialog())
        self.edit_button.clicked.connect(lambda: self.open_edit_dialog())
        self.test_button.clicked.connect(lambda: self.test())
        self.remove_button.clicked.connect(lambda: self.remove())
        self.busy = Busy()
        buttons = QHBoxLayout()
        for b in (self.add_button, self.add_postgres_button, self.edit_button, self.test_button,
                  self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.busy)
        self.banner = Banner()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(self.intro)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty)
        layout.addLayout(buttons)
        layout.addWidget(self.banner)
        self.populate()

    # -- the list ----------------------------------------------------------------------------------
    def relay(self, relay_id: str) -> RelayTarget | None:
        return next((r for r in self.core.settings.relays if r.id == relay_id), None)

    def target(self, target_id: str) -> Target | None:
        """A relay target or a PostgreSQL tracker."""
        return self.relay(target_id) or next((p for p in self.core.settings.postgres if p.id == target_id), None)

    def selected_id(self) -> str | None:
        items = self.tree.selectedItems()
        return items[0].data(0, ID_ROLE) if items else None

    def select(self, relay_id: str | None) -> None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, ID_ROLE) == relay_id:
                self.tree.setCurrentItem(item)
                return

    def rows(self) -> list[tuple[str, ...]]:
        """Every row's texts (destination, sends, state), as shown."""
        return [tuple(self.tree.topLevelItem(i).text(c) for c in range(3))
                for i in range(self.tree.topLevelItemCount())]

    def populate(self) -> None:
        """Fill the list from the settings (and the last delivery state the core told)."""
        keep = self.selected_id()
        self._populating = True
        try:
            self.tree.clear()
            on = self.core.settings.builtin_tracker
            builtin = QTreeWidgetItem(["Built-in tracker\nOn this computer · exactly once",
                                       "Watched episodes", "On" if on else "Off (see General)"])
            builtin.setData(0, ID_ROLE, BUILTIN_ROW)
            builtin.setToolTip(0, "Marks episodes in the same transaction that stores the event: "
                                  "never twice, never lost. It cannot be turned off.")
            self.tree.addTopLevelItem(builtin)
            targets: list[Target] = [*self.core.settings.relays, *self.core.settings.postgres]
            for target in targets:
                words, tip, attention = _state_words(target, self._statuses.get(target.id))
                shown = redact_url(target.url)
                sends = ONLY_WATCHED if getattr(target, "only_watched", False) else EVERY_EVENT
                item = QTreeWidgetItem([f"{target_name(target)}\n{shown}", sends, words])
                item.setData(0, ID_ROLE, target.id)
                item.setToolTip(0, shown)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(2, Qt.CheckState.Checked if target.enabled else Qt.CheckState.Unchecked)
                item.setToolTip(2, tip or "Untick to stop sending; events are kept until it is on again.")
                if attention:
                    item.setForeground(2, QBrush(QColor(ERROR_COLOUR)))
                if not target.enabled:
                    dim = QBrush(self.tree.palette().color(self.tree.palette().ColorRole.PlaceholderText))
                    for column in (0, 1):
                        item.setForeground(column, dim)
                self.tree.addTopLevelItem(item)
        finally:
            self._populating = False
        self.empty.setVisible(not self.core.settings.relays and not self.core.settings.postgres)
        self.select(keep if keep is not None or not self.core.settings.relays
                    else self.core.settings.relays[0].id)
        self._update_buttons()

    def refresh(self) -> asyncio.Task[None]:
        """Re-read the delivery state from the core, then redraw."""
        return spawn(self._refresh(), self._refresh_failed, owner=self)

    async def _refresh(self) -> None:
        statuses = await self.core.destinations()
        self._statuses = {s.id: s for s in statuses}
        self.populate()
        self.refreshed.emit()

    def _refresh_failed(self, exc: BaseException) -> None:
        self._statuses = {}
        self.populate()
        self.refreshed.emit()

    def _update_buttons(self) -> None:
        rid = self.selected_id()
        relay = rid is not None and rid != BUILTIN_ROW
        idle = not self.working and not self.locked
        self.add_button.setEnabled(idle)
        self.add_postgres_button.setEnabled(idle)
        self.edit_button.setEnabled(idle and relay and self.relay(rid or "") is not None)
        self.test_button.setEnabled(idle and relay)
        self.remove_button.setEnabled(idle and relay)

    def set_locked(self, locked: bool) -> None:
        """No changes here while the window applies its other settings (one apply at a time)."""
        self.locked = locked
        self._update_buttons()

    def _set_working(self, working: bool) -> None:
        self.working = working
        self.busy.set_busy(working)
        self._update_buttons()
        self.busyChanged.emit(working)

    # -- Add / Edit --------------------------------------------------------------------------------
    def open_add_dialog(self) -> RelayDialog:
        """Open the Add dialog (not modal-blocking: it applies itself when saved)."""
        return self._open_dialog(None)

    def open_postgres_dialog(self) -> PostgresDialog:
        dialog = PostgresDialog(self.core, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._dialog_saved)
        dialog.open()
        self.postgres_dialog = dialog
        return dialog

    def open_edit_dialog(self, relay_id: str | None = None) -> RelayDialog | None:
        """Open the Edit dialog for ``relay_id`` (default: the selected target)."""
        target = self.relay(relay_id or self.selected_id() or "")
        if target is None or self.working or self.locked:
            return None
        return self._open_dialog(target)

    def _open_dialog(self, target: RelayTarget | None) -> RelayDialog:
        if self.dialog is not None:
            self.dialog.close()
        dialog = RelayDialog(self.core, target, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._dialog_saved)
        dialog.destroyed.connect(lambda *_: self._forget_dialog(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _forget_dialog(self, dialog: RelayDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None

    def _dialog_saved(self, relay_id: str) -> None:
        target = self.target(relay_id)
        name = target_name(target) if target else "The target"
        self.banner.show_message(f"Saved {name}. Use Test to check "
                                 f"{'the schema it finds' if isinstance(target, PostgresTarget) else 'that it answers'}.",
                                 "success")
        self.populate()
        self.select(relay_id)
        self.refresh()
        self.changed.emit()

    # -- on/off in the list ------------------------------------------------------------------------
    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._populating or column != 2:
            return
        rid = item.data(0, ID_ROLE)
        target = self.target(rid)
        on = item.checkState(2) == Qt.CheckState.Checked
        if target is None or target.enabled == on:
            return
        if self.working or self.locked:
            self.populate()  # put the box back
            return
        self.select(rid)
        self._set_working(True)  # at once: no second click while it applies
        spawn(self._set_enabled(rid, on), self._failed, owner=self)

    async def _set_enabled(self, relay_id: str, on: bool) -> None:
        try:
            await self.core.set_destination_enabled(relay_id, on)
        finally:
            self._set_working(False)
        target = self.target(relay_id)
        name = target_name(target) if target else relay_id
        self.banner.show_message(f"{name} is on: events are sent to it." if on else
                                 f"{name} is off: nothing is sent to it until you turn it on.", "info")
        await self._refresh()
        self.changed.emit()

    # -- Test --------------------------------------------------------------------------------------
    def test(self, relay_id: str | None = None) -> asyncio.Task[None] | None:
        """Send the test event to ``relay_id`` (default: the selected target) in the background."""
        target = self.target(relay_id or self.selected_id() or "")
        if target is None or self.working:
            return None
        self._set_working(True)
        self.banner.show_message(f"Checking {target_name(target)}…" if isinstance(target, PostgresTarget)
                                 else f"Sending a test event to {target_name(target)}…", "info")
        return spawn(self._test(target), self._failed, owner=self)

    async def _test(self, target: Target) -> None:
        name = target_name(target)
        try:
            attempt = await self.core.test_destination(target.id)
        finally:
            self._set_working(False)
        text, kind = describe_test(attempt, name, isinstance(target, PostgresTarget))
        self.banner.show_message(redact(text, *url_secrets(target.url), *self.core.secrets(), mask=MASK), kind)
        self.tested.emit(target.id, attempt)

    # -- Remove ------------------------------------------------------------------------------------
    def remove(self, relay_id: str | None = None) -> asyncio.Task[None] | None:
        """Ask, then remove ``relay_id`` (default: the selected target) and its waiting events."""
        target = self.target(relay_id or self.selected_id() or "")
        if target is None or self.working or self.locked:
            return None
        name = target_name(target)
        if not self.confirm(self, "Remove destination",
                            f"Remove {name}?\n\n{redact_url(target.url)}\n\nEvents not yet sent to it "
                            "are dropped; what it already received stays there."):
            return None
        self._set_working(True)
        return spawn(self._remove(target.id, name), self._failed, owner=self)

    async def _remove(self, relay_id: str, name: str) -> None:
        try:
            await self.core.remove_destination(relay_id)
        finally:
            self._set_working(False)
        self.banner.show_message(f"Removed {name}.", "info")
        await self._refresh()
        self.changed.emit()

    def _failed(self, exc: BaseException) -> None:
        secrets = [s for r in self.core.settings.relays for s in url_secrets(r.url)]
        self.banner.show_message(redact(f"Failed: {exc}", *secrets, *self.core.secrets(), mask=MASK), "error")
        self.populate()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        self.populate()  # the settings may have changed elsewhere since last shown
        self.refresh()
