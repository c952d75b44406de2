"""Secrets (the ngrok authtoken, the Plex token, tracker database passwords): in the OS
keyring where there is one, else a private file in the data folder.

``keyring.json`` in the data folder says, for each key asked or saved, whether the
keyring holds it (names only, never values). A key it holds nothing for is not asked
again: finding the keyring's backend costs 8 MB and a scan of every installed package's
entry points, which a start with no secrets saved (most headless starts) so skips.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.core.config import APP_SLUG, Paths, load_json, write_private

if TYPE_CHECKING:
    from app.core.config import Settings
    from app.core.destinations.base import Context

log = logging.getLogger(__name__)
_KEY = "ngrok-authtoken"
_INDEX = "keyring.json"


def _in_keyring(paths: Paths) -> dict[str, bool]:
    return {k: v for k, v in load_json(paths.data_dir / _INDEX).items() if isinstance(v, bool)}


def _remember(paths: Paths, key: str, held: bool, index: dict[str, bool] | None = None) -> None:
    index = _in_keyring(paths) if index is None else index
    if index.get(key) is held:
        return
    try:
        paths.ensure()
        write_private(paths.data_dir / _INDEX, json.dumps(index | {key: held}, indent=2))
    except OSError as exc:  # a read-only data folder: the keyring is simply asked next time
        log.debug("cannot note where %s is kept: %s", key, exc)


def _from_keyring(key: str) -> str | None:
    import keyring
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(APP_SLUG, key)
    except (KeyringError, RuntimeError):
        return None


def kept_in(paths: Paths, key: str) -> str:
    """Where the secret ``key`` was last kept, in words."""
    return "the system keyring" if _in_keyring(paths).get(key) else "a private file in the data folder"


def get_secret(paths: Paths, key: str) -> str | None:
    """The secret saved under ``key``, or None."""
    value = None
    index = _in_keyring(paths)
    if index.get(key, True):  # held, or never asked (saved by an older version)
        value = _from_keyring(key)
        _remember(paths, key, bool(value), index)
    if not value:
        try:
            value = (paths.data_dir / key).read_text(encoding="utf-8").strip() or None
        except OSError:
            value = None
    return value or None


def set_secret(paths: Paths, key: str, value: str | None) -> str:
    """Save (or with None, forget) a secret; returns where it was kept."""
    import keyring
    from keyring.errors import KeyringError

    file = paths.data_dir / key
    value = (value or "").strip() or None
    try:
        if value:
            keyring.set_password(APP_SLUG, key, value)
        else:
            with contextlib.suppress(KeyringError):
                keyring.delete_password(APP_SLUG, key)
        file.unlink(missing_ok=True)
        _remember(paths, key, bool(value))
        return "the system keyring"
    except (KeyringError, RuntimeError) as exc:
        log.info("no usable keyring (%s); keeping %s in a private file", type(exc).__name__, key)
    _remember(paths, key, False)
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


def kept_context(paths: Paths, settings: Callable[[], Settings]) -> Context:
    """What a destination's sign-in reads and keeps its secrets through (this data folder's)."""
    import functools

    from app.core.destinations.base import Context

    return Context(settings, functools.partial(get_secret, paths), keep=functools.partial(set_secret, paths))
