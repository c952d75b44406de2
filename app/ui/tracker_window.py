"""The built-in tracker: its shows, their episodes and plays, and (a tab) its movies; add, edit,
import, delete."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import AppError
from app.core.facade import Core
from app.core.types import EpisodeRow, Page, ShowRow
from app.present.errors import error_text
from app.present.formatting import ID_LABELS, ids_text, local_time, show_with_year
from app.ui import icons
from app.ui.movies_view import MoviesView
from app.ui.paged_table import Column, PagedModel, PagedTable
from app.ui.tasks import Coalescer, spawn
from app.ui.title_list import TitleListActions
from app.ui.widgets import Banner, Busy, muted, search_box, toolbar

COLUMNS: list[Column[ShowRow]] = [
    Column("Title", lambda s: s.title),
    Column("Year", lambda s: str(s.year or "")),
    Column("Ids", ids_text, lambda s: ids_text(s) or None),
    Column("Watched", lambda s: f"{s.watched_episodes} / {s.known_episodes}",
           lambda s: f"{s.watched_episodes} of the {s.known_episodes} episodes the tracker knows watched; "
                     f"{s.total_plays} plays in all", centred=True),
    Column("Last watched", lambda s: local_time(s.last_watched_at)),
]
EMPTY = ("No shows yet. Add one, import a list (JSON or CSV: title, year, tmdb_id, tvdb_id, "
         "imdb_id), or just watch: a Plex show with ids is added when it is first played.")


class ShowDialog(QDialog):
    """Add or edit one show; the tracker's own checks (duplicates, id formats) answer inline."""

    def __init__(self, save: Callable[[dict[str, Any]], Any], show: ShowRow | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._save = save
        self.setWindowTitle("Edit show" if show else "Add show")
        self.title = QLineEdit(show.title if show else "")
        self.year = QLineEdit(str(show.year or "") if show else "")
        self.year.setPlaceholderText("first year, e.g. 2008")
        self.ids = {name: QLineEdit(str(getattr(show, name) or "") if show else "") for name, _ in ID_LABELS}
        self.ids["imdb_id"].setPlaceholderText("tt0903747")
        form = QFormLayout()
        form.addRow("Title:", self.title)
        form.addRow("Year:", self.year)
        for name, label in ID_LABELS:
            form.addRow(f"{label} id:", self.ids[name])
        self.error = muted()
        self.error.setStyleSheet("color: #b3261e;")
        self.error.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(muted("Ids make matches certain; Plex's own are on the show's page "
                               "(Get Info → View XML, the Guid lines)."))
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(420, self.sizeHint().height())

    def values(self) -> dict[str, Any]:
        values: dict[str, Any] = {"title": self.title.text(), "year": self.year.text().strip() or None}
        values.update({name: edit.text().strip() or None for name, edit in self.ids.items()})
        return values

    def submit(self) -> None:
        spawn(self._submit(), owner=self)

    async def _submit(self) -> None:
        try:
            await self._save(self.values())
        except AppError as exc:
            self.error.setText(error_text(exc))
            self.error.show()
            return
        self.accept()


class TrackerWindow(TitleListActions):
    """The built-in tracker's shows (left) and the selected show's episodes and plays (right)."""

    noun = "show"

    #: Shows were added, changed or deleted (the status window's count follows).
    changed = Signal()
    #: A load finished (tests wait on it).
    refreshed = Signal()

    def __init__(self, core: Core, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.core = core
        self.setWindowTitle("Tracker — Scrobble Tray")
        self.setWindowIcon(icons.icon("app"))

        self.search = search_box()
        # One load at a time, the last one asked for: typing fast never shows an older result.
        self._loader = Coalescer(self._load, 150, self, on_error=self._show_error)
        self.search.textChanged.connect(self.refresh)  # (at once: one query at a time, the last text last)
        self.busy = Busy()
        self.add_button = QPushButton("Add show…")
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Add shows from a JSON or CSV file (title, year, tmdb_id, tvdb_id, "
                                      "imdb_id); shows already here are skipped")
        self.edit_button = QPushButton("Edit…")
        self.delete_button = QPushButton("Delete")
        self.add_button.clicked.connect(self.add_show)
        self.import_button.clicked.connect(self._pick_import_file)
        self.edit_button.clicked.connect(self.edit_show)
        self.delete_button.clicked.connect(self.delete_show)
        top = toolbar(self.search, self.busy, self.add_button, self.import_button, self.edit_button,
                      self.delete_button)

        self.banner = Banner()
        self.model: PagedModel[ShowRow] = PagedModel(COLUMNS, self._page, self._show_error, self)
        self.model.loaded.connect(self._page_loaded)
        self.table = PagedTable(self.model, ((1, 48), (2, 160), (3, 70), (4, 110)))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.table.doubleClicked.connect(lambda _: self.edit_show())
        self.empty = muted(EMPTY)
        self.footer = muted("", wrap=False)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(self.empty)
        left_layout.addWidget(self.footer)

        self.show_heading = QLabel("")
        self.show_heading.setStyleSheet("font-weight: 600;")
        self.episodes = QTreeWidget()
        self.episodes.setHeaderLabels(["Episode", "Title", "Plays", "Last watched"])
        self.episodes.setAlternatingRowColors(True)
        eh = self.episodes.header()
        eh.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        eh.setStretchLastSection(False)
        for col, width in ((0, 96), (2, 44), (3, 116)):
            eh.resizeSection(col, width)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.show_heading)
        right_layout.addWidget(self.episodes, 1)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([560, 500])
        shows_page = QWidget()
        shows_layout = QVBoxLayout(shows_page)
        shows_layout.addLayout(top)
        shows_layout.addWidget(self.banner)
        shows_layout.addWidget(splitter, 1)
        self.movies = MoviesView(core)
        self.movies.changed.connect(self.changed)
        self.tabs = QTabWidget()
        self.tabs.addTab(shows_page, "Shows")
        self.tabs.addTab(self.movies, "Movies")
        self.tabs.currentChanged.connect(self._tab_changed)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        self.resize(1080, 560)
        self._selection_changed()
        # A seam for tests: asks before deleting.
        self.confirm: Callable[[str], bool] = self._ask

    def _tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.movies:
            self.movies.refresh()

    # -- loading ---------------------------------------------------------------------------
    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the shows (keeping the selection)."""
        self._loader.now()

    @property
    def shows(self) -> list[ShowRow]:
        """The shows read so far (more are read as the list is scrolled)."""
        return self.model.rows

    def _page(self, offset: int, limit: int) -> Awaitable[Page[ShowRow]]:
        return self.core.show_page(self._search_text(), offset, limit)

    def selected(self) -> ShowRow | None:
        chosen: ShowRow | None = self._chosen()
        return chosen

    def select_show(self, show_id: int) -> None:
        self.select_id(show_id)

    def _selection_changed(self) -> None:
        show = self.selected()
        self.edit_button.setEnabled(show is not None)
        self.delete_button.setEnabled(show is not None)
        if show is None:
            self.show_heading.setText("Select a show to see its episodes")
            self.episodes.clear()
            return
        self.show_heading.setText(show_with_year(show.title, show.year))
        spawn(self._load_episodes(show), self._show_error, owner=self)

    async def _load_episodes(self, show: ShowRow) -> None:
        episodes: list[EpisodeRow] = await self.core.episodes(show.id)
        plays = await self.core.plays(show.id)
        if self.selected() != show:
            return  # another show was picked meanwhile
        self.episodes.clear()
        seasons: dict[int, QTreeWidgetItem] = {}
        watched: Counter[int] = Counter()
        for ep in episodes:
            season = seasons.get(ep.season)
            if season is None:
                season = seasons[ep.season] = QTreeWidgetItem(
                    self.episodes, ["Specials" if ep.season == 0 else f"Season {ep.season}"])
                season.setFirstColumnSpanned(True)
                season.setExpanded(True)
            plays_text = str(ep.watch_count) if ep.watch_count else ""
            item = QTreeWidgetItem(season, [f"E{ep.number:02d}", ep.title or "", plays_text,
                                            local_time(ep.last_watched_at)])
            if ep.watched:
                item.setIcon(0, icons.check_icon("pass"))
                watched[ep.season] += 1
            for account, when in plays.get(ep.id, []):
                QTreeWidgetItem(item, ["", f"played by {account}", "", local_time(when)]).setToolTip(
                    1, f"{account}, {local_time(when)}")
        for number, season in seasons.items():
            season.setText(0, f"{season.text(0)} — {watched[number]} of {season.childCount()} watched")
        if not episodes:
            QTreeWidgetItem(self.episodes, ["No episodes yet: they appear as they are watched."]
                            ).setFirstColumnSpanned(True)

    # -- changing ------------------------------------------------------------------------------
    def add_show(self) -> ShowDialog:
        dialog = ShowDialog(self._save_new, parent=self)
        dialog.accepted.connect(self._changed)
        dialog.open()
        return dialog

    def edit_show(self) -> ShowDialog | None:
        show = self.selected()
        if show is None:
            return None
        dialog = ShowDialog(lambda values: self._save_edit(show.id, values), show, parent=self)
        dialog.accepted.connect(self._changed)
        dialog.open()
        return dialog

    async def _save_new(self, values: dict[str, Any]) -> None:
        show = await self.core.add_show(**values)
        self.banner.show_message(f"Added {show_with_year(show.title, show.year)}.", "success")

    async def _save_edit(self, show_id: int, values: dict[str, Any]) -> None:
        await self.core.update_show(show_id, **values)

    def delete_show(self) -> None:
        show = self.selected()
        if show is None:
            return
        plays = f" and its {show.total_plays} plays" if show.total_plays else ""
        if self.confirm(f"Delete {show_with_year(show.title, show.year)}, its {show.known_episodes} "
                        f"episodes{plays}? Plex shows matched to it will ask again."):
            spawn(self._delete(show), self._show_error, owner=self)

    async def _delete(self, show: ShowRow) -> None:
        await self.core.delete_show(show.id)
        self.banner.show_message(f"Deleted {show_with_year(show.title, show.year)}.", "success")
        self._changed()

    def _import_titles(self, path: Path) -> Any:
        return self.core.import_shows(path)
