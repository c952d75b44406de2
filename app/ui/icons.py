"""The app's SVG icons (from :mod:`app.resources`, never through the working directory)."""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon, QPixmap

from app.present.state import TrayState
from app.resources import resource_path

ICONS_DIR = resource_path("icons")


def icon_path(name: str) -> Path:
    """The file of icon ``name`` (without ``.svg``)."""
    return ICONS_DIR / f"{name}.svg"


@functools.cache
def icon(name: str) -> QIcon:
    """Icon ``name`` as a QIcon (SVG, sharp at every size)."""
    return QIcon(str(icon_path(name)))


def pixmap(name: str, size: int) -> QPixmap:
    """Icon ``name`` rendered at ``size`` × ``size`` logical pixels."""
    return icon(name).pixmap(QSize(size, size))


def tray_icon(state: TrayState) -> QIcon:
    """The tray glyph with the dot colour of ``state``."""
    return icon(f"tray-{state.icon_name}")


def check_icon(status: str) -> QIcon:
    """The pass/warn/fail icon of a diagnostics row (``info`` for anything else)."""
    return icon(f"check-{status}" if status in ("pass", "warn", "fail") else "check-info")
