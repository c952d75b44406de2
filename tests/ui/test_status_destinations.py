"""Destinations in the status window, the tray and Recent scrobbles, against a real relay target."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.core.destinations.sender import Timing
from app.core.facade import Core
from app.present.state import TrayState, summarize
from app.ui.controller import UiController
from app.ui.scrobbles_model import DELIVERED_COLUMN
from tests.fake_tracker import FakeTracker
from tests.helpers import episode_payload
from tests.ui.conftest import Aio

SECRET = "cd" * 32


@pytest.fixture
def target(aio: Aio, core: Core) -> Iterator[FakeTracker]:
    t = FakeTracker(secret=SECRET, limit=0)
    aio.run(t.start())
    core.runtime.timing = Timing(timeout=1.0, backoff_base=0.05, backoff_cap=0.2)
    yield t
    aio.run(t.stop())


def test_a_failing_destination_shows_why_and_retry_sends_its_events(
        ui: UiController, core: Core, aio: Aio, target: FakeTracker, qtbot: Any) -> None:
    target.mode = "error"
    aio.run(core.add_relay(target.url, label="Episode tracker"))
    w = ui.show_status()
    box = w.destinations_box
    qtbot.waitUntil(lambda: "relay-1" in box.state_labels)
    assert box.state_labels["builtin"].text().startswith("Marks here")
    aio.post(core, episode_payload(1, 1))
    qtbot.waitUntil(lambda: box.state_labels["relay-1"].text().startswith("Failing since"), timeout=10_000)
    text = box.state_labels["relay-1"].text()
    assert "the tracker failed (HTTP 500" in text and "(1 waiting)" in text and "its database?" in text
    assert SECRET not in text and "relay-1" in box.retry_buttons
    aio.post(core, episode_payload(1, 2))  # still failing (no change of state): the count follows
    qtbot.waitUntil(lambda: "(2 waiting)" in box.state_labels["relay-1"].text(), timeout=10_000)

    target.mode = "ok"
    qtbot.mouseClick(box.retry_buttons["relay-1"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: box.state_labels["relay-1"].text().startswith("Up to date"), timeout=10_000)
    assert "relay-1" not in box.retry_buttons
    assert len(target.accepted) == 2


def test_a_paused_destination_turns_the_tray_to_attention_and_shows_in_the_log(
        ui: UiController, core: Core, aio: Aio, target: FakeTracker, qtbot: Any) -> None:
    target.mode = "forbidden"
    aio.run(core.add_relay(target.url))
    for n in range(1, 4):
        aio.post(core, episode_payload(1, n))
    qtbot.waitUntil(lambda: core.status.destinations_failing == 1, timeout=10_000)
    assert summarize(core.status).state is TrayState.ATTENTION
    assert summarize(core.status).headline == "A destination is failing"
    w = ui.show_status()
    box = w.destinations_box
    qtbot.waitUntil(lambda: box.state_labels.get("relay-1") is not None
                    and box.state_labels["relay-1"].text().startswith("Paused"))
    assert "every event is refused: refused (HTTP 403" in box.state_labels["relay-1"].text()
    assert "A destination is failing" in w.banner.text

    s = ui.show_scrobbles()
    qtbot.waitUntil(lambda: s.model.rowCount() == 3 and not s.loading)
    index = s.model.index(0, DELIVERED_COLUMN)
    assert s.model.data(index) == f"Built-in ✓ · Web tracker at 127.0.0.1:{target.port} failed"
    assert "HTTP 403" in s.model.data(index, Qt.ItemDataRole.ToolTipRole)
