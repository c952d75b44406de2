"""The General tab's typed fields: what is wrong with what was typed, and an input with its
inline error below it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.core.config import port_problem


def check_port(text: str) -> str | None:
    """The problem with a typed port, or None."""
    text = text.strip()
    if not text:
        return "Enter a port number."
    if not text.isdigit():
        return "The port must be a whole number."
    return port_problem(int(text))


def check_agent(text: str) -> str | None:
    """The problem with a typed ngrok agent path, or None (empty: the downloaded one)."""
    path = Path(text.strip()).expanduser()
    if not text.strip():
        return None
    if not path.is_file():
        return "No file there: choose the ngrok program, or leave it empty."
    if not os.access(path, os.X_OK):
        return f"That file cannot be run (chmod +x {path})."
    return None


def check_database_url(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(text)
    except (ArgumentError, ValueError):
        return "Not a database URL; e.g. postgresql+psycopg://user@host/tracker"
    return None


class Field:
    """An input with an inline error label below it."""

    def __init__(self, widget: QWidget, check: Callable[[], str | None]) -> None:
        self.widget = widget
        self.check = check
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c92a2a;")
        self.error.hide()

    def validate(self) -> bool:
        problem = self.check()
        self.error.setText(problem or "")
        self.error.setVisible(bool(problem))
        return problem is None

    def cell(self) -> QVBoxLayout:
        """The input above its error, for a form row."""
        cell = QVBoxLayout()
        cell.setSpacing(2)
        cell.addWidget(self.widget)
        cell.addWidget(self.error)
        return cell
