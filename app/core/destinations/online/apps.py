"""The API apps (client ids) a build may carry, so its users need not make their own.

A build reads ``SCROBBLETRAY_TRAKT_CLIENT_ID``, ``SCROBBLETRAY_TRAKT_CLIENT_SECRET`` and
``SCROBBLETRAY_SIMKL_CLIENT_ID`` when it is made (``build.spec`` writes them to
``app/resources/online-apps.json``; packaging/README.md). Without that file, as when run
from source, the user pastes their own app's id (and Trakt's secret).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

FILE = Path(__file__).resolve().parents[3] / "resources" / "online-apps.json"


@cache
def _carried() -> dict[str, dict[str, str]]:
    try:
        data = json.loads(FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def carried(service: str, name: str) -> str | None:
    """The value this build carries for ``service`` (``client_id``, ``client_secret``), or None."""
    app = _carried().get(service)
    value = app.get(name) if isinstance(app, dict) else None
    return value.strip() if isinstance(value, str) and value.strip() else None
