"""Every piece of text a widget tree shows (tooltips included): for secret checks in tests
and in the screenshot script."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractButton,
    QLabel,
    QLineEdit,
    QListWidget,
    QTableView,
    QTableWidget,
    QTreeWidget,
    QWidget,
)


def shown_texts(widget: QWidget) -> list[str]:
    out = [widget.windowTitle(), widget.toolTip()]
    for w in [widget, *widget.findChildren(QWidget)]:
        out.append(w.toolTip())
        if isinstance(w, QLabel):
            out.append(w.text())
        elif isinstance(w, QLineEdit):
            out += [w.displayText(), w.placeholderText()]
        elif isinstance(w, QAbstractButton):
            out.append(w.text())
        elif isinstance(w, QTableWidget):
            out += [w.item(r, c).text() for r in range(w.rowCount()) for c in range(w.columnCount())
                    if w.item(r, c) is not None]
        elif isinstance(w, QTreeWidget):
            for i in range(w.topLevelItemCount()):
                item = w.topLevelItem(i)
                out += [t for c in range(w.columnCount()) for t in (item.text(c), item.toolTip(c))]
        elif isinstance(w, QListWidget):
            out += [w.item(i).text() for i in range(w.count())]
        elif isinstance(w, QTableView) and w.model() is not None:
            m = w.model()
            out += [str(m.index(r, c).data()) for r in range(m.rowCount()) for c in range(m.columnCount())]
    return out
