"""Conflicts: a Plex show nobody knows appears, the user answers, the waiting episode counts."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from app.core.facade import Core
from app.present.state import TrayState
from app.ui.conflicts_dialog import ConflictsDialog
from app.ui.controller import UiController
from tests.helpers import episode_payload, sample
from tests.ui.conftest import Aio


def open_conflicts_from_tray(ui: UiController, qtbot: Any) -> ConflictsDialog:
    assert ui.tray is not None
    ui.tray.menu.aboutToShow.emit()  # the menu is built when it opens
    ui.tray.actions["conflicts"].trigger()
    dialog = ui.window("conflicts")
    assert isinstance(dialog, ConflictsDialog)
    qtbot.waitUntil(lambda: dialog.current is not None and dialog.waiting.count() > 0)
    return dialog


def unknown_show_arrives(ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    with qtbot.waitSignal(ui.notified, timeout=10_000) as note:
        aio.post(core, sample("scrobble-unknown-show"))
    assert note.args[0] == "New conflict"
    assert "“NonExistent Show XYZ” needs you to pick" in note.args[1]
    assert core.status.conflicts_open == 1
    assert ui.tray is not None and ui.tray.summary.state is TrayState.ATTENTION
    assert "1 conflict waiting" in ui.tray.icon.toolTip()


def test_create_a_show_from_the_plex_data(ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    unknown_show_arrives(ui, core, aio, qtbot)
    ui.tray.menu.aboutToShow.emit()
    assert ui.tray.actions["conflicts"].text() == "Conflicts (1)…"
    d = open_conflicts_from_tray(ui, qtbot)

    assert d.list.count() == 1 and d.list.item(0).text() == "NonExistent Show XYZ (2024)\n1 episode waiting"
    assert d.title.text() == "NonExistent Show XYZ (2024)"
    assert d.guid_labels["grandparent_guid"].text() == "plex://show/nonexistent123456"
    assert d.waiting.item(0).text().startswith("S01E01 Episode 1 · homeowner")
    assert d.candidates.topLevelItemCount() == 0 and "No tracker show comes close" in d.candidates_label.text()
    assert not d.map_button.isEnabled() and d.create_button.isEnabled()
    assert d.create_button.text() == "Create “NonExistent Show XYZ (2024)”"

    with qtbot.waitSignal(d.resolved, timeout=10_000) as done:
        qtbot.mouseClick(d.create_button, Qt.MouseButton.LeftButton)
    assert done.args[1] == "created" and [o.action.value for o in done.args[2]] == ["marked"]
    qtbot.waitUntil(lambda: d.list.count() == 0)
    assert d.stack.currentWidget() is d.empty
    assert d.banner.text == ("“NonExistent Show XYZ (2024)” added to your tracker; "
                             "1 waiting episode marked watched.")
    assert core.status.conflicts_open == 0
    assert ui.tray.summary.state is TrayState.OK
    ui.tray.menu.aboutToShow.emit()
    assert ui.tray.actions["conflicts"].text() == "Conflicts (0)…"
    assert ui.status_window.conflicts_button.text() == "Conflicts"
    shows = aio.run(core.runtime.run(core.runtime.store.list_shows))
    assert [s.title for s in shows] == ["Breaking Bad", "NonExistent Show XYZ"]
    [row] = aio.run(core.runtime.run(core.runtime.store.scrobbles, 5))
    assert (row.action, row.show_title) == ("marked", "NonExistent Show XYZ")


def test_map_to_a_show_found_by_searching(ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    other = aio.run(core.runtime.run(core.runtime.store.add_show, title="The Unknown Series", year=2024))
    unknown_show_arrives(ui, core, aio, qtbot)
    d = open_conflicts_from_tray(ui, qtbot)

    qtbot.keyClicks(d.search, "unknown series")
    qtbot.waitUntil(lambda: d.candidates.topLevelItemCount() > 0)
    assert d.candidates_label.text() == "Tracker shows matching “unknown series”:"
    top = d.candidates.topLevelItem(0)
    assert (top.text(0), top.text(1)) == ("The Unknown Series", "2024")
    rect = d.candidates.visualItemRect(top)
    qtbot.mouseClick(d.candidates.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert d.selected_show_id() == other.id and d.map_button.isEnabled()

    with qtbot.waitSignal(d.resolved, timeout=10_000):
        qtbot.mouseClick(d.map_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: d.list.count() == 0)
    assert "mapped to “The Unknown Series”; 1 waiting episode marked watched" in d.banner.text
    assert core.status.conflicts_open == 0
    [row] = aio.run(core.runtime.run(core.runtime.store.scrobbles, 5))
    assert (row.action, row.show_id) == ("marked", other.id)

    # Remembered: the next play of that Plex show is matched without asking.
    aio.post(core, sample("scrobble-unknown-show") | {"Metadata": sample("scrobble-unknown-show")["Metadata"]
                                                      | {"index": 2, "ratingKey": "99902"}})
    aio.settled(core)
    newest = aio.run(core.runtime.run(core.runtime.store.scrobbles, 1))[0]
    assert (newest.action, newest.match_method) == ("marked", "mapping")


def test_ignore_a_plex_show(ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    unknown_show_arrives(ui, core, aio, qtbot)
    d = open_conflicts_from_tray(ui, qtbot)
    with qtbot.waitSignal(d.resolved, timeout=10_000):
        qtbot.mouseClick(d.ignore_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: d.list.count() == 0)
    assert core.status.conflicts_open == 0
    [row] = aio.run(core.runtime.run(core.runtime.store.scrobbles, 5))
    assert row.action == "ignored" and "ignored (your choice)" in row.reason


def test_conflict_opened_while_the_dialog_is_open_appears_in_it(
        ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    d = ui.show_conflicts()
    qtbot.waitUntil(lambda: d.stack.currentWidget() is d.empty and not d.loading)
    aio.post(core, sample("scrobble-unknown-show"))
    qtbot.waitUntil(lambda: d.list.count() == 1 and d.waiting.count() == 1)
    assert d.title.text() == "NonExistent Show XYZ (2024)"
    assert ui.status_window.conflicts_button.text() == "Conflicts (1)"


def test_alike_candidates_show_what_tells_them_apart(ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    assert core.runtime.store is not None
    for year, tmdb in ((2005, 2316), (2001, 2996)):
        aio.run(core.runtime.run(core.runtime.store.add_show, title="The Office", year=year, tmdb_id=tmdb))
    payload = episode_payload(1, 1, "The Office", guid="plex://episode/abc", grandparentGuid="plex://show/abc")
    payload["Metadata"].pop("year", None)
    payload["Metadata"].pop("originallyAvailableAt", None)
    aio.post(core, payload)
    d = open_conflicts_from_tray(ui, qtbot)
    qtbot.waitUntil(lambda: d.candidates.topLevelItemCount() == 2 and d.candidates.topLevelItem(0).text(3) != "")
    rows = [[d.candidates.topLevelItem(i).text(c) for c in range(4)] for i in range(2)]
    assert rows == [["The Office", "2005", "#2 · TMDB 2316", "0 / 0"],
                    ["The Office", "2001", "#3 · TMDB 2996", "0 / 0"]]


def test_a_movie_conflict_offers_movies_and_maps_to_the_one_picked(
        ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    store = core.runtime.store
    aio.run(core.runtime.run(store.add_movie, title="Dune", year=2021))  # (first: ties go by id)
    old = aio.run(core.runtime.run(store.add_movie, title="Dune", year=1984))
    dune = sample("scrobble-local-movie")
    dune["Metadata"].update(title="Dune", ratingKey="803")
    del dune["Metadata"]["year"]  # no year: the two are not told apart
    with qtbot.waitSignal(ui.notified, timeout=10_000):
        aio.post(core, dune)
    d = open_conflicts_from_tray(ui, qtbot)
    assert d.title.text() == "Dune"
    assert d.candidates_label.text() == "Closest tracker movies:"
    assert sorted(d.candidates.topLevelItem(i).text(1) for i in range(2)) == ["1984", "2021"]
    assert d.search.placeholderText() == "Search all your tracker movies…"

    qtbot.keyClicks(d.search, "dune 1984")
    qtbot.waitUntil(lambda: d.candidates_label.text() == "Tracker movies matching “dune 1984”:")
    top = d.candidates.topLevelItem(0)
    assert (top.text(0), top.text(1)) == ("Dune", "1984")  # the year in the search ranks it first
    qtbot.mouseClick(d.candidates.viewport(), Qt.MouseButton.LeftButton,
                     pos=d.candidates.visualItemRect(top).center())
    with qtbot.waitSignal(d.resolved, timeout=10_000):
        qtbot.mouseClick(d.map_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: d.list.count() == 0)
    assert d.banner.text == "“Dune” mapped to “Dune”; 1 waiting play marked watched."
    counts = {m.year: m.watch_count for m in aio.run(core.runtime.run(store.list_movies))}
    assert counts == {1984: 1, 2021: 0} and old.id == aio.run(core.runtime.run(store.scrobbles, 1))[0].movie_id
