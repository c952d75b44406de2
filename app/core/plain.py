"""Typed results as JSON-ready data (enums as their values, times as ISO text)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from enum import Enum
from typing import Any


def plain(value: Any, local: bool = True) -> Any:
    """``value`` with dataclasses as dicts, enums as values and times as ISO text (in local
    time with its offset when ``local``, as stored naive UTC is shown to a person)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name), local) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(v, local) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v, local) for k, v in value.items()}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone().isoformat(sep=" ", timespec="seconds") if local else aware.isoformat()
    return value
