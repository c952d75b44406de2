"""Recent scrobbles: a live table of every webhook and what became of it."""

from __future__ import annotations

from typing import TypeGuard

from PySide6.QtCore import QItemSelectionModel, QPoint, Qt, Signal
from PySide6.QtGui import QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.facade import Core
from app.core.types import SEARCH_MIN_CHARS, SEARCH_RECENT, ScrobbleRow
from app.present.errors import error_text
from app.present.formatting import outcome_text, plex_item, sxxeyy
from app.ui import icons
from app.ui.bridge import CoreBridge
from app.ui.scrobbles_model import ScrobblesModel
from app.ui.tasks import Coalescer, spawn
from app.ui.widgets import Banner, Busy, muted

LIMIT = 500
LIVE_ROWS = 50
FILTERS = [("All outcomes", None), ("Marked", "marked"), ("Rewatch", "rewatch"),
           ("Duplicate", "duplicate"), ("Ignored", "ignored"), ("Conflict", "conflict"),
           ("Failed", "failed"), ("Undone", "undone")]
RERUNNABLE = ("failed", "ignored")
UNDOABLE = ("marked", "rewatch")


def undoable(row: ScrobbleRow | None) -> TypeGuard[ScrobbleRow]:
    """A mark that is still in the tracker (a deleted show's marks went with it)."""
    return row is not None and row.action in UNDOABLE and row.show_title is not None


class ScrobblesWindow(QWidget):
    """The scrobble log, newest first; filter, search, re-run a failed row, undo a mark."""

    openConflicts = Signal()
    #: A refresh finished (tests and the benchmark wait on it).
    refreshed = Signal()

    def __init__(self, core: Core, bridge: CoreBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.core = core
        self.bridge = bridge
        self.setWindowTitle("Recent scrobbles — Scrobble Tray")
        self.setWindowIcon(icons.icon("app"))

        self.filter = QComboBox()
        for label, action in FILTERS:
            self.filter.addItem(label, action)
        self.filter.setToolTip("Show only one kind of outcome")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search show, episode or account")
        self.search.setClearButtonEnabled(True)
        self.busy = Busy()
        self.rerun_button = QPushButton("Re-run")
        self.rerun_button.setToolTip("Process the selected failed or ignored webhook again")
        self.undo_button = QPushButton("Undo mark")
        self.undo_button.setToolTip("Take back the watch the selected webhook counted")
        top = QHBoxLayout()
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.filter)
        top.addWidget(self.search, 1)
        top.addWidget(self.busy)
        top.addWidget(self.rerun_button)
        top.addWidget(self.undo_button)

        self.model = ScrobblesModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        for col, width in enumerate((74, 100, 150, 66, 140, 300, 130, 160, 280)):
            header.resizeSection(col, width)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)

        self.banner = Banner()
        self.banner.action.clicked.connect(self.openConflicts)
        self.footer = muted(wrap=False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 10)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.footer)
        self.resize(1100, 520)

        self.context_menu: QMenu | None = None
        self._loader = Coalescer(self._load, 150, self, on_error=self._show_error)
        self._full = True  # the next load reads every row the table shows, not only the newest
        # (at once: the loader runs one query at a time, then only the last text)
        self.search.textChanged.connect(self.refresh)
        self.search.returnPressed.connect(self.refresh)
        self.filter.currentIndexChanged.connect(self.refresh)
        self.rerun_button.clicked.connect(self.rerun_selected)
        self.undo_button.clicked.connect(self.undo_selected)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(self._double_clicked)
        bridge.dataChanged.connect(self._data_changed)
        self._update_buttons()

    # -- loading ------------------------------------------------------------------------------
    def _data_changed(self) -> None:
        if self.isVisible():
            self._loader.trigger()
        else:
            self._full = True  # a hidden window does not query; it catches up when shown

    def refresh(self) -> None:
        """Re-read every row now (live updates as webhooks arrive read only the newest)."""
        self._full = True
        self._loader.now()

    @property
    def loading(self) -> bool:
        return self._loader.busy

    def _live_limit(self) -> int:
        """How many of the newest rows a live update re-reads: the top of the table, down
        to the oldest row still pending (its outcome is what changes)."""
        rows = self.model.rows()
        last_pending = max((i for i, r in enumerate(rows) if r.action is None), default=-1)
        return min(LIMIT, max(LIVE_ROWS, last_pending + 1 + LIVE_ROWS // 2))

    async def _load(self) -> None:
        action, search = self.filter.currentData(), self.search.text().strip() or None
        full = self._full or self.model.rowCount() == 0
        limit = LIMIT if full else self._live_limit()
        self._full = False
        self.busy.set_busy(True)
        try:
            rows = await self.core.scrobbles(limit, action, search)
        finally:
            self.busy.set_busy(False)
        if (action, search) != (self.filter.currentData(), self.search.text().strip() or None):
            self._full = True
            self._loader.now()  # the filter moved on while we queried: query again (once this ends)
            return
        if not full and len(rows) == limit:
            # A live update reads only the newest rows (cheap while a burst arrives);
            # the older ones the table holds have not changed.
            oldest = rows[-1].id
            rows = (rows + [r for r in self.model.rows() if r.id < oldest])[:LIMIT]
        self.model.set_rows(rows)
        n = len(rows)
        what = "webhook" if n == 1 else "webhooks"
        self.footer.setText(f"{n} {what} shown" + (f" (the latest {LIMIT})" if n >= LIMIT else "")
                            + ("" if action is None and not search else ", filtered")
                            + (f": only the latest {SEARCH_RECENT:,} searched (type {SEARCH_MIN_CHARS} characters "
                               "or more to search them all)" if search and len(search) < SEARCH_MIN_CHARS else ""))
        self._update_buttons()
        self.refreshed.emit()

    # -- selection and actions ----------------------------------------------------------------
    def selected_row(self) -> ScrobbleRow | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row(rows[0].row()) if rows else None

    def select_event(self, event_id: int) -> bool:
        """Select the row of ``event_id``; False if it is not shown."""
        for i, row in enumerate(self.model.rows()):
            if row.id == event_id:
                self.table.selectionModel().select(
                    self.model.index(i, 0),
                    QItemSelectionModel.SelectionFlag.ClearAndSelect
                    | QItemSelectionModel.SelectionFlag.Rows)
                self.table.scrollTo(self.model.index(i, 0))
                return True
        return False

    def _update_buttons(self) -> None:
        row = self.selected_row()
        action = row.action if row else None
        self.rerun_button.setEnabled(action in RERUNNABLE)
        self.undo_button.setEnabled(undoable(row))
        self.undo_button.setToolTip("The show is no longer in the tracker: nothing to undo"
                                    if action in UNDOABLE and not undoable(row)
                                    else "Take back the watch the selected webhook counted")

    def rerun_selected(self) -> None:
        row = self.selected_row()
        if row and row.action in RERUNNABLE:
            spawn(self._rerun(row), self._show_error, owner=self)

    def undo_selected(self) -> None:
        row = self.selected_row()
        if undoable(row):
            spawn(self._undo(row), self._show_error, owner=self)

    def _describe(self, row: ScrobbleRow) -> str:
        return " ".join(filter(None, [plex_item(row), sxxeyy(row.season, row.episode)])) \
            or f"event #{row.id}"

    async def _rerun(self, row: ScrobbleRow) -> None:
        self._set_acting(True)
        try:
            outcome = await self.core.rerun(row.id)
        finally:
            self._set_acting(False)
        text = outcome_text(outcome)
        kind = {"marked": "success", "rewatch": "success", "failed": "error"}.get(outcome.action.value, "info")
        self.banner.show_message(f"Re-ran {self._describe(row)}: {text}", kind,
                                 "Open conflicts" if outcome.action.value == "conflict" else None)
        self.refresh()

    async def _undo(self, row: ScrobbleRow) -> None:
        self._set_acting(True)
        try:
            await self.core.undo(row.id)
        finally:
            self._set_acting(False)
        self.banner.show_message(f"Undone: {self._describe(row)} no longer counts as watched.", "success")
        self.refresh()

    def _set_acting(self, acting: bool) -> None:
        self.busy.set_busy(acting)
        if acting:
            self.rerun_button.setEnabled(False)
            self.undo_button.setEnabled(False)
        else:
            self._update_buttons()

    def _show_error(self, exc: BaseException) -> None:
        self.banner.show_message(error_text(exc), "error")

    def _double_clicked(self) -> None:
        row = self.selected_row()
        if row and row.action == "conflict":
            self.openConflicts.emit()

    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        self.table.selectRow(index.row())
        row = self.model.row(index.row())
        menu = QMenu(self)
        rerun = menu.addAction("Re-run", self.rerun_selected)
        rerun.setEnabled(row.action in RERUNNABLE)
        undo = menu.addAction("Undo mark", self.undo_selected)
        undo.setEnabled(undoable(row))
        if row.action == "conflict":
            menu.addAction("Open conflicts…").triggered.connect(self.openConflicts)
        menu.addSeparator()
        menu.addAction("Copy outcome", lambda: QGuiApplication.clipboard().setText(outcome_text(row)))
        menu.popup(self.table.viewport().mapToGlobal(pos))
        self.context_menu = menu  # kept for tests; replaced on the next right-click

    # -- window ---------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if self._full:
            self._loader.now()
