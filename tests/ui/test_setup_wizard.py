"""First-run set-up: the three ways Plex reaches us, the URL, and the first webhook."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QWizard

from app.core.config import Paths, Settings, load_state
from app.core.facade import Core
from app.core.urls import lan_addresses
from app.ui.autostart import Autostart
from app.ui.controller import UiController
from app.ui.setup_wizard import PAGE_NETWORK, PAGE_TUNNEL, PAGE_URL, SetupWizard
from tests.helpers import NGROK_TOKEN, episode_payload, write_agent
from tests.ui.conftest import Aio

FAST = dict(poll_interval=0.1, backoff_base=0.05, backoff_cap=0.4, start_timeout=8, request_timeout=2)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A first start: nobody has said where Plex runs. The agent is the stand-in ngrok."""
    return Settings(port=0, rate_limit_per_minute=0, auto_add_shows=False,
                    ngrok_path=str(write_agent(tmp_path / "bin" / "ngrok")))


@pytest.fixture
def first_start(core: Core, autostart: Autostart, qtbot: Any, paths: Paths):
    core.runtime._tunnel_options = FAST
    controller = UiController(core, tray_available=True, autostart=autostart)
    notes: list[str] = []
    controller.notified.connect(lambda title, _: notes.append(title))
    controller.show_initial()
    yield controller, notes
    controller.close()


def wizard_of(ui: UiController) -> SetupWizard:
    w = ui.window("setup")
    assert isinstance(w, SetupWizard) and w.isVisible()
    return w


def choose(w: SetupWizard, where: str) -> None:
    for button in w.where_page.group.buttons():
        if button.property("where") == where:
            button.setChecked(True)
    w.next()


def test_first_start_offers_it_once_and_plex_here_gives_the_local_url_then_turns_green(
        first_start, core: Core, aio: Aio, paths: Paths, qtbot: Any) -> None:
    ui, notes = first_start
    w = wizard_of(ui)
    assert notes == ["Set up Scrobble Tray"] and load_state(paths)["setup_offered"] is True
    assert ui.status_window.banner.action.text() == "Set up…"  # the status window leads there too
    choose(w, "this")
    assert w.currentId() == PAGE_URL
    with qtbot.waitSignal(w.applied, timeout=10_000):
        pass
    assert w.url_page.url.url == core.best_webhook_url() and "127.0.0.1" in w.url_page.url.url
    assert core.secret not in w.url_page.url.shown_text
    assert json.loads(paths.settings_file.read_text())["plex_location"] == "this"
    assert "Waiting for the first webhook" in w.url_page.waiting.text()
    aio.post(core, episode_payload(1, 1))
    qtbot.waitUntil(lambda: "The first webhook arrived" in w.url_page.waiting.text())
    w.button(QWizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(lambda: ui.window("setup") is None)
    ui.close()
    again = UiController(core, tray_available=True, autostart=ui.autostart)
    again.show_initial()  # offered once: not again at the next start
    assert again.window("setup") is None
    again.close()


def test_plex_on_the_network_offers_this_machines_lan_address(first_start, core: Core, qtbot: Any) -> None:
    ui, _ = first_start
    w = wizard_of(ui)
    choose(w, "network")
    assert w.currentId() == PAGE_NETWORK
    addresses = [w.network_page.address.itemText(i) for i in range(w.network_page.address.count())]
    assert addresses == lan_addresses() or not lan_addresses()
    chosen = w.chosen_settings()
    assert (chosen.plex_location, chosen.host) == ("network", "0.0.0.0")
    w.back()  # (not applied: the tests' servers listen on 127.0.0.1 only)
    assert w.currentId() != PAGE_NETWORK


def test_plex_elsewhere_validates_the_authtoken_by_starting_the_tunnel(
        first_start, core: Core, aio: Aio, paths: Paths, qtbot: Any) -> None:
    ui, _ = first_start
    w = wizard_of(ui)
    choose(w, "elsewhere")
    page = w.tunnel_page
    assert w.currentId() == PAGE_TUNNEL and not page.isComplete()
    page.start_tunnel()
    assert page.result.text() == "Paste the authtoken first."
    page.token.setText("not a token")
    page.start_tunnel()
    assert "does not look like an ngrok authtoken" in page.result.text()
    page.token.setText(NGROK_TOKEN)
    page.domain.setText("not a domain!")
    page.start_tunnel()
    assert "domain name like" in page.result.text()
    page.domain.setText("")
    page.start_tunnel()
    qtbot.waitUntil(page.isComplete, timeout=15_000)
    assert page.result.text() == f"The tunnel is up: {core.status.public_url}"  # (the stand-in agent's)
    assert NGROK_TOKEN not in page.result.text()
    w.next()
    with qtbot.waitSignal(w.applied, timeout=10_000):
        pass
    assert w.url_page.url.url == core.public_webhook_url and w.url_page.url.url.startswith(core.status.public_url)
    saved = json.loads(paths.settings_file.read_text())
    assert (saved["plex_location"], saved["tunnel_enabled"]) == ("elsewhere", None)  # on: a token is saved
    qtbot.waitUntil(lambda: ui.status_window.headline.text().startswith("All good: reachable from anywhere"))
