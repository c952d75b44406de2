"""The Store window: shows with ids and counts, episodes and plays, add, edit, import, delete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from app.core.facade import Core
from app.ui.controller import UiController
from app.ui.tracker_window import EMPTY, ShowDialog, TrackerWindow
from tests.helpers import episode_payload
from tests.ui.conftest import Aio


def titles(w: TrackerWindow) -> list[str]:
    return [w.model.index(r, 0).data() for r in range(w.model.rowCount())]


def row_of(w: TrackerWindow, title: str) -> list[str]:
    r = titles(w).index(title)
    return [w.model.index(r, c).data() for c in range(w.model.columnCount())]


def open_store(ui: UiController, qtbot: Any) -> TrackerWindow:
    ui.tray.actions["tracker"].trigger()
    w = ui.window("tracker")
    assert isinstance(w, TrackerWindow)
    qtbot.waitUntil(lambda: titles(w) == ["Breaking Bad"])
    return w


def save(dialog: ShowDialog, qtbot: Any, **fields: str) -> None:
    for name, text in fields.items():
        edit = getattr(dialog, name) if name in ("title", "year") else dialog.ids[name]
        edit.setText(text)
    buttons = dialog.findChild(QDialogButtonBox)
    qtbot.mouseClick(buttons.button(QDialogButtonBox.StandardButton.Save), Qt.MouseButton.LeftButton)


def test_shows_episodes_and_plays(ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    aio.post(core, episode_payload(1, 1))
    aio.post(core, episode_payload(1, 2))
    aio.settled(core)
    w = open_store(ui, qtbot)
    qtbot.waitUntil(lambda: row_of(w, "Breaking Bad")[3] == "2 / 2")
    assert row_of(w, "Breaking Bad")[1:3] == ["2008", "TMDB 1396 · TVDB 81189 · IMDb tt0903747"]
    assert w.empty.isHidden() and w.footer.text() == "1 show"
    w.table.selectRow(0)
    qtbot.waitUntil(lambda: w.episodes.topLevelItemCount() == 1)
    season = w.episodes.topLevelItem(0)
    assert season.text(0) == "Season 1 — 2 of 2 watched"
    first = season.child(0)
    assert (first.text(0), first.text(1), first.text(2)) == ("E01", "Episode 1", "1")
    assert first.child(0).text(1) == "played by homeowner" and first.child(0).text(3)


def test_add_refuses_a_duplicate_inline_then_edit_and_delete(
        ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    w = open_store(ui, qtbot)
    changed: list[bool] = []
    w.changed.connect(lambda: changed.append(True))
    dialog = w.add_show()
    save(dialog, qtbot, title="breaking bad", year="2008")
    qtbot.waitUntil(lambda: dialog.error.isVisible())
    assert "already in the tracker as show #1" in dialog.error.text() and dialog.isVisible()
    save(dialog, qtbot, title="Severance", year="2022", imdb_id="not-an-id")
    qtbot.waitUntil(lambda: "imdb_id must look like" in dialog.error.text())
    save(dialog, qtbot, imdb_id="tt11280740")
    qtbot.waitUntil(lambda: titles(w) == ["Breaking Bad", "Severance"])
    qtbot.waitUntil(lambda: ui.status_window.shows_card.value.text() == "2")
    assert not dialog.isVisible() and changed and w.banner.text == "Added Severance (2022)."

    w.select_show(next(s.id for s in w.shows if s.title == "Severance"))
    edit = w.edit_show()
    assert edit is not None and edit.title.text() == "Severance" and edit.ids["imdb_id"].text() == "tt11280740"
    save(edit, qtbot, title="Severance (Apple TV+)", tmdb_id="95396")
    qtbot.waitUntil(lambda: "Severance (Apple TV+)" in titles(w))
    assert row_of(w, "Severance (Apple TV+)")[2] == "TMDB 95396 · IMDb tt11280740"

    asked: list[str] = []
    w.confirm = lambda text: asked.append(text) or True
    w.select_show(next(s.id for s in w.shows if s.title.startswith("Severance")))
    w.delete_show()
    qtbot.waitUntil(lambda: titles(w) == ["Breaking Bad"])
    assert asked == ["Delete Severance (Apple TV+) (2022), its 0 episodes? Plex shows matched to it will ask again."]
    qtbot.waitUntil(lambda: ui.status_window.shows_card.value.text() == "1")  # the status window follows


def test_import_json_and_csv_and_search(ui: UiController, core: Core, aio: Aio, qtbot: Any, tmp_path: Path) -> None:
    w = open_store(ui, qtbot)
    (tmp_path / "shows.json").write_text(json.dumps(
        [{"title": "Andor", "year": 2022, "tmdb_id": 83867}, {"title": "Breaking Bad", "year": 2008}]))
    w.import_file(tmp_path / "shows.json")
    qtbot.waitUntil(lambda: titles(w) == ["Andor", "Breaking Bad"])
    assert w.banner.text == "Imported 1 shows from shows.json (1 already in the tracker)."
    (tmp_path / "shows.csv").write_text("Title;Year;TMDB\nSlow Horses;2022;95480\nShōgun;2024;126308\n",
                                        encoding="utf-8")
    w.import_file(tmp_path / "shows.csv")
    qtbot.waitUntil(lambda: len(titles(w)) == 4)
    assert row_of(w, "Shōgun")[1:3] == ["2024", "TMDB 126308"]
    (tmp_path / "bad.csv").write_text("name,year\nX,sometime\n")
    w.import_file(tmp_path / "bad.csv")
    qtbot.waitUntil(lambda: w.banner.kind == "error")
    assert "year must be a year" in w.banner.text and len(titles(w)) == 4  # nothing half-imported
    w.search.setText("horse")
    qtbot.waitUntil(lambda: titles(w) == ["Slow Horses"])


def test_an_empty_tracker_says_how_to_fill_it(ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    assert core.runtime.store is not None
    aio.run(core.runtime.run(core.runtime.store.delete_show, 1))
    ui.tray.actions["tracker"].trigger()
    w = ui.window("tracker")
    assert isinstance(w, TrackerWindow)
    qtbot.waitUntil(lambda: w.empty.isVisible())
    assert w.empty.text() == EMPTY and w.model.rowCount() == 0 and not w.edit_button.isEnabled()
