"""Can the tray app open a window here? Checked before Qt is loaded, since Qt aborts the
process (exit 134) with a message of its own when it cannot."""

from __future__ import annotations

import ctypes.util
import os
import sys
from typing import Callable, Mapping

# The X11 libraries Qt's xcb plugin loads that a minimal Linux install may lack.
X11_LIBRARIES = {"xcb-cursor": "libxcb-cursor0", "xcb-icccm": "libxcb-icccm4",
                 "xcb-keysyms": "libxcb-keysyms1", "xkbcommon-x11": "libxkbcommon-x11-0"}
FEDORA = {"xcb-cursor": "xcb-util-cursor", "xcb-icccm": "xcb-util-wm", "xcb-keysyms": "xcb-util-keysyms",
          "xkbcommon-x11": "libxkbcommon-x11"}
HEADLESS = "To run without a window (over SSH, on a server): scrobbletray serve"


def display_problem(env: Mapping[str, str] = os.environ, platform: str = sys.platform,
                    find_library: Callable[[str], str | None] = ctypes.util.find_library) -> str | None:
    """Why the window cannot open here, with the fix; None when it can (or Qt is told where)."""
    if not platform.startswith("linux") or env.get("QT_QPA_PLATFORM"):
        return None
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return f"There is no display to show the Scrobble Tray window on (DISPLAY is not set).\n{HEADLESS}"
    if env.get("WAYLAND_DISPLAY"):
        return None  # Qt's Wayland plugin needs none of the X11 libraries
    missing = [name for name in X11_LIBRARIES if find_library(name) is None]
    if not missing:
        return None
    return ("Qt needs X11 libraries that are not installed: "
            + ", ".join(f"lib{name}" for name in missing) + ".\n"
            "Debian/Ubuntu: sudo apt install " + " ".join(X11_LIBRARIES[n] for n in missing) + "\n"
            "Fedora: sudo dnf install " + " ".join(FEDORA[n] for n in missing) + "\n" + HEADLESS)
