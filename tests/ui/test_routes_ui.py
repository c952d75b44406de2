"""Whose plays go where, in the windows: Settings → General, each accepted account with its
destinations to tick (saved as routes); Recent scrobbles, whose play it was and where it went;
an account left with none is said to be routed nowhere."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from PySide6.QtCore import Qt

from app.core.config import Paths
from app.core.facade import Core
from app.ui.controller import UiController
from tests.ui.conftest import Aio
from tests.ui.test_settings_window import open_settings


def test_each_account_ticks_its_destinations_and_save_keeps_them_as_routes(
        ui: UiController, core: Core, paths: Paths, aio: Aio, qtbot: Any, tmp_path: Any) -> None:
    aio.run(core.add_relay("http://127.0.0.1:9/webhook/" + "ab" * 32, label="Alice's tracker"))
    aio.run(core.add_relay("http://127.0.0.1:9/other/webhook/" + "ab" * 32, label="Bob's tracker"))
    w = open_settings(ui, qtbot)
    box = w.general.routes_box
    owner = box.topLevelItem(0)
    assert box.topLevelItemCount() == 1 and owner.text(1) == "Every destination"
    assert [owner.child(i).text(0) for i in range(owner.childCount())] == [
        "Alice's tracker (relay-1)", "Bob's tracker (relay-2)"]
    qtbot.keyClicks(w.general.accounts, "alice")  # an account typed in shows up at once
    alice = box.topLevelItem(1)
    assert alice.text(0) == "alice" and alice.child(0).checkState(0) == Qt.CheckState.Checked
    alice.child(1).setCheckState(0, Qt.CheckState.Unchecked)
    assert alice.text(1) == "1 of 2"
    owner = box.topLevelItem(0)  # (the list is shown anew as the accounts are typed)
    for i in range(2):
        owner.child(i).setCheckState(0, Qt.CheckState.Unchecked)
    assert box.warnings() == ["The owner (your own plays): Routed nowhere"]
    box.grab().save(str(tmp_path / "routes.png"))  # (looked at while writing this)
    w.grab().save(str(tmp_path / "settings.png"))
    assert w.save_button.isEnabled()
    with qtbot.waitSignal(w.saved, timeout=10_000):
        qtbot.mouseClick(w.save_button, Qt.MouseButton.LeftButton)
    assert core.settings.routes == {"owner": [], "alice": ["relay-1"]}
    assert json.loads(paths.settings_file.read_text())["routes"] == {"owner": [], "alice": ["relay-1"]}
    assert [(a.account, a.destinations, bool(a.warning)) for a in aio.run(core.accounts())] == [
        ("owner", (), True), ("alice", ("relay-1",), False)]
    # a destination removed meanwhile leaves the routes, and the window shows it so
    aio.run(core.remove_destination("relay-1"))
    assert core.settings.routes == {"owner": [], "alice": []}
    w.general.load()
    assert [box.topLevelItem(i).text(1)[:14] for i in range(2)] == ["Routed nowhere"] * 2
    # all ticked again: no route of its own (every destination, ones added later too)
    box.topLevelItem(1).child(0).setCheckState(0, Qt.CheckState.Checked)
    assert box.routes() == {"owner": []}


def test_removing_a_destination_says_who_is_left_routed_nowhere_and_the_lists_follow(
        core: Core, aio: Aio, paths: Paths, qtbot: Any) -> None:
    from app.ui.settings_window import SettingsWindow
    from tests.ui.test_destinations_settings import open_destinations

    aio.run(core.apply_settings(dataclasses.replace(core.settings, accepted_accounts=["Sam"])))
    aio.run(core.add_relay("http://127.0.0.1:9/webhook/" + "ab" * 32, label="Sam's tracker"))
    aio.run(core.add_relay("http://127.0.0.1:9/other/webhook/" + "ab" * 32, label="Mine"))
    aio.run(core.route_account("Sam", ["relay-1"]))
    w = SettingsWindow(core)
    qtbot.addWidget(w)
    w.show()
    sam = w.general.routes_box.topLevelItem(1)
    assert (sam.text(0), sam.text(1)) == ("Sam", "1 of 2")
    _, page = open_destinations(w, qtbot)
    page.confirm = lambda parent, title, text: True
    page.select("relay-1")
    with qtbot.waitSignal(page.changed, timeout=10_000):
        qtbot.mouseClick(page.remove_button, Qt.MouseButton.LeftButton)
    assert page.banner.text == "Removed Sam's tracker. Sam is routed nowhere: kept in the built-in tracker only."
    assert page.banner.kind == "warn"
    assert core.settings.routes == {"Sam": []}
    box = w.general.routes_box
    sam = box.topLevelItem(1)
    assert [sam.child(i).text(0) for i in range(sam.childCount())] == ["Mine (relay-2)"]
    assert sam.text(1) == "Routed nowhere" and box.warnings() == ["Sam: Routed nowhere"]


def test_a_route_naming_every_destination_stays_a_list_until_changed_here(
        core: Core, aio: Aio, qtbot: Any) -> None:
    """Set on the command line, "relay-1 relay-2" is not "every destination" (a third one added
    later would not get Sam's plays): saving Settings for another reason keeps it as it is."""
    from app.ui.settings_window import SettingsWindow

    aio.run(core.apply_settings(dataclasses.replace(core.settings, accepted_accounts=["Sam"])))
    for path in ("a", "b"):
        aio.run(core.add_relay(f"http://127.0.0.1:9/{path}/webhook/" + "ab" * 32))
    aio.run(core.route_account("Sam", ["relay-1", "relay-2"]))
    w = SettingsWindow(core)
    qtbot.addWidget(w)
    w.show()
    box = w.general.routes_box
    assert box.topLevelItem(1).text(1) == "2 of 2" and box.topLevelItem(0).text(1) == "Every destination"
    assert w.general.form_settings().routes == {"Sam": ["relay-1", "relay-2"]}
    sam = box.topLevelItem(1)
    sam.child(1).setCheckState(0, Qt.CheckState.Unchecked)
    sam.child(1).setCheckState(0, Qt.CheckState.Checked)  # ticked anew here: every destination
    assert sam.text(1) == "Every destination" and w.general.form_settings().routes == {}


def test_recent_scrobbles_says_whose_play_and_that_it_was_routed_nowhere(
        ui: UiController, core: Core, aio: Aio, qtbot: Any) -> None:
    from app.ui.scrobbles_model import DELIVERED_COLUMN
    from tests.helpers import episode_payload

    aio.run(core.add_relay("http://127.0.0.1:9/webhook/" + "ab" * 32, label="Web tracker"))
    aio.run(core.route_account("owner", ["none"]))
    aio.post(core, episode_payload(1, 1))
    aio.settled(core)
    w = ui.show_scrobbles()
    qtbot.waitUntil(lambda: w.model.rowCount() == 1 and w.model.index(0, 5).data() == "Marked")
    assert w.model.index(0, 1).data() == "homeowner"
    delivered = w.model.index(0, DELIVERED_COLUMN)
    assert delivered.data() == "Built-in ✓ · routed nowhere"
    assert delivered.data(Qt.ItemDataRole.ToolTipRole) == (
        "homeowner is routed nowhere: kept in the built-in tracker only")
