"""Secrets (the ngrok authtoken, tracker database passwords): in the OS keyring where there
is one, else a private file in the data folder."""

from __future__ import annotations

import logging
import os

import keyring
from keyring.errors import KeyringError

from app.core.config import APP_SLUG, Paths, write_private

log = logging.getLogger(__name__)
_KEY = "ngrok-authtoken"


def get_secret(paths: Paths, key: str) -> str | None:
    """The secret saved under ``key``, or None."""
    try:
        value = keyring.get_password(APP_SLUG, key)
    except (KeyringError, RuntimeError):
        value = None
    if not value:
        try:
            value = (paths.data_dir / key).read_text(encoding="utf-8").strip() or None
        except OSError:
            value = None
    return value or None


def set_secret(paths: Paths, key: str, value: str | None) -> str:
    """Save (or with None, forget) a secret; returns where it was kept."""
    file = paths.data_dir / key
    value = (value or "").strip() or None
    try:
        if value:
            keyring.set_password(APP_SLUG, key, value)
        else:
            try:
                keyring.delete_password(APP_SLUG, key)
            except KeyringError:
                pass
        file.unlink(missing_ok=True)
        return "the system keyring"
    except (KeyringError, RuntimeError) as exc:
        log.info("no usable keyring (%s); keeping %s in a private file", type(exc).__name__, key)
    if value:
        paths.ensure()
        write_private(file, value)
    else:
        file.unlink(missing_ok=True)
    return "a private file in the data folder"


def get_authtoken(paths: Paths) -> str | None:
    """The saved authtoken, else ``$NGROK_AUTHTOKEN`` (as ngrok's own tools do), else None."""
    return get_secret(paths, _KEY) or os.environ.get("NGROK_AUTHTOKEN") or None


def set_authtoken(paths: Paths, token: str | None) -> str:
    """Save (or with None, forget) the authtoken; returns where it was kept."""
    return set_secret(paths, _KEY, token)
