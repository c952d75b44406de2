"""Diagnostics: every check as a row, Run again, Copy report without secrets."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from app.core.facade import Core
from app.ui.controller import UiController
from app.ui.diagnostics_window import DiagnosticsWindow
from tests.helpers import episode_payload
from tests.ui.conftest import Aio


def test_checks_run_when_opened_and_again_on_request(
        ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    ui.tray.menu.aboutToShow.emit()
    ui.tray.actions["diagnostics"].trigger()
    w = ui.window("diagnostics")
    assert isinstance(w, DiagnosticsWindow) and w.isVisible()
    qtbot.waitUntil(lambda: w.table.rowCount() > 0 and not w.running, timeout=15_000)
    first = w.rows()
    assert first["Database"] == ("Pass", "1 show and 0 movies in the tracker", "")
    assert first["Server listening"][0] == "Pass"
    assert first["Local self-test"][0] == "Pass"
    assert first["Last webhook"][:2] == ("Warning", "none received yet")
    assert "Settings > Webhooks > Add Webhook" in first["Last webhook"][2]
    assert not w.busy.isVisible() and w.run_button.isEnabled()
    assert first["Plex account"][0] == "Warning" and "not signed in" in first["Plex account"][1]
    assert w.summary.text().startswith("3 warnings")  # no webhook yet; no tunnel; not signed in

    aio.post(core, episode_payload(1, 3))
    aio.settled(core)
    with qtbot.waitSignal(w.finished, timeout=15_000):
        qtbot.mouseClick(w.run_button, Qt.MouseButton.LeftButton)
        assert not w.run_button.isEnabled() and w.summary.text() == "Checking…"  # while it runs
    assert w.rows()["Last webhook"][:2] == ("Pass", "just now from Living Room (127.0.0.1)")
    assert w.run_button.isEnabled()


def test_copy_report_is_markdown_without_secrets(ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    core.settings.tunnel_enabled = False  # saved, but no tunnel opened
    assert aio.run(core.set_authtoken("2abcdefghijklmnopqrstuvwxyz_TESTTOKEN"))
    w = ui.show_diagnostics()
    qtbot.waitUntil(lambda: w.copy_button.isEnabled(), timeout=15_000)
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(w.copy_button, Qt.MouseButton.LeftButton)
    text = QGuiApplication.clipboard().text()
    assert text.startswith("# Scrobble Tray diagnostics")
    assert "| Database | ✅ pass | 1 show and 0 movies in the tracker |" in text
    assert "/webhook/[redacted]" in text
    assert len(core.secrets()) == 2
    for secret in core.secrets():
        assert secret not in text
    assert "secrets are redacted" in w.banner.text
