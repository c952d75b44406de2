"""The status window: state, the (masked) webhook URL, counts, pause; live as webhooks arrive."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from app.core.config import Paths, Settings
from app.core.facade import Core
from app.present.state import TrayState
from app.ui.controller import UiController
from tests.helpers import disk_full, episode_payload, post, sample, webhook_url
from tests.ui.conftest import Aio


def test_shows_server_port_and_a_masked_webhook_url_that_copies_indisk_full(
        ui: UiController, core: Core, qtbot: Any) -> None:
    w = ui.show_status()
    qtbot.waitUntil(lambda: w.shows_card.value.text() == "1")
    assert w.server_label.text() == f"Listening on 127.0.0.1, port {core.status.port}"
    assert w.headline.text() == f"All good: listening for Plex on this computer (port {core.status.port})"
    shown = w.webhook_url.shown_text
    assert shown == f"http://127.0.0.1:{core.status.port}/webhook/••••••"
    assert core.secret not in shown
    assert "Off" in w.tunnel_label.text()
    assert w.last_webhook.text().startswith("None yet")

    qtbot.mouseClick(w.webhook_url.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == core.best_webhook_url()
    assert core.secret in QGuiApplication.clipboard().text()
    assert w.webhook_url.copy_button.text() == "Copied"


def test_counts_and_last_webhook_follow_incoming_webhooks(
        ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    w = ui.show_status()
    qtbot.waitUntil(lambda: w.today_card.value.text() == "0" and w.movies_card.value.text() == "0")
    aio.run(core.runtime.run(core.runtime.store.add_movie, title="Heat", year=1995, imdb_id="tt0113277"))
    aio.post(core, episode_payload(1, 1))
    aio.post(core, episode_payload(1, 2))
    aio.post(core, sample("scrobble-legacy-imdb-movie"))  # a movie is a play of the day too
    qtbot.waitUntil(lambda: w.today_card.value.text() == "3")
    assert (w.shows_card.value.text(), w.movies_card.value.text()) == ("1", "1")
    assert w.last_webhook.text().startswith("just now from Living Room")


def test_plays_left_to_the_other_trackers_count_today_too(
        paths: Paths, settings: Settings, aio: Aio, qtbot: Any) -> None:
    settings.builtin_tracker = False  # plays are "counted" for the other destinations, not marked here
    core = Core(paths, settings)
    aio.run(core.start())
    ui = UiController(core, tray_available=True)
    try:
        w = ui.show_status()
        aio.post(core, episode_payload(1, 1))
        qtbot.waitUntil(lambda: w.today_card.value.text() == "1")
        assert w.today_card.caption.text() == "plays counted today"
    finally:
        ui.close()
        aio.run(core.stop())


def test_pause_keeps_webhooks_waiting_until_resumed(
        ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    w = ui.show_status()
    qtbot.mouseClick(w.pause_button, Qt.MouseButton.LeftButton)
    assert core.status.paused
    assert ui.tray is not None and ui.tray.summary.state is TrayState.PAUSED
    assert w.pause_button.text() == "Resume processing"
    assert "paused" in w.banner.text

    aio.post(core, episode_payload(2, 1))
    assert aio.pending(core) == 1
    qtbot.wait(300)  # proves nothing is processed while paused (not a synchronisation)
    assert aio.pending(core) == 1 and w.today_card.value.text() == "0"

    qtbot.mouseClick(w.banner.action, Qt.MouseButton.LeftButton)  # "Resume"
    assert not core.status.paused and not w.pause_button.isChecked()
    qtbot.waitUntil(lambda: w.today_card.value.text() == "1")
    assert aio.pending(core) == 0
    assert ui.tray.summary.state is TrayState.OK


def test_no_tray_makes_the_status_window_the_main_window(core: Core, aio: Aio, qtbot: Any) -> None:
    ui = UiController(core, tray_available=False)
    try:
        ui.show_initial()
        assert ui.tray is None and ui.status_window.isVisible()
        with qtbot.waitSignal(ui.quitRequested, timeout=2000):
            ui.status_window.close()
        # Buttons reach every window without a tray.
        qtbot.mouseClick(ui.status_window.scrobbles_button, Qt.MouseButton.LeftButton)
        assert ui.window("scrobbles") is not None and ui.window("scrobbles").isVisible()
    finally:
        ui.close()


def test_window_shown_before_the_core_starts_fills_in_once_it_listens(
        paths: Paths, settings: Settings, aio: Aio, qtbot: Any) -> None:
    core = Core(paths, settings)
    ui = UiController(core, tray_available=False)
    try:
        ui.show_initial()  # the app shows its window first, then starts the core
        w = ui.status_window
        assert w.headline.text() == "Stopped" and w.webhook_url.url is None
        aio.run(core.start())
        qtbot.waitUntil(lambda: w.shows_card.value.text() == "0" and w.today_card.value.text() == "0")
        assert w.headline.text().startswith("All good") and \
            w.webhook_url.url == core.best_webhook_url()
    finally:
        ui.close()
        aio.run(core.stop())


def test_refused_requests_are_counted_by_reason(ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    import aiohttp

    async def knock() -> None:
        wrong = webhook_url(core).rsplit("/", 1)[0] + "/" + "guess" * 8
        async with aiohttp.ClientSession() as s:
            for url, body in ((wrong, b"x"), (wrong, b"y"), (webhook_url(core), b"not a form")):
                async with s.post(url, data=body, headers={"Content-Type": "multipart/form-data; boundary=b"}) as r:
                    assert r.status in (400, 403)

    aio.run(knock())
    w = ui.show_status()
    qtbot.waitUntil(lambda: "3 refused: 2 wrong secret, 1 malformed" in w.last_webhook.text(), timeout=5000)
    assert "knocking" in w.last_webhook.toolTip()


def test_a_full_disk_turns_the_window_red_says_the_fix_and_notifies_once(
        ui: UiController, core: Core, aio: Aio, qtbot: Any, monkeypatch: Any) -> None:
    from app.core import inbox, webhooks

    monkeypatch.setattr(webhooks, "STORE_DEADLINE", 0.5)
    monkeypatch.setattr(inbox, "RETRY_EVERY", 0.2)
    notes: list[str] = []
    ui.notified.connect(lambda title, _: notes.append(title))
    w = ui.show_status()
    make_room = disk_full(core.runtime.store.sessions.kw["bind"])
    for episode in (2, 3):
        status, _ = aio.run(post(webhook_url(core), episode_payload(1, episode, summary="x" * 20_000)))
        assert status == 503
    qtbot.waitUntil(lambda: w.headline.text() == "The disk holding the database is full", timeout=5000)
    assert "2 held until it takes them" in w.details.text()
    assert w.banner.kind == "error" and "Free some space on the disk of" in w.banner.text
    assert notes == ["Webhooks are not being saved"]  # once, not for each webhook
    assert ui.tray is not None and ui.tray.summary.state is TrayState.ERROR
    make_room()
    qtbot.waitUntil(lambda: w.headline.text() != "The disk holding the database is full", timeout=5000)
    assert "Free some space" not in w.banner.text


def test_a_damaged_database_moved_aside_is_said_with_its_files(
        aio: Aio, paths: Paths, settings: Settings, qtbot: Any) -> None:
    from app.core.db import open_database

    open_database(f"sqlite:///{paths.database_file}").kw["bind"].dispose()
    good = paths.database_file.read_bytes()
    paths.database_file.write_bytes(good[:100] + b"\xde\xad" * 500 + good[1100:])
    core = Core(paths, settings)
    aio.run(core.start())
    try:
        ui = UiController(core, tray_available=False)
        w = ui.show_status()
        assert w.headline.text() == "The database was damaged: a new, empty one was made"
        assert w.banner.kind == "warn" and ".damaged-" in w.banner.text
        opened: list[Any] = []
        w.open_url = opened.append
        w.banner.action.click()
        assert [u.toLocalFile() for u in opened] == [str(paths.data_dir)]
        [check] = [c for c in aio.run(core.diagnostics()) if c.name == "Database"]
        assert check.status == "warn" and ".damaged-" in check.detail
        ui.close()
    finally:
        aio.run(core.stop())


def test_counts_are_written_the_user_s_way(qtbot: Any) -> None:
    from PySide6.QtCore import QLocale

    from app.ui.widgets import StatCard

    card = StatCard("movies in the tracker")
    qtbot.addWidget(card)
    before = QLocale()
    try:
        QLocale.setDefault(QLocale(QLocale.Language.English, QLocale.Country.UnitedStates))
        card.set_value(10_000)
        assert card.value.text() == "10,000"
        QLocale.setDefault(QLocale(QLocale.Language.German, QLocale.Country.Germany))
        card.set_value(3_000)
        assert card.value.text() == "3.000"
        card.set_value(None)
        assert card.value.text() == "–"
    finally:
        QLocale.setDefault(before)
