"""The Tracker window's Movies tab: movies with their plays; add, edit, import, search, delete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from app.core.facade import Core
from app.ui.controller import UiController
from app.ui.movies_view import EMPTY, MovieDialog, MoviesView
from app.ui.tracker_window import TrackerWindow
from tests.helpers import sample
from tests.ui.conftest import Aio


def rows(v: MoviesView) -> list[list[str]]:
    return [[v.model.index(r, c).data() for c in range(v.model.columnCount())] for r in range(v.model.rowCount())]


def open_movies(ui: UiController, qtbot: Any) -> MoviesView:
    ui.tray.actions["tracker"].trigger()
    w = ui.window("tracker")
    assert isinstance(w, TrackerWindow)
    w.tabs.setCurrentWidget(w.movies)
    qtbot.waitUntil(lambda: w.movies.footer.text() != "" or w.movies.empty.isVisible())
    return w.movies


def save(dialog: MovieDialog, qtbot: Any, **fields: str) -> None:
    for name, text in fields.items():
        (getattr(dialog, name) if name in ("title", "year") else dialog.ids[name]).setText(text)
    buttons = dialog.findChild(QDialogButtonBox)
    qtbot.mouseClick(buttons.button(QDialogButtonBox.StandardButton.Save), Qt.MouseButton.LeftButton)


def test_movies_tab_add_play_edit_import_search_delete(ui: UiController, core: Core, aio: Aio, qtbot: Any,
                                                        tmp_path: Path) -> None:
    v = open_movies(ui, qtbot)
    assert v.empty.isVisible() and v.empty.text() == EMPTY

    dialog = v.add_movie()
    save(dialog, qtbot, title="Heat", year="1995", imdb_id="nm0000158")
    qtbot.waitUntil(lambda: dialog.error.isVisible())
    assert "imdb_id must look like tt0903747" in dialog.error.text() and dialog.isVisible()
    save(dialog, qtbot, imdb_id="tt0113277")
    qtbot.waitUntil(lambda: rows(v) == [["Heat", "1995", "IMDb tt0113277", "", ""]])
    assert v.banner.text == "Added Heat (1995)."

    aio.post(core, sample("scrobble-legacy-imdb-movie"))  # watched: the row says so
    aio.settled(core)
    v.refresh()
    qtbot.waitUntil(lambda: rows(v)[0][3] == "1" and rows(v)[0][4] != "")

    v.table.selectRow(0)
    edit = v.edit_movie()
    assert edit is not None and edit.title.text() == "Heat"
    save(edit, qtbot, tmdb_id="949")
    qtbot.waitUntil(lambda: rows(v)[0][2] == "TMDB 949 · IMDb tt0113277")

    f = tmp_path / "movies.json"
    f.write_text(json.dumps([{"title": "Dune", "year": 1984}, {"title": "Dune", "year": 2021},
                             {"title": "Heat", "year": 1995}]))
    v.import_file(f)
    qtbot.waitUntil(lambda: len(rows(v)) == 3)
    assert v.banner.text == "Imported 2 movies from movies.json (1 already in the tracker)."
    qtbot.keyClicks(v.search, "dune")
    qtbot.waitUntil(lambda: [r[:2] for r in rows(v)] == [["Dune", "1984"], ["Dune", "2021"]])

    v.table.selectRow(1)
    asked: list[str] = []
    v.confirm = lambda text: asked.append(text) or True
    v.delete_movie()
    qtbot.waitUntil(lambda: [r[:2] for r in rows(v)] == [["Dune", "1984"]])
    assert asked == ["Delete Dune (2021)? Plex movies matched to it will ask again."]
    assert v.banner.text == "Deleted Dune (2021)."


def test_a_counted_movie_is_announced_with_its_year(ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    core.settings.notify_each_scrobble = True
    aio.run(core.runtime.run(core.runtime.store.add_movie, title="Heat", year=1995, tmdb_id=949))
    with qtbot.waitSignal(ui.notified, timeout=10_000) as note:
        aio.post(core, sample("scrobble-movie"))
    assert note.args[:2] == ["Marked watched", "Heat (1995)"]
