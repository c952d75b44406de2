"""Marks made by hand in the windows: Recent scrobbles says where they came from, and
Settings → Plex has the choice to take back a watch when it is marked unplayed in Plex."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.core.config import Paths, Settings, load_settings
from app.core.facade import Core
from app.ui.controller import UiController
from tests.fake_plex import FakePlexTv, FakePms
from tests.ui.conftest import Aio


@pytest.fixture
def plex(aio: Aio, settings: Settings) -> Iterator[tuple[FakePlexTv, FakePms, str]]:
    tv, pms = FakePlexTv(), FakePms(name="NAS")
    aio.run(tv.__aenter__())
    aio.run(pms.__aenter__())
    tv.servers.append(pms)
    token, _ = tv.add_user("alice")
    settings.plex_tv_url = tv.url
    yield tv, pms, token
    aio.run(pms.__aexit__(None, None, None))
    aio.run(tv.__aexit__(None, None, None))


def test_a_mark_made_by_hand_is_shown_as_such_and_unmarking_is_a_choice(
        plex: tuple[FakePlexTv, FakePms, str], ui: UiController, core: Core, aio: Aio, paths: Paths,
        qtbot: Any) -> None:
    _, pms, token = plex
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    aio.run(core.plex_signed_in(token))
    aio.run(core.runtime.catch_up.run())  # the first look: from now on
    pms.mark_watched("901", show, 1, 3, viewed_at=time.time() + 1)
    aio.run(core.runtime.catch_up.run())
    scrobbles = ui.show_scrobbles()
    scrobbles.refresh()
    qtbot.waitUntil(lambda: scrobbles.model.rowCount() == 1, timeout=10_000)
    assert str(scrobbles.model.index(0, 0).data()).endswith(" · marked in Plex by hand")

    window = ui.show_settings()
    window.show_plex()
    box = window.plex.undo_unmarked
    assert not box.isChecked()  # off by default
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: core.settings.plex_undo_unmarked, timeout=5_000)
    assert load_settings(paths).plex_undo_unmarked


def test_importing_older_plays_brings_older_marks_made_by_hand_too(
        plex: tuple[FakePlexTv, FakePms, str], ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    from PySide6.QtCore import QDate

    _, pms, token = plex
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    pms.mark_watched("911", show, 2, 1, viewed_at=time.time() - 10 * 86_400)
    pms.play("912", show, 2, 2, viewed_at=time.time() - 9 * 86_400)  # played: in the history, and viewed
    pms.mark_watched("912", show, 2, 2, viewed_at=time.time() - 9 * 86_400)
    aio.run(core.plex_signed_in(token))
    window = ui.show_settings()
    window.show_plex()
    page = window.plex
    qtbot.waitUntil(lambda: "New here: NAS" in page.caught_up.text(), timeout=10_000)
    page.since.setDate(QDate.currentDate().addDays(-30))
    qtbot.mouseClick(page.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.banner.text.startswith("Read "), timeout=15_000)
    assert page.banner.text == ("Read 1 play(s): 1 added, 0 already here, 0 not counted. "
                                "Marked viewed in Plex since then: 2, of which 1 marked by hand. "
                                "What became of those added: 2 marked.")
