"""The ngrok authtoken: in the OS keyring where there is one, else a private file."""

from __future__ import annotations

import logging
import os

import keyring
from keyring.errors import KeyringError

from app.core.config import APP_SLUG, Paths, write_private

log = logging.getLogger(__name__)
_KEY = "ngrok-authtoken"


def get_authtoken(paths: Paths) -> str | None:
    """The saved authtoken, else ``$NGROK_AUTHTOKEN`` (as ngrok's own tools do), else None."""
    try:
        token = keyring.get_password(APP_SLUG, _KEY)
    except (KeyringError, RuntimeError):
        token = None
    if not token:
        try:
            token = (paths.data_dir / _KEY).read_text(encoding="utf-8").strip() or None
        except OSError:
            token = None
    return token or os.environ.get("NGROK_AUTHTOKEN") or None


def set_authtoken(paths: Paths, token: str | None) -> str:
    """Save (or with None, forget) the authtoken; returns where it was kept."""
    file = paths.data_dir / _KEY
    token = (token or "").strip() or None
    try:
        if token:
            keyring.set_password(APP_SLUG, _KEY, token)
        else:
            try:
                keyring.delete_password(APP_SLUG, _KEY)
            except KeyringError:
                pass
        file.unlink(missing_ok=True)
        return "the system keyring"
    except (KeyringError, RuntimeError) as exc:
        log.info("no usable keyring (%s); keeping the authtoken in a private file", type(exc).__name__)
    if token:
        paths.ensure()
        write_private(file, token)
    else:
        file.unlink(missing_ok=True)
    return "a private file in the data folder"
