"""Start at login: an XDG autostart entry on Linux; other platforms are not supported yet."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from app.core.config import APP_NAME, APP_SLUG, Paths, default_data_dir

UNSUPPORTED_TIP = "Start at login is only available on Linux in this version."


def default_entry_path() -> Path:
    """``$XDG_CONFIG_HOME/autostart/scrobbletray.desktop`` (``~/.config`` by default)."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "autostart" / f"{APP_SLUG}.desktop"


def launch_command(paths: Paths | None = None) -> list[str]:
    """The command that starts this app the way it runs now (frozen or from Python)."""
    cmd = [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "app"]
    if paths is not None and paths.data_dir.resolve() != default_data_dir().resolve():
        cmd += ["--data-dir", str(paths.data_dir)]
    return cmd


def _exec_quote(arg: str) -> str:
    """Quote one argument for a desktop entry's ``Exec`` key (the spec's rules, not a shell's)."""
    if arg and not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`%'):
        return arg
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg).replace("%", "%%")
    return f'"{escaped}"'


class Autostart:
    """Whether the app starts at login; ``entry_path`` is injectable for tests."""

    def __init__(self, entry_path: Path | None = None, command: list[str] | None = None,
                 supported: bool | None = None) -> None:
        self.supported = sys.platform.startswith("linux") if supported is None else supported
        self.entry_path = entry_path or default_entry_path()
        self.command = command or launch_command()

    def is_enabled(self) -> bool:
        return self.supported and self.entry_path.is_file()

    def set_enabled(self, enabled: bool) -> None:
        """Write or remove the autostart entry."""
        if not self.supported:
            raise OSError(UNSUPPORTED_TIP)
        if enabled:
            self.entry_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.entry_path.with_suffix(".tmp")
            tmp.write_text(self.desktop_entry(), encoding="utf-8")
            os.replace(tmp, self.entry_path)
        else:
            self.entry_path.unlink(missing_ok=True)

    def desktop_entry(self) -> str:
        return "\n".join([
            "[Desktop Entry]",
            "Type=Application",
            f"Name={APP_NAME}",
            "Comment=Marks TV episodes watched when Plex says you watched them",
            "Exec=" + " ".join(_exec_quote(a) for a in self.command),
            f"Icon={APP_SLUG}",
            "Terminal=false",
            "X-GNOME-Autostart-enabled=true",
            "",
        ])

    def __repr__(self) -> str:  # for test failure messages
        return f"Autostart({self.entry_path}, {shlex.join(self.command)})"
