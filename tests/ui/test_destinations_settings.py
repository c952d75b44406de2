"""Settings → Destinations: relay targets added, tested, edited and removed through the UI,
against a real core and real HTTP targets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QWidget

from app.core.config import Paths, Settings
from app.core.destinations.base import EVERY_EVENT, Verdict
from app.core.destinations.relay import ONLY_WATCHED
from app.core.destinations.sender import Timing
from app.core.facade import Core
from app.core.types import SELF_TEST_EVENT
from app.ui.destinations_page import DestinationsPage
from app.ui.relay_dialog import RelayDialog
from app.ui.settings_window import SettingsWindow
from tests.helpers import BREAKING_BAD
from tests.ui.conftest import Aio
from tests.ui.test_settings_window import retype
from tests.ui.texts import shown_texts

SECRET = secrets.token_hex(32)


@pytest.fixture
def core(aio: Aio, paths: Paths, settings: Settings) -> Iterator[Core]:
    """The UI's core, with delivery timing short enough for tests."""
    c = Core(paths, settings, timing=Timing(timeout=1, backoff_base=0.05, backoff_cap=0.2))
    aio.run(c.start())
    assert c.runtime.store is not None
    aio.run(c.runtime.run(c.runtime.store.add_show, **BREAKING_BAD))
    yield c
    aio.run(c.stop())


class Target:
    """A web tracker's webhook endpoint: answers 200 (after ``delay`` seconds) and keeps what it got."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.received: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        text = ""
        async for part in await request.multipart():
            if part.name == "payload":
                text = (await part.read()).decode()
        self.received.append({"secret": request.query.get("secret"), "payload": json.loads(text)})
        await asyncio.sleep(self.delay)
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/plex/webhook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/plex/webhook?secret={SECRET}"


@pytest.fixture
def target(aio: Aio) -> Iterator[Target]:
    t = Target(delay=0.3)
    aio.run(t.start())
    yield t
    aio.run(t.stop())


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def window(core: Core, qtbot: Any) -> SettingsWindow:
    """The Settings window on its own (the tray path to it is tested in test_settings_window)."""
    w = SettingsWindow(core)
    qtbot.addWidget(w)
    w.show()
    return w


def open_destinations(w: SettingsWindow, qtbot: Any) -> tuple[SettingsWindow, DestinationsPage]:
    assert w.isVisible() and w.save_button.isVisible()
    qtbot.mouseClick(w.tabs.tabBar(), Qt.MouseButton.LeftButton,
                     pos=w.tabs.tabBar().tabRect(w.tabs.indexOf(w.destinations)).center())
    assert w.tabs.currentWidget() is w.destinations
    page = w.destinations
    assert page.isVisible() and not w.save_button.isVisible()  # this page applies at once
    qtbot.waitUntil(lambda: not page.busy.isVisible())
    return w, page


def add_through_dialog(page: DestinationsPage, qtbot: Any, url: str, label: str = "") -> RelayDialog:
    qtbot.mouseClick(page.add_buttons["relay"], Qt.MouseButton.LeftButton)
    dialog = page.dialog
    assert isinstance(dialog, RelayDialog) and dialog.isVisible()
    assert not dialog.only_watched.isChecked() and dialog.enabled.isChecked()  # every event, on
    qtbot.keyClicks(dialog.url, url)
    if label:
        qtbot.keyClicks(dialog.label, label)
    return dialog


def test_add_a_target_through_the_dialog_shows_it_masked_and_persists(
        window: SettingsWindow, core: Core, paths: Paths, qtbot: Any) -> None:
    w, page = open_destinations(window, qtbot)
    assert [r[0].split("\n")[0] for r in page.rows()] == ["Built-in tracker"]
    assert "exactly once" in page.rows()[0][0] and page.rows()[0][2] == "On"
    assert page.empty.isVisible()

    url = f"http://localhost:3000/api/plex/webhook?secret={SECRET}"
    dialog = add_through_dialog(page, qtbot, url, "Episode tracker")
    assert dialog.url.text() == url  # the user's own URL, in full, while editing
    assert dialog.save_button.isEnabled() and not dialog.url_error.isVisible()
    with qtbot.waitSignal(page.changed, timeout=10_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.dialog is None)

    assert [(r.url, r.label, r.only_watched, r.enabled) for r in core.settings.relays] == [
        (url, "Episode tracker", False, True)]
    assert page.rows()[1] == ("Episode tracker\nhttp://localhost:3000/api/plex/webhook?secret=•••",
                              EVERY_EVENT, "On")
    assert not page.empty.isVisible()
    assert all(SECRET not in text for text in shown_texts(w))
    saved = json.loads(paths.settings_file.read_text())
    assert saved["relays"] == [{"id": "relay-1", "url": url, "only_watched": False, "enabled": True,
                                "label": "Episode tracker"}]
    # The running core has a sender for it now (the page re-read the delivery state).
    qtbot.waitUntil(lambda: "relay-1" in page._statuses)


def test_an_invalid_url_shows_the_error_under_the_field_and_disables_saving(
        window: SettingsWindow, core: Core, qtbot: Any) -> None:
    _, page = open_destinations(window, qtbot)
    qtbot.mouseClick(page.add_buttons["relay"], Qt.MouseButton.LeftButton)
    dialog = page.dialog
    assert dialog is not None
    assert not dialog.save_button.isEnabled() and not dialog.url_error.isVisible()  # empty: no scolding yet

    qtbot.keyClicks(dialog.url, "localhost:3000/api/plex/webhook")
    assert not dialog.save_button.isEnabled() and dialog.url_error.isVisible()
    assert dialog.url_error.text().startswith("The target must be an http:// or https:// URL")
    retype(qtbot, dialog.url, "http://localhost:99999/api/plex/webhook")
    assert not dialog.save_button.isEnabled() and "port" in dialog.url_error.text()
    retype(qtbot, dialog.url, "http://localhost:3000/api/plex/webhook")
    assert dialog.save_button.isEnabled() and not dialog.url_error.isVisible()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.dialog is None)
    assert core.settings.relays == []


def test_test_against_a_live_target_shows_accepted_without_freezing(
        window: SettingsWindow, core: Core, aio: Aio, target: Target, qtbot: Any) -> None:
    rid = aio.run(core.add_relay(target.url, label="Local tracker"))
    w, page = open_destinations(window, qtbot)
    page.select(rid)
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    # The target takes 0.3 s to answer; meanwhile the window is alive and says so.
    assert page.working and page.busy.isVisible() and not page.test_button.isEnabled()
    assert page.banner.text == "Sending a test event to Local tracker…"
    qtbot.waitUntil(lambda: not page.working, timeout=5000)

    assert page.banner.kind == "success"
    assert page.banner.text.startswith("Accepted: HTTP 200: ok."), page.banner.text
    assert target.received == [{"secret": SECRET, "payload": target.received[0]["payload"]}]
    assert target.received[0]["payload"]["event"] == SELF_TEST_EVENT
    assert page.test_button.isEnabled()
    assert all(SECRET not in text for text in shown_texts(w))


def test_test_against_a_closed_port_says_it_cannot_connect_and_what_to_do(
        window: SettingsWindow, core: Core, aio: Aio, qtbot: Any) -> None:
    port = closed_port()
    rid = aio.run(core.add_relay(f"http://127.0.0.1:{port}/api/plex/webhook?secret={SECRET}"))
    _, page = open_destinations(window, qtbot)
    assert page.selected_id() == rid  # the first target is selected
    assert page.rows()[1][0].startswith(f"Web tracker at 127.0.0.1:{port}\n")
    with qtbot.waitSignal(page.tested, timeout=5000) as tested:
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    assert tested.args[1].verdict is Verdict.RETRY
    assert page.banner.kind == "error"
    text = page.banner.text
    assert text.startswith(f"Not delivered to Web tracker at 127.0.0.1:{port}: "
                           f"cannot connect to 127.0.0.1:{port}"), text
    assert "Start the tracker (e.g. 'npm run dev'); events wait until it is up." in text
    assert SECRET not in text


def test_edit_changes_only_watched(window: SettingsWindow, core: Core, aio: Aio, paths: Paths, qtbot: Any) -> None:
    url = f"http://localhost:3000/api/plex/webhook?secret={SECRET}"
    rid = aio.run(core.add_relay(url, label="Episode tracker"))
    _, page = open_destinations(window, qtbot)
    page.select(rid)
    qtbot.mouseClick(page.edit_button, Qt.MouseButton.LeftButton)
    dialog = page.dialog
    assert dialog is not None and dialog.windowTitle() == "Edit relay target"
    assert dialog.url.text() == url and dialog.label.text() == "Episode tracker"
    assert not dialog.save_button.isEnabled()  # nothing changed yet
    qtbot.mouseClick(dialog.only_watched, Qt.MouseButton.LeftButton)
    assert dialog.save_button.isEnabled()
    with qtbot.waitSignal(page.changed, timeout=10_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    relay = core.settings.relays[0]
    assert (relay.id, relay.url, relay.only_watched, relay.enabled, relay.label) == (
        rid, url, True, True, "Episode tracker")
    assert page.rows()[1][1] == ONLY_WATCHED
    assert json.loads(paths.settings_file.read_text())["relays"][0]["only_watched"] is True


def test_the_on_off_box_in_the_list_turns_a_target_off_and_on(
        window: SettingsWindow, core: Core, aio: Aio, qtbot: Any) -> None:
    rid = aio.run(core.add_relay(f"http://localhost:3000/api/plex/webhook?secret={SECRET}"))
    _, page = open_destinations(window, qtbot)
    item = page.tree.topLevelItem(1)
    with qtbot.waitSignal(page.changed, timeout=10_000):
        item.setCheckState(2, Qt.CheckState.Unchecked)
    assert core.settings.relays[0].enabled is False and page.rows()[1][2] == "Off"
    qtbot.waitUntil(lambda: page._statuses.get(rid) is not None and page._statuses[rid].state == "off")
    with qtbot.waitSignal(page.changed, timeout=10_000):
        page.tree.topLevelItem(1).setCheckState(2, Qt.CheckState.Checked)
    assert core.settings.relays[0].enabled is True and page.rows()[1][2].startswith("On")


def test_remove_asks_then_removes(window: SettingsWindow, core: Core, aio: Aio, paths: Paths, qtbot: Any) -> None:
    rid = aio.run(core.add_relay(f"http://localhost:3000/api/plex/webhook?secret={SECRET}", label="Old one"))
    _, page = open_destinations(window, qtbot)
    asked: list[str] = []

    def decline(parent: QWidget, title: str, text: str) -> bool:
        asked.append(text)
        return False

    page.confirm = decline
    page.select(rid)
    qtbot.mouseClick(page.remove_button, Qt.MouseButton.LeftButton)
    assert asked and asked[0].startswith("Remove Old one?") and SECRET not in asked[0]
    assert [r.id for r in core.settings.relays] == [rid]

    page.confirm = lambda parent, title, text: True
    with qtbot.waitSignal(page.changed, timeout=10_000):
        qtbot.mouseClick(page.remove_button, Qt.MouseButton.LeftButton)
    assert core.settings.relays == [] and len(page.rows()) == 1
    assert page.banner.text == "Removed Old one."
    assert json.loads(paths.settings_file.read_text())["relays"] == []


def test_the_builtin_tracker_cannot_be_edited_tested_or_removed(window: SettingsWindow, qtbot: Any) -> None:
    _, page = open_destinations(window, qtbot)
    page.tree.setCurrentItem(page.tree.topLevelItem(0))
    assert page.add_buttons["relay"].isEnabled()
    assert not (page.edit_button.isEnabled() or page.test_button.isEnabled() or page.remove_button.isEnabled())
    assert page.open_edit_dialog() is None and page.test() is None and page.remove() is None


def test_a_target_added_turned_off_is_kept_but_sent_nothing(
        window: SettingsWindow, core: Core, qtbot: Any) -> None:
    _, page = open_destinations(window, qtbot)
    dialog = add_through_dialog(page, qtbot, f"https://tracker.example.org/api/plex/webhook?secret={SECRET}")
    for box in (dialog.enabled, dialog.only_watched):  # on the box itself, not past the text
        qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    assert not dialog.enabled.isChecked() and dialog.only_watched.isChecked()
    with qtbot.waitSignal(page.changed, timeout=10_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert [(r.enabled, r.only_watched) for r in core.settings.relays] == [(False, True)]
    assert page.rows()[1] == ("Web tracker at tracker.example.org:443\n"
                              "https://tracker.example.org/api/plex/webhook?secret=•••", ONLY_WATCHED, "Off")


def test_every_kind_has_its_dialog_and_an_add_button(window: SettingsWindow, qtbot: Any) -> None:
    from app.core.destinations.kinds import KINDS
    from app.ui.destination_dialogs import DIALOGS

    assert list(DIALOGS) == list(KINDS) and all(d.kind == name for name, d in DIALOGS.items())
    _, page = open_destinations(window, qtbot)
    assert list(page.add_buttons) == list(KINDS)
    assert [b.text() for b in page.add_buttons.values()] == [DIALOGS[k].add_text for k in KINDS]
