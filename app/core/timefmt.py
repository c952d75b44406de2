"""Times as people read them ("5 min ago"), for reports and windows alike (pure, no Qt)."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_utc(value: str | datetime | None) -> datetime | None:
    """A stored timestamp (naive UTC, ISO text or datetime) as an aware datetime."""
    if value is None:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def ago(value: str | datetime | None, now: datetime | None = None) -> str:
    """``just now``, ``5 min ago``, ``3 h ago``, ``2 days ago``; ``never`` for None."""
    when = parse_utc(value)
    if when is None:
        return "never"
    seconds = max(0.0, ((now or datetime.now(UTC)) - when).total_seconds())
    if seconds < 45:
        return "just now"
    if seconds < 5400:
        return f"{max(1, round(seconds / 60))} min ago"
    if seconds < 172800:
        return f"{round(seconds / 3600)} h ago"
    return f"{round(seconds / 86400)} days ago"
