"""Settings → General → Scrobbling: whose plays go where. Each accepted account (the owner
first) with a checkable list of the destinations its plays go to (:mod:`app.core.routes`)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QTreeWidget, QTreeWidgetItem, QWidget

from app.core import routes
from app.core.config import Settings
from app.core.destinations import kinds

ACCOUNT_ROLE = Qt.ItemDataRole.UserRole
WARNING = QColor("#b45309")


class RoutesBox(QTreeWidget):
    """Accounts and, under each, its destinations to tick. All ticked: every destination,
    ones added later too (no route of its own); none ticked: routed nowhere, said in red."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(2)
        self.setHeaderLabels(["Tick where each account's plays go", ""])
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setRootIsDecorated(True)
        self.setMinimumHeight(130)
        self.setMaximumHeight(220)
        self.setToolTip("Tick where each account's plays go. The built-in tracker keeps every "
                        "accepted play with whose it was; all ticked also takes destinations added later.")
        self._destinations: list[tuple[str, str]] = []
        self._explicit: dict[str, list[str]] = {}  # saved routes naming every destination, untouched
        self._filling = False
        self.itemChanged.connect(self._item_changed)

    def fill(self, settings: Settings, accounts: list[str], keep_ticks: bool = False) -> None:
        """Show ``accounts`` (as typed in Accepted accounts) with the routes of ``settings``
        (or, with ``keep_ticks``, the ticks shown now)."""
        keep = self.routes() if keep_ticks else settings.routes
        self._filling = True
        self.clear()
        self._destinations = [(t.id, t.label or k.default_label(t)) for k, t in kinds.targets(settings)]
        every = {did for did, _ in self._destinations}
        # (a route set on the command line that names every destination stays that list, not
        # "every destination, ones added later too", until its ticks are changed here)
        self._explicit = {a.casefold(): [i for i in ids if i in every] for a, ids in keep.items()
                          if every and set(ids) >= every}
        probe = Settings(accepted_accounts=accounts)
        for account in routes.accounts(probe):
            own = next((ids for a, ids in keep.items() if a.casefold() == account.casefold()), None)
            item = QTreeWidgetItem([_shown(account), ""])
            item.setData(0, ACCOUNT_ROLE, account)
            self.addTopLevelItem(item)
            for did, label in self._destinations:
                child = QTreeWidgetItem([f"{label} ({did})", ""])
                child.setData(0, ACCOUNT_ROLE, did)
                child.setFlags(child.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                child.setCheckState(0, Qt.CheckState.Checked if own is None or did in own
                                    else Qt.CheckState.Unchecked)
                item.addChild(child)
            if not self._destinations:
                item.addChild(QTreeWidgetItem(["No destinations besides the built-in tracker", ""]))
            self._say(item)
        self.expandAll()
        self.resizeColumnToContents(0)
        self._filling = False

    def routes(self) -> dict[str, list[str]]:
        """The routes the ticks describe (an account with every destination ticked has none)."""
        out: dict[str, list[str]] = {}
        for item in self._accounts():
            ticked = self._ticked(item)
            if ticked is not None:
                out[str(item.data(0, ACCOUNT_ROLE))] = ticked
        return out

    def warnings(self) -> list[str]:
        """What the ticks leave routed nowhere, in words."""
        return [f"{item.text(0)}: {item.text(1)}" for item in self._accounts()
                if item.text(1).startswith("Routed nowhere")]

    def _accounts(self) -> list[QTreeWidgetItem]:
        return [item for i in range(self.topLevelItemCount()) if (item := self.topLevelItem(i)) is not None]

    def _ticked(self, item: QTreeWidgetItem) -> list[str] | None:
        """The ids ticked under an account; None when every one is (or there are none)."""
        children = [c for j in range(item.childCount()) if (c := item.child(j)) is not None]
        ids = [str(c.data(0, ACCOUNT_ROLE)) for c in children
               if c.flags() & Qt.ItemFlag.ItemIsUserCheckable and c.checkState(0) == Qt.CheckState.Checked]
        if len(ids) < len(self._destinations):
            return ids
        return self._explicit.get(str(item.data(0, ACCOUNT_ROLE)).casefold())

    def _say(self, item: QTreeWidgetItem) -> None:
        ticked = self._ticked(item)
        nowhere = ticked == [] and bool(self._destinations)
        item.setText(1, "Routed nowhere" if nowhere else
                     "Every destination" if ticked is None else f"{len(ticked)} of {len(self._destinations)}")
        item.setForeground(1, QBrush(WARNING) if nowhere else QBrush())
        item.setToolTip(1, "Its plays go to no destination: only the built-in tracker keeps them" if nowhere else "")

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        account = item.parent()
        if self._filling or account is None:
            return
        self._explicit.pop(str(account.data(0, ACCOUNT_ROLE)).casefold(), None)
        self._say(account)
        self.changed.emit()


def _shown(account: str) -> str:
    return "The owner (your own plays)" if account == routes.OWNER else account
