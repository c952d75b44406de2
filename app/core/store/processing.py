"""Processing inbox rows: the pending ones in batches, one again (re-run), and taking back
what one marked (undo). Settling a row queues its deliveries in the same transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.core import routes
from app.core.destinations import outbox
from app.core.destinations.base import Settled
from app.core.matching import ShowIndex
from app.core.models import COUNTED, Show, WebhookEvent, utcnow
from app.core.pipeline import Lookups, Parsed, process_row
from app.core.store.base import StoreBase, StoreError
from app.core.store.retention import PRUNED
from app.core.types import Action, Outcome


def reset(row: WebhookEvent) -> None:
    """Clear a row's outcome so that it can be processed again."""
    row.status, row.action, row.reason = "pending", None, None
    row.show_id = row.episode_id = row.conflict_id = row.movie_id = None
    row.match_method, row.confidence, row.processed_at = None, None, None


class Processing(StoreBase):
    """Inbox rows to outcomes, and the outbox rows of the outcomes."""

    def process_pending(self, limit: int = 200, up_to: int | None = None,
                        parsed: Mapping[int, Parsed] | None = None,
                        give_way: Callable[[], None] = lambda: None) -> list[Outcome]:
        """Process up to ``limit`` pending rows, oldest first (none past ``up_to``: a row that
        arrived after the Plex servers were asked about the batch waits for the next one), in
        one transaction. ``parsed``: payloads already parsed, by inbox id (the Plex questions').
        ``give_way`` is called before each row and before the batch writes (see Worker.give_way).

        The batch runs without per-row savepoints; if any row raises, the batch is
        rolled back and done again row by row, so only the faulty row fails.
        """
        parsed = parsed or {}
        try:
            return self._process_batch(limit, up_to, parsed, give_way, isolate=False)
        except Exception:
            return self._process_batch(limit, up_to, parsed, give_way, isolate=True)

    def _process_batch(self, limit: int, up_to: int | None, parsed: Mapping[int, Parsed],
                       give_way: Callable[[], None], isolate: bool) -> list[Outcome]:
        with self.sessions.begin() as session:
            pending = select(WebhookEvent).where(WebhookEvent.status == "pending")
            if up_to is not None:
                pending = pending.where(WebhookEvent.id <= up_to)
            rows = session.scalars(pending.order_by(WebhookEvent.id).limit(limit)).all()
            if not rows:
                return []
            index = self.index(session)
            if isolate:
                outcomes = [self._process_one(session, row, index, parsed.get(row.id)) for row in rows]
            else:
                with session.no_autoflush:
                    lookups = Lookups(session)
                    outcomes = []
                    for row in rows:
                        give_way()
                        outcomes.append(process_row(session, row, self.builtin, index, self.settings, lookups,
                                                    self.plex, parsed.get(row.id)))
            give_way()  # (from here the batch writes, and holds the lock until its commit: a webhook goes first)
            self._settle(session, rows, outcomes)
            return outcomes

    def _settle(self, session: Session, rows: Sequence[WebhookEvent], outcomes: Sequence[Outcome]) -> None:
        """Queue the deliveries of settled rows, in the transaction that settles them, where
        each play's account is routed; a counted play routed nowhere says so on its row."""
        settings, plex = self.settings, self.plex

        def route(s: Settled) -> set[str] | None:
            return routes.route_of(s.account_id, s.account_title, settings, plex)
        settled = [Settled(r.id, r.event, o.action, r.account_id, r.account_title, r.media_type)
                   for r, o in zip(rows, outcomes, strict=True)]
        if settings.routes:
            for row, s in zip(rows, settled, strict=True):
                if s.action.watched and route(s) == set():
                    said = routes.nowhere_words(row.account_title or row.account_id or "this account",
                                                settings.builtin_tracker)
                    row.reason = f"{row.reason}; {said}" if row.reason else said
        if self.destinations:
            outbox.enqueue(session, settled, self.destinations, route)

    def _process_one(self, session: Session, row: WebhookEvent, index: ShowIndex,
                     parsed: Parsed | None = None) -> Outcome:
        """One row in its own savepoint: an unexpected error fails that row only."""
        try:
            with session.begin_nested():
                return process_row(session, row, self.builtin, index, self.settings,
                                   plex=self.plex, parsed=parsed)
        except Exception as exc:  # recorded on the row; the rest of the batch goes on
            row.status, row.action = "done", Action.FAILED.value
            row.reason = f"internal error: {type(exc).__name__}: {exc}"[:1000]
            row.processed_at = utcnow()
            return Outcome(row.id, Action.FAILED, row.reason)

    def rerun(self, event_id: int) -> Outcome:
        """Process a failed or ignored event again (after a fix or a settings change)."""
        with self.sessions.begin() as session:
            row = session.get(WebhookEvent, event_id)
            if row is None:
                raise StoreError(f"there is no event #{event_id}")
            if row.action not in (Action.FAILED.value, Action.IGNORED.value):
                raise StoreError(f"event #{event_id} was {row.action}; only failed or ignored events are re-run")
            if row.payload == PRUNED:
                raise StoreError(f"event #{event_id} ({row.event}) can never count, and its raw webhook was dropped "
                                 "after the retention period (payload_retention_days): there is nothing to re-run")
            reset(row)
            outcome = self._process_one(session, row, self.index(session))
            self._settle(session, [row], [outcome])
            return outcome

    def undo_unmarked(self, account_id: str, title: str, season: int, episode: int) -> int | None:
        """Take back the latest watch of an episode marked unplayed in Plex (by that account):
        the event undone, or None when none counted it in the built-in tracker."""
        with self.sessions() as session:
            # (COUNTED as text, word for word: its partial index serves only a query that
            # repeats it; by the action index, five years of plays took 0.07-1.7 s)
            event_id = session.scalar(
                select(WebhookEvent.id).where(
                    text(COUNTED), WebhookEvent.account_id == account_id, WebhookEvent.season == season,
                    WebhookEvent.episode == episode, func.lower(WebhookEvent.plex_title) == title.lower())
                .order_by(WebhookEvent.received_at.desc()).limit(1))
        if event_id is None:
            return None
        try:
            self.undo(event_id)
        except StoreError:
            return None
        return int(event_id)

    def undo(self, event_id: int) -> Outcome:
        """Take back the watch an event counted."""
        with self.sessions.begin() as session:
            row = session.get(WebhookEvent, event_id)
            if row is None:
                raise StoreError(f"there is no event #{event_id}")
            if not self.builtin.undo(session, row.id):
                if row.action in (Action.MARKED.value, Action.REWATCH.value) and row.movie_id is not None:
                    raise StoreError(f"event #{event_id} counted a movie that is no longer in the tracker: "
                                     "its plays went with it")
                if row.action in (Action.MARKED.value, Action.REWATCH.value) and (
                        row.show_id is None or session.get(Show, row.show_id) is None):
                    raise StoreError(f"event #{event_id} marked a show that is no longer in the tracker: "
                                     "its marks went with it")
                raise StoreError(f"event #{event_id} did not mark anything")
            row.action = Action.UNDONE.value
            row.reason = "marked, then undone by you"
            return Outcome(row.id, Action.UNDONE, row.reason, row.show_id)
