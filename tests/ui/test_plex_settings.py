"""Settings → Plex and the tray's "Sign in with Plex…": sign-in through Plex's page (the
stand-in plex.tv), the webhook URL registered by itself through the tunnel, cancel, sign out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.core.config import Paths, Settings
from app.core.credentials import set_authtoken
from app.core.facade import Core
from app.ui.controller import UiController
from app.ui.plex_page import PlexPage
from app.ui.settings_window import SettingsWindow
from tests.fake_plex import FakePlexTv, FakePms
from tests.helpers import NGROK_TOKEN, write_agent
from tests.ui.conftest import Aio
from tests.ui.texts import shown_texts

FOREIGN = ["https://hooks.example.org/sonarr", "https://tautulli.example/hook"]


@pytest.fixture
def plex(aio: Aio, paths: Paths, settings: Settings, tmp_path: Path) -> Iterator[tuple[FakePlexTv, str]]:
    """A stand-in plex.tv with one account and server; the core's tunnel through the stand-in agent."""
    tv, pms = FakePlexTv(), FakePms(name="NAS")
    aio.run(tv.__aenter__())
    aio.run(pms.__aenter__())
    tv.servers.append(pms)
    pms.accounts = {1: "alice", 5001: "Bob"}
    token, _ = tv.add_user("alice", webhooks=list(FOREIGN))
    settings.plex_tv_url = tv.url
    settings.ngrok_path = str(write_agent(tmp_path / "bin" / "ngrok"))
    set_authtoken(paths, NGROK_TOKEN)
    yield tv, token
    aio.run(pms.__aexit__(None, None, None))
    aio.run(tv.__aexit__(None, None, None))


def _page(ui: UiController, opened: list[str]) -> PlexPage:
    """The Plex page, its browser replaced by a list of the pages it opened."""
    window = ui.show_settings()
    window.plex.open_url = opened.append
    window.show_general()
    return window.plex


def test_sign_in_from_the_tray_registers_the_webhook_url_by_itself(
        plex: tuple[FakePlexTv, str], ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    tv, token = plex
    aio.run(core.wait_tunnel())
    assert core.public_webhook_url
    opened: list[str] = []
    page = _page(ui, opened)
    ui.tray.build_menu()
    assert ui.tray.actions["plex"].text() == "Sign in with Plex…"
    ui.tray.actions["plex"].trigger()
    window = ui.window("settings")
    assert isinstance(window, SettingsWindow) and window.tabs.currentWidget() is page
    qtbot.waitUntil(lambda: bool(opened), timeout=10_000)
    assert opened[0].startswith("https://app.plex.tv/auth/#!?") and page.signing_in
    assert page.cancel.isVisible() and not page.sign_in.isVisible()
    assert "Waiting for you to sign in" in page.waiting.text()

    tv.approve(token)
    qtbot.waitUntil(lambda: page.state.text() == "Signed in as alice" and bool(page.banner.text), timeout=15_000)
    user = tv.users[token]
    assert user.webhooks == [*FOREIGN, core.public_webhook_url]
    assert page.banner.text == "Registered the webhook URL in Plex; 2 other webhook(s) kept"
    registered = page.registered.text()
    assert registered.startswith("Registered: http://127.0.0.1:") and registered.endswith("/webhook/…")
    assert page.plex_pass.text() == "Yes" and page.servers.text() == "NAS"
    assert page.sign_out.isVisible() and not page.sign_in.isVisible() and not page.waiting.isVisible()
    leaked = [t for t in shown_texts(window) if token in t or core.secret in t]
    assert not leaked, leaked
    ui.tray.build_menu()
    assert ui.tray.actions["plex"].text() == "Plex account…"

    # Accepted accounts are picked from the server's accounts (General tab).
    window.show_general()
    assert window.general.choose_accounts.isEnabled()
    qtbot.mouseClick(window.general.choose_accounts, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: getattr(window.general, "accounts_menu", None) is not None
                    and window.general.accounts_menu.isVisible(), timeout=10_000)
    owner, bob = window.general.accounts_menu.actions()
    assert owner.text().startswith("alice (the server owner") and owner.isChecked() and not owner.isEnabled()
    assert bob.text() == "Bob" and not bob.isChecked()
    bob.setChecked(True)
    assert window.general.accounts.text() == "Bob" and window.save_button.isEnabled()
    window.show_plex()

    # Register again by hand: nothing to change, and it says so.
    qtbot.mouseClick(page.register, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.banner.text.startswith("The webhook URL was already registered"), timeout=10_000)

    # With Plex Pass, live sessions are not followed unless chosen.
    assert not page.live.isChecked() and core.status.plex.live == ()
    page.live.setChecked(True)
    qtbot.waitUntil(lambda: core.status.plex.live == ("NAS",) and page.live_state.text() == "Following: NAS",
                    timeout=10_000)
    page.live.setChecked(False)
    qtbot.waitUntil(lambda: core.status.plex.live == (), timeout=10_000)

    # Turning the automatic registration off is saved at once.
    page.auto.setChecked(False)
    qtbot.waitUntil(lambda: core.settings.plex_auto_register is False, timeout=10_000)
    assert core.runtime.plex.settings.plex_auto_register is False  # the link sees the new settings

    qtbot.mouseClick(page.sign_out, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.state.text() == "Not signed in", timeout=10_000)
    assert page.sign_in.isVisible() and not page.webhook_box.isEnabled()
    assert user.webhooks == [*FOREIGN, core.public_webhook_url]  # signing out here leaves Plex as it is


def test_cancelling_the_sign_in_leaves_it_signed_out(
        plex: tuple[FakePlexTv, str], ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    tv, _ = plex
    opened: list[str] = []
    page = _page(ui, opened)
    ui.show_settings().show_plex()
    qtbot.mouseClick(page.sign_in, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(opened) and page.cancel.isVisible(), timeout=10_000)
    qtbot.mouseClick(page.cancel, Qt.MouseButton.LeftButton)
    assert page.banner.text == "Sign-in cancelled." and page.sign_in.isVisible()
    assert not page.signing_in and not core.runtime.plex.connected
    tv.approve(next(iter(tv.users)))  # too late: nobody is waiting for it any more
    qtbot.wait(1500)
    assert not core.runtime.plex.connected and page.state.text() == "Not signed in"


def test_an_expired_code_is_said_in_the_page(
        plex: tuple[FakePlexTv, str], ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    tv, _ = plex
    opened: list[str] = []
    page = _page(ui, opened)
    ui.show_settings().show_plex()
    page.start_sign_in()
    qtbot.waitUntil(lambda: bool(opened), timeout=10_000)
    tv.expire_pins()
    qtbot.waitUntil(lambda: page.banner.kind == "error", timeout=10_000)
    assert "expired" in page.banner.text and "Start the sign-in again" in page.banner.text
    assert page.sign_in.isVisible() and not page.cancel.isVisible()


def test_the_status_window_offers_to_sign_in_once_the_tunnel_is_up(
        plex: tuple[FakePlexTv, str], ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    tv, token = plex
    aio.run(core.wait_tunnel())
    opened: list[str] = []
    page = _page(ui, opened)
    status = ui.show_status()
    qtbot.waitUntil(lambda: status.banner.text.startswith("Sign in with Plex, and the webhook URL"), timeout=10_000)
    assert status.banner.action.text() == "Sign in with Plex…"
    qtbot.mouseClick(status.banner.action, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(opened) and page.signing_in, timeout=10_000)
    tv.approve(token)
    qtbot.waitUntil(lambda: core.status.plex.registered is True, timeout=15_000)
    qtbot.waitUntil(lambda: not status.banner.text, timeout=5_000)  # nothing left to do
    assert status.plex_label.text() == ("Signed in as alice; Registered the webhook URL in Plex; "
                                        "2 other webhook(s) kept")


def test_older_plays_are_imported_from_the_history_with_what_became_of_them(
        plex: tuple[FakePlexTv, str], ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    import time

    from PySide6.QtCore import QDate

    tv, token = plex
    pms = tv.servers[0]
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    other = pms.add_show("200", "NonExistent Show XYZ", 2020)
    for n in range(1, 4):
        pms.play(f"70{n}", show, 1, n, viewed_at=time.time() - 10 * 86_400 + n)
    pms.play("801", other, 1, 1, viewed_at=time.time() - 9 * 86_400)
    aio.run(core.plex_signed_in(token))
    page = _page(ui, [])
    ui.show_settings().show_plex()
    assert page.history_box.isEnabled()
    qtbot.waitUntil(lambda: "New here: NAS; import its older plays" in page.caught_up.text(), timeout=10_000)
    page.since.setDate(QDate.currentDate().addDays(-30))
    qtbot.mouseClick(page.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.banner.text.startswith("Read "), timeout=15_000)
    assert page.banner.text == ("Read 4 play(s): 4 added (1 conflict, 3 marked), 0 already here, "
                                "0 not counted.")
    assert page.import_button.isEnabled() and not page.import_progress.text()
    scrobbles = ui.show_scrobbles()
    scrobbles.refresh()
    qtbot.waitUntil(lambda: scrobbles.model.rowCount() == 4, timeout=10_000)
    assert all(str(scrobbles.model.index(r, 0).data()).endswith(" · from history") for r in range(4))
