"""Conflicts: Plex shows the matcher was not sure about, and the user's answer to each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.facade import Core
from app.core.types import Candidate, ConflictRow
from app.present.errors import error_text
from app.present.formatting import ids_text, local_time, show_with_year, sxxeyy
from app.ui import icons
from app.ui.bridge import CoreBridge
from app.ui.tasks import Coalescer, spawn
from app.ui.widgets import Banner, Busy, heading, muted

KIND_WORDS = {
    "no_match": "No show in your tracker matches this Plex show.",
    "ambiguous": "Several shows in your tracker match this Plex show equally well.",
    "low_confidence": "The closest title match is not certain enough to apply on its own.",
}
ID_ROLE = Qt.ItemDataRole.UserRole


def _waiting_text(n: int) -> str:
    return f"{n} episode{'s' if n != 1 else ''} waiting"


class ConflictsDialog(QWidget):
    """Open conflicts on the left; the chosen one's Plex data, candidates and answers on the right."""

    #: A conflict was answered: (conflict id, how: mapped/created/ignored, outcomes applied).
    resolved = Signal(int, str, list)
    refreshed = Signal()

    def __init__(self, core: Core, bridge: CoreBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.core = core
        self.conflicts: list[ConflictRow] = []
        self.current: ConflictRow | None = None
        self.setWindowTitle("Conflicts — Scrobble Tray")
        self.setWindowIcon(icons.icon("app"))

        # -- left: the open conflicts ----------------------------------------------------
        self.list = QListWidget()
        self.list.setMinimumWidth(220)
        self.list.setSpacing(2)
        self.list.setIconSize(QSize(16, 16))
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.currentItemChanged.connect(self._current_changed)

        # -- right: one conflict ----------------------------------------------------------
        self.title = heading("")
        self.title.setWordWrap(True)
        self.kind = muted()
        self.guid_labels: dict[str, QLabel] = {}
        ids_form = QFormLayout()
        ids_form.setContentsMargins(0, 0, 0, 0)
        ids_form.setVerticalSpacing(2)
        for key, label in (("grandparent_guid", "Show GUID:"), ("guid", "Episode GUID:"),
                           ("show_ids", "Show ids:")):
            value = QLabel()
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            self.guid_labels[key] = value
            ids_form.addRow(label, value)
        self.waiting = QListWidget()
        self.waiting.setMaximumHeight(72)
        self.waiting.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search all your tracker shows…")
        self.search.setClearButtonEnabled(True)
        self.candidates_label = QLabel()
        self.candidates = QTreeWidget()
        self.candidates.setRootIsDecorated(False)
        self.candidates.setHeaderLabels(["Tracker show", "Year", "Ids", "Watched", "Score"])
        self.candidates.setAlternatingRowColors(True)
        self.candidates.setUniformRowHeights(True)
        header = self.candidates.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col, width in ((1, 52), (2, 190), (3, 64), (4, 56)):
            header.resizeSection(col, width)
        self.candidates.itemSelectionChanged.connect(self._update_buttons)
        self.candidates.itemDoubleClicked.connect(lambda *_: self.map_selected())

        self.map_button = QPushButton("Map to selected show")
        self.map_button.setDefault(True)
        self.map_button.setToolTip("Count this Plex show's episodes on the selected tracker show, "
                                   "now and from now on")
        self.create_button = QPushButton("Create new show")
        self.create_button.setToolTip("Add this Plex show to your tracker with its title, year and ids")
        self.ignore_button = QPushButton("Ignore this Plex show")
        self.ignore_button.setToolTip("Never count this Plex show's episodes")
        self.busy = Busy()
        self.map_button.clicked.connect(self.map_selected)
        self.create_button.clicked.connect(self.create_show)
        self.ignore_button.clicked.connect(self.ignore_show)
        actions = QHBoxLayout()
        actions.addWidget(self.busy)
        actions.addStretch(1)
        actions.addWidget(self.ignore_button)
        actions.addWidget(self.create_button)
        actions.addWidget(self.map_button)

        detail = QWidget()
        right = QVBoxLayout(detail)
        right.setContentsMargins(12, 0, 0, 0)
        right.addWidget(self.title)
        right.addWidget(self.kind)
        right.addLayout(ids_form)
        right.addSpacing(4)
        right.addWidget(QLabel("<b>Waiting to be counted</b>"))
        right.addWidget(self.waiting)
        right.addSpacing(4)
        right.addWidget(QLabel("<b>Which tracker show is it?</b>"))
        right.addWidget(self.search)
        right.addWidget(self.candidates_label)
        right.addWidget(self.candidates, 1)
        right.addLayout(actions)

        self.empty = QLabel("No conflicts waiting.\nEvery Plex show so far is matched to a tracker show.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(detail)
        self.stack.addWidget(self.empty)

        splitter = QSplitter()
        splitter.addWidget(self.list)
        splitter.addWidget(self.stack)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([250, 650])
        splitter.setChildrenCollapsible(False)

        self.banner = Banner()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)
        self.resize(920, 580)

        self._loader = Coalescer(self._load, 100, self, on_error=self._show_error)
        # (each keystroke searches at once: the tracker's index answers in a few ms, and an
        # answer to a text no longer in the box is dropped)
        self._searcher = Coalescer(self._run_search, 0, self, on_error=self._show_error)
        self.search.textChanged.connect(self._searcher.now)
        self.search.returnPressed.connect(self._searcher.now)
        self._acting = False
        bridge.conflictsChanged.connect(lambda *_: self._loader.trigger() if self.isVisible() else None)
        self._show_conflict(None)

    # -- loading ------------------------------------------------------------------------------
    def refresh(self) -> None:
        self._loader.now()

    @property
    def loading(self) -> bool:
        return self._loader.busy

    async def _load(self) -> None:
        conflicts = await self.core.conflicts("open")
        keep = self.current.id if self.current else None
        self.conflicts = conflicts
        self.list.blockSignals(True)
        self.list.clear()
        chosen = None
        for c in conflicts:
            item = QListWidgetItem(icons.check_icon("warn"),
                                   f"{show_with_year(c.plex_title, c.plex_year)}\n"
                                   f"{_waiting_text(c.waiting)}")
            item.setData(ID_ROLE, c.id)
            item.setToolTip(KIND_WORDS.get(c.type or "", ""))
            self.list.addItem(item)
            if c.id == keep:
                chosen = item
        if chosen is None and self.list.count():
            chosen = self.list.item(0)
        if chosen is not None:
            self.list.setCurrentItem(chosen)
        self.list.blockSignals(False)
        if chosen is None:
            self._show_conflict(None)
        elif keep != chosen.data(ID_ROLE):
            await self._select(chosen.data(ID_ROLE))
        else:  # same conflict: keep the user's search and choice, refresh what waits
            self.current = next(c for c in conflicts if c.id == keep)
            await self._load_waiting(self.current)
        self.refreshed.emit()

    def _current_changed(self, item: QListWidgetItem | None) -> None:
        if item is not None:
            spawn(self._select(item.data(ID_ROLE)), self._show_error, owner=self)

    async def _select(self, conflict_id: int) -> None:
        conflict = next((c for c in self.conflicts if c.id == conflict_id), None)
        self._show_conflict(conflict)
        if conflict is not None:
            await self._load_waiting(conflict)

    async def _load_waiting(self, conflict: ConflictRow) -> None:
        events = await self.core.waiting_events(conflict.id)
        if self.current is not conflict:
            return  # the user moved on
        self.waiting.clear()
        for e in events:
            parts = [sxxeyy(e.season, e.episode), e.episode_title or "",
                     f"· {e.account_title or 'unknown account'}, {local_time(e.received_at)}"]
            self.waiting.addItem(" ".join(p for p in parts if p))
        if not events:
            self.waiting.addItem("Nothing waiting (later plays will wait here)")

    def _show_conflict(self, conflict: ConflictRow | None) -> None:
        self.current = conflict
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        if conflict is None:
            self.stack.setCurrentWidget(self.empty)
            self.candidates.clear()
            self._update_buttons()
            return
        self.stack.setCurrentIndex(0)
        self.title.setText(show_with_year(conflict.plex_title, conflict.plex_year))
        self.kind.setText(KIND_WORDS.get(conflict.type or "", "It needs your decision."))
        guids = conflict.guids or {}
        self.guid_labels["grandparent_guid"].setText(guids.get("grandparent_guid") or "–")
        self.guid_labels["guid"].setText(guids.get("guid") or "–")
        ids = guids.get("movie_ids" if conflict.kind == "movie" else "show_ids") or {}
        self.search.setPlaceholderText(f"Search all your tracker {self._noun()}s…")
        self.guid_labels["show_ids"].setText(", ".join(f"{k}: {v}" for k, v in sorted(ids.items()))
                                             or "none (the Plex agent gave no external ids)")
        self.waiting.clear()
        self.create_button.setText(f"Create “{show_with_year(conflict.plex_title, conflict.plex_year)}”")
        self._fill_candidates(conflict.candidates, None)

    def _noun(self) -> str:
        """What the current conflict's candidates are: tracker ``show``s or ``movie``s."""
        return "movie" if self.current is not None and self.current.kind == "movie" else "show"

    def _fill_candidates(self, candidates: Sequence[Candidate], query: str | None) -> None:
        self.candidates.clear()
        noun = self._noun()
        for c in candidates:
            item = QTreeWidgetItem([c.title, str(c.year or ""), f"#{c.show_id}", "", f"{c.score:.0f}%"])
            item.setData(0, ID_ROLE, c.show_id)
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignCenter)
            item.setTextAlignment(3, Qt.AlignmentFlag.AlignCenter)
            item.setTextAlignment(4, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.candidates.addTopLevelItem(item)
        if candidates and noun == "show":  # (a movie's candidates: title and year tell them apart)
            spawn(self._fill_details([c.show_id for c in candidates]), self._show_error, owner=self)
        if query:
            self.candidates_label.setText(f"Tracker {noun}s matching “{query}”:" if candidates
                                          else f"No tracker {noun} matches “{query}”.")
        else:
            self.candidates_label.setText(f"Closest tracker {noun}s:" if candidates else
                                          f"No tracker {noun} comes close: search above, or create it.")
        if candidates and (first := self.candidates.topLevelItem(0)) is not None:
            self.candidates.setCurrentItem(first)
        self._update_buttons()

    async def _fill_details(self, show_ids: list[int]) -> None:
        """Ids and watched counts beside each candidate: what tells two alike apart."""
        details = await self.core.candidate_details(show_ids)
        for i in range(self.candidates.topLevelItemCount()):
            item = self.candidates.topLevelItem(i)
            show = details.get(item.data(0, ID_ROLE)) if item is not None else None
            if item is not None and show is not None:
                item.setText(2, " · ".join(filter(None, (f"#{show.id}", ids_text(show)))))
                item.setToolTip(2, item.text(2))
                item.setText(3, f"{show.watched_episodes} / {show.known_episodes}")
                item.setToolTip(3, f"{show.watched_episodes} of its {show.known_episodes} known episodes "
                                   f"watched, {show.total_plays} plays")

    async def _run_search(self) -> None:
        query = self.search.text().strip()
        if self.current is None:
            return
        if not query:
            self._fill_candidates(self.current.candidates, None)
            return
        search = self.core.search_movies if self.current.kind == "movie" else self.core.search_shows
        found = await search(query, 20)
        if self.search.text().strip() == query:  # still what the user wants
            self._fill_candidates(found, query)

    # -- answers --------------------------------------------------------------------------------
    def selected_show_id(self) -> int | None:
        item = self.candidates.currentItem()
        return item.data(0, ID_ROLE) if item is not None and item.isSelected() else None

    def _update_buttons(self) -> None:
        has = self.current is not None and not self._acting
        self.map_button.setEnabled(has and self.selected_show_id() is not None)
        self.create_button.setEnabled(has)
        self.ignore_button.setEnabled(has)

    def map_selected(self) -> None:
        show_id = self.selected_show_id()
        item = self.candidates.currentItem()
        if self.current is not None and show_id is not None and item is not None:
            title = item.text(0)
            spawn(self._resolve(self.current, "mapped", f"mapped to “{title}”", show_id=show_id),
                  self._show_error, owner=self)

    def create_show(self) -> None:
        if self.current is not None:
            spawn(self._resolve(self.current, "created", "added to your tracker", create=True),
                  self._show_error, owner=self)

    def ignore_show(self) -> None:
        if self.current is not None:
            spawn(self._resolve(self.current, "ignored", "will be ignored from now on", ignore=True),
                  self._show_error, owner=self)

    async def _resolve(self, conflict: ConflictRow, how: str, words: str, **answer: Any) -> None:
        self._acting = True
        self._update_buttons()
        self.busy.set_busy(True)
        try:
            outcomes = await self.core.resolve_conflict(conflict.id, **answer)
        finally:
            self._acting = False
            self.busy.set_busy(False)
            self._update_buttons()
        counted = sum(o.action.value in ("marked", "rewatch") for o in outcomes)
        name = show_with_year(conflict.plex_title, conflict.plex_year)
        what = "play" if conflict.kind == "movie" else "episode"
        tail = (f"; {counted} waiting {what}{'s' if counted != 1 else ''} marked watched"
                if counted else "")
        self.banner.show_message(f"“{name}” {words}{tail}.", "success")
        self.current = None
        self.resolved.emit(conflict.id, how, outcomes)
        self._loader.now()

    def _show_error(self, exc: BaseException) -> None:
        self.banner.show_message(error_text(exc), "error")

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        self._loader.now()
