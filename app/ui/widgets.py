"""Small widgets the windows share: a copyable (masked) URL, an inline banner, a stat card."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QLocale, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.logs import redact
from app.present.formatting import MASK
from app.ui import icons

_BANNER_COLOURS = {  # background, border, icon
    "info": ("#e7f5ff", "#a5d8ff", "check-info"),
    "success": ("#ebfbee", "#b2f2bb", "check-pass"),
    "warn": ("#fff4e6", "#ffd8a8", "check-warn"),
    "error": ("#fff5f5", "#ffc9c9", "check-fail"),
}


def heading(text: str, size_delta: int = 2, bold: bool = True) -> QLabel:
    """A label in a larger (bold) version of the application font."""
    label = QLabel(text)
    font = QFont(label.font())
    font.setPointSizeF(font.pointSizeF() + size_delta)
    font.setBold(bold)
    label.setFont(font)
    return label


def muted(text: str = "", wrap: bool = True) -> QLabel:
    """Secondary text in the palette's placeholder colour."""
    label = QLabel(text)
    label.setWordWrap(wrap)
    pal = label.palette()
    pal.setColor(label.foregroundRole(), pal.color(pal.ColorRole.PlaceholderText))
    label.setPalette(pal)
    return label


class UrlField(QWidget):
    """A URL shown with its secrets masked, and a button that copies the real one."""

    copied = Signal(str)

    def __init__(self, placeholder: str = "—", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._url: str | None = None
        self._edit = QLineEdit()
        self._edit.setReadOnly(True)
        self._edit.setPlaceholderText(placeholder)
        self._edit.setMinimumWidth(280)
        self._button = QPushButton(icons.icon("copy"), "Copy")
        self._button.setToolTip("Copy the full URL to the clipboard")
        self._button.clicked.connect(self.copy)
        self._button.setEnabled(False)
        self._restore = QTimer(self)
        self._restore.setSingleShot(True)
        self._restore.setInterval(1500)
        self._restore.timeout.connect(lambda: self._button.setText("Copy"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._edit, 1)
        layout.addWidget(self._button)

    @property
    def url(self) -> str | None:
        return self._url

    @property
    def shown_text(self) -> str:
        return self._edit.text()

    @property
    def copy_button(self) -> QPushButton:
        return self._button

    def set_url(self, url: str | None, secrets: Iterable[str] = ()) -> None:
        """Show ``url`` with ``secrets`` masked; the copy button copies it unmasked."""
        self._url = url
        shown = redact(url, *secrets, mask=MASK) if url else ""
        if self._edit.text() != shown:
            self._edit.setText(shown)
            self._edit.setCursorPosition(0)
        self._button.setEnabled(bool(url))

    def copy(self) -> None:
        if not self._url:
            return
        QGuiApplication.clipboard().setText(self._url)
        self._button.setText("Copied")
        self._restore.start()
        self.copied.emit(self._url)


class Banner(QFrame):
    """An inline message (info, success, warn, error) with an optional action button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self._icon = QLabel()
        self._icon.setFixedSize(QSize(18, 18))
        self._text = QLabel()
        self._text.setWordWrap(True)
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._text.setStyleSheet("color: #212529;")
        self.action = QPushButton()
        self.action.hide()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 8, 6)
        layout.addWidget(self._icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self._text, 1)
        layout.addWidget(self.action, 0, Qt.AlignmentFlag.AlignVCenter)
        self.kind = "info"
        self.hide()

    @property
    def text(self) -> str:
        """The message shown, or "" when the banner is hidden."""
        return "" if self.isHidden() else self._text.text()

    def show_message(self, text: str, kind: str = "info", action: str | None = None) -> None:
        bg, border, icon_name = _BANNER_COLOURS.get(kind, _BANNER_COLOURS["info"])
        self.kind = kind
        self.setStyleSheet(f"QFrame#banner {{ background: {bg}; border: 1px solid {border};"
                           f" border-radius: 6px; }}")
        self._icon.setPixmap(icons.pixmap(icon_name, 16))
        self._text.setText(text)
        self.action.setVisible(action is not None)
        if action:
            self.action.setText(action)
        self.show()

    def clear(self) -> None:
        self._text.clear()
        self.hide()


class StatCard(QFrame):
    """A figure with its caption, for the status window's counts."""

    def __init__(self, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.value = heading("–", size_delta=8)
        self.value.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption = muted(caption, wrap=False)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(0)
        layout.addWidget(self.value)
        layout.addWidget(self.caption)

    def set_value(self, value: object) -> None:
        """A count in the user's way of writing numbers (10,000 or 10 000), or "–" for none."""
        if value is None:
            self.value.setText("–")
        else:
            self.value.setText(QLocale().toString(value) if isinstance(value, int) else str(value))


class Busy(QProgressBar):
    """A thin indeterminate progress bar shown while something runs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(0, 0)
        self.setTextVisible(False)
        self.setFixedHeight(6)
        self.setMaximumWidth(140)
        self.hide()

    def set_busy(self, busy: bool) -> None:
        self.setVisible(busy)


def tool_button(text: str, tooltip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tooltip)
    button.setAutoRaise(True)
    return button


def search_box() -> QLineEdit:
    """The search field over a list of titles."""
    box = QLineEdit()
    box.setPlaceholderText("Search titles")
    box.setClearButtonEnabled(True)
    return box


def whole_rows(table: QTableView, widths: Iterable[tuple[int, int]]) -> None:
    """Make ``table`` read-only, of whole rows selected one at a time, its first column
    stretching and the others ``widths`` wide (column, pixels)."""
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.verticalHeader().hide()
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for col, width in widths:
        header.resizeSection(col, width)


def toolbar(search: QWidget, *widgets: QWidget) -> QHBoxLayout:
    """The search field (stretching), then the rest in a row."""
    top = QHBoxLayout()
    top.addWidget(search, 1)
    for w in widgets:
        top.addWidget(w)
    return top
