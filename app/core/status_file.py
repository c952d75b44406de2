"""``status.json``: what the running app says about itself, for ``scrobbletray status``.

The core writes it every few seconds while something changes (its state, the webhooks it
accepted and refused); the command reads it back. It holds no secret: the public URL is
the tunnel's address, without the webhook path, and each text in it goes through the
redactor before it is serialised (never the JSON after: it must always parse).
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.core.config import Paths, write_private
from app.core.logs import redact
from app.core.types import CoreStatus, PlexStatus, WebhookStats

EVERY = 2.0  # seconds between looks for a change worth writing


def _path(paths: Paths) -> Path:
    return paths.data_dir / "status.json"


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def snapshot(status: CoreStatus, stats: WebhookStats,
             destinations: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The parts of the state worth writing (the Plex catch-up's details are left out), and
    each destination's sender: its state, reason, fix and since when."""
    plain = dataclasses.asdict(dataclasses.replace(status, plex=dataclasses.replace(status.plex, caught_up=None)))
    return {"pid": os.getpid(), "status": plain, "webhooks": dataclasses.asdict(stats),
            "destinations": destinations or {}}


def _masked(value: Any, secrets: list[str]) -> Any:
    """``value`` with every text in it redacted, value by value: what is written stays JSON
    whatever a secret looks like."""
    if isinstance(value, str):
        return redact(value, *secrets)
    if isinstance(value, dict):
        return {k: _masked(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v, secrets) for v in value]
    return value


def write(paths: Paths, data: dict[str, Any], secrets: list[str]) -> None:
    """Write ``data`` with the time; never makes the data folder (it may have been deleted)."""
    if paths.data_dir.is_dir():
        try:
            text = json.dumps(_masked({**data, "written_at": datetime.now(UTC).isoformat()}, secrets),
                              default=_plain, indent=1)
            write_private(_path(paths), text)
        except OSError:
            pass  # the disk full, say: the window says so, this file cannot


def remove(paths: Paths) -> None:
    _path(paths).unlink(missing_ok=True)


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def destinations(paths: Paths) -> dict[str, dict[str, Any]]:
    """What the running app's senders say (id -> state, reason, fix, since), or nothing."""
    try:
        found = json.loads(_path(paths).read_text(encoding="utf-8")).get("destinations")
    except (OSError, ValueError, AttributeError):
        return {}
    return {k: v for k, v in found.items() if isinstance(v, dict)} if isinstance(found, dict) else {}


def read(paths: Paths) -> tuple[CoreStatus, WebhookStats, datetime | None, int | None] | None:
    """``(status, webhook figures, when written, pid)``, or None when there is no readable file."""
    try:
        data = json.loads(_path(paths).read_text(encoding="utf-8"))
        st = dict(data["status"])
        plex = {**st.pop("plex"), "caught_up": None}
        plex["servers"], plex["live"] = tuple(plex["servers"]), tuple(plex["live"])
        status = CoreStatus(**{**st, "database_since": _when(st.get("database_since")),
                               "plex": PlexStatus(**plex)})
        hooks = dict(data["webhooks"])
        stats = WebhookStats(**{**hooks, "last_webhook_at": _when(hooks.get("last_webhook_at")),
                                "refused": tuple((why, n) for why, n in hooks["refused"])})
        return status, stats, _when(data.get("written_at")), data.get("pid")
    except (OSError, ValueError, KeyError, TypeError):
        return None
