"""The Tracker window's Movies tab: the built-in tracker's movies; search, add, edit, import, delete."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import AppError
from app.core.facade import Core
from app.core.types import MovieRow, Page
from app.present.errors import error_text
from app.present.formatting import local_time, show_with_year
from app.ui.paged_table import Column, PagedModel, PagedTable
from app.ui.tasks import Coalescer, spawn
from app.ui.title_list import TitleListActions
from app.ui.widgets import Banner, Busy, muted, search_box, toolbar

MOVIE_IDS = (("tmdb_id", "TMDB"), ("imdb_id", "IMDb"))
EMPTY = ("No movies yet. Add one, import a list (JSON or CSV: title, year, tmdb_id, imdb_id), "
         "or just watch: a movie Plex identifies by its ids is added when it is first played.")


def movie_ids_text(movie: MovieRow) -> str:
    """``TMDB 949 · IMDb tt0113277``: the ids a movie is matched by."""
    return " · ".join(f"{label} {v}" for name, label in MOVIE_IDS if (v := getattr(movie, name)))


def _plays_tip(movie: MovieRow) -> str | None:
    if not movie.watch_count:
        return None
    return f"watched {movie.watch_count} times, first {local_time(movie.first_watched_at)}"


COLUMNS: list[Column[MovieRow]] = [
    Column("Title", lambda m: m.title),
    Column("Year", lambda m: str(m.year or "")),
    Column("Ids", movie_ids_text),
    Column("Plays", lambda m: str(m.watch_count or ""), _plays_tip, centred=True),
    Column("Last watched", lambda m: local_time(m.last_watched_at)),
]


class MovieDialog(QDialog):
    """Add or edit one movie; the tracker's own checks (duplicates, id formats) answer inline."""

    def __init__(self, save: Callable[[dict[str, Any]], Any], movie: MovieRow | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._save = save
        self.setWindowTitle("Edit movie" if movie else "Add movie")
        self.title = QLineEdit(movie.title if movie else "")
        self.year = QLineEdit(str(movie.year or "") if movie else "")
        self.year.setPlaceholderText("its year, e.g. 1995: remakes share titles")
        self.ids = {name: QLineEdit(str(getattr(movie, name) or "") if movie else "") for name, _ in MOVIE_IDS}
        self.ids["imdb_id"].setPlaceholderText("tt0113277")
        form = QFormLayout()
        form.addRow("Title:", self.title)
        form.addRow("Year:", self.year)
        for name, label in MOVIE_IDS:
            form.addRow(f"{label} id:", self.ids[name])
        self.error = muted()
        self.error.setStyleSheet("color: #b3261e;")
        self.error.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
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


class MoviesView(TitleListActions):
    """The built-in tracker's movies, with how often and when each was last watched."""

    noun = "movie"

    #: Movies were added, changed or deleted.
    changed = Signal()
    #: A load finished (tests wait on it).
    refreshed = Signal()

    def __init__(self, core: Core, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self.search = search_box()
        self._loader = Coalescer(self._load, 150, self, on_error=self._show_error)
        self.search.textChanged.connect(self.refresh)  # (at once: one query at a time, the last text last)
        self.busy = Busy()
        self.add_button = QPushButton("Add movie…")
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Add movies from a JSON or CSV file (title, year, tmdb_id, imdb_id); "
                                      "movies already here are skipped")
        self.edit_button = QPushButton("Edit…")
        self.delete_button = QPushButton("Delete")
        self.add_button.clicked.connect(self.add_movie)
        self.import_button.clicked.connect(self._pick_import_file)
        self.edit_button.clicked.connect(self.edit_movie)
        self.delete_button.clicked.connect(self.delete_movie)
        top = toolbar(self.search, self.busy, self.add_button, self.import_button, self.edit_button,
                      self.delete_button)
        self.banner = Banner()
        self.model: PagedModel[MovieRow] = PagedModel(COLUMNS, self._page, self._show_error, self)
        self.model.loaded.connect(self._page_loaded)
        self.table = PagedTable(self.model, ((1, 48), (2, 200), (3, 50), (4, 120)))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.table.doubleClicked.connect(lambda _: self.edit_movie())
        self.empty = muted(EMPTY)
        self.footer = muted("", wrap=False)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty)
        layout.addWidget(self.footer)
        self._selection_changed()
        # A seam for tests: asks before deleting.
        self.confirm: Callable[[str], bool] = self._ask

    def refresh(self) -> None:
        """Re-read the movies (keeping the selection)."""
        self._loader.now()

    @property
    def movies(self) -> list[MovieRow]:
        """The movies read so far (more are read as the list is scrolled)."""
        return self.model.rows

    def _page(self, offset: int, limit: int) -> Awaitable[Page[MovieRow]]:
        return self.core.movie_page(self._search_text(), offset, limit)

    def selected(self) -> MovieRow | None:
        chosen: MovieRow | None = self._chosen()
        return chosen

    def _selection_changed(self) -> None:
        chosen = self.selected() is not None
        self.edit_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)

    # -- changing ------------------------------------------------------------------------------
    def add_movie(self) -> MovieDialog:
        dialog = MovieDialog(self._save_new, parent=self)
        dialog.accepted.connect(self._changed)
        dialog.open()
        return dialog

    def edit_movie(self) -> MovieDialog | None:
        movie = self.selected()
        if movie is None:
            return None
        dialog = MovieDialog(lambda values: self.core.update_movie(movie.id, **values), movie, parent=self)
        dialog.accepted.connect(self._changed)
        dialog.open()
        return dialog

    async def _save_new(self, values: dict[str, Any]) -> None:
        movie = await self.core.add_movie(**values)
        self.banner.show_message(f"Added {show_with_year(movie.title, movie.year)}.", "success")

    def delete_movie(self) -> None:
        movie = self.selected()
        if movie is None:
            return
        plays = f" and its {movie.watch_count} plays" if movie.watch_count else ""
        if self.confirm(f"Delete {show_with_year(movie.title, movie.year)}{plays}? "
                        "Plex movies matched to it will ask again."):
            spawn(self._delete(movie), self._show_error, owner=self)

    async def _delete(self, movie: MovieRow) -> None:
        await self.core.delete_movie(movie.id)
        self.banner.show_message(f"Deleted {show_with_year(movie.title, movie.year)}.", "success")
        self._changed()

    def _import_titles(self, path: Path) -> Any:
        return self.core.import_movies(path)
