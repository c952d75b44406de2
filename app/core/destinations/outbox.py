"""The outbox: each destination's delivery state, in Scrobble Tray's own database.

Rows are added in the transaction that settles the inbox row (:func:`enqueue`), so an
event is never settled without its deliveries, nor delivered before it is settled.
Everything here is synchronous and runs on a database thread.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Result, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.core.destinations.base import SENDING, Attempt, Delivery, Destination, Settled, Verdict
from app.core.logs import URL_MASK, redact
from app.core.models import Delivery as DeliveryRow
from app.core.models import Movie, Show, WebhookEvent, table_of, utcnow
from app.core.types import DeliveryMark, DeliveryState


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds before the next try after ``attempts`` failures: exponential, capped, with
    jitter (half to all of it), so a fleet of events does not retry in lock-step."""
    delay = min(cap, base * 2.0 ** max(0, attempts - 1))
    return delay * random.uniform(0.5, 1.0)


LONGEST_WAIT = 86400.0  # seconds: no schedule is stored further off than this, whatever was asked


def _later(seconds: float | None) -> float:
    """A wait that can be stored: finite, between now and :data:`LONGEST_WAIT`."""
    if seconds is None or not math.isfinite(seconds):
        return 0.0
    return min(LONGEST_WAIT, max(0.0, seconds))


def enqueue(session: Session, settled: Iterable[Settled], destinations: Iterable[Destination],
            route: Callable[[Settled], set[str] | None] = lambda s: None) -> int:
    """Add a pending delivery for every (event, destination) that wants it and that the
    play's account is routed to (``route``: the destination ids, None for all); returns how many.

    An event settled again (re-run, a resolved conflict) is not queued twice.
    """
    wanted = [(s.event_id, d.id) for s in settled for to in [route(s)] for d in destinations
              if (to is None or d.id in to) and d.wants(s)]
    if not wanted:
        return 0
    ids = {event_id for event_id, _ in wanted}
    have = set(session.execute(select(DeliveryRow.event_id, DeliveryRow.destination)
                               .where(DeliveryRow.event_id.in_(ids))).all())
    now = utcnow()
    rows = [{"event_id": e, "destination": d, "state": DeliveryState.PENDING.value, "attempts": 0,
             "created_at": now} for e, d in wanted if (e, d) not in have]
    if rows:
        session.execute(table_of(DeliveryRow).insert(), rows)
    return len(rows)


@dataclass(frozen=True)
class QueueStats:
    pending: int = 0
    oldest_pending_at: datetime | None = None
    delivered: int = 0
    failed: int = 0
    last_delivered_at: datetime | None = None


class Outbox:
    """Delivery rows over one database."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def due(self, destination: str, limit: int = 50) -> list[Delivery]:
        """The destination's next pending deliveries, in event order, with their payloads."""
        with self.sessions() as session:
            q = (select(DeliveryRow.id, DeliveryRow.event_id, WebhookEvent.payload, DeliveryRow.attempts,
                        DeliveryRow.next_attempt_at, WebhookEvent.received_at, WebhookEvent.server_progress,
                        DeliveryRow.outcome, WebhookEvent.action, Show.tmdb_id, Show.tvdb_id, Show.imdb_id,
                        Movie.tmdb_id, Movie.imdb_id)
                 .join(WebhookEvent, WebhookEvent.id == DeliveryRow.event_id)
                 .outerjoin(Show, Show.id == WebhookEvent.show_id)
                 .outerjoin(Movie, Movie.id == WebhookEvent.movie_id)
                 .where(DeliveryRow.destination == destination,
                        DeliveryRow.state == DeliveryState.PENDING.value)
                 .order_by(DeliveryRow.event_id).limit(limit))
            return [Delivery(*row[:9], tracker_ids=_ids(row[9:12], row[12:])) for row in session.execute(q)]

    def record(self, results: list[tuple[int, Attempt, float | None]]) -> None:
        """Store the results of attempts ``(delivery id, attempt, seconds to the next try)``,
        in one commit.

        The sender commits after each send, so this commit survives a crash of the app but
        is not synced to the disk on its own (SQLite's ``synchronous=NORMAL``, on this
        connection for this commit only): a power cut may undo the last few, and those
        events are sent again (the event id header lets the target spot a repeat), never lost.
        """
        now = utcnow()
        with self.sessions.kw["bind"].connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
            try:
                for delivery_id, attempt, next_attempt_in in results:
                    conn.execute(update(DeliveryRow).where(DeliveryRow.id == delivery_id).values(
                        **_result(attempt, next_attempt_in, now)))
                conn.commit()
            finally:
                if sqlite:
                    conn.rollback()
                    conn.exec_driver_sql("PRAGMA synchronous=FULL")  # (the pool's other users want it)

    def sending(self, delivery_id: int) -> None:
        """Note that this delivery is being sent (to a destination that does not de-duplicate):
        after a crash, the next attempt asks the destination first whether it arrived."""
        with self.sessions.begin() as session:
            session.execute(update(DeliveryRow).where(DeliveryRow.id == delivery_id).values(outcome=SENDING))

    def retry(self, destination: str) -> int:
        """Send the failed deliveries again, and the waiting ones now; returns how many were failed."""
        with self.sessions.begin() as session:
            failed = _changed(session.execute(
                update(DeliveryRow).where(DeliveryRow.destination == destination,
                                          DeliveryRow.state == DeliveryState.FAILED.value)
                .values(state=DeliveryState.PENDING.value, attempts=0, next_attempt_at=None)))
            session.execute(update(DeliveryRow).where(DeliveryRow.destination == destination,
                                                      DeliveryRow.state == DeliveryState.PENDING.value)
                            .values(next_attempt_at=None))
            return failed

    def send_again(self, delivery_ids: list[int]) -> int:
        """Queue these deliveries again, as new."""
        if not delivery_ids:
            return 0
        with self.sessions.begin() as session:
            return _changed(session.execute(update(DeliveryRow).where(DeliveryRow.id.in_(delivery_ids)).values(
                state=DeliveryState.PENDING.value, attempts=0, next_attempt_at=None, outcome=None)))

    def forget(self, destination: str) -> None:
        """Drop a removed destination's deliveries."""
        with self.sessions.begin() as session:
            session.execute(table_of(DeliveryRow).delete().where(DeliveryRow.destination == destination))

    def stats(self) -> dict[str, QueueStats]:
        """Per destination: what waits, what went, what failed."""
        with self.sessions() as session:
            q = (select(DeliveryRow.destination, DeliveryRow.state, func.count(),
                        func.min(DeliveryRow.created_at), func.max(DeliveryRow.delivered_at))
                 .group_by(DeliveryRow.destination, DeliveryRow.state))
            out: dict[str, dict[str, object]] = {}
            for dest, state, n, oldest, last in session.execute(q):
                d = out.setdefault(dest, {})
                if state == DeliveryState.PENDING.value:
                    d |= {"pending": n, "oldest_pending_at": oldest}
                elif state == DeliveryState.DELIVERED.value:
                    d |= {"delivered": n, "last_delivered_at": last}
                else:
                    d["failed"] = n
            return {dest: QueueStats(**d) for dest, d in out.items()}  # type: ignore[arg-type]


def _result(attempt: Attempt, next_attempt_in: float | None, now: datetime) -> dict[str, object]:
    """The columns of a delivery row after ``attempt``."""
    values: dict[str, object] = {
        "attempts": DeliveryRow.attempts + 1, "last_status": attempt.status, "outcome": attempt.outcome,
        "last_error": None if attempt.verdict is Verdict.DELIVERED else attempt.detail[:1000]}
    if attempt.verdict is Verdict.DELIVERED:
        values |= {"state": DeliveryState.DELIVERED.value, "delivered_at": now, "next_attempt_at": None}
    elif attempt.verdict is Verdict.REFUSED:
        values |= {"state": DeliveryState.FAILED.value, "next_attempt_at": None}
    else:
        values["next_attempt_at"] = now + timedelta(seconds=_later(next_attempt_in))
    return values


def marks_for(session: Session, event_ids: list[int], labels: dict[str, str]) -> dict[int, list[DeliveryMark]]:
    """Where each of these events went (for the log), by destination label."""
    out: dict[int, list[DeliveryMark]] = {}
    if not event_ids:
        return out
    q = (select(DeliveryRow.event_id, DeliveryRow.destination, DeliveryRow.state, DeliveryRow.last_error)
         .where(DeliveryRow.event_id.in_(event_ids)).order_by(DeliveryRow.destination))
    for event_id, dest, state, error in session.execute(q):
        out.setdefault(event_id, []).append(  # (an error kept by an older version may hold a secret)
            DeliveryMark(labels.get(dest, dest), DeliveryState(state), error and redact(error, mask=URL_MASK)))
    return out


def _ids(show: Any, movie: Any) -> dict[str, str]:
    """The built-in tracker's ids of the show (or movie) an event was matched to."""
    names = ("tmdb", "tvdb", "imdb") if any(show) else ("tmdb", "imdb")
    return {n: str(v) for n, v in zip(names, show if any(show) else movie, strict=True) if v}


def _changed(result: Result[Any]) -> int:
    """How many rows an UPDATE changed (SQLAlchemy types ``execute`` as any Result)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)
