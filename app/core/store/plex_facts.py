"""What to ask the Plex servers before a batch is processed, and what they answered: shows
(and movies) only a server can name, and how far a stopped play went."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from app.core.models import MovieMapping, PlexShow, ShowMapping, WebhookEvent
from app.core.payload import PayloadError
from app.core.pipeline import Parsed, filter_reason, parse, server_show_key
from app.core.store.base import StoreBase
from app.core.types import ShowFacts

MOST_QUESTIONS = 40  # for one batch: the Plex threads answer them within the batch's wait (FACTS_WAIT)


@dataclass(frozen=True)
class PlexQuestions:
    shows: list[tuple[str, str]]  # (server uuid, show rating key)
    stops: list[tuple[int, str, str, datetime]]  # (event id, server uuid, episode key, time)
    up_to: int | None = None  # the newest row looked at: the batch processes no row past it
    parsed: dict[int, Parsed] = field(default_factory=dict)  # the rows' payloads: the batch parses none again


class PlexFacts(StoreBase):
    """Questions for the Plex servers, and their answers kept."""

    def plex_questions(self, limit: int = 200, most: int = MOST_QUESTIONS) -> PlexQuestions:
        """What to ask the Plex servers about the next ``limit`` pending rows (the ones the
        next batch processes): shows that only their server can name and that no mapping
        or earlier answer covers, and stops without progress that would count if the play
        went far enough. At most ``most`` questions: the batch then ends at the row that
        asked the last one (a big batch never asks more than its servers answer in time)."""
        with self.sessions() as session:
            rows = session.execute(select(WebhookEvent.id, WebhookEvent.payload, WebhookEvent.received_at,
                                          WebhookEvent.server_progress)
                                   .where(WebhookEvent.status == "pending")
                                   .order_by(WebhookEvent.id).limit(limit)).all()
            shows: dict[tuple[str, str], str] = {}
            stops = []
            parsed: dict[int, Parsed] = {}
            for event_id, payload, received_at, server_progress in rows:
                ev = parsed[event_id] = parse(payload)
                if isinstance(ev, PayloadError):
                    continue
                if filter_reason(ev, self.settings, 1.0, self.plex) is not None:
                    continue  # would not count however far it went
                if (key := server_show_key(ev)) and (plex_key := ev.movie_key if ev.is_movie else ev.plex_key):
                    shows[key] = plex_key
                if (ev.event == "media.stop" and ev.progress is None and server_progress is None
                        and ev.server_uuid and ev.rating_key and ev.rating_key.isdigit()):
                    stops.append((event_id, ev.server_uuid, ev.rating_key, received_at))
                if len(shows) + len(stops) >= most:
                    rows = rows[:len(parsed)]
                    break
            mapped = set(session.scalars(select(ShowMapping.plex_key)
                                         .where(ShowMapping.plex_key.in_(set(shows.values()))))) if shows else set()
            if shows:  # (a movie's remembered answer is in its own table)
                mapped |= set(session.scalars(select(MovieMapping.plex_key)
                                              .where(MovieMapping.plex_key.in_(set(shows.values())))))
            unknown = [k for k, plex_key in shows.items()
                       if plex_key not in mapped and session.get(PlexShow, k) is None]
        return PlexQuestions(unknown, stops, rows[-1][0] if rows else 0, parsed)

    def save_server_progress(self, progress: dict[int, float]) -> None:
        with self.sessions.begin() as session:
            for event_id, value in progress.items():
                if (row := session.get(WebhookEvent, event_id)) is not None:
                    row.server_progress = value

    def save_server_shows(self, facts: dict[tuple[str, str], ShowFacts]) -> None:
        """Remember what Plex servers said about their shows."""
        with self.sessions.begin() as session:
            for (uuid, key), f in facts.items():
                session.merge(PlexShow(server_uuid=uuid, rating_key=key, ids=dict(f.ids), year=f.year,
                                       title=f.title))

    def server_show(self, server_uuid: str, rating_key: str) -> ShowFacts | None:
        with self.sessions() as session:
            row = session.get(PlexShow, (server_uuid, rating_key))
            return None if row is None else ShowFacts(dict(row.ids or {}), row.year, row.title)
