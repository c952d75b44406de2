"""One base for every error meant for the user: what happened, and what to do about it.

Maestral's ``MaestralApiError(title, message)`` is the model: the CLI and the windows turn
any :class:`AppError` into words the same way (:func:`app.present.errors.error_text`),
so a failure reads alike wherever it is shown.
"""

from __future__ import annotations


class AppError(Exception):
    """A failure the user can understand: ``str(exc)`` says what happened, ``fix`` what to do."""

    def __init__(self, message: str = "", fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix


class SettingsInvalid(AppError, ValueError):
    """Settings that cannot be saved: the message names each problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems), "Correct the setting and try again.")


class NotRunning(AppError):
    """The request needs the running app (its senders, its tunnel), and none runs."""

    def __init__(self, what: str = "This") -> None:
        super().__init__(f"{what} needs Scrobble Tray running",
                         "Start it (the tray app, or 'scrobbletray serve'), then try again.")
