"""Recent scrobbles: a live table, filter, search, undo a mark, re-run an ignored row."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.core.facade import Core
from app.core.store import StoreError
from app.ui.controller import UiController
from app.ui.scrobbles_window import LIVE_ROWS, ScrobblesWindow
from tests.helpers import episode_payload, sample
from tests.ui.conftest import Aio


def cell(w: ScrobblesWindow, row: int, col: int) -> str:
    return w.model.index(row, col).data()


def column(w: ScrobblesWindow, col: int) -> list[str]:
    return [cell(w, r, col) for r in range(w.model.rowCount())]


def click_row(w: ScrobblesWindow, qtbot: Any, row: int) -> None:
    rect = w.table.visualRect(w.model.index(row, 2))
    qtbot.mouseClick(w.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_table_fills_live_as_webhooks_arrive_newest_first(
        ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    w = ui.show_scrobbles()
    qtbot.waitUntil(lambda: w.footer.text() == "0 webhooks shown")
    aio.post(core, episode_payload(1, 1))
    qtbot.waitUntil(lambda: w.model.rowCount() == 1 and cell(w, 0, 5) == "Marked")
    assert column(w, 3) == ["S01E01"]
    assert (cell(w, 0, 1), cell(w, 0, 2), cell(w, 0, 4), cell(w, 0, 6)) == (
        "homeowner", "Breaking Bad", "Episode 1", "Breaking Bad")
    assert cell(w, 0, 7) == "100% · ids"

    aio.post(core, episode_payload(1, 1))  # the same play again: a duplicate
    aio.post(core, sample("scrobble-music-track"))
    qtbot.waitUntil(lambda: w.model.rowCount() == 3 and "Pending…" not in column(w, 5))
    assert column(w, 5) == ["Ignored: music is not tracked",
                            "Duplicate: this play was already counted (event #1)", "Marked"]
    assert w.footer.text() == "3 webhooks shown"


def test_a_movie_row_shows_its_title_and_year(ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    aio.run(core.runtime.run(core.runtime.store.add_movie, title="Heat", year=1995, tmdb_id=949))
    w = ui.show_scrobbles()
    aio.post(core, sample("scrobble-movie"))
    qtbot.waitUntil(lambda: w.model.rowCount() == 1 and cell(w, 0, 5) == "Marked")
    assert (cell(w, 0, 2), cell(w, 0, 3), cell(w, 0, 4), cell(w, 0, 6)) == ("Heat (1995)", "Movie", "", "Heat")
    assert cell(w, 0, 7) == "100% · ids"


def test_filter_and_search_narrow_the_table(ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    for ep in (1, 2):
        aio.post(core, episode_payload(1, ep))
    aio.post(core, sample("scrobble-music-track"))
    aio.settled(core)
    w = ui.show_scrobbles()
    qtbot.waitUntil(lambda: w.model.rowCount() == 3)

    w.filter.setCurrentIndex(w.filter.findText("Ignored"))
    qtbot.waitUntil(lambda: w.model.rowCount() == 1)
    assert cell(w, 0, 5).startswith("Ignored") and w.footer.text() == "1 webhook shown, filtered"

    w.filter.setCurrentIndex(0)
    qtbot.keyClicks(w.search, "Episode 2")
    qtbot.waitUntil(lambda: w.model.rowCount() == 1 and cell(w, 0, 3) == "S01E02")
    w.search.clear()
    qtbot.waitUntil(lambda: w.model.rowCount() == 3)


def test_undo_a_mark_from_the_button(ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    aio.post(core, episode_payload(3, 7))
    w = ui.show_scrobbles()
    qtbot.waitUntil(lambda: w.model.rowCount() == 1 and cell(w, 0, 5) == "Marked")
    assert not w.undo_button.isEnabled()
    click_row(w, qtbot, 0)
    assert w.undo_button.isEnabled() and not w.rerun_button.isEnabled()
    qtbot.mouseClick(w.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cell(w, 0, 5) == "Undone")
    assert "no longer counts as watched" in w.banner.text
    show_id = w.model.row(0).show_id
    episodes = aio.run(core.runtime.run(core.runtime.store.episodes, show_id))
    assert [e.watch_count for e in episodes] == [0]
    assert not w.undo_button.isEnabled()  # an undone row cannot be undone again


def test_a_deleted_shows_marks_cannot_be_undone_and_say_why(ui: UiController, core: Core, aio: Aio,
                                                             qtbot: Any) -> None:
    aio.post(core, episode_payload(3, 7))
    w = ui.show_scrobbles()
    qtbot.waitUntil(lambda: w.model.rowCount() == 1 and cell(w, 0, 5) == "Marked")
    aio.run(core.runtime.run(core.runtime.store.delete_show, w.model.row(0).show_id))
    w.refresh()
    qtbot.waitUntil(lambda: w.model.row(0).show_title is None)
    click_row(w, qtbot, 0)
    assert not w.undo_button.isEnabled() and "no longer in the tracker" in w.undo_button.toolTip()
    with pytest.raises(StoreError, match="no longer in the tracker: its marks went with it"):
        aio.run(core.undo(w.model.row(0).id))


def test_rerun_an_ignored_row_after_accepting_its_account(
        ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    aio.post(core, sample("scrobble-shared-user"))
    w = ui.show_scrobbles()
    qtbot.waitUntil(lambda: w.model.rowCount() == 1 and cell(w, 0, 5).startswith("Ignored"))
    assert "guest-friend, an account that is not accepted" in cell(w, 0, 5)

    # Accept the account in Settings, as a person would.
    s = ui.show_settings()
    qtbot.keyClicks(s.general.accounts, "guest-friend")
    qtbot.waitUntil(s.save_button.isEnabled)
    qtbot.mouseClick(s.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: core.settings.accepted_accounts == ["guest-friend"])
    s.close()

    # Right-click the row: the context menu offers Re-run.
    w.activateWindow()
    pos = w.table.visualRect(w.model.index(0, 2)).center()
    w.table.customContextMenuRequested.emit(pos)
    menu = w.context_menu
    assert menu is not None
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert actions["Re-run"].isEnabled() and not actions["Undo mark"].isEnabled()
    actions["Re-run"].trigger()
    menu.close()
    qtbot.waitUntil(lambda: cell(w, 0, 5) == "Marked")
    assert w.banner.text.startswith("Re-ran Breaking Bad S01E01: Marked")
    assert cell(w, 0, 1) == "guest-friend"


def test_selection_survives_live_updates(ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    aio.post(core, episode_payload(4, 1))
    w = ui.show_scrobbles()
    qtbot.waitUntil(lambda: w.model.rowCount() == 1 and cell(w, 0, 5) == "Marked")
    click_row(w, qtbot, 0)
    first_id = w.selected_row().id
    aio.post(core, episode_payload(4, 2))
    qtbot.waitUntil(lambda: w.model.rowCount() == 2 and cell(w, 0, 5) == "Marked")
    assert w.selected_row().id == first_id  # still the same webhook, now on row 2
    assert w.table.selectionModel().selectedRows()[0].row() == 1


def test_live_updates_of_a_long_table_keep_the_older_rows(
        ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    """Live updates re-read only the newest rows; the rest of the table must stay right."""
    w = ui.show_scrobbles()
    qtbot.waitUntil(lambda: not w.loading)
    n = LIVE_ROWS + 15
    for ep in range(1, n + 1):
        aio.post(core, episode_payload(6, ep))
    qtbot.waitUntil(lambda: w.model.rowCount() == n and "Pending…" not in column(w, 5), timeout=15_000)
    assert column(w, 3) == [f"S06E{ep:02d}" for ep in range(n, 0, -1)]
    assert set(column(w, 5)) == {"Marked"}
    assert w.footer.text() == f"{n} webhooks shown"


def test_typing_searches_at_once_one_query_at_a_time_ending_with_the_last_text(
        ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    for ep in (1, 2):
        aio.post(core, episode_payload(1, ep))
    aio.settled(core)
    w = ui.show_scrobbles()
    qtbot.waitUntil(lambda: w.model.rowCount() == 2 and not w.loading)
    asked: list[str | None] = []
    scrobbles = core.scrobbles

    async def recording(limit: int, action: str | None = None, search: str | None = None) -> Any:
        asked.append(search)
        return await scrobbles(limit, action, search)

    core.scrobbles = recording  # type: ignore[method-assign]
    w.search.setText("E")
    assert w.loading  # the query is under way at once: no debounce timer
    qtbot.keyClicks(w.search, "pisode 2")
    qtbot.waitUntil(lambda: w.model.rowCount() == 1 and not w.loading)
    assert asked[-1] == "Episode 2" and len(asked) < len("Episode 2")  # the texts typed meanwhile were skipped
    assert cell(w, 0, 3) == "S01E02"

    w.search.setText("Ep")
    qtbot.waitUntil(lambda: not w.loading and w.model.rowCount() == 2)
    assert w.footer.text() == ("2 webhooks shown, filtered: only the latest 20,000 searched "
                               "(type 3 characters or more to search them all)")
    w.search.setText("Epi")
    qtbot.waitUntil(lambda: not w.loading and w.footer.text() == "2 webhooks shown, filtered")
