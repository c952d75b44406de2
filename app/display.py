"""Can the tray app open a window here? Checked before Qt is loaded, since Qt aborts the
process (exit 134) with a message of its own when it cannot."""

from __future__ import annotations

import ctypes.util
import os
import sys
from collections.abc import Callable, Mapping

# The X11 libraries Qt's xcb plugin loads that a minimal Linux install may lack.
X11_LIBRARIES = {"xcb-cursor": "libxcb-cursor0", "xcb-icccm": "libxcb-icccm4",
                 "xcb-keysyms": "libxcb-keysyms1", "xkbcommon-x11": "libxkbcommon-x11-0"}
FEDORA = {"xcb-cursor": "xcb-util-cursor", "xcb-icccm": "xcb-util-wm", "xcb-keysyms": "xcb-util-keysyms",
          "xkbcommon-x11": "libxkbcommon-x11"}
HEADLESS = "To run without a window (over SSH, on a server): scrobbletray serve"


def display_problem(env: Mapping[str, str] = os.environ, platform: str = sys.platform,
                    find_library: Callable[[str], str | None] = ctypes.util.find_library) -> str | None:
    """Why the window cannot open here, with the fix; None when it can (or we cannot tell).

    QT_QPA_PLATFORM, when set, names the Qt platform (``xcb``, ``wayland``, ``offscreen``,
    ``vnc:size=800x600``; a list like ``wayland;xcb`` is tried in turn): it is judged by what
    the platform named needs, since desktop profiles export ``xcb`` or ``wayland`` and Qt
    aborts when, over SSH, there is no display for it."""
    if not platform.startswith("linux"):
        return None
    named = env.get("QT_QPA_PLATFORM", "").strip()
    if not named:  # Qt's own choice: X11, or Wayland in a Wayland session
        if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
            return f"There is no display to show the Scrobble Tray window on (DISPLAY is not set).\n{HEADLESS}"
        if env.get("WAYLAND_DISPLAY"):
            return None  # Qt's Wayland plugin needs none of the X11 libraries
        return _x11_problem(find_library)
    unset: list[str] = []  # the variables the platforms named lack
    x11_problem = None
    for entry in named.split(";"):
        name = entry.split(":", 1)[0].strip().lower()  # "vnc:size=800x600": options after the colon
        if not name:
            continue
        if name.startswith("xcb"):
            if not env.get("DISPLAY"):
                unset.append("DISPLAY")
            elif problem := _x11_problem(find_library):
                x11_problem = problem
            else:
                return None
        elif name.startswith("wayland"):
            if not _wayland_socket(env):
                unset.append("WAYLAND_DISPLAY")
            else:
                return None
        else:
            return None  # offscreen, minimal, vnc, eglfs, linuxfb...: no display needed (or one we do not know)
    if x11_problem:
        return x11_problem
    if not unset:
        return None
    lacking = (f"neither {' nor '.join(dict.fromkeys(unset))} is set" if len(set(unset)) > 1
               else f"{unset[0]} is not set")
    return (f"There is no display to show the Scrobble Tray window on (QT_QPA_PLATFORM is {named}, and "
            f"{lacking}).\n{HEADLESS}")


def _wayland_socket(env: Mapping[str, str]) -> bool:
    """Whether Qt's Wayland plugin finds a compositor: WAYLAND_DISPLAY, or libwayland's default
    socket, wayland-0 in XDG_RUNTIME_DIR, when that is unset."""
    if env.get("WAYLAND_DISPLAY"):
        return True
    runtime = env.get("XDG_RUNTIME_DIR")
    if not runtime:
        return False
    return os.path.exists(os.path.join(runtime, "wayland-0"))


def _x11_problem(find_library: Callable[[str], str | None]) -> str | None:
    """The X11 libraries Qt's xcb plugin needs that are missing, with the packages; None if none."""
    missing = [name for name in X11_LIBRARIES if find_library(name) is None]
    if not missing:
        return None
    return ("Qt needs X11 libraries that are not installed: "
            + ", ".join(f"lib{name}" for name in missing) + ".\n"
            "Debian/Ubuntu: sudo apt install " + " ".join(X11_LIBRARIES[n] for n in missing) + "\n"
            "Fedora: sudo dnf install " + " ".join(FEDORA[n] for n in missing) + "\n" + HEADLESS)
