"""Add or edit a relay target: which tracker it is, its webhook URL, what to send it, on/off.

A tracker by name (:mod:`app.core.destinations.presets`) asks for its host, port and token
and builds the URL, shown with the token masked; it says what the tracker takes and
cannot do, and Test sends the tracker an event it accepts without changing anyone's
history and says what the answer means there. "Another web tracker" takes any URL, shown
in full while the user edits it (it is their own); everywhere else it is masked.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.destinations.presets import OTHER, PRESETS, Preset
from app.core.destinations.relay import secret_segments
from app.core.logs import redact, url_secrets
from app.present.formatting import MASK
from app.ui.target_dialog import ERROR_COLOUR, Row, TargetDialog, sentence
from app.ui.tasks import spawn
from app.ui.widgets import muted

OTHER_HINT = ("Off: every Plex event (play, pause, stop, scrobble) is forwarded and the tracker decides "
              "what counts.")


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
        self.tracker = QComboBox()
        for p in PRESETS.values():
            self.tracker.addItem(sentence(p.title), p.name)
        self.tracker.setCurrentIndex(self.tracker.findData(OTHER.name))
        self.host = QLineEdit()
        self.host.setPlaceholderText("e.g. 192.168.1.20, nas.lan, or https://nas.lan/yamtrack behind a proxy")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.shown = QLabel()  # the URL built from the fields, its token masked
        self.shown.setWordWrap(True)
        self.notes = muted()
        self.fields_error = QLabel()
        self.fields_error.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.fields_error.setWordWrap(True)
        self.fields_error.hide()
        self.only_watched = QCheckBox("Only episodes Scrobble Tray counted as watched")
        self.only_watched_hint = muted(OTHER_HINT)
        self.enabled = QCheckBox("Send events to this target")
        self.enabled.setChecked(True)
        self.test_button = QPushButton("Test")
        self.test_button.setToolTip("Send the tracker an event it accepts without changing anyone's history, "
                                    "and say what its answer means")
        self.test_result = muted()
        self.test_result.hide()
        self.url_cell.insertWidget(0, self.shown)
        self.url_cell.insertWidget(1, self.fields_error)
        self.url_cell.insertWidget(2, self.notes)
        self.tracker.currentIndexChanged.connect(self._tracker_changed)
        for edit in (self.host, self.token):
            edit.textChanged.connect(self._build)
        self.port.valueChanged.connect(self._build)
        self.only_watched.toggled.connect(self.validate)
        self.enabled.toggled.connect(self.validate)
        self.test_button.clicked.connect(self.run_test)
        self._building = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.target is None:  # (an edit showed its tracker already: show_target)
            self._tracker_changed()

    def rows(self) -> list[Row]:
        watched_cell = QVBoxLayout()
        watched_cell.setSpacing(2)
        watched_cell.addWidget(self.only_watched)
        watched_cell.addWidget(self.only_watched_hint)
        self.address = QHBoxLayout()
        self.address.addWidget(self.host, 1)
        self.address.addWidget(QLabel("Port:"))
        self.address.addWidget(self.port)
        test = QHBoxLayout()
        test.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignTop)
        test.addWidget(self.test_result, 1)
        test.addStretch(0)
        url, label = super().rows()
        return [("Tracker:", self.tracker), ("Address:", self.address), ("Token:", self.token), url,
                ("Send:", watched_cell), label, ("", self.enabled), ("", test)]

    # -- the preset ------------------------------------------------------------------------------
    @property
    def preset(self) -> Preset:
        return PRESETS[self.tracker.currentData() or OTHER.name]

    def _tracker_changed(self) -> None:
        p = self.preset
        named = p is not OTHER
        if named:
            host, port, token = p.fields(self.url.text()) if self.url.text().strip() else ("", None, "")
            self._building = True
            self.host.setText(host or self.host.text())
            self.port.setValue(port or p.port)
            self.token.setText(token or self.token.text())
            self._building = False
            self.token.setPlaceholderText(f"the {p.token_name} from {p.title}: {p.where}")
            self.notes.setText(f"{sentence(p.title)} takes {p.takes}." + (
                f" It {p.cannot}." if p.cannot else ""))
        else:
            self.notes.setText("")
        self.notes.setVisible(named)
        self._show_fields(named)
        self.only_watched_hint.setText(
            OTHER_HINT if not named else f"Off: what {p.title} takes is forwarded, and it decides what counts.")
        self.test_result.hide()
        self._build()
        QTimer.singleShot(0, self._fit)

    def _show_fields(self, named: bool) -> None:
        """Host, port and token for a named tracker; the URL itself for another."""
        form = self.form
        form.setRowVisible(self.address, named)
        form.setRowVisible(self.token, named)
        if isinstance(label := form.labelForField(self.token), QLabel):
            label.setText(f"{sentence(self.preset.token_name)}:")
        self.url.setVisible(not named)
        # (hidden, it holds the built URL: masked all the same, as the token field is)
        self.url.setEchoMode(QLineEdit.EchoMode.Password if named else QLineEdit.EchoMode.Normal)
        for i in range(3, self.url_cell.count()):  # the URL's own hint: another tracker only
            item = self.url_cell.itemAt(i)
            if item is not None and (w := item.widget()) not in (None, self.url_error):
                w.setVisible(not named)
        self.shown.setVisible(named)

    @property
    def form(self) -> QFormLayout:
        """The form the rows were laid out in."""
        layout = self.layout()
        assert layout is not None
        item = layout.itemAt(0)
        assert item is not None and isinstance(item.layout(), QFormLayout)
        return item.layout()  # type: ignore[return-value]

    def _build(self) -> None:
        """The URL from the fields (a named tracker), into the URL the dialog saves."""
        p = self.preset
        if p is OTHER or self._building:
            self.validate()
            return
        host = self.host.text().strip()
        url = p.url(host, self.port.value(), self.token.text().strip()) if host else ""
        self.url.setText(url)  # (validates)
        self.shown.setText(p.shown(url, secret_segments(url)) if url else p.shape)

    def validate(self) -> bool:
        ok = super().validate()
        if not hasattr(self, "fields_error"):  # (the base class validates before make_fields)
            return ok
        p = self.preset
        problem = None
        if p is not OTHER:
            if not self.host.text().strip():
                problem = f"Enter the address of the computer {p.title} runs on."
            elif not self.token.text().strip():
                problem = f"Enter the {p.token_name} from {p.title} ({p.where})."
            elif found := p.url_problem(self.url.text()):
                problem = sentence(found) + "."
            self.url_error.hide()
        shown = problem if self.target is not None or self.host.text().strip() or self.token.text().strip() else None
        self.fields_error.setText(shown or "")
        self.fields_error.setVisible(bool(shown))
        if problem is not None:
            self.save_button.setEnabled(False)
        self.test_button.setEnabled(ok and problem is None and not self.saving)
        return ok and problem is None

    # -- the kind's fields -----------------------------------------------------------------------
    def show_target(self, target: Any) -> None:
        self.only_watched.setChecked(target.only_watched)
        self.enabled.setChecked(target.enabled)
        self.tracker.setCurrentIndex(max(0, self.tracker.findData(getattr(target, "preset", OTHER.name))))
        self._tracker_changed()

    def options(self) -> dict[str, Any]:
        if not hasattr(self, "tracker"):
            return {"only_watched": self.only_watched.isChecked(), "enabled": self.enabled.isChecked()}
        return {"only_watched": self.only_watched.isChecked(), "enabled": self.enabled.isChecked(),
                "preset": self.preset.name}

    def inputs(self) -> list[QWidget]:
        return [self.tracker, self.host, self.port, self.token, self.only_watched, self.enabled, self.test_button]

    # -- Test ------------------------------------------------------------------------------------
    def run_test(self) -> None:
        if self.validate():
            self.test_button.setEnabled(False)
            self.test_result.setText("Testing…")
            self.test_result.setStyleSheet("")
            self.test_result.show()
            spawn(self._test(), self._test_failed, owner=self)

    async def _test(self) -> None:
        url, preset = self.url.text().strip(), self.preset
        attempt = await self.core.test_target(self.kind, url, preset=preset.name)
        words = sentence(attempt.detail) + (f"\n{attempt.fix}" if attempt.fix else "")
        self.test_result.setText(redact(words, *preset.secrets(url, secret_segments(url)), mask=MASK))
        self.test_result.setStyleSheet("" if attempt.verdict == "delivered" else f"color: {ERROR_COLOUR};")
        self.validate()
        QTimer.singleShot(0, self._fit)

    def _test_failed(self, exc: BaseException) -> None:
        self.test_result.setText(redact(f"The test failed: {exc}", *url_secrets(self.url.text()), mask=MASK))
        self.test_result.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.validate()
