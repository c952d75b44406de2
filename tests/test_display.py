"""Before Qt is loaded: no display, or Qt's X11 libraries missing, is a sentence and a fix,
exit 2, not Qt's abort (exit 134)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.display import display_problem


def test_no_display_suggests_serve() -> None:
    problem = display_problem({}, "linux")
    assert problem and "no display" in problem and "scrobbletray serve" in problem


def test_missing_x11_libraries_are_named_with_the_packages_to_install() -> None:
    have = {"xcb-icccm", "xkbcommon-x11"}
    problem = display_problem({"DISPLAY": ":0"}, "linux", lambda n: f"lib{n}.so" if n in have else None)
    assert problem and "libxcb-cursor, libxcb-keysyms" in problem
    assert "sudo apt install libxcb-cursor0 libxcb-keysyms1" in problem
    assert "sudo dnf install xcb-util-cursor xcb-util-keysyms" in problem


def test_a_usable_display_or_another_qt_platform_is_fine() -> None:
    assert display_problem({"DISPLAY": ":0"}, "linux", lambda n: f"lib{n}.so") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux", lambda n: None) is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux", lambda n: None) is None
    assert display_problem({}, "win32") is None


def test_the_app_without_a_display_exits_2_with_the_sentence(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([sys.executable, "-m", "app", "--data-dir", str(tmp_path)], env=env,
                            capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[1])
    assert result.returncode == 2, result.stderr
    assert "no display" in result.stderr and "scrobbletray serve" in result.stderr
    assert "PySide6" not in result.stderr and "Traceback" not in result.stderr
