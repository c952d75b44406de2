"""Turning tracker rows and times into the words the windows show (pure, no Qt)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from app.core.timefmt import parse_utc

MASK = "••••••"  # how the windows show a secret: redact(text, *secrets, mask=MASK)

OUTCOME_WORDS = {
    "marked": "Marked",
    "rewatch": "Rewatch",
    "duplicate": "Duplicate",
    "ignored": "Ignored",
    "conflict": "Conflict",
    "failed": "Failed",
    "undone": "Undone",
    None: "Pending…",
}


def sxxeyy(season: int | None, episode: int | None) -> str:
    if season is None and episode is None:
        return ""
    s = f"S{season:02d}" if season is not None else "S??"
    e = f"E{episode:02d}" if episode is not None else "E??"
    return s + e


def local_time(value: str | datetime | None, now: datetime | None = None) -> str:
    """Local time: ``14:05`` today, else ``12 Mar 14:05`` (``2023-03-12 14:05`` other years)."""
    when = parse_utc(value)
    if when is None:
        return ""
    local = when.astimezone()
    now_local = (now or datetime.now(timezone.utc)).astimezone()
    if local.date() == now_local.date():
        return local.strftime("%H:%M:%S")
    if local.year == now_local.year:
        return local.strftime("%d %b %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def outcome_text(row: dict[str, Any]) -> str:
    """``Marked``, ``Ignored: movies are not tracked``, ``Failed: …``."""
    action = row.get("action")
    word = OUTCOME_WORDS.get(action, str(action).capitalize())
    reason = row.get("reason")
    if action in ("ignored", "failed", "duplicate", "conflict", "rewatch") and reason:
        return f"{word}: {reason}"
    return word


def confidence_text(row: dict[str, Any]) -> str:
    """How the show was matched: ``100 % · ids``; empty when nothing matched."""
    conf, method = row.get("confidence"), row.get("match_method")
    if conf is None and not method:
        return ""
    pct = f"{conf:.0%}" if conf is not None else "?"
    return f"{pct} · {METHOD_WORDS.get(method, method)}" if method else pct


METHOD_WORDS = {
    "ids": "ids",
    "exact_title": "exact title",
    "title": "similar title",
    "mapping": "remembered",
    "user": "your choice",
    "created": "created",
}


def show_with_year(title: str | None, year: int | None) -> str:
    return f"{title or '?'} ({year})" if year else (title or "?")
