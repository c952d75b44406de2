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


def have_x11(name: str) -> str:
    """find_library where every X11 library Qt's xcb plugin loads is installed."""
    return f"lib{name}.so"


def test_a_qt_platform_that_needs_no_display_is_fine_without_one() -> None:
    for named in ("offscreen", "minimal", "minimalegl", "vnc", "vnc:size=800x600", "eglfs", "linuxfb",
                  "vkkhrdisplay", "Offscreen"):
        assert display_problem({"QT_QPA_PLATFORM": named}, "linux", lambda n: None) is None, named


def test_qt_platform_xcb_without_display_is_the_no_display_sentence() -> None:
    """Desktop profiles export QT_QPA_PLATFORM=xcb; over SSH there is no DISPLAY for it."""
    for named in ("xcb", "xcb:no-grab", "XCB", "xcb_egl"):
        problem = display_problem({"QT_QPA_PLATFORM": named}, "linux", have_x11)
        assert problem and "no display" in problem and "DISPLAY is not set" in problem, named
        assert f"QT_QPA_PLATFORM is {named}" in problem and "scrobbletray serve" in problem
    # A Wayland display does not help the xcb plugin.
    problem = display_problem({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, "linux", have_x11)
    assert problem and "no display" in problem


def test_qt_platform_xcb_with_display_needs_the_x11_libraries() -> None:
    env = {"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}
    assert display_problem(env, "linux", have_x11) is None
    problem = display_problem(env, "linux", lambda n: None if n == "xcb-cursor" else f"lib{n}.so")
    assert problem and "libxcb-cursor." in problem and "sudo apt install libxcb-cursor0\n" in problem


def test_qt_platform_wayland_needs_a_wayland_display(tmp_path) -> None:
    for named in ("wayland", "wayland-egl"):
        problem = display_problem({"QT_QPA_PLATFORM": named, "DISPLAY": ":0"}, "linux", have_x11)
        assert problem and "no display" in problem and "WAYLAND_DISPLAY is not set" in problem, named
        assert display_problem({"QT_QPA_PLATFORM": named, "WAYLAND_DISPLAY": "wayland-1"}, "linux",
                               lambda n: None) is None
    # Unset, libwayland connects to wayland-0 in XDG_RUNTIME_DIR: a compositor there is one.
    env = {"QT_QPA_PLATFORM": "wayland", "XDG_RUNTIME_DIR": str(tmp_path)}
    assert display_problem(env, "linux", have_x11)
    (tmp_path / "wayland-0").touch()
    assert display_problem(env, "linux", have_x11) is None


def test_a_list_of_qt_platforms_works_if_any_of_them_can() -> None:
    named = {"QT_QPA_PLATFORM": "wayland;xcb"}
    assert display_problem({**named, "DISPLAY": ":0"}, "linux", have_x11) is None
    assert display_problem({**named, "WAYLAND_DISPLAY": "wayland-0"}, "linux", lambda n: None) is None
    assert display_problem({"QT_QPA_PLATFORM": "xcb;offscreen"}, "linux", have_x11) is None
    problem = display_problem(named, "linux", have_x11)
    assert problem and "no display" in problem and "neither WAYLAND_DISPLAY nor DISPLAY is set" in problem
    # A display for xcb but not its libraries: the libraries are what to fix.
    problem = display_problem({**named, "DISPLAY": ":0"}, "linux", lambda n: None)
    assert problem and "Qt needs X11 libraries" in problem


def test_the_app_with_qt_platform_xcb_and_no_display_exits_2_with_the_sentence(tmp_path: Path) -> None:
    """Not Qt's abort (SIGABRT: -6, or 134 from a shell) with its own message."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["QT_QPA_PLATFORM"] = "xcb"
    result = subprocess.run([sys.executable, "-m", "app", "--data-dir", str(tmp_path)], env=env,
                            capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[1])
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "no display" in result.stderr and "QT_QPA_PLATFORM is xcb" in result.stderr
    assert "scrobbletray serve" in result.stderr
    assert "platform plugin" not in result.stderr and "Traceback" not in result.stderr
