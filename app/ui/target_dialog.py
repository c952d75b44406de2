"""What every kind's add/edit dialog shares: the URL checked as it is typed (by the kind's
own check, :attr:`app.core.destinations.base.Kind.url_problem`), a label, Save applying it
to the running core, and the core's refusal shown with every secret masked.

A kind's dialog (:mod:`app.ui.destination_dialogs` lists them) names its kind, its words
and any rows of its own; adding and editing go through the façade's generic
``add_destination`` / ``update_destination``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.destinations.base import Kind, Target
from app.core.destinations.kinds import KINDS, find
from app.core.facade import Core
from app.core.logs import redact, url_secrets
from app.present.formatting import MASK
from app.ui.tasks import spawn
from app.ui.widgets import Busy, muted

ERROR_COLOUR = "#c92a2a"
Row = tuple[str, "QWidget | QLayout"]


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def url_words(kind: Kind, text: str, empty: str) -> str | None:
    """The problem with a typed URL as a sentence for the user (``empty`` when there is
    none yet); None when it can be saved."""
    text = text.strip()
    if not text:
        return empty
    problem = kind.url_problem(text)
    return sentence(problem) + ("" if problem.endswith(".") else ".") if problem else None


def error_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {ERROR_COLOUR};")
    label.hide()
    return label


class TargetDialog(QDialog):
    """Add (``target`` None) or edit one target of :attr:`kind`; saving applies it at once."""

    saved = Signal(str)  # the target's id

    kind: ClassVar[str]  # a name in app.core.destinations.kinds.KINDS
    add_text: ClassVar[str]  # the page's button that opens it ("Add…")
    add_tip: ClassVar[str]
    add_title: ClassVar[str]
    edit_title: ClassVar[str] = ""
    can_edit: ClassVar[bool] = False  # False: remove it and add it again
    test_hint: ClassVar[str] = "that it answers"  # "Saved X. Use Test to check <this>."
    url_title: ClassVar[str] = "URL:"
    url_placeholder: ClassVar[str] = ""
    url_hint: ClassVar[str] = ""
    url_missing: ClassVar[str] = "Enter the URL."
    label_placeholder: ClassVar[str] = "Optional"

    def __init__(self, core: Core, target: Target | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self.target = target
        self.saving = False
        self.setWindowTitle(self.edit_title if target else self.add_title)
        self.setMinimumWidth(560)

        self.url = QLineEdit()
        self.url.setPlaceholderText(self.url_placeholder)
        self.url_error = error_label()
        self.url_cell = QVBoxLayout()
        self.url_cell.setSpacing(2)
        self.url_cell.addWidget(self.url)
        self.url_cell.addWidget(self.url_error)
        if self.url_hint:
            self.url_cell.addWidget(muted(self.url_hint))
        self.label = QLineEdit()
        self.label.setPlaceholderText(self.label_placeholder)
        self.error = error_label()  # the core refused (or failed while applying)
        self.busy = Busy()
        self.save_button = QPushButton("Save" if target else "Add")
        self.save_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.save_button.clicked.connect(self.save)
        self.cancel_button.clicked.connect(self.reject)
        self.make_fields()

        form = QFormLayout()
        for title, cell in self.rows():
            form.addRow(title, cell)
        buttons = QHBoxLayout()
        buttons.addWidget(self.busy)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 14)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addStretch(1)
        layout.addLayout(buttons)

        if target is not None:
            self.url.setText(target.url)
            self.url.setCursorPosition(0)
            self.label.setText(target.label)
            self.show_target(target)
        self.url.textChanged.connect(self.validate)
        self.label.textChanged.connect(self.validate)
        self.validate()

    # -- what a kind's dialog may add ------------------------------------------------------------
    def make_fields(self) -> None:
        """Make the kind's own fields (connecting their changes to :meth:`validate`)."""

    def rows(self) -> list[Row]:
        """The form's rows, top to bottom."""
        return [(self.url_title, self.url_cell), ("Label:", self.label)]

    def show_target(self, target: Any) -> None:
        """Fill the kind's own fields from the target being edited."""

    def options(self) -> dict[str, Any]:
        """The kind's own fields (its options, ``enabled``), as the target names them."""
        return {}

    def inputs(self) -> list[QWidget]:
        """The kind's own fields, disabled while saving."""
        return []

    # -- the shared behaviour --------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        return {"url": self.url.text().strip(), "label": self.label.text().strip(), **self.options()}

    def validate(self) -> bool:
        """Check the URL as typed (an empty Add form shows no error yet); Save only when valid
        and changed."""
        text = self.url.text()
        problem = url_words(KINDS[self.kind], text, self.url_missing)
        shown = problem if text.strip() or self.target is not None else None
        if (shown or "") != self.url_error.text():
            self.url_error.setText(shown or "")
            self.url_error.setVisible(bool(shown))
            QTimer.singleShot(0, self._fit)
        values = self.values()
        changed = self.target is None or values != {k: getattr(self.target, k) for k in values}
        self.save_button.setEnabled(problem is None and changed and not self.saving)
        return problem is None

    def _fit(self) -> None:
        """Grow (or shrink back) to the height the wrapped texts need at this width."""
        if (layout := self.layout()) is not None:
            layout.activate()
            self.resize(self.width(), max(self.minimumSizeHint().height(), self.heightForWidth(self.width())))

    def save(self) -> None:
        if self.validate() and not self.saving:
            spawn(self._save(), self._failed, owner=self)

    async def _save(self) -> None:
        values = self.values()
        added = self.target is None
        self._set_saving(True)
        try:
            if self.target is None:
                enabled = values.pop("enabled", True)
                tid = await self.core.add_destination(self.kind, values.pop("url"), values.pop("label"), **values)
                # Added: should turning it off fail, Save again edits it (no second copy).
                found = find(self.core.settings, tid)
                self.target = found[1] if found else None
                if not enabled:
                    await self.core.update_destination(tid, enabled=False)
            else:
                tid = self.target.id
                await self.core.update_destination(tid, **values)
        finally:
            self._set_saving(False)
        if self.target is not None and KINDS[self.kind].secrets(self.target):
            self.forget_typed_secrets()
        self.saved.emit(tid)
        await self.saved_then(tid, added)

    def forget_typed_secrets(self) -> None:
        """The secrets typed are in the keyring now: not in a widget any longer."""
        self.url.clear()

    async def saved_then(self, target_id: str, added: bool) -> None:
        """What follows a save (a kind's dialog may go on, e.g. to sign in); by default, close."""
        self.accept()

    def _set_saving(self, saving: bool) -> None:
        self.saving = saving
        self.busy.set_busy(saving)
        for w in (self.url, self.label, *self.inputs()):
            w.setEnabled(not saving)
        self.validate()

    def _failed(self, exc: BaseException) -> None:
        self.error.setText(redact(f"Not saved: {exc}", *url_secrets(self.url.text()), mask=MASK))
        self.error.show()
