"""Settling one inbox row: its outcome written on it, and when a match is too weak to ask
about (shared by the pipeline of episodes and that of movies)."""

from __future__ import annotations

from app.core.matching import MatchResult
from app.core.models import WebhookEvent, utcnow
from app.core.types import Action, Outcome

NOTHING_CLOSE = 80.0  # a candidate scoring this much resembles the Plex item: ask, never auto-add


def record(row: WebhookEvent, action: Action, reason: str | None = None) -> Outcome:
    """Write the row's outcome (done, with its action and reason) and return it."""
    row.action = action.value
    row.reason = reason
    row.status = "done"
    row.processed_at = utcnow()
    return Outcome(row.id, action, reason, row.show_id, row.conflict_id)


def nothing_close(result: MatchResult) -> bool:
    """No candidate at all, or none scoring ``NOTHING_CLOSE`` (an ambiguous match always asks)."""
    if result.conflict == "no_match":
        return True
    return result.conflict == "low_confidence" and all(c.score < NOTHING_CLOSE for c in result.candidates)
