"""Settings → Destinations → Add Trakt… / Add Simkl…: the account added and signed in from
the dialog, against the stand-ins (tests/fake_trakt.py, tests/fake_simkl.py) over real HTTP:
the code shown, approved, cancelled, declined; and what the edit dialog says afterwards."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.core.config import Paths, Settings
from app.core.credentials import get_secret, set_secret
from app.core.destinations.online.signin import Tokens
from app.core.destinations.sender import Timing
from app.core.facade import Core
from app.ui.controller import UiController
from app.ui.destinations_page import DestinationsPage
from app.ui.online_dialog import OnlineDialog, SimklDialog, TraktDialog
from app.ui.settings_window import SettingsWindow
from tests.fake_simkl import FakeSimkl
from tests.fake_trakt import FakeTrakt
from tests.helpers import BREAKING_BAD, episode_payload
from tests.ui.conftest import Aio
from tests.ui.test_destinations_settings import open_destinations
from tests.ui.texts import shown_texts

TRAKT_ID, TRAKT_SECRET = "trakt-app-id", secrets.token_hex(32)
SIMKL_ID = "simkl-app-id"


@pytest.fixture
def core(aio: Aio, paths: Paths, settings: Settings) -> Iterator[Core]:
    c = Core(paths, settings, timing=Timing(timeout=1, backoff_base=0.05, backoff_cap=0.2))
    aio.run(c.start())
    assert c.runtime.store is not None
    aio.run(c.runtime.run(c.runtime.store.add_show, **BREAKING_BAD))
    yield c
    aio.run(c.stop())


@pytest.fixture
def window(core: Core, qtbot: Any) -> SettingsWindow:
    w = SettingsWindow(core)
    qtbot.addWidget(w)
    w.show()
    return w


@pytest.fixture
def trakt(aio: Aio, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTrakt]:
    fake = FakeTrakt(TRAKT_ID, TRAKT_SECRET, interval=0.05, post_interval=0.0)
    aio.run(fake.start())
    monkeypatch.setenv("SCROBBLETRAY_TRAKT_API_URL", fake.api_url)
    monkeypatch.setenv("SCROBBLETRAY_TRAKT_AUTH_URL", fake.auth_url)
    yield fake
    aio.run(fake.close())


@pytest.fixture
def simkl(aio: Aio, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSimkl]:
    fake = FakeSimkl(SIMKL_ID, interval=0.05)
    aio.run(fake.start())
    monkeypatch.setenv("SCROBBLETRAY_SIMKL_API_URL", fake.api_url)
    yield fake
    aio.run(fake.close())


def open_add(page: DestinationsPage, qtbot: Any, kind: str) -> OnlineDialog:
    qtbot.mouseClick(page.add_buttons[kind], Qt.MouseButton.LeftButton)
    dialog = page.dialog
    assert isinstance(dialog, OnlineDialog) and dialog.isVisible() and dialog.kind == kind
    return dialog


def start_trakt(page: DestinationsPage, qtbot: Any, trakt: FakeTrakt) -> tuple[OnlineDialog, str]:
    """Add Trakt with the app's id and secret; returns the dialog showing the code, and the code."""
    dialog = open_add(page, qtbot, "trakt")
    qtbot.keyClicks(dialog.client_id, TRAKT_ID)
    qtbot.keyClicks(dialog.client_secret, TRAKT_SECRET)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.code.isVisible(), timeout=5000)
    (code,) = [c.user_code for c in trakt.codes.values()]
    return dialog, code


def test_the_add_button_waits_for_the_client_id_and_trakts_secret(
        window: SettingsWindow, qtbot: Any) -> None:
    _, page = open_destinations(window, qtbot)
    dialog = open_add(page, qtbot, "trakt")
    assert isinstance(dialog, TraktDialog) and dialog.save_button.text() == "Add and sign in"
    assert not dialog.save_button.isEnabled() and not dialog.code.isVisible()
    assert dialog.live.isChecked() and dialog.enabled.isChecked()  # Trakt shows what is playing by default
    qtbot.keyClicks(dialog.client_id, TRAKT_ID)
    assert not dialog.save_button.isEnabled()  # the secret too
    qtbot.keyClicks(dialog.client_secret, "  ")
    assert not dialog.save_button.isEnabled()  # (blank is not a secret)
    qtbot.keyClicks(dialog.client_secret, TRAKT_SECRET)
    assert dialog.save_button.isEnabled()
    assert dialog.client_secret.echoMode() == dialog.client_secret.EchoMode.Password
    assert all(TRAKT_SECRET not in text for text in shown_texts(dialog))
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.dialog is None)

    dialog = open_add(page, qtbot, "simkl")
    assert isinstance(dialog, SimklDialog) and not dialog.client_secret.isVisible()  # no secret at Simkl
    assert not dialog.live.isChecked()  # Simkl: the history only, by default
    assert not dialog.save_button.isEnabled()
    qtbot.keyClicks(dialog.client_id, SIMKL_ID)
    assert dialog.save_button.isEnabled()


def test_trakt_added_through_the_dialog_shows_the_code_and_closes_once_allowed(
        window: SettingsWindow, core: Core, paths: Paths, trakt: FakeTrakt, qtbot: Any) -> None:
    w, page = open_destinations(window, qtbot)
    dialog, code = start_trakt(page, qtbot, trakt)
    assert dialog.code.text() == code
    assert "https://auth.trakt.tv/activate" in dialog.where.text()
    assert dialog.sign_status.text() == "Waiting for you to allow Scrobble Tray on Trakt…"
    assert dialog.cancel_button.text() == "Cancel sign-in" and not dialog.save_button.isEnabled()
    assert [t.id for t in core.settings.trakt] == ["trakt-1"]  # added before the sign-in
    assert dialog.client_secret.text() == ""  # in the keyring now, not in a widget
    assert all(TRAKT_SECRET not in text for text in shown_texts(dialog))

    trakt.approve(code)
    qtbot.waitUntil(lambda: page.dialog is None, timeout=5000)
    (target,) = core.settings.trakt
    assert target.account == "stand-in"  # GET /users/settings's username
    kept = get_secret(paths, "trakt-1-tokens")
    assert kept is not None and json.loads(kept)["access_token"] in trakt.grants
    assert get_secret(paths, "trakt-1-client-secret") == TRAKT_SECRET
    saved = paths.settings_file.read_text()
    assert TRAKT_SECRET not in saved and json.loads(kept)["access_token"] not in saved
    assert json.loads(saved)["trakt"][0]["account"] == "stand-in"
    qtbot.waitUntil(lambda: page.rows()[1][0] == "Trakt (stand-in)\nhttps://trakt.tv as stand-in")
    assert page.rows()[1][1] == "Watched plays · now playing"  # (not "every Plex event")
    assert page.rows()[0][1] == "Watched plays"  # the built-in tracker: episodes and movies
    assert target.live
    assert all(TRAKT_SECRET not in text for text in shown_texts(w))


def test_cancelling_while_waiting_says_not_signed_in_and_keeps_the_account(
        window: SettingsWindow, core: Core, paths: Paths, trakt: FakeTrakt, qtbot: Any) -> None:
    _, page = open_destinations(window, qtbot)
    dialog, _ = start_trakt(page, qtbot, trakt)
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.sign_error.isVisible(), timeout=5000)
    assert dialog.sign_error.text().startswith("Not signed in: Signing in to Trakt was cancelled.")
    assert not dialog.code.isVisible() and dialog.isVisible()
    assert dialog.cancel_button.text() == "Close"
    assert [(t.id, t.account) for t in core.settings.trakt] == [("trakt-1", "")]
    assert get_secret(paths, "trakt-1-tokens") is None
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.dialog is None)
    assert [t.id for t in core.settings.trakt] == ["trakt-1"]


def test_declined_on_trakt_is_said_in_words_with_what_to_do(
        window: SettingsWindow, core: Core, trakt: FakeTrakt, qtbot: Any) -> None:
    _, page = open_destinations(window, qtbot)
    dialog, code = start_trakt(page, qtbot, trakt)
    trakt.deny(code)
    qtbot.waitUntil(lambda: dialog.sign_error.isVisible(), timeout=5000)
    assert dialog.sign_error.text() == ("Not signed in: You declined the request on trakt.tv.\n"
                                        "Start again and choose Allow on trakt.tv.")
    assert dialog.sign_status.text() == ("Its plays wait until it is signed in: press Sign in again when you "
                                         "are ready.")
    assert dialog.sign_button.isVisible() and dialog.save_button.text() == "Save"
    assert dialog.isVisible() and core.settings.trakt[0].account == ""


def test_simkl_added_through_the_dialog_signs_in_with_the_pin(
        window: SettingsWindow, core: Core, paths: Paths, simkl: FakeSimkl, qtbot: Any) -> None:
    _, page = open_destinations(window, qtbot)
    dialog = open_add(page, qtbot, "simkl")
    qtbot.keyClicks(dialog.client_id, SIMKL_ID)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.code.isVisible(), timeout=5000)
    (pin,) = simkl.pins
    assert dialog.code.text() == pin and "https://simkl.com/pin/" in dialog.where.text()
    simkl.approve(pin)
    qtbot.waitUntil(lambda: page.dialog is None, timeout=5000)
    (target,) = core.settings.simkl
    assert target.account == "Sam Simkl" and target.client_id == SIMKL_ID and not target.live
    qtbot.waitUntil(lambda: page.rows()[1][:2] == ("Simkl (Sam Simkl)\nhttps://simkl.com as Sam Simkl",
                                                   "Watched plays"))
    kept = get_secret(paths, "simkl-1-tokens")
    assert kept is not None and json.loads(kept)["access_token"] in simkl.tokens
    assert json.loads(kept)["access_token"] not in paths.settings_file.read_text()


def test_an_expired_simkl_pin_is_said_in_words(
        window: SettingsWindow, core: Core, simkl: FakeSimkl, qtbot: Any) -> None:
    _, page = open_destinations(window, qtbot)
    dialog = open_add(page, qtbot, "simkl")
    qtbot.keyClicks(dialog.client_id, SIMKL_ID)
    simkl.pin_expires_in = 0.5  # (the app stops polling at the expiry Simkl gave)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.code.isVisible(), timeout=5000)
    qtbot.waitUntil(lambda: dialog.sign_error.isVisible(), timeout=5000)
    (pin,) = simkl.pins
    assert dialog.sign_error.text() == (f"Not signed in: The Simkl code {pin} expired before it was approved.\n"
                                        "Start again, and enter the new code in time.")
    assert [t.account for t in core.settings.simkl] == [""]


def test_the_edit_dialog_says_who_is_signed_in_and_signs_in_again(
        window: SettingsWindow, core: Core, paths: Paths, trakt: FakeTrakt, qtbot: Any) -> None:
    _, page = open_destinations(window, qtbot)
    _, code = start_trakt(page, qtbot, trakt)
    trakt.approve(code)
    qtbot.waitUntil(lambda: page.dialog is None, timeout=5000)
    first = get_secret(paths, "trakt-1-tokens")

    edit = page.open_edit_dialog("trakt-1")
    assert isinstance(edit, TraktDialog) and edit.isVisible()
    assert edit.sign_status.text() == "Signed in as stand-in."
    assert edit.sign_button.isVisible() and edit.sign_button.text() == "Sign in again"
    assert not edit.client_id.isVisible() and not edit.client_secret.isVisible()  # kept; not shown again
    assert not edit.save_button.isEnabled()  # nothing changed yet
    qtbot.mouseClick(edit.sign_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: edit.code.isVisible(), timeout=5000)
    assert not edit.sign_button.isVisible()
    qtbot.mouseClick(edit.cancel_button, Qt.MouseButton.LeftButton)  # changed my mind: the sign-in stays
    qtbot.waitUntil(lambda: edit.sign_error.isVisible(), timeout=5000)
    assert edit.sign_error.text() == "Not signed in again: Signing in to Trakt was cancelled."
    assert edit.sign_status.text() == "Still signed in as stand-in, as before."
    assert get_secret(paths, "trakt-1-tokens") == first and edit.sign_button.isVisible()
    qtbot.mouseClick(edit.sign_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: edit.code.isVisible(), timeout=5000)
    assert not edit.sign_error.isVisible()
    again = list(trakt.codes.values())[-1].user_code  # (the third code asked for)
    assert len(trakt.codes) == 3
    assert edit.code.text() == again
    trakt.approve(again)
    qtbot.waitUntil(lambda: page.dialog is None, timeout=5000)
    assert get_secret(paths, "trakt-1-tokens") not in (None, first)
    assert core.settings.trakt[0].account == "stand-in"


def test_the_status_window_says_to_sign_in_to_trakt_again_and_where(
        ui: UiController, core: Core, aio: Aio, paths: Paths, trakt: FakeTrakt, simkl: FakeSimkl,
        qtbot: Any) -> None:
    """A sign-in Trakt no longer accepts (revoked on trakt.tv): the play waits, and the
    status window says what to do; Simkl beside it takes the play."""
    trakt.add_show("Breaking Bad", {"tmdb": 1396, "tvdb": 81189}, {1: 7})
    simkl.add_show("Breaking Bad", {"tmdb": 1396, "tvdb": 81189}, {1: 7})
    aio.run(core.add_destination("trakt", "", "My Trakt", client_id=TRAKT_ID, client_secret=TRAKT_SECRET))
    set_secret(paths, "trakt-1-tokens", Tokens(secrets.token_hex(32), secrets.token_hex(32), 2e9).to_json())
    aio.run(core.sign_in_changed("trakt-1", "stand-in"))
    aio.run(core.add_destination("simkl", "", "", client_id=SIMKL_ID))
    set_secret(paths, "simkl-1-tokens", Tokens(simkl.sign_in(), None, None).to_json())
    aio.run(core.sign_in_changed("simkl-1", "Sam Simkl"))
    aio.post(core, episode_payload(1, 1))
    w = ui.show_status()
    labels = w.destinations_box.state_labels
    qtbot.waitUntil(lambda: "trakt-1" in labels and "simkl-1" in labels
                    and labels["trakt-1"].text().startswith("Failing")
                    and labels["simkl-1"].text().startswith("Up to date"), timeout=10_000)
    assert labels["trakt-1"].text() == labels["trakt-1"].text().split("\n")[0] + (
        "\nSettings → Destinations → My Trakt → Edit… → Sign in again (or 'scrobbletray destinations login "
        "trakt-1'). Events wait until then.")
    assert "Trakt no longer accepts the sign-in: sign in to Trakt again (1 waiting)" in labels["trakt-1"].text()
    assert len(simkl.history) == 1 and trakt.history == []
    assert all(TRAKT_SECRET not in text for text in shown_texts(w))


def test_closing_the_dialog_while_waiting_stops_asking_trakt(
        window: SettingsWindow, core: Core, trakt: FakeTrakt, qtbot: Any) -> None:
    _, page = open_destinations(window, qtbot)
    dialog, _ = start_trakt(page, qtbot, trakt)
    (code,) = trakt.codes.values()
    qtbot.waitUntil(lambda: code.last_poll is not None, timeout=5000)  # polling, every 0.05 s
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: page.dialog is None)
    qtbot.wait(200)
    last = code.last_poll
    qtbot.wait(300)
    assert code.last_poll == last  # no poll since
    assert [(t.id, t.account) for t in core.settings.trakt] == [("trakt-1", "")]
