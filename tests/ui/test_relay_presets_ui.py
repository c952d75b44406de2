"""The relay dialog's Tracker choice: host, port and token build the URL (shown masked), the
tracker's notes, a Test in its words over real HTTP to its stand-in, saving the preset,
the row saying what the tracker cannot do, and editing one back into its fields."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.core.destinations.presets import PRESETS
from app.core.facade import Core
from app.ui.relay_dialog import RelayDialog
from app.ui.settings_window import SettingsWindow
from tests.fake_selfhosted import Movary
from tests.ui.conftest import Aio
from tests.ui.test_destinations_settings import core, open_destinations, window  # noqa: F401 (fixtures)
from tests.ui.texts import shown_texts

WEBHOOK_ID = "5c1e0f3a-9b7d-4e2c-8a6f-1d0b3c5e7a92"


@pytest.fixture
def movary(aio: Aio) -> Iterator[Movary]:
    t = Movary(WEBHOOK_ID)
    aio.run(t.start())
    yield t
    aio.run(t.stop())


def open_add(page: Any, qtbot: Any) -> RelayDialog:
    qtbot.mouseClick(page.add_buttons["relay"], Qt.MouseButton.LeftButton)
    dialog = page.dialog
    assert isinstance(dialog, RelayDialog) and dialog.isVisible()
    return dialog


def choose(dialog: RelayDialog, name: str) -> None:
    dialog.tracker.setCurrentIndex(dialog.tracker.findData(name))


def test_a_tracker_by_name_builds_its_url_tests_in_its_words_and_is_saved(
        window: SettingsWindow, core: Core, aio: Aio, movary: Movary, qtbot: Any) -> None:  # noqa: F811
    w, page = open_destinations(window, qtbot)
    dialog = open_add(page, qtbot)
    assert dialog.tracker.currentData() == "other" and dialog.url.isVisible() and not dialog.host.isVisible()
    choose(dialog, "movary")
    assert dialog.host.isVisible() and dialog.token.isVisible() and not dialog.url.isVisible()
    assert dialog.port.value() == 80 and dialog.form.labelForField(dialog.token).text() == "Webhook id:"
    assert "movies only" in dialog.notes.text() and "answers 200 for events it ignores" in dialog.notes.text()
    assert not dialog.save_button.isEnabled() and not dialog.test_button.isEnabled()

    qtbot.keyClicks(dialog.host, "127.0.0.1")
    assert dialog.fields_error.text() == "Enter the webhook id from Movary (Settings, Integrations, Plex)."
    dialog.port.setValue(movary.port)
    qtbot.keyClicks(dialog.token, "wrong-id")
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Movary does not know this webhook id" in dialog.test_result.text(), timeout=5000)
    assert "Copy the Plex webhook URL, id and all, from Movary" in dialog.test_result.text()

    dialog.token.clear()
    qtbot.keyClicks(dialog.token, WEBHOOK_ID)
    assert dialog.url.text() == movary.url() == PRESETS["movary"].url("127.0.0.1", movary.port, WEBHOOK_ID)
    assert dialog.shown.text() == f"http://127.0.0.1:{movary.port}/api/webhook/plex/•••"
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: PRESETS["movary"].tested in dialog.test_result.text(), timeout=5000)
    assert [r.status for r in movary.requests] == [404, 200] and movary.plays == {}  # nobody's history changed
    assert all(WEBHOOK_ID not in text for text in shown_texts(dialog))

    with qtbot.waitSignal(page.changed, timeout=10_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.dialog is None)
    [relay] = core.settings.relays
    assert (relay.url, relay.preset) == (movary.url(), "movary")
    qtbot.waitUntil(lambda: "relay-1" in page._statuses and page.rows()[1][0].count("\n") == 2)
    name, sends, _ = page.rows()[1]
    assert name == (f"Movary at 127.0.0.1:{movary.port}\nhttp://127.0.0.1:{movary.port}/api/webhook/plex/•••\n"
                    "Movary movies only; answers 200 for events it ignores; reads no event id, so a repeat is a "
                    "second play")
    assert sends == "What Movary takes"
    assert all(WEBHOOK_ID not in text for text in shown_texts(w))


def test_editing_a_tracker_by_name_fills_its_fields_and_a_change_of_port_is_saved(
        window: SettingsWindow, core: Core, aio: Aio, qtbot: Any) -> None:  # noqa: F811
    token = "mt" * 16
    rid = aio.run(core.add_destination("relay", f"http://nas.lan:7481/api/plex?token={token}", preset="mediatracker"))
    _, page = open_destinations(window, qtbot)
    page.select(rid)
    qtbot.mouseClick(page.edit_button, Qt.MouseButton.LeftButton)
    dialog = page.dialog
    assert isinstance(dialog, RelayDialog)
    assert dialog.tracker.currentData() == "mediatracker"
    assert (dialog.host.text(), dialog.port.value(), dialog.token.text()) == ("nas.lan", 7481, token)
    assert not dialog.save_button.isEnabled()  # nothing changed yet
    dialog.port.setValue(7482)
    assert dialog.url.text() == f"http://nas.lan:7482/api/plex?token={token}" and dialog.save_button.isEnabled()
    with qtbot.waitSignal(page.changed, timeout=10_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.dialog is None)
    assert core.settings.relays[0].url.count("token=") == 1 and ":7482/" in core.settings.relays[0].url
