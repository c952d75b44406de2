"""The Tracker window's lists read a page at a time: the first when they open, more as the
user scrolls, the selection kept; a search shows the last text typed without waiting."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from app.core.facade import Core
from app.ui.controller import UiController
from app.ui.paged_table import PAGE
from app.ui.tracker_window import TrackerWindow
from tests.ui.conftest import Aio

SHOWS = PAGE * 2 + 50


def fill(core: Core, aio: Aio, tmp_path: Path, movies: bool = False) -> None:
    titles = [{"title": f"Title {i:04d}", "year": 2000 + i % 20} for i in range(SHOWS)]
    (tmp_path / "titles.json").write_text(json.dumps(titles))
    path = tmp_path / "titles.json"
    added = aio.run(core.import_movies(path) if movies else core.import_shows(path))
    assert added.added == SHOWS


def opened(ui: UiController, qtbot: Any) -> TrackerWindow:
    ui.tray.actions["tracker"].trigger()
    w = ui.window("tracker")
    assert isinstance(w, TrackerWindow)
    qtbot.waitUntil(lambda: w.model.total > 0 and not w._loader.busy)
    return w


def test_shows_are_read_a_page_at_a_time_as_the_list_scrolls(
        ui: UiController, core: Core, aio: Aio, qtbot: Any, tmp_path: Path) -> None:
    fill(core, aio, tmp_path)
    w = opened(ui, qtbot)
    assert w.model.rowCount() == PAGE and w.model.total == SHOWS + 1  # (and Breaking Bad)
    assert w.footer.text() == f"{SHOWS + 1} shows"
    w.select_show(next(s.id for s in w.shows if s.title == "Title 0150"))
    w.table.scrollToBottom()  # Qt asks the model for more
    qtbot.waitUntil(lambda: w.model.rowCount() == 2 * PAGE)
    w.table.scrollToBottom()
    qtbot.waitUntil(lambda: w.model.rowCount() == SHOWS + 1)
    titles = [s.title for s in w.shows]
    assert titles == sorted(titles) and len(set(titles)) == SHOWS + 1 and not w.model.canFetchMore()
    assert w.selected() is not None and w.selected().title == "Title 0150"  # type: ignore[union-attr]

    w.refresh()  # (an import, an edit): the first page again, the selection kept
    qtbot.waitUntil(lambda: w.model.rowCount() == PAGE)
    assert w.selected() is not None and w.selected().title == "Title 0150"  # type: ignore[union-attr]
    w.search.setText("Title 04")
    qtbot.waitUntil(lambda: w.footer.text() == "50 shows found")
    assert [s.title for s in w.shows] == [f"Title {i:04d}" for i in range(400, 450)]


def test_a_search_typed_fast_shows_the_last_text_once_the_running_query_ends(
        ui: UiController, core: Core, aio: Aio, qtbot: Any, tmp_path: Path) -> None:
    fill(core, aio, tmp_path)
    w = opened(ui, qtbot)
    asked: list[str | None] = []
    gate = asyncio.Event()
    show_page = core.show_page

    async def slow(search: str | None, offset: int, limit: int) -> Any:
        asked.append(search)
        await gate.wait()
        return await show_page(search, offset, limit)

    core.show_page = slow  # type: ignore[method-assign]
    w.search.setText("T")
    qtbot.waitUntil(lambda: asked == ["T"])  # its query runs at once...
    for text in ("Ti", "Tit", "Title 0", "Title 01"):  # ...and holds the next ones
        w.search.setText(text)
    qtbot.wait(50)
    assert asked == ["T"]
    gate.set()
    qtbot.waitUntil(lambda: w.footer.text() == "100 shows found")
    assert asked == ["T", "Title 01"]  # one query at a time, then only the last text


def test_movies_are_paged_too(ui: UiController, core: Core, aio: Aio, qtbot: Any, tmp_path: Path) -> None:
    fill(core, aio, tmp_path, movies=True)
    w = opened(ui, qtbot)
    w.tabs.setCurrentWidget(w.movies)
    qtbot.waitUntil(lambda: w.movies.model.rowCount() == PAGE)
    assert w.movies.footer.text() == f"{SHOWS} movies"
    w.movies.table.scrollToBottom()
    qtbot.waitUntil(lambda: w.movies.model.rowCount() == 2 * PAGE)
    w.movies.search.setText("Title 044")
    qtbot.waitUntil(lambda: [m.title for m in w.movies.movies] == [f"Title {i:04d}" for i in range(440, 450)])
    assert w.movies.footer.text() == "10 movies found"
