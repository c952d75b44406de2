"""The General tab's typed fields: what is wrong with what was typed, and an input with its
inline error below it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.core.config import agent_problem, port_problem, setting_problem


def check_port(text: str) -> str | None:
    """The problem with a typed port, or None."""
    text = text.strip()
    if not text:
        return "Enter a port number."
    if not text.isdigit():
        return "The port must be a whole number."
    return port_problem(int(text))


def check_agent(text: str) -> str | None:
    """The problem with a typed ngrok agent path, or None (the check 'config set' uses)."""
    return agent_problem(text)


def check_database_url(text: str) -> str | None:
    """The problem with a typed database URL, or None (config.CHECKS: loading and 'config set' too)."""
    return setting_problem("database_url", text.strip() or None)


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
