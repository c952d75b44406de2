"""One app per data folder: a second launch brings the first one's window forward."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QDir

from app.core.config import Paths, Settings
from app.ui import app as ui_app
from app.ui.controller import UiController
from app.ui.single_instance import SingleInstance, server_name


@pytest.fixture
def first(paths: Paths) -> Iterator[SingleInstance]:
    instance = SingleInstance(server_name(paths.data_dir))
    assert instance.listen()
    yield instance
    instance.close()


def test_names_differ_per_data_folder(tmp_path: Path) -> None:
    assert server_name(tmp_path / "a") != server_name(tmp_path / "b")
    assert server_name(tmp_path / "a") == server_name(tmp_path / "x" / ".." / "a")


def test_a_second_instance_wakes_the_first(first: SingleInstance, paths: Paths, qtbot: Any) -> None:
    second = SingleInstance(server_name(paths.data_dir))
    with qtbot.waitSignal(first.activated, timeout=3000):
        assert second.notify_running()
    assert not SingleInstance(server_name(paths.data_dir / "other")).notify_running()


def test_second_launch_raises_the_status_window_and_exits_0(
        first: SingleInstance, ui: UiController, paths: Paths, settings: Settings, qtbot: Any,
        capsys: Any) -> None:
    first.activated.connect(ui.show_status)
    assert not ui.status_window.isVisible()
    assert ui_app.run(paths, settings, ["scrobbletray"]) == 0
    assert "already running" in capsys.readouterr().err
    qtbot.waitUntil(ui.status_window.isVisible)


def test_a_stale_socket_left_by_a_crash_is_taken_over(paths: Paths, qtbot: Any) -> None:
    name = server_name(paths.data_dir)
    # What a crashed instance leaves: a bound Unix socket file nobody listens behind.
    stale = Path(QDir.tempPath()) / name
    leftover = socket.socket(socket.AF_UNIX)
    leftover.bind(str(stale))
    leftover.close()
    assert stale.exists()
    assert not SingleInstance(name).notify_running()
    fresh = SingleInstance(name)
    try:
        assert fresh.listen()
        with qtbot.waitSignal(fresh.activated, timeout=3000):
            assert SingleInstance(name).notify_running()
    finally:
        fresh.close()
