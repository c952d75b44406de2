"""The whole app through ``app.ui.app.run``: start, show, quit cleanly, stop the core."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.core.config import Paths, Settings
from app.ui import app as ui_app
from app.ui.controller import UiController
from app.ui.status_window import StatusWindow
from app.ui.tasks import running_tasks


def when(condition: Callable[[], Any], then: Callable[[Any], None], timeout_ms: int = 15_000) -> list[str]:
    """Poll ``condition`` on a Qt timer (the app's loop runs the polls); call ``then`` once."""
    errors: list[str] = []
    timer = QTimer()
    timer.setInterval(20)
    waited = [0]

    def tick() -> None:
        waited[0] += 20
        value = condition()
        if value:
            timer.stop()
            then(value)
        elif waited[0] > timeout_ms:
            timer.stop()
            errors.append("condition not met in time")
            QApplication.instance().quit()
    timer.timeout.connect(tick)
    timer.start()
    when.timers.append(timer)  # type: ignore[attr-defined]
    return errors


when.timers = []  # type: ignore[attr-defined]


def listening_status_window(visible: bool = True) -> StatusWindow | None:
    """The app's status window once its core listens (shown, unless the app is in tray mode)."""
    for w in QApplication.topLevelWidgets():
        if isinstance(w, StatusWindow) and w.isVisible() == visible and w.core.status.server == "listening":
            return w
    return None


def test_without_a_tray_closing_the_main_window_quits_and_stops_the_core(
        paths: Paths, settings: Settings, qapp: QApplication) -> None:
    seen: dict[str, Any] = {}

    def close(window: StatusWindow) -> None:
        seen["core"] = window.core
        seen["url"] = window.webhook_url.shown_text
        window.close()

    errors = when(listening_status_window, close)
    assert ui_app.run(paths, settings, ["scrobbletray"], tray_available=False) == 0
    assert not errors
    core = seen["core"]
    assert core.secret not in seen["url"] and seen["url"].endswith("/webhook/••••••")
    assert core.status.server == "stopped" and core.runtime.server is None
    assert not running_tasks()
    assert not any(w.isVisible() for w in QApplication.topLevelWidgets())


def test_application_quit_is_turned_into_a_clean_shutdown(
        paths: Paths, settings: Settings, qapp: QApplication, monkeypatch: Any) -> None:
    """``QApplication.quit()`` (e.g. the session ending) stops the core before the loop ends,
    and the second ``aboutToQuit`` (when asyncio.Runner closes the loop) is harmless. In the
    tray, the status window is not built until it is shown."""
    seen: dict[str, Any] = {}
    made: list[UiController] = []

    class Recorded(UiController):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(ui_app, "UiController", Recorded)
    server_at_about_to_quit: list[str] = []

    def listening() -> UiController | None:
        return made[0] if made and made[0].core.status.server == "listening" else None

    def quit_app(ui: UiController) -> None:
        seen["core"] = ui.core
        seen["status windows"] = [w for w in QApplication.topLevelWidgets() if isinstance(w, StatusWindow)]
        seen["built"] = ui._status_window
        QApplication.instance().quit()

    def about_to_quit() -> None:
        server_at_about_to_quit.append(seen["core"].status.server)

    qapp.aboutToQuit.connect(about_to_quit)
    try:
        errors = when(listening, quit_app)
        assert ui_app.run(paths, settings, ["scrobbletray"], tray_available=True) == 0
    finally:
        qapp.aboutToQuit.disconnect(about_to_quit)
    assert not errors
    assert seen["status windows"] == [] and seen["built"] is None  # (the tray only: no window built)
    assert seen["core"].status.server == "stopped"
    # Qt's loop ended only after the core had stopped (the quit was intercepted), and the
    # Runner's later loop runs emitted aboutToQuit again without harm.
    assert server_at_about_to_quit[0] == "stopped"
    assert len(server_at_about_to_quit) >= 2


def test_the_app_runs_again_after_quitting(
        paths: Paths, settings: Settings, qapp: QApplication) -> None:
    """A second run in the same process (the Lifecycle disconnected itself) starts and quits."""
    for _ in range(2):
        errors = when(listening_status_window, lambda w: w.close())
        assert ui_app.run(paths, settings, ["scrobbletray"], tray_available=False) == 0
        assert not errors


def test_a_data_folder_that_cannot_be_written_is_a_dialog_naming_it(
        qapp: QApplication, settings: Settings, tmp_path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # (root may write anywhere: a file in the way fails for anyone)
    paths = Paths(blocker / "data")
    shown: list[str] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if box is None:
            QTimer.singleShot(50, answer)
            return
        shown.append(box.text())
        box.done(0)

    QTimer.singleShot(50, answer)
    assert ui_app.run(paths, settings, ["scrobbletray"], tray_available=False) == 2
    assert shown and shown[0].startswith(f"Cannot write to the data folder {paths.data_dir}")
    assert "--data-dir DIR" in shown[0] and "--data-dir DIR" in capsys.readouterr().err
