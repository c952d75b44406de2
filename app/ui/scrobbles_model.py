"""The table model behind the Recent scrobbles window: the store's log rows, newest first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QIcon

from app.core.types import ScrobbleRow
from app.present.formatting import (
    confidence_text,
    delivered_detail,
    delivered_text,
    episode_code,
    local_time,
    outcome_text,
    plex_item,
)
from app.ui import icons

Row = ScrobbleRow
Index = QModelIndex | QPersistentModelIndex

_OUTCOME_ICON = {"marked": "pass", "rewatch": "pass", "counted": "pass", "conflict": "warn", "failed": "fail"}


def _column(title: str, text: Callable[[Row], str]) -> tuple[str, Callable[[Row], str]]:
    return title, text


# Events that did not come as a webhook say where they came from.
ORIGIN = {"history": " · from history", "live": " · live session", "handmark": " · marked in Plex by hand"}
COLUMNS = [
    _column("Time", lambda r: local_time(r.received_at) + ORIGIN.get(r.source or "", "")),
    _column("Account", lambda r: r.account_title or ""),
    _column("Plex show", plex_item),  # (a movie: its title and year)
    _column("Episode", episode_code),
    _column("Title", lambda r: r.episode_title or ""),
    _column("Outcome", outcome_text),
    _column("Matched show", lambda r: r.show_title or ""),
    _column("Match", confidence_text),
    _column("Delivered", delivered_text),
]
OUTCOME_COLUMN = 5
DELIVERED_COLUMN = 8


class ScrobblesModel(QAbstractTableModel):
    """Rows of ``Store.scrobbles`` keyed by event id; updated in place, not reset."""

    RowRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[Row] = []

    # -- Qt model API -----------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][0]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[col][1](row)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == OUTCOME_COLUMN:
                return outcome_text(row) + f"\n(event #{row.id})"
            if col == 0:
                return f"{row.received_at:%Y-%m-%d %H:%M:%S} UTC"
            if col == DELIVERED_COLUMN:
                return delivered_detail(row) or None
            text = COLUMNS[col][1](row)
            return text or None
        if role == Qt.ItemDataRole.DecorationRole and col == OUTCOME_COLUMN:
            return self._outcome_icon(row.action)
        if role == self.RowRole:
            return row
        return None

    @staticmethod
    def _outcome_icon(action: str | None) -> QIcon:
        return icons.check_icon(_OUTCOME_ICON.get(action or "", "info"))

    # -- content ----------------------------------------------------------------------------
    def row(self, i: int) -> Row:
        return self._rows[i]

    def rows(self) -> list[Row]:
        return list(self._rows)

    def set_rows(self, rows: list[Row]) -> None:
        """Make the table show ``rows`` (newest first) with minimal change signals.

        Rows that stay keep their place in the view, so the selection survives a refresh
        while webhooks keep arriving.
        """
        new_ids = {r.id for r in rows}
        # Remove rows that are gone (bottom up, so indexes stay valid).
        for i in range(len(self._rows) - 1, -1, -1):
            if self._rows[i].id not in new_ids:
                self.beginRemoveRows(QModelIndex(), i, i)
                del self._rows[i]
                self.endRemoveRows()
        # Both lists are now ordered the same way; insert what is new, update what changed.
        i = 0
        while i < len(rows):
            if i < len(self._rows) and self._rows[i].id == rows[i].id:
                if self._rows[i] != rows[i]:
                    self._rows[i] = rows[i]
                    self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))
                i += 1
                continue
            j = i  # a run of new rows goes in with one signal
            old_ids = {r.id for r in self._rows[i:]}
            while j < len(rows) and rows[j].id not in old_ids:
                j += 1
            if j == i:  # out of order (should not happen): start over cleanly
                self.beginResetModel()
                self._rows = list(rows)
                self.endResetModel()
                return
            self.beginInsertRows(QModelIndex(), i, j - 1)
            self._rows[i:i] = rows[i:j]
            self.endInsertRows()
            i = j
