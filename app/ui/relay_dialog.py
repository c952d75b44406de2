"""Add or edit a relay target: a web tracker's own Plex webhook URL, what to send it, on/off.

The URL usually carries the tracker's secret: the dialog shows it in full (it is the
user's own, while they edit it); everywhere else it is masked.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QVBoxLayout, QWidget

from app.ui.target_dialog import Row, TargetDialog
from app.ui.widgets import muted


class RelayDialog(TargetDialog):
    kind = "relay"
    add_text = "Add web tracker…"
    add_tip = "Add a web tracker's Plex webhook URL"
    add_title = "Add relay target"
    edit_title = "Edit relay target"
    can_edit = True
    url_title = "Webhook URL:"
    url_placeholder = "http://localhost:3000/api/plex/webhook?secret=…"
    url_hint = ("The web tracker's own Plex webhook URL, with its secret: copy it from the tracker's "
                "settings. It is kept in settings.json, readable by you only.")
    url_missing = "Enter the tracker's Plex webhook URL."
    label_placeholder = "Optional, e.g. Episode tracker"

    def make_fields(self) -> None:
        self.only_watched = QCheckBox("Only episodes Scrobble Tray counted as watched")
        self.only_watched_hint = muted("Off: every Plex event (play, pause, stop, scrobble) is forwarded "
                                       "and the tracker decides what counts.")
        self.enabled = QCheckBox("Send events to this target")
        self.enabled.setChecked(True)
        self.only_watched.toggled.connect(self.validate)
        self.enabled.toggled.connect(self.validate)

    def rows(self) -> list[Row]:
        watched_cell = QVBoxLayout()
        watched_cell.setSpacing(2)
        watched_cell.addWidget(self.only_watched)
        watched_cell.addWidget(self.only_watched_hint)
        url, label = super().rows()
        return [url, ("Send:", watched_cell), label, ("", self.enabled)]

    def show_target(self, target: Any) -> None:
        self.only_watched.setChecked(target.only_watched)
        self.enabled.setChecked(target.enabled)

    def options(self) -> dict[str, Any]:
        return {"only_watched": self.only_watched.isChecked(), "enabled": self.enabled.isChecked()}

    def inputs(self) -> list[QWidget]:
        return [self.only_watched, self.enabled]
