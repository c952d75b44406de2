"""Diagnostics: every connection check with its result, detail and fix; a copyable report."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.facade import Core
from app.core.logs import redact
from app.core.types import Check
from app.present.errors import error_text
from app.present.formatting import MASK
from app.ui import icons
from app.ui.tasks import spawn
from app.ui.widgets import Banner, Busy, muted

RESULT_WORDS = {"pass": "Pass", "warn": "Warning", "fail": "Failed"}


class DiagnosticsWindow(QWidget):
    """Runs :meth:`Core.diagnostics` when shown and on Run again."""

    finished = Signal()

    def __init__(self, core: Core, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.core = core
        self.checks: list[Check] = []
        self.running = False
        self.setWindowTitle("Diagnostics — Scrobble Tray")
        self.setWindowIcon(icons.icon("app"))

        self.summary = muted("Checking…")
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Check", "Result", "Detail", "How to fix"])
        self.table.verticalHeader().hide()
        self.table.setWordWrap(True)
        self.table.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setStyleSheet("QTableWidget::item { padding: 4px 2px; }")
        header = self.table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setHighlightSections(False)
        header.resizeSection(0, 170)
        header.resizeSection(1, 90)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        # Wrapped rows must be measured again whenever the columns change width.
        header.sectionResized.connect(lambda *_: self.table.resizeRowsToContents())

        self.banner = Banner()
        self.busy = Busy()
        self.run_button = QPushButton("Run again")
        self.copy_button = QPushButton(icons.icon("copy"), "Copy report")
        self.copy_button.setToolTip("Copy a Markdown report for a bug report or a forum post "
                                    "(secrets are redacted)")
        self.copy_button.setEnabled(False)
        self.run_button.clicked.connect(self.run_checks)
        self.copy_button.clicked.connect(self.copy_report)
        buttons = QHBoxLayout()
        buttons.addWidget(self.busy)
        buttons.addWidget(self.summary, 1)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.run_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.resize(900, 360)

    def run_checks(self) -> None:
        """Start a run (ignored while one is running)."""
        if self.running:
            return
        self.running = True  # at once, so a double click cannot start two runs
        self.run_button.setEnabled(False)
        self.busy.set_busy(True)
        self.summary.setText("Checking…")
        spawn(self._run(), self._failed, owner=self)

    async def _run(self) -> None:
        try:
            self.checks = await self.core.diagnostics()
        finally:
            self.running = False
            self.run_button.setEnabled(True)
            self.busy.set_busy(False)
        self._show(self.checks)
        self.finished.emit()

    def _show(self, checks: list[Check]) -> None:
        secrets = self.core.secrets()
        self.table.setRowCount(0)
        for c in checks:
            row = self.table.rowCount()
            self.table.insertRow(row)
            cells = [c.name, RESULT_WORDS.get(c.status, c.status), redact(c.detail, *secrets, mask=MASK),
                     redact(c.fix, *secrets, mask=MASK)]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
                if col >= 2 and text:
                    item.setToolTip(text)
                if col == 0:
                    item.setIcon(icons.check_icon(c.status))
                self.table.setItem(row, col, item)
        self.table.resizeRowsToContents()
        fails = sum(c.status == "fail" for c in checks)
        warns = sum(c.status == "warn" for c in checks)
        verdict = ("All checks passed" if not fails and not warns else
                   ", ".join(p for p in (f"{fails} failed" if fails else "",
                                         f"{warns} warning{'s' if warns != 1 else ''}" if warns else "") if p))
        self.summary.setText(f"{verdict} · checked at {datetime.now().strftime('%H:%M:%S')}")
        self.copy_button.setEnabled(bool(checks))
        self.banner.clear()

    def rows(self) -> dict[str, tuple[str, str, str]]:
        """What the table shows: check name → (result, detail, fix)."""
        def text(row: int, col: int) -> str:
            item = self.table.item(row, col)
            return item.text() if item is not None else ""

        return {text(r, 0): (text(r, 1), text(r, 2), text(r, 3)) for r in range(self.table.rowCount())}

    def copy_report(self) -> None:
        """Put the Markdown report (secrets redacted) on the clipboard."""
        if not self.checks:
            return
        QGuiApplication.clipboard().setText(self.core.report(self.checks))
        self.banner.show_message("Report copied as Markdown; secrets are redacted.", "success")

    def _failed(self, exc: BaseException) -> None:
        self.summary.setText("The checks could not run")
        self.banner.show_message(error_text(exc), "error")

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if not self.checks:
            self.run_checks()
