"""UI fixtures: a qasync loop that Qt's own event processing drives, a real core, the UI.

The asyncio loop is a ``qasync.QEventLoop`` made with ``already_running=True``: it never
runs a loop of its own; its callbacks are Qt timers and socket notifiers, so they run
whenever Qt processes events, which is exactly what ``qtbot.waitUntil`` does while it
waits. Tests are plain functions that click and type through ``qtbot``; a coroutine
(starting the core, posting a webhook over real HTTP) runs with ``aio.run(coro)``, which
schedules it and waits with ``qtbot.waitUntil`` until it is done. The loop is the
"running loop" only during a test that asks for it, so pytest-asyncio's own loops in the
rest of the suite never see it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from app.core.config import Paths, Settings
from app.core.facade import Core
from app.ui.autostart import Autostart
from app.ui.controller import UiController
from tests.helpers import BREAKING_BAD, post, webhook_url

T = TypeVar("T")


@pytest.fixture(scope="session")
def qloop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.events._set_running_loop(None)  # set per test by ``aio``
    executor = ThreadPoolExecutor(4, thread_name_prefix="ui-test-default")
    loop.set_default_executor(executor)
    yield loop
    # Never closed: closing a loop made "already running" calls QApplication.exit(),
    # which would end the nested event loops later tests wait in. Its threads do stop.
    executor.shutdown(wait=True)


class Aio:
    """Runs coroutines on the qasync loop from a plain (synchronous) test."""

    def __init__(self, loop: qasync.QEventLoop, qtbot: Any) -> None:
        self.loop = loop
        self.qtbot = qtbot

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
        task = asyncio.ensure_future(coro, loop=self.loop)
        self.qtbot.waitUntil(task.done, timeout=int(timeout * 1000))
        return task.result()

    def post(self, core: Core, payload: dict[str, Any] | str) -> None:
        """POST a webhook over real HTTP; it must be accepted."""
        status, body = self.run(post(webhook_url(core), payload))
        assert status == 200, body

    def pending(self, core: Core) -> int:
        assert core.runtime.store is not None
        return self.run(core.runtime.run(core.runtime.store.pending_count))

    def settled(self, core: Core) -> None:
        """Wait until the core has processed every stored webhook."""
        self.qtbot.waitUntil(lambda: self.pending(core) == 0, timeout=10_000)


@pytest.fixture
def aio(qloop: qasync.QEventLoop, qtbot: Any) -> Iterator[Aio]:
    asyncio.events._set_running_loop(qloop)
    try:
        yield Aio(qloop, qtbot)
        # Let background work the test started (refreshes, lookups) finish or cancel it,
        # so that nothing of this test runs during the next one.
        left = [t for t in asyncio.all_tasks(qloop) if not t.done()]
        for t in left:
            t.cancel()
        if left:
            qtbot.waitUntil(lambda: all(t.done() for t in left), timeout=5000)
    finally:
        asyncio.events._set_running_loop(None)


@pytest.fixture
def core(aio: Aio, paths: Paths, settings: Settings) -> Iterator[Core]:
    """A started core (free port, temporary data folder) with Breaking Bad in its tracker."""
    c = Core(paths, settings)
    aio.run(c.start())
    assert c.runtime.store is not None
    aio.run(c.runtime.run(c.runtime.store.add_show, **BREAKING_BAD))
    yield c
    aio.run(c.stop())


@pytest.fixture
def autostart(tmp_path: Path) -> Autostart:
    return Autostart(tmp_path / "config" / "autostart" / "scrobbletray.desktop",
                     command=["/opt/scrobble tray/python", "-m", "app"], supported=True)


@pytest.fixture
def ui(core: Core, autostart: Autostart, qtbot: Any) -> Iterator[UiController]:
    """The UI in tray mode (a tray icon object exists even where no tray is drawn)."""
    controller = UiController(core, tray_available=True, autostart=autostart)
    controller.show_initial()
    yield controller
    controller.close()
