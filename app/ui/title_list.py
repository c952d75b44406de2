"""What the Tracker window's Shows and Movies lists share: reading their list a page at a
time, importing a file of titles, asking before a delete, and saying what happened in
their banner."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog, QLabel, QLineEdit, QMessageBox, QWidget

from app.present.errors import error_text
from app.ui.paged_table import PagedModel, PagedTable
from app.ui.tasks import spawn
from app.ui.widgets import Banner, Busy


class TitleListActions(QWidget):
    """Mixed into a list of tracker titles (``noun``: "show" or "movie")."""

    noun: str
    banner: Banner
    changed: Any  # its Signal()
    refreshed: Any  # its Signal(): a load finished (tests wait on it)
    model: PagedModel[Any]
    table: PagedTable
    search: QLineEdit
    busy: Busy
    empty: QLabel  # what to do with an empty list
    footer: QLabel  # how many titles there are

    def refresh(self) -> None:
        raise NotImplementedError

    def _selection_changed(self) -> None:
        raise NotImplementedError

    def _search_text(self) -> str | None:
        return self.search.text().strip() or None

    async def _load(self) -> None:
        """Read the first page again, keeping the selected title selected."""
        selected = self._chosen()
        self.busy.set_busy(True)
        try:
            self.table.selectionModel().blockSignals(True)  # (the selection is put back below, read once)
            await self.model.reload()
        finally:
            self.table.selectionModel().blockSignals(False)
            self.busy.set_busy(False)
        if selected is not None:
            self.select_id(selected.id)
        self.empty.setVisible(not self.model.total and not self._search_text())
        self._selection_changed()
        self.refreshed.emit()

    def _page_loaded(self) -> None:
        total, searching = self.model.total, self._search_text() is not None
        if total or searching:
            self.footer.setText(f"{total:,} {self.noun}{'' if total == 1 else 's'}" + (" found" if searching else ""))
        else:
            self.footer.setText("")

    def _chosen(self) -> Any:
        row = self.table.selected_row()
        return None if row is None or row >= len(self.model.rows) else self.model.rows[row]

    def select_id(self, row_id: int) -> None:
        """Select the title ``row_id`` if it is read yet."""
        row = self.model.row_of(row_id)
        if row is not None:
            self.table.selectRow(row)

    def _import_titles(self, path: Path) -> Awaitable[Any]:
        raise NotImplementedError

    def _pick_import_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, f"Import {self.noun}s", str(Path.home()),
                                              f"{self.noun.capitalize()} lists (*.json *.csv);;All files (*)")
        if name:
            self.import_file(Path(name))

    def import_file(self, path: Path) -> None:
        """Add the titles listed in a JSON or CSV file."""
        spawn(self._import(path), self._show_error, owner=self)

    async def _import(self, path: Path) -> None:
        result = await self._import_titles(path)
        skipped = f" ({result.skipped} already in the tracker)" if result.skipped else ""
        self.banner.show_message(f"Imported {result.added} {self.noun}s from {path.name}{skipped}.", "success")
        self._changed()

    def _changed(self) -> None:
        self.refresh()
        self.changed.emit()

    def _ask(self, text: str) -> bool:
        answer = QMessageBox.question(self, f"Delete {self.noun}", text,
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _show_error(self, exc: BaseException) -> None:
        self.banner.show_message(error_text(exc), "error")


