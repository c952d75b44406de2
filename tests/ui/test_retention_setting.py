"""The retention of raw webhooks in Settings: shown, changed, saved and applied."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from app.core.config import Paths
from app.core.facade import Core
from app.ui.controller import UiController
from app.ui.settings_window import SettingsWindow


def test_keep_raw_webhooks_for_ever_is_saved_and_applied(ui: UiController, core: Core, paths: Paths,
                                                         qtbot: Any, tmp_path: Path) -> None:
    ui.tray.menu.aboutToShow.emit()
    ui.tray.actions["settings"].trigger()
    w = ui.window("settings")
    assert isinstance(w, SettingsWindow)
    assert w.general.retention.text() == "28 days"
    w.general.retention.setValue(0)
    assert w.general.retention.text() == "for ever" and w.save_button.isEnabled()
    w.general.grab().save(str(tmp_path / "general.png"))
    with qtbot.waitSignal(w.saved, timeout=10_000):
        qtbot.mouseClick(w.save_button, Qt.MouseButton.LeftButton)
    assert json.loads(paths.settings_file.read_text())["payload_retention_days"] == 0
    assert core.settings.payload_retention_days == 0
    assert core.runtime.store is not None and core.runtime.store.settings.payload_retention_days == 0
