"""Starting and stopping the tray app: one QApplication, one qasync event loop, one Core."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from typing import Any

import qasync
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QMessageBox

from app.core.config import APP_NAME, APP_SLUG, Paths, Settings
from app.core.facade import Core
from app.core.logs import add_secret, setup_logging
from app.present.errors import error_text
from app.ui import icons
from app.ui.controller import UiController
from app.ui.single_instance import SingleInstance, server_name

log = logging.getLogger(__name__)


class Lifecycle(QObject):
    """Turns every way of quitting into one asyncio event, set at most once.

    Quitting from the tray, closing the main window, ``QApplication.quit()`` (e.g. the
    session ending) and SIGTERM all land here; the main coroutine then stops the core
    while the loop still runs. ``aboutToQuit`` fires again on every later ``exec()``
    (asyncio.Runner runs the loop once more to close it), hence the guard.
    """

    def __init__(self, app: QApplication) -> None:
        super().__init__()
        self.app = app
        self.quitting = asyncio.Event()
        self._about_to_quit_seen = False
        app.installEventFilter(self)
        app.aboutToQuit.connect(self._about_to_quit)

    def request_quit(self) -> None:
        if not self.quitting.is_set():
            log.info("quitting")
            self.quitting.set()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.app and event.type() == QEvent.Type.Quit and not self.quitting.is_set():
            self.request_quit()
            return True  # not yet: the core stops first, then the loop ends
        return False

    def _about_to_quit(self) -> None:
        if self._about_to_quit_seen:
            return
        self._about_to_quit_seen = True
        self.request_quit()

    def close(self) -> None:
        self.app.removeEventFilter(self)
        with contextlib.suppress(RuntimeError, TypeError):
            self.app.aboutToQuit.disconnect(self._about_to_quit)


def prefer_ui_thread() -> None:
    """Hand the GIL around every 1 ms instead of 5 ms.

    The core's database threads run long pure-Python stretches (a batch of webhooks in
    one transaction); with the default interval the UI thread waited for the GIL long
    enough to drop frames under a burst (measured with tests/bench/ui_stall.py).
    """
    sys.setswitchinterval(0.001)


def freeze_startup_objects() -> None:
    """Keep the objects made at start-up out of later full garbage collections.

    Qt, SQLAlchemy and aiohttp leave a large heap that never goes away; scanning it in
    every full collection made the UI skip frames (tens of ms) under a burst of webhooks.
    """
    gc.collect()
    gc.freeze()


async def main(app: QApplication, paths: Paths, settings: Settings,
               instance: SingleInstance | None = None, *,
               tray_available: bool | None = None) -> int:
    """Show the UI, start the core, run until asked to quit, stop the core."""
    lifecycle = Lifecycle(app)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM,):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
            loop.add_signal_handler(sig, lifecycle.request_quit)
    core = Core(paths, settings)
    ui = UiController(core, tray_available=tray_available)
    ui.quitRequested.connect(lifecycle.request_quit)
    if instance is not None:
        instance.activated.connect(ui.show_status)
    ui.show_initial()  # at once, saying "Starting…": the database may take a moment
    try:
        try:
            await core.start()
            add_secret(core.secret)
            freeze_startup_objects()
        except Exception as exc:  # shown in the UI (red icon, status window); Settings can fix it
            log.error("the core did not start: %s", exc)
            ui.notify("Scrobble Tray could not start", error_text(exc), "error")
        await lifecycle.quitting.wait()
    finally:
        ui.close()
        await core.stop()
        lifecycle.close()
        for sig in (signal.SIGTERM,):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
    return 0


def application(argv: list[str]) -> QApplication:
    """The process's QApplication, made once."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        QApplication.setApplicationName(APP_NAME)
        QApplication.setDesktopFileName(APP_SLUG)
        app = QApplication(argv)
    app.setQuitOnLastWindowClosed(False)  # the tray keeps the app alive; quitting is explicit
    app.setWindowIcon(icons.icon("app"))
    return app


def data_folder_dialog(problem: str) -> QMessageBox:
    """The message for a data folder that cannot be written (the app cannot start)."""
    box = QMessageBox(QMessageBox.Icon.Critical, f"{APP_NAME} cannot start", problem[0].upper() + problem[1:])
    box.setWindowIcon(icons.icon("app"))
    return box


def run(paths: Paths, settings: Settings, argv: list[str], *,
        tray_available: bool | None = None) -> int:
    """Run the tray app until the user quits; returns the process exit code.

    A second launch on the same data folder brings the first one's status window
    forward and returns 0 at once.
    """
    app = application(argv)
    prefer_ui_thread()
    instance = SingleInstance(server_name(paths.data_dir))
    if instance.notify_running():
        print(f"{APP_NAME} is already running; its window was brought forward.", file=sys.stderr)
        return 0
    instance.listen()
    try:
        if not logging.getLogger().handlers:
            setup_logging(paths.log_file, verbose="-v" in argv or "--verbose" in argv)
        paths.ensure()
    except OSError as exc:
        from app.present.errors import data_folder_problem

        if (problem := data_folder_problem(exc, paths)) is None:
            raise
        print(f"error: {problem}", file=sys.stderr)
        data_folder_dialog(problem).exec()  # started from a menu, nobody reads stderr
        instance.close()
        return 2
    try:
        with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
            task: Any = None

            async def root() -> int:
                nonlocal task
                task = asyncio.current_task()
                return await main(app, paths, settings, instance, tray_available=tray_available)

            try:
                return runner.run(root())
            except RuntimeError:
                # Something ended Qt's loop behind our back (QCoreApplication.exit()):
                # aboutToQuit has asked main() to stop the core; let it finish.
                if task is None or task.done():
                    raise
                log.warning("the Qt event loop ended early; finishing the shut-down")
                return runner.get_loop().run_until_complete(task)
    finally:
        instance.close()
