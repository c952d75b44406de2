"""Each kind of destination's add/edit dialog, by the kind's name
(:data:`app.core.destinations.kinds.KINDS`): the Destinations page offers one Add button
per kind, in the kinds' order, and opens the dialog listed here."""

from __future__ import annotations

from app.ui.online_dialog import SimklDialog, TraktDialog
from app.ui.postgres_dialog import PostgresDialog
from app.ui.relay_dialog import RelayDialog
from app.ui.target_dialog import TargetDialog

DIALOGS: dict[str, type[TargetDialog]] = {
    dialog.kind: dialog for dialog in (RelayDialog, PostgresDialog, TraktDialog, SimklDialog)}
