"""Settings: validated as typed, Save only when valid, applied to the running core."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from app.core.config import Paths, setting_problem
from app.core.facade import Core
from app.ui.controller import UiController
from app.ui.settings_window import SettingsWindow
from tests.helpers import episode_payload
from tests.ui.conftest import Aio


def retype(qtbot: Any, edit: QLineEdit, text: str) -> None:
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def open_settings(ui: UiController, qtbot: Any) -> SettingsWindow:
    ui.tray.menu.aboutToShow.emit()
    ui.tray.actions["settings"].trigger()
    w = ui.window("settings")
    assert isinstance(w, SettingsWindow) and w.isVisible()
    return w


def test_bad_port_disables_save_with_an_inline_error(ui: UiController, qtbot: Any) -> None:
    w = open_settings(ui, qtbot)
    assert w.general.port.text() == "0" and not w.save_button.isEnabled()  # nothing changed yet
    error = w.general.fields["port"].error

    retype(qtbot, w.general.port, "70000")
    assert not w.save_button.isEnabled() and error.isVisible()
    assert "between 0 and 65535" in error.text()
    retype(qtbot, w.general.port, "80a")
    assert not w.save_button.isEnabled() and error.text() == "The port must be a whole number."
    retype(qtbot, w.general.port, "")
    assert not w.save_button.isEnabled() and error.text() == "Enter a port number."
    retype(qtbot, w.general.port, "47811")
    assert w.save_button.isEnabled() and not error.isVisible()


def test_other_fields_are_checked_as_typed(ui: UiController, qtbot: Any) -> None:
    w = open_settings(ui, qtbot)
    qtbot.keyClicks(w.general.domain, "not a domain")
    assert not w.save_button.isEnabled() and w.general.fields["domain"].error.isVisible()
    retype(qtbot, w.general.domain, "https://my-name.ngrok-free.app/")
    assert w.save_button.isEnabled()
    assert w.general.form_settings().ngrok_domain == "my-name.ngrok-free.app"

    qtbot.keyClicks(w.general.database_url, "::nonsense::")
    assert not w.save_button.isEnabled() and "Not a database URL" in w.general.fields["database_url"].error.text()
    assert w.general.fields["database_url"].error.text() == setting_problem("database_url", "::nonsense::")
    w.general.database_url.clear()

    qtbot.mouseClick(w.general.tunnel, Qt.MouseButton.LeftButton)  # tunnel on, but no token yet
    assert w.general.tunnel.isChecked() and not w.save_button.isEnabled()
    assert w.general.fields["token"].error.text() == "The tunnel needs an ngrok authtoken."
    qtbot.keyClicks(w.general.token, "has spaces in it which is wrong")
    assert "does not look like an ngrok authtoken" in w.general.fields["token"].error.text()
    retype(qtbot, w.general.token, "2abcDEF_0123456789ghijklmnop")
    assert w.save_button.isEnabled()

    assert w.general.token.echoMode() == QLineEdit.EchoMode.Password
    w.general.reveal.trigger()
    assert w.general.token.echoMode() == QLineEdit.EchoMode.Normal
    w.general.reveal.trigger()
    assert w.general.token.echoMode() == QLineEdit.EchoMode.Password


def test_save_applies_the_new_port_live_and_persists(
        ui: UiController, core: Core, paths: Paths, aio: Aio, qtbot: Any) -> None:
    w = open_settings(ui, qtbot)
    port = free_port()
    retype(qtbot, w.general.port, str(port))
    w.general.stop_threshold.setValue(85)
    qtbot.keyClicks(w.general.accounts, "alice, 12345")
    qtbot.mouseClick(w.general.tunnel, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(w.general.token, "2abcDEF_0123456789ghijklmnop")
    with qtbot.waitSignal(w.saved, timeout=10_000):
        qtbot.mouseClick(w.save_button, Qt.MouseButton.LeftButton)

    assert core.status.port == port and core.status.server == "listening"
    assert f"listens on port {port}" in w.banner.text and "authtoken is kept in" in w.banner.text
    saved = json.loads(paths.settings_file.read_text())
    assert (saved["port"], saved["stop_threshold"], saved["accepted_accounts"], saved["tunnel_enabled"]) == (
        port, 0.85, ["alice", "12345"], True)
    assert core.authtoken() == "2abcDEF_0123456789ghijklmnop"
    assert "2abcDEF_0123456789ghijklmnop" not in paths.settings_file.read_text()
    assert w.general.token.text() == "" and "A token is saved" in w.general.token.placeholderText()
    assert not w.save_button.isEnabled()  # saved: nothing left to save
    # The status window and the URL follow the new port; webhooks arrive there.
    assert ui.status_window.webhook_url.shown_text == f"http://127.0.0.1:{port}/webhook/••••••"
    aio.post(core, episode_payload(1, 4))
    aio.settled(core)


def test_core_rejection_is_shown_inline(ui: UiController, core: Core, qtbot: Any) -> None:
    w = open_settings(ui, qtbot)
    core.settings.dedup_window_hours = -1  # something only the core's validate() catches
    retype(qtbot, w.general.port, str(free_port()))
    qtbot.mouseClick(w.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.banner.kind == "error")
    assert w.banner.text == "Not saved: de-duplication window must be positive"
    core.settings.dedup_window_hours = 6.0


def test_destinations_tab_and_saving_general_keeps_the_relay_targets(
        ui: UiController, core: Core, paths: Paths, aio: Aio, qtbot: Any) -> None:
    url = "http://localhost:3000/api/plex/webhook?secret=" + "ab" * 32
    rid = aio.run(core.add_relay(url, label="Episode tracker"))
    w = open_settings(ui, qtbot)
    assert [w.tabs.tabText(i) for i in range(w.tabs.count())] == ["General", "Destinations", "Plex"]
    page = w.show_destinations()
    assert page.isVisible() and not w.save_button.isVisible()  # destinations apply at once
    assert page.rows()[1][0] == "Episode tracker\nhttp://localhost:3000/api/plex/webhook?secret=•••"
    w.show_general()
    assert w.save_button.isVisible()
    w.general.stop_threshold.setValue(80)
    with qtbot.waitSignal(w.saved, timeout=10_000):
        qtbot.mouseClick(w.save_button, Qt.MouseButton.LeftButton)
    assert [(r.id, r.url) for r in core.settings.relays] == [(rid, url)]
    saved = json.loads(paths.settings_file.read_text())
    assert saved["stop_threshold"] == 0.8 and saved["relays"][0]["url"] == url


def test_saying_where_plex_runs_decides_what_all_good_means(
        ui: UiController, core: Core, paths: Paths, qtbot: Any) -> None:
    w = open_settings(ui, qtbot)
    assert w.general.plex_location.currentData() == "this"  # (the tests' settings: Plex is the test, here)
    w.general.plex_location.setCurrentIndex(w.general.plex_location.findData("elsewhere"))
    assert w.save_button.isEnabled()
    with qtbot.waitSignal(w.saved, timeout=10_000):
        qtbot.mouseClick(w.save_button, Qt.MouseButton.LeftButton)
    assert json.loads(paths.settings_file.read_text())["plex_location"] == "elsewhere"
    qtbot.waitUntil(lambda: ui.status_window.headline.text() == "Only this computer can reach it", timeout=5000)
    assert ui.tray.summary.state == "attention"
    w.general.plex_location.setCurrentIndex(w.general.plex_location.findData("this"))
    with qtbot.waitSignal(w.saved, timeout=10_000):
        qtbot.mouseClick(w.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ui.status_window.headline.text().startswith("All good"), timeout=5000)


def test_agent_path_is_checked_and_saved_and_the_listen_choice_is_kept(
        ui: UiController, core: Core, paths: Paths, qtbot: Any, tmp_path: Path) -> None:
    w = open_settings(ui, qtbot)
    assert w.general.listen.currentData() == "127.0.0.1" and w.general.agent.text() == ""
    w.general.agent.setText(str(tmp_path / "nowhere" / "ngrok"))
    assert "No file there" in w.general.fields["agent"].error.text() and not w.save_button.isEnabled()
    plain = tmp_path / "ngrok.txt"
    plain.write_text("not a program")
    w.general.agent.setText(str(plain))
    assert "cannot be run" in w.general.fields["agent"].error.text()
    w.general.agent.setText(sys.executable)  # a real program
    assert not w.general.fields["agent"].error.isVisible() and w.save_button.isEnabled()
    w.general.listen.setCurrentIndex(w.general.listen.findData("0.0.0.0"))
    assert w.general.form_settings().host == "0.0.0.0"  # (not saved: tests listen on 127.0.0.1 only)
    w.general.listen.setCurrentIndex(w.general.listen.findData("127.0.0.1"))
    with qtbot.waitSignal(w.saved, timeout=10_000):
        qtbot.mouseClick(w.save_button, Qt.MouseButton.LeftButton)
    saved = json.loads(paths.settings_file.read_text())
    assert (saved["ngrok_path"], saved["host"]) == (sys.executable, "127.0.0.1")


def test_adding_shows_from_plex_ids_can_be_turned_off(ui: UiController, paths: Paths, qtbot: Any) -> None:
    w = open_settings(ui, qtbot)
    assert not w.general.auto_add.isChecked()  # (off in the tests' settings; on by default)
    w.general.auto_add.setChecked(True)
    with qtbot.waitSignal(w.saved, timeout=10_000):
        qtbot.mouseClick(w.save_button, Qt.MouseButton.LeftButton)
    assert json.loads(paths.settings_file.read_text())["auto_add_shows"] is True


def test_start_at_login_and_quit_are_outside_the_tray_too(ui: UiController, qtbot: Any) -> None:
    w = open_settings(ui, qtbot)
    assert not w.general.start_at_login.isChecked() and not ui.autostart.entry_path.exists()
    w.general.start_at_login.setChecked(True)
    assert ui.autostart.entry_path.is_file()
    w.general.start_at_login.setChecked(False)
    assert not ui.autostart.entry_path.exists()
    with qtbot.waitSignal(ui.quitRequested, timeout=2000):
        qtbot.mouseClick(ui.status_window.quit_button, Qt.MouseButton.LeftButton)
