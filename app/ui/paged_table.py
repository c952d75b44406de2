"""A list of tracker titles read a page at a time: the first page when it loads, the next
when the user scrolls near its end (Qt's ``canFetchMore``/``fetchMore``), and each cell's
text made only when Qt draws it. Five years of shows open as fast as a new tracker's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import QTableView

from app.core.types import Page
from app.ui.tasks import spawn
from app.ui.widgets import whole_rows

PAGE = 200  # rows read at once: a screenful many times over, a few ms of the database's time


class HasId(Protocol):
    @property
    def id(self) -> int: ...


R = TypeVar("R", bound=HasId)
Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column(Generic[R]):
    """A column: its header, its text for a row, and optionally a tooltip and centring."""

    label: str
    text: Callable[[R], str]
    tip: Callable[[R], str | None] | None = None
    centred: bool = False


class PagedModel(QAbstractTableModel, Generic[R]):
    """The rows read so far of a list that ``fetch(offset, limit)`` reads a page of."""

    #: A page arrived (the first after :meth:`reload`, or one more).
    loaded = Signal()

    def __init__(self, columns: list[Column[R]], fetch: Callable[[int, int], Awaitable[Page[R]]],
                 on_error: Callable[[BaseException], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.columns = columns
        self._fetch = fetch
        self._on_error = on_error
        self.rows: list[R] = []
        self.total = 0
        self._reading = False  # a next page is on its way
        self._generation = 0  # a reload makes pages still on their way stale

    async def reload(self) -> None:
        """Read the first page again (a search changed, a title was added...)."""
        self._generation += 1
        generation = self._generation
        page = await self._fetch(0, PAGE)
        if generation != self._generation:
            return
        self.beginResetModel()
        self.rows, self.total = list(page.rows), page.total
        self._reading = False
        self.endResetModel()
        self.loaded.emit()

    def row_of(self, row_id: int) -> int | None:
        """The row showing ``row_id``, if it is read yet."""
        return next((i for i, row in enumerate(self.rows) if row.id == row_id), None)

    # -- Qt's paging ---------------------------------------------------------------------------
    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: N802 (Qt's names)
        return not parent.isValid() and not self._reading and len(self.rows) < self.total

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: N802
        if self.canFetchMore(parent):
            self._reading = True
            spawn(self._more(self._generation), self._failed, owner=self)

    async def _more(self, generation: int) -> None:
        page = await self._fetch(len(self.rows), PAGE)
        if generation != self._generation:
            return
        # (a title added or deleted meanwhile shifts the pages by one: never show a row twice)
        have = {row.id for row in self.rows}
        new = [row for row in page.rows if row.id not in have]
        self.total = page.total if new else len(self.rows)  # (nothing new: the list ended)
        self._reading = False
        if new:
            self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(new) - 1)
            self.rows.extend(new)
            self.endInsertRows()
        self.loaded.emit()

    def _failed(self, exc: BaseException) -> None:
        self._reading = False
        self._on_error(exc)

    # -- the table's contents ------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(self.rows[index.row()])
        if role == Qt.ItemDataRole.ToolTipRole and column.tip is not None:
            return column.tip(self.rows[index.row()])
        if role == Qt.ItemDataRole.TextAlignmentRole and column.centred:
            return Qt.AlignmentFlag.AlignCenter
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].label
        return None


class PagedTable(QTableView):
    """A read-only table of whole rows over a :class:`PagedModel`, one selected at a time."""

    def __init__(self, model: PagedModel[Any], widths: Iterable[tuple[int, int]]) -> None:
        super().__init__()
        self.setModel(model)
        whole_rows(self, widths)

    def selected_row(self) -> int | None:
        rows = self.selectionModel().selectedRows()
        return rows[0].row() if rows else None
