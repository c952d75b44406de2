"""The outbox without a running app (the CLI, and the core's conflicts): retry, forget or
send again a destination's deliveries, their figures, and those a conflict holds."""

from __future__ import annotations

from sqlalchemy import select

from app.core.destinations import outbox
from app.core.models import Delivery as DeliveryRow
from app.core.models import WebhookEvent
from app.core.payload import PayloadError, parse_payload
from app.core.store.base import StoreBase, scrobble_row
from app.core.types import ScrobbleRow


class Deliveries(StoreBase):
    """Outbox rows, by destination."""

    def retry_deliveries(self, destination: str) -> int:
        return outbox.Outbox(self.sessions).retry(destination)

    def forget_deliveries(self, destination: str) -> None:
        outbox.Outbox(self.sessions).forget(destination)

    def delivery_stats(self) -> dict[str, outbox.QueueStats]:
        return outbox.Outbox(self.sessions).stats()

    def held_by_conflicts(self, destination: str) -> dict[str, list[tuple[int, ScrobbleRow]]]:
        """Deliveries a destination answered with a conflict, by Plex show (its rating key,
        or its title where Plex gave none): ``{key: [(delivery id, event)]}``."""
        with self.sessions() as session:
            q = (select(DeliveryRow.id, WebhookEvent).join(WebhookEvent, WebhookEvent.id == DeliveryRow.event_id)
                 .where(DeliveryRow.destination == destination, DeliveryRow.outcome == "conflict_created")
                 .order_by(DeliveryRow.event_id))
            out: dict[str, list[tuple[int, ScrobbleRow]]] = {}
            for delivery_id, row in session.execute(q):
                try:
                    ev = parse_payload(row.payload)
                except PayloadError:
                    continue
                if key := ev.grandparent_rating_key or ev.show_title:
                    out.setdefault(key, []).append((delivery_id, scrobble_row(row)))
            return out

    def send_again(self, delivery_ids: list[int]) -> int:
        """Put deliveries back in their queue (a conflict they waited on was resolved)."""
        return outbox.Outbox(self.sessions).send_again(delivery_ids)
