"""What the Tracker window's Shows and Movies lists share: importing a file of titles,
asking before a delete, and saying what happened in their banner."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.present.errors import error_text
from app.ui.tasks import spawn
from app.ui.widgets import Banner


class TitleListActions(QWidget):
    """Mixed into a list of tracker titles (``noun``: "show" or "movie")."""

    noun: str
    banner: Banner
    changed: Any  # its Signal()

    def refresh(self) -> None:
        raise NotImplementedError

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


