"""Settings → Destinations with a PostgreSQL tracker: added, checked, turned off and removed
through the UI, against a real PostgreSQL server (tests/pg.py)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from app.core.facade import Core
from app.ui.postgres_dialog import PostgresDialog
from app.ui.settings_window import SettingsWindow
from tests.ui.conftest import Aio
from tests.ui.test_destinations_settings import core, open_destinations, window  # noqa: F401 (fixtures)
from tests.ui.texts import shown_texts

pytest_plugins = ["tests.conftest_pg"]


def test_add_check_turn_off_and_remove_a_postgres_tracker(
        window: SettingsWindow, core: Core, aio: Aio, pg_tracker_db: Any, qtbot: Any) -> None:  # noqa: F811
    password = pg_tracker_db.url.split(":")[2].split("@")[0]
    _, page = open_destinations(window, qtbot)
    qtbot.mouseClick(page.add_buttons["postgres"], Qt.MouseButton.LeftButton)
    dialog = page.dialog
    assert isinstance(dialog, PostgresDialog) and not dialog.save_button.isEnabled()
    qtbot.keyClicks(dialog.url, "mysql://nope")
    assert dialog.url_error.isVisible() and "PostgreSQL URL" in dialog.url_error.text()
    dialog.url.clear()
    qtbot.keyClicks(dialog.url, pg_tracker_db.url)
    assert dialog.save_button.isEnabled()
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.banner.text.startswith("Saved") and len(page.rows()) == 2, timeout=10_000)
    [pg] = core.settings.postgres
    assert page.rows()[1][0].startswith(f"PostgreSQL tracker {pg_tracker_db.name} on 127.0.0.1")
    assert page.rows()[1][1] == "Watched plays"  # what its kind says it is sent
    leaked = [text for text in shown_texts(window) if password in text]
    assert not leaked, leaked

    page.select(pg.id)
    with qtbot.waitSignal(page.tested, timeout=10_000):
        page.test()
    assert page.banner.text.startswith("Checked: ") and "schema found: plex_config" in page.banner.text
    assert not page.edit_button.isEnabled()  # nothing to edit: remove and add again

    item = page.tree.topLevelItem(1)
    item.setCheckState(2, Qt.CheckState.Unchecked)
    qtbot.waitUntil(lambda: not core.settings.postgres[0].enabled and page.rows()[1][2] == "Off",
                    timeout=10_000)

    page.confirm = lambda *_: True
    aio.run(page.remove(pg.id))
    qtbot.waitUntil(lambda: core.settings.postgres == [] and len(page.rows()) == 1, timeout=10_000)
