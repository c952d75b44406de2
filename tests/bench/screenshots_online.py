"""The Trakt and Simkl screenshots (``tests/bench/screenshots.py --only online``): the sign-in
code shown in the Add Trakt dialog, and the status window with a Simkl account that took
its plays and a Trakt account whose sign-in Trakt no longer accepts.

A core of its own, on a temporary data folder, against the tests' stand-ins
(``tests/fake_trakt.py``, ``tests/fake_simkl.py``) over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QWidget

from app.core.config import Paths, Settings
from app.core.credentials import set_secret
from app.core.destinations.online.signin import Tokens
from app.core.destinations.sender import Timing
from app.core.facade import Core
from app.ui.autostart import Autostart
from app.ui.controller import UiController
from tests.fake_simkl import FakeSimkl
from tests.fake_trakt import FakeTrakt
from tests.helpers import BREAKING_BAD, episode_payload, post, sample
from tests.ui.texts import shown_texts

Until = Callable[..., Awaitable[None]]
Save = Callable[[QWidget, str, Path, list[str]], Path]
TRAKT_ID, TRAKT_SECRET = "3f1c" * 16, secrets.token_hex(32)  # (an app id is public; its secret is not)
SIMKL_ID = "8d2e" * 16
BB_IDS = {"tmdb": 1396, "tvdb": 81189, "imdb": "tt0903747"}


async def online(out: Path, until: Until, save: Save, *, port: int = 0, also: Path | None = None) -> None:
    """Render ``trakt-sign-in`` and ``online-status`` to ``out`` (and, to ``also``, the filled
    Add dialog and the Destinations page, for looking at)."""
    data = Path(tempfile.mkdtemp(prefix="scrobbletray-online-"))
    trakt, simkl = FakeTrakt(TRAKT_ID, TRAKT_SECRET, post_interval=0.0), FakeSimkl(SIMKL_ID)
    for fake in (trakt, simkl):
        await fake.start()
        fake.add_show("Breaking Bad", BB_IDS, {1: 7, 2: 13}, 2008)
        fake.add_movie("Heat", 1995, {"imdb": "tt0113277", "tmdb": 949})
    os.environ.update(SCROBBLETRAY_TRAKT_API_URL=trakt.api_url, SCROBBLETRAY_TRAKT_AUTH_URL=trakt.auth_url,
                      SCROBBLETRAY_SIMKL_API_URL=simkl.api_url)
    paths = Paths(data / "data")
    core = Core(paths, Settings(port=port, rate_limit_per_minute=0, plex_location="this"),
                timing=Timing(timeout=2.0, backoff_base=30.0, backoff_cap=300.0))
    await core.start()
    assert core.runtime.store is not None
    await core.runtime.run(core.runtime.store.add_show, **BREAKING_BAD)
    ui = UiController(core, tray_available=True,
                      autostart=Autostart(data / "autostart.desktop", command=["scrobbletray"], supported=True))
    try:
        await _shots(core, ui, paths, trakt, simkl, out, until, save, also)
    finally:
        ui.close()
        await core.stop()
        for fake in (trakt, simkl):
            await fake.close()


async def _shots(core: Core, ui: UiController, paths: Paths, trakt: FakeTrakt, simkl: FakeSimkl, out: Path,
                 until: Until, save: Save, also: Path | None) -> None:
    settings = ui.show_settings()
    page = settings.show_destinations()
    dialog: Any = page.open_add_dialog("trakt")
    dialog.client_id.setText(TRAKT_ID)
    dialog.client_secret.setText(TRAKT_SECRET)
    dialog.label.setText("My Trakt")
    await asyncio.sleep(0.1)
    if also is not None:
        save(dialog, "trakt-add", also, [TRAKT_SECRET])
    dialog.save()
    await until(lambda: dialog.code.isVisible())
    await asyncio.sleep(0.1)
    save(dialog, "trakt-sign-in", out, [TRAKT_SECRET, *core.secrets()])
    (code,) = [c.user_code for c in trakt.codes.values()]
    trakt.approve(code)
    await until(lambda: page.dialog is None and bool(core.settings.trakt[0].account))

    # Simkl: signed in (as the CLI's login would leave it); it takes the plays below.
    did = await core.add_destination("simkl", "", "", client_id=SIMKL_ID)
    set_secret(paths, f"{did}-tokens", Tokens(simkl.sign_in(), None, None).to_json())
    await core.sign_in_changed(did, "Sam Simkl")
    # Trakt: the kept sign-in is one Trakt no longer knows (revoked on trakt.tv): plays wait.
    set_secret(paths, "trakt-1-tokens", Tokens(secrets.token_hex(32), secrets.token_hex(32), 2e9).to_json())
    await core.sign_in_changed("trakt-1", core.settings.trakt[0].account)
    url = core.best_webhook_url() or ""
    for payload in (episode_payload(1, 1), episode_payload(1, 2), sample("scrobble-movie")):
        status_code, body = await post(url, payload)
        assert status_code == 200, body
    await until(lambda: len(simkl.history) >= 2, timeout=30)
    hidden = [TRAKT_SECRET, *core.secrets()]

    status = ui.show_status()
    status.refresh()
    labels = status.destinations_box.state_labels
    await until(lambda: "sign in to Trakt again" in "\n".join(shown_texts(status))
                and did in labels and labels[did].text().startswith("Up to date"), timeout=30)
    await asyncio.sleep(0.1)
    save(status, "online-status", out, hidden)
    if also is not None:
        page.refresh()
        await until(lambda: len(page.rows()) == 3 and "failing" in page.rows()[1][2])
        save(settings, "settings-online", also, hidden)
        edit: Any = page.open_edit_dialog("trakt-1")
        await asyncio.sleep(0.1)
        save(edit, "trakt-edit", also, hidden)
        edit.sign_button.click()  # signing in again, then cancelled
        await until(lambda: edit.code.isVisible())
        edit.cancel_button.click()
        await until(lambda: edit.sign_error.isVisible())
        await asyncio.sleep(0.1)
        save(edit, "trakt-cancelled", also, hidden)
        edit.close()
        add: Any = page.open_add_dialog("simkl")
        add.client_id.setText(SIMKL_ID)
        await asyncio.sleep(0.1)
        save(add, "simkl-add", also, hidden)
        add.close()
    settings.close()
    status.close()
