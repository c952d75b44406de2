"""The tray icon: look and tooltip follow the state; the menu, built on aboutToShow, works."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from app.core.facade import Core
from app.present.state import TrayState
from app.ui.autostart import Autostart
from app.ui.controller import UiController
from app.ui.tray import Tray
from tests.ui.conftest import Aio


def menu_texts(tray: Tray) -> list[str]:
    return [a.text() for a in tray.menu.actions()]


def click_menu_item(qtbot: Any, tray: Tray, key: str) -> None:
    """Open the menu as a pop-up and click an item, as a person would."""
    tray.menu.popup(QPoint(100, 100))
    qtbot.waitUntil(tray.menu.isVisible)
    action = tray.actions[key]  # the menu was rebuilt on aboutToShow
    rect = tray.menu.actionGeometry(action)
    qtbot.mouseClick(tray.menu, Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: not tray.menu.isVisible())


def test_menu_says_the_state_and_offers_every_action(ui: UiController, core: Core, qtbot: Any) -> None:
    tray = ui.tray
    assert tray is not None
    tray.menu.popup(QPoint(50, 50))
    qtbot.waitUntil(tray.menu.isVisible)
    assert menu_texts(tray) == [
        f"All good: listening for Plex on this computer (port {core.status.port})", "",
        "Open Scrobble Tray", "Copy webhook URL", "",
        "Recent scrobbles…", "Tracker…", "Conflicts (0)…", "Diagnostics…", "Sign in with Plex…", "Settings…", "Set up…",
        "", "Pause processing", "Start at login", "", "Quit Scrobble Tray"]
    assert not tray.actions["state"].isEnabled()
    assert tray.icon.toolTip().startswith(
        f"Scrobble Tray\nAll good: listening for Plex on this computer (port {core.status.port})")
    tray.menu.close()


def test_copy_webhook_url_copies_and_confirms(ui: UiController, core: Core, qtbot: Any) -> None:
    QGuiApplication.clipboard().clear()
    with qtbot.waitSignal(ui.notified, timeout=2000) as note:
        click_menu_item(qtbot, ui.tray, "copy")
    assert QGuiApplication.clipboard().text() == core.best_webhook_url()
    assert note.args == ["Webhook URL copied", "Paste it in Plex Web: Settings → Webhooks → Add Webhook."]


def test_pause_from_the_menu_changes_icon_tooltip_and_status_window(
        ui: UiController, core: Core, qtbot: Any) -> None:
    click_menu_item(qtbot, ui.tray, "pause")
    assert core.status.paused
    assert ui.tray.summary.state is TrayState.PAUSED
    assert "Paused: webhooks are kept, not processed" in ui.tray.icon.toolTip()
    assert ui.status_window.pause_button.isChecked()
    ui.tray.menu.aboutToShow.emit()
    assert ui.tray.actions["pause"].isChecked()
    click_menu_item(qtbot, ui.tray, "pause")
    assert not core.status.paused and ui.tray.summary.state is TrayState.OK


def test_start_at_login_writes_and_removes_the_autostart_entry(
        ui: UiController, autostart: Autostart, qtbot: Any) -> None:
    assert not autostart.entry_path.exists()
    click_menu_item(qtbot, ui.tray, "autostart")
    text = autostart.entry_path.read_text()
    assert "[Desktop Entry]" in text and "Name=Scrobble Tray" in text
    assert 'Exec="/opt/scrobble tray/python" -m app' in text
    ui.tray.menu.aboutToShow.emit()
    assert ui.tray.actions["autostart"].isChecked()
    click_menu_item(qtbot, ui.tray, "autostart")
    assert not autostart.entry_path.exists()


def test_start_at_login_is_disabled_where_unsupported(core: Core, aio: Aio, tmp_path: Any) -> None:
    ui = UiController(core, tray_available=True,
                      autostart=Autostart(tmp_path / "x.desktop", command=["x"], supported=False))
    try:
        ui.tray.menu.aboutToShow.emit()
        action = ui.tray.actions["autostart"]
        assert not action.isEnabled() and "only available on Linux" in action.toolTip()
    finally:
        ui.close()


def test_menu_items_open_their_windows(ui: UiController, qtbot: Any) -> None:
    for key, name in (("scrobbles", "scrobbles"), ("settings", "settings")):
        click_menu_item(qtbot, ui.tray, key)
        assert ui.window(name).isVisible()
    click_menu_item(qtbot, ui.tray, "status")
    assert ui.status_window.isVisible()


def test_quit_from_the_menu_asks_the_app_to_quit(ui: UiController, qtbot: Any) -> None:
    with qtbot.waitSignal(ui.quitRequested, timeout=2000):
        click_menu_item(qtbot, ui.tray, "quit")
    assert QApplication.instance() is not None
