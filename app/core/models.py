"""The database's tables (what :mod:`app.core.store` reads and writes), as SQLAlchemy 2 typed mappings.

Schema changes go through a migration in ``migrations/versions``; never edit a table
here without adding one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import JSON, ForeignKey, Index, String, Table, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


def table_of(model: type[Base]) -> Table:
    """A model's Table, for Core statements (SQLAlchemy types ``__table__`` as any FromClause)."""
    return cast(Table, model.__table__)


class Show(Base):
    """A show in the user's tracker."""

    __tablename__ = "shows"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    year: Mapped[int | None]
    tmdb_id: Mapped[int | None] = mapped_column(index=True)
    tvdb_id: Mapped[int | None] = mapped_column(index=True)
    imdb_id: Mapped[str | None] = mapped_column(String(20), index=True)
    anidb_id: Mapped[int | None] = mapped_column(index=True)
    watched_episodes: Mapped[int] = mapped_column(default=0)
    total_plays: Mapped[int] = mapped_column(default=0)
    last_watched_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    episodes: Mapped[list[Episode]] = relationship(back_populates="show")


class Episode(Base):
    """One episode of a tracker show, with its watched state."""

    __tablename__ = "episodes"
    __table_args__ = (UniqueConstraint("show_id", "season", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    show_id: Mapped[int] = mapped_column(ForeignKey("shows.id", ondelete="CASCADE"))
    season: Mapped[int]
    number: Mapped[int]
    title: Mapped[str | None] = mapped_column(String(500))
    watch_count: Mapped[int] = mapped_column(default=0)
    first_watched_at: Mapped[datetime | None]
    last_watched_at: Mapped[datetime | None]

    show: Mapped[Show] = relationship(back_populates="episodes")

    @property
    def watched(self) -> bool:
        return self.watch_count > 0


class Watch(Base):
    """One counted play of an episode: the history behind the counters (and undo)."""

    __tablename__ = "watches"
    __table_args__ = (Index("ix_watches_episode_account", "episode_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(String(64))
    watched_at: Mapped[datetime]
    event_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_events.id"))

    episode: Mapped[Episode] = relationship()


class ShowMapping(Base):
    """A remembered answer: this Plex show is that tracker show (or is ignored)."""

    __tablename__ = "show_mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    plex_key: Mapped[str] = mapped_column(String(300), unique=True)
    plex_title: Mapped[str | None] = mapped_column(String(500))
    show_id: Mapped[int | None]  # the tracker's show id (no foreign key: it may live elsewhere)
    ignored: Mapped[bool] = mapped_column(default=False)
    method: Mapped[str] = mapped_column(String(32))  # ids, title, exact_title, user, created
    confidence: Mapped[float] = mapped_column(default=1.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


#: The inbox rows whose raw payload may be dropped once old enough (see
#: :mod:`app.core.store.retention`): the WHERE of a partial index, repeated word for word by
#: the query it serves (and by migration 0007).
PRUNABLE = ("action = 'ignored' AND payload <> '' AND event IS NOT NULL "
            "AND event NOT IN ('media.scrobble', 'media.stop')")
#: The plays the built-in tracker counted, for "which event counted this episode for this
#: account?" (an episode marked unplayed in Plex): a partial index's WHERE, as PRUNABLE.
COUNTED = "action IN ('marked', 'rewatch')"


class WebhookEvent(Base):
    """The inbox and the log in one: every accepted webhook and what became of it."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_status", "status", "id"),
                      Index("ix_webhook_events_prunable", "received_at",
                            sqlite_where=text(PRUNABLE), postgresql_where=text(PRUNABLE)),
                      Index("ix_webhook_events_counted", "account_id", "season", "episode",
                            sqlite_where=text(COUNTED), postgresql_where=text(COUNTED)),
                      # (the log's search by the tracker's titles; migration 0009)
                      Index("ix_webhook_events_show_id", "show_id", sqlite_where=text("show_id IS NOT NULL"),
                            postgresql_where=text("show_id IS NOT NULL")),
                      Index("ix_webhook_events_movie_id", "movie_id", sqlite_where=text("movie_id IS NOT NULL"),
                            postgresql_where=text("movie_id IS NOT NULL")))

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    payload: Mapped[str] = mapped_column(Text)  # the raw JSON exactly as Plex sent it ('': dropped, see retention)
    source: Mapped[str | None] = mapped_column(String(200))  # client address
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, done
    event: Mapped[str | None] = mapped_column(String(64))
    account_id: Mapped[str | None] = mapped_column(String(64))
    account_title: Mapped[str | None] = mapped_column(String(200))
    server_title: Mapped[str | None] = mapped_column(String(200))
    plex_title: Mapped[str | None] = mapped_column(String(500))
    episode_title: Mapped[str | None] = mapped_column(String(500))
    action: Mapped[str | None] = mapped_column(String(16), index=True)  # see pipeline.Action
    reason: Mapped[str | None] = mapped_column(Text)
    show_id: Mapped[int | None]  # the tracker's show and episode (no foreign keys: the
    season: Mapped[int | None]  # inbox belongs to no one destination)
    episode: Mapped[int | None]
    episode_id: Mapped[int | None]
    match_method: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None]
    conflict_id: Mapped[int | None] = mapped_column(
        ForeignKey("conflicts.id", ondelete="SET NULL"), index=True
    )
    processed_at: Mapped[datetime | None]
    media_type: Mapped[str | None] = mapped_column(String(16))  # episode, movie...; None: before 0006
    plex_year: Mapped[int | None]  # a movie's year, as Plex gave it
    movie_id: Mapped[int | None]  # the tracker's movie (no foreign key, as show_id)
    # How far the play went, as the Plex server said, for a media.stop that did not say.
    server_progress: Mapped[float | None]

    tracker_episode: Mapped[Episode | None] = relationship(
        primaryjoin="foreign(WebhookEvent.episode_id) == Episode.id")


class Conflict(Base):
    """A Plex show the matcher could not place with confidence; the user decides."""

    __tablename__ = "conflicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    plex_key: Mapped[str] = mapped_column(String(300), index=True)
    plex_title: Mapped[str] = mapped_column(String(500))
    plex_year: Mapped[int | None]
    guids: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    type: Mapped[str] = mapped_column(String(16))  # no_match, ambiguous, low_confidence
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    kind: Mapped[str] = mapped_column(String(16), default="show")  # show, movie: what show_id and candidates name
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, resolved
    resolution: Mapped[str | None] = mapped_column(String(16))  # mapped, created, ignored
    show_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]


class Delivery(Base):
    """The outbox: one event's delivery to one destination other than the built-in tracker.

    Written in the transaction that settles the inbox row; a sender per destination
    drains its pending rows in event order.
    """

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("destination", "event_id"),
                      Index("ix_deliveries_queue", "destination", "state", "event_id"),
                      Index("ix_deliveries_event_id", "event_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    destination: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="pending")  # see types.DeliveryState
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_status: Mapped[int | None]  # the destination's HTTP status, if it answered
    last_error: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(32))  # the destination's word, e.g. conflict_created
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class PlexShow(Base):
    """What a Plex server said about one of its shows (ids, first year): asked once."""

    __tablename__ = "plex_shows"

    server_uuid: Mapped[str] = mapped_column(String(100), primary_key=True)
    rating_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    ids: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    year: Mapped[int | None]
    title: Mapped[str | None] = mapped_column(String(500))
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


class Movie(Base):
    """A movie in the user's tracker, with its watched state."""

    __tablename__ = "movies"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    year: Mapped[int | None]
    tmdb_id: Mapped[int | None] = mapped_column(index=True)
    imdb_id: Mapped[str | None] = mapped_column(String(20), index=True)
    watch_count: Mapped[int] = mapped_column(default=0)
    first_watched_at: Mapped[datetime | None]
    last_watched_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MovieWatch(Base):
    """One counted play of a movie: the history behind its count (and undo)."""

    __tablename__ = "movie_watches"
    __table_args__ = (Index("ix_movie_watches_movie_account", "movie_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(String(64))
    watched_at: Mapped[datetime]
    event_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_events.id"), index=True)

    movie: Mapped[Movie] = relationship()


class MovieMapping(Base):
    """A remembered answer: this Plex movie is that tracker movie (or is ignored)."""

    __tablename__ = "movie_mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    plex_key: Mapped[str] = mapped_column(String(300), unique=True)
    plex_title: Mapped[str | None] = mapped_column(String(500))
    movie_id: Mapped[int | None]
    ignored: Mapped[bool] = mapped_column(default=False)
    method: Mapped[str] = mapped_column(String(32))  # ids, exact_title, title, user, created, added
    confidence: Mapped[float] = mapped_column(default=1.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
