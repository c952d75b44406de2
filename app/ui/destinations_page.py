"""Settings → Destinations: the built-in tracker and every other destination, each change
applied at once.

The list comes from the settings, kind by kind (:data:`app.core.destinations.kinds.KINDS`);
the delivery state of each, from the core's :class:`~app.core.types.DestinationStatus`.
Adding and editing open the kind's own dialog (:data:`app.ui.destination_dialogs.DIALOGS`).
A target's URL may carry a secret, so the list only ever shows it masked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.destinations import kinds
from app.core.destinations.base import Attempt, Kind, Target, Verdict
from app.core.facade import Core
from app.core.logs import redact, url_secrets
from app.core.types import DestinationState, DestinationStatus
from app.present.formatting import MASK
from app.ui.destination_dialogs import DIALOGS
from app.ui.target_dialog import ERROR_COLOUR, TargetDialog
from app.ui.tasks import spawn
from app.ui.widgets import Banner, Busy, muted

BUILTIN_ROW = "builtin"
ID_ROLE = Qt.ItemDataRole.UserRole

Confirm = Callable[[QWidget, str, str], bool]


def ask(parent: QWidget, title: str, text: str) -> bool:
    """A Yes/No question; the default answer is No."""
    answer = QMessageBox.question(parent, title, text,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def target_name(kind: Kind, target: Target) -> str:
    """The label, or where the target is (as the core names an unlabelled one)."""
    return target.label or kind.default_label(target)


def describe_test(attempt: Attempt, name: str, sends: bool = True) -> tuple[str, str]:
    """A test's result in words, and the banner kind (success or error). ``sends``: the
    kind's Test sends an event (else it checks the far end)."""
    ok = attempt.verdict is Verdict.DELIVERED
    if not sends:
        text = f"{'Checked' if ok else 'Not usable'}: {attempt.detail}"
        return (text if ok or not attempt.fix else f"{text}\n{attempt.fix}"), "success" if ok else "error"
    if ok:
        return (f"Accepted: {attempt.answer or attempt.detail}. {name} received the test event (it is not "
                "a play, so nothing is marked there)."), "success"
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
    if status.state is DestinationState.STOPPED:
        return "On · stopped", tip, True
    if status.pending:
        return f"On · {status.pending} waiting", tip, False
    return "On", tip, False


class DestinationsPage(QWidget):
    """The built-in tracker and every other destination, with an Add button per kind,
    Edit…, Test and Remove."""

    changed = Signal()  # a target was added, changed or removed
    tested = Signal(str, object)  # the target's id, the Attempt
    refreshed = Signal()
    busyChanged = Signal(bool)  # a test, an on/off or a removal started or ended

    def __init__(self, core: Core, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.core = core
        #: Asks before Remove; tests replace it (``lambda parent, title, text: True``).
        self.confirm: Confirm = ask
        self.dialog: TargetDialog | None = None  # the add or edit dialog open, of any kind
        self.working = False  # a test or a removal is running
        self.locked = False  # the window is saving its other settings
        self._statuses: dict[str, DestinationStatus] = {}
        self._populating = False

        self.intro = muted("Scrobble Tray marks what you watch in its built-in tracker, and sends each "
                           "event on to the destinations you add with the buttons below (each says what "
                           "it adds when you point at it). An event waits here until each destination "
                           "takes it. Changes on this page apply at once.")
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

        self.empty = muted("Only the built-in tracker so far: add a destination with one of the Add buttons.")
        self.empty.hide()
        #: One Add button per kind, in the kinds' order.
        self.add_buttons: dict[str, QPushButton] = {}
        for name in kinds.KINDS:
            dialog = DIALOGS[name]
            self.add_buttons[name] = button = QPushButton(dialog.add_text)
            button.setToolTip(dialog.add_tip)
            button.clicked.connect(lambda _=False, n=name: self.open_add_dialog(n))
        self.edit_button = QPushButton("Edit…")
        self.test_button = QPushButton("Test")
        self.test_button.setToolTip("Send a harmless test event (not a play) and show the answer")
        self.remove_button = QPushButton("Remove")
        self.edit_button.clicked.connect(lambda: self.open_edit_dialog())
        self.test_button.clicked.connect(lambda: self.test())
        self.remove_button.clicked.connect(lambda: self.remove())
        self.busy = Busy()
        adds, buttons = QHBoxLayout(), QHBoxLayout()  # (one Add per kind: a row of their own)
        for b in self.add_buttons.values():
            adds.addWidget(b)
        adds.addStretch(1)
        for b in (self.edit_button, self.test_button, self.remove_button):
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
        layout.addLayout(adds)
        layout.addWidget(self.banner)
        self.populate()

    # -- the list ----------------------------------------------------------------------------------
    def target(self, target_id: str) -> tuple[Kind, Target] | None:
        """The kind and target of a destination other than the built-in tracker."""
        return kinds.find(self.core.settings, target_id)

    def selected_id(self) -> str | None:
        items = self.tree.selectedItems()
        return items[0].data(0, ID_ROLE) if items else None

    def select(self, target_id: str | None) -> None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item is not None and item.data(0, ID_ROLE) == target_id:
                self.tree.setCurrentItem(item)
                return

    def rows(self) -> list[tuple[str, ...]]:
        """Every row's texts (destination, sends, state), as shown."""
        return [tuple(item.text(c) for c in range(3))
                for i in range(self.tree.topLevelItemCount()) if (item := self.tree.topLevelItem(i)) is not None]

    def populate(self) -> None:
        """Fill the list from the settings (and the last delivery state the core told)."""
        keep = self.selected_id()
        targets = list(kinds.targets(self.core.settings))
        self._populating = True
        try:
            self.tree.clear()
            on = self.core.settings.builtin_tracker
            builtin = QTreeWidgetItem(["Built-in tracker\nOn this computer · exactly once",
                                       "Watched plays", "On" if on else "Off (see General)"])
            builtin.setData(0, ID_ROLE, BUILTIN_ROW)
            builtin.setToolTip(0, "Marks episodes in the same transaction that stores the event: "
                                  "never twice, never lost. It cannot be turned off.")
            self.tree.addTopLevelItem(builtin)
            for kind, target in targets:
                self.tree.addTopLevelItem(self._item(kind, target))
        finally:
            self._populating = False
        self.empty.setVisible(not targets)
        self.select(keep if keep is not None or not targets else targets[0][1].id)
        self._update_buttons()

    def _item(self, kind: Kind, target: Target) -> QTreeWidgetItem:
        status = self._statuses.get(target.id)
        words, tip, attention = _state_words(target, status)
        shown = kind.shown_url(target)
        note = status.note if status is not None else None  # what its tracker cannot do, said once
        item = QTreeWidgetItem([f"{target_name(kind, target)}\n{shown}" + (f"\n{note}" if note else ""),
                                kind.sends(target), words])
        item.setData(0, ID_ROLE, target.id)
        item.setToolTip(0, shown)
        if sends_tip := kind.sends_tip(target):
            item.setToolTip(1, sends_tip)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(2, Qt.CheckState.Checked if target.enabled else Qt.CheckState.Unchecked)
        item.setToolTip(2, tip or "Untick to stop sending; events are kept until it is on again.")
        if attention:
            item.setForeground(2, QBrush(QColor(ERROR_COLOUR)))
        if not target.enabled:
            dim = QBrush(self.tree.palette().color(self.tree.palette().ColorRole.PlaceholderText))
            for column in (0, 1):
                item.setForeground(column, dim)
        return item

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
        found = self.target(self.selected_id() or "")
        idle = not self.working and not self.locked
        for button in self.add_buttons.values():
            button.setEnabled(idle)
        self.edit_button.setEnabled(idle and found is not None and DIALOGS[found[0].name].can_edit)
        self.test_button.setEnabled(idle and found is not None)
        self.remove_button.setEnabled(idle and found is not None)

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
    def open_add_dialog(self, kind: str | None = None) -> TargetDialog:
        """Open the Add dialog of ``kind`` (default: the first kind) — not modal-blocking: it
        applies itself when saved."""
        return self._open_dialog(kind or next(iter(kinds.KINDS)), None)

    def open_edit_dialog(self, target_id: str | None = None) -> TargetDialog | None:
        """Open the Edit dialog for ``target_id`` (default: the selected target)."""
        found = self.target(target_id or self.selected_id() or "")
        if found is None or not DIALOGS[found[0].name].can_edit or self.working or self.locked:
            return None
        return self._open_dialog(found[0].name, found[1])

    def _open_dialog(self, kind: str, target: Target | None) -> TargetDialog:
        if self.dialog is not None:
            self.dialog.close()
        dialog = DIALOGS[kind](self.core, target, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._dialog_saved)
        dialog.destroyed.connect(lambda *_: self._forget_dialog(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _forget_dialog(self, dialog: TargetDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None

    def _dialog_saved(self, target_id: str) -> None:
        found = self.target(target_id)
        name = target_name(*found) if found else "The target"
        hint = DIALOGS[found[0].name].test_hint if found else "that it answers"
        self.banner.show_message(f"Saved {name}. Use Test to check {hint}.", "success")
        self.populate()
        self.select(target_id)
        self.refresh()
        self.changed.emit()

    # -- on/off in the list ------------------------------------------------------------------------
    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._populating or column != 2:
            return
        tid = item.data(0, ID_ROLE)
        found = self.target(tid)
        on = item.checkState(2) == Qt.CheckState.Checked
        if found is None or found[1].enabled == on:
            return
        if self.working or self.locked:
            self.populate()  # put the box back
            return
        self.select(tid)
        self._set_working(True)  # at once: no second click while it applies
        spawn(self._set_enabled(tid, on), self._failed, owner=self)

    async def _set_enabled(self, target_id: str, on: bool) -> None:
        try:
            await self.core.set_destination_enabled(target_id, on)
        finally:
            self._set_working(False)
        found = self.target(target_id)
        name = target_name(*found) if found else target_id
        self.banner.show_message(f"{name} is on: events are sent to it." if on else
                                 f"{name} is off: nothing is sent to it until you turn it on.", "info")
        await self._refresh()
        self.changed.emit()

    # -- Test --------------------------------------------------------------------------------------
    def test(self, target_id: str | None = None) -> asyncio.Task[None] | None:
        """Test ``target_id`` (default: the selected target) in the background: send it the
        test event, or check it, as its kind does."""
        found = self.target(target_id or self.selected_id() or "")
        if found is None or self.working:
            return None
        kind, target = found
        self._set_working(True)
        self.banner.show_message(f"Sending a test event to {target_name(kind, target)}…" if kind.test_sends
                                 else f"Checking {target_name(kind, target)}…", "info")
        return spawn(self._test(kind, target), self._failed, owner=self)

    async def _test(self, kind: Kind, target: Target) -> None:
        try:
            attempt = await self.core.test_destination(target.id)
        finally:
            self._set_working(False)
        text, banner = describe_test(attempt, target_name(kind, target), kind.test_sends)
        self.banner.show_message(redact(text, *url_secrets(target.url), *self.core.secrets(), mask=MASK), banner)
        self.tested.emit(target.id, attempt)

    # -- Remove ------------------------------------------------------------------------------------
    def remove(self, target_id: str | None = None) -> asyncio.Task[None] | None:
        """Ask, then remove ``target_id`` (default: the selected target) and its waiting events."""
        found = self.target(target_id or self.selected_id() or "")
        if found is None or self.working or self.locked:
            return None
        kind, target = found
        name = target_name(kind, target)
        if not self.confirm(self, "Remove destination",
                            f"Remove {name}?\n\n{kind.shown_url(target)}\n\nEvents not yet sent to it "
                            "are dropped; what it already received stays there."):
            return None
        self._set_working(True)
        return spawn(self._remove(target.id, name), self._failed, owner=self)

    async def _remove(self, target_id: str, name: str) -> None:
        try:
            left = await self.core.remove_destination(target_id)
        finally:
            self._set_working(False)
        said = "".join(f" {words[0].upper()}{words[1:]}." for words in left)  # (accounts routed nowhere now)
        self.banner.show_message(f"Removed {name}.{said}", "warn" if left else "info")
        await self._refresh()
        self.changed.emit()

    def _failed(self, exc: BaseException) -> None:
        secrets = [s for _, t in kinds.targets(self.core.settings) for s in url_secrets(t.url)]
        self.banner.show_message(redact(f"Failed: {exc}", *secrets, *self.core.secrets(), mask=MASK), "error")
        self.populate()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        self.populate()  # the settings may have changed elsewhere since last shown
        self.refresh()
