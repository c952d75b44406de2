"""The built-in tracker: Scrobble Tray's own shows, episodes and watches (SQLite by default).

It is the one destination that is exactly once: a mark is written in the same
transaction that records the inbox row's outcome. It also keeps the show index that
matching runs over.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.destinations.base import Destination, Settled
from app.core.destinations.builtin_movies import MovieShelf
from app.core.matching import ShowIndex, ShowRef
from app.core.models import Episode, Movie, Show, Watch
from app.core.types import Action, Check, CheckStatus

BUILTIN_ID = "builtin"
# The index built at start (StoreBase.warm_index, off the database thread) goes a slice of
# shows at a time, then sleeps: with the GIL shared evenly, a window built beside it took
# twice its time (the status window at a start: a 55-89 ms stall with 3,000 shows; 35-61
# with slices of 100 shows, 24-45 with slices of 10 read as columns).
WARM_SLICE = 10
WARM_PAUSE = 0.005


_REF_NAMES = [f.name for f in fields(ShowRef)]  # Show's columns of the same names
_SHOW_REFS = select(*(getattr(Show, name) for name in _REF_NAMES))  # ShowRef(*row), in its order


def show_ref(show: Show) -> ShowRef:
    return ShowRef(*(getattr(show, name) for name in _REF_NAMES))


@dataclass(frozen=True)
class Mark:
    """What marking one play did."""

    action: Action  # marked, rewatch, duplicate or failed
    reason: str | None = None
    episode: Episode | None = None


# Built once: building a statement costs more than running it (a query per row of a batch).
_EPISODE = select(Episode).where(Episode.show_id == bindparam("show"), Episode.season == bindparam("season"),
                                 Episode.number == bindparam("number"))
_EARLIER = select(Watch).where(Watch.episode_id == bindparam("episode"), Watch.account_id == bindparam("account"),
                               Watch.watched_at > bindparam("after"), Watch.watched_at < bindparam("before")).limit(1)


class Marks:
    """Episodes and watches one transaction has read or made, so that a burst of one show
    costs no query per row. Used with the session's autoflush off: new watches are
    checked here, in memory, before the database is asked."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._episodes: dict[tuple[int, int, int], Episode | None] = {}  # (show, season, number)
        self._new_watches: list[Watch] = []

    def episode(self, show_id: int, season: int, number: int) -> Episode | None:
        key = (show_id, season, number)
        if key not in self._episodes:
            self._episodes[key] = self.session.scalar(_EPISODE, {"show": show_id, "season": season,
                                                                 "number": number})
        return self._episodes[key]

    def add_episode(self, episode: Episode) -> None:
        self.session.add(episode)
        self._episodes[episode.show_id, episode.season, episode.number] = episode

    def earlier_watch(self, episode: Episode, account: str, when: datetime, window: timedelta) -> Watch | None:
        """A watch of this episode by this account within ``window`` of ``when``."""
        for w in self._new_watches:
            if w.episode is episode and w.account_id == account and abs(w.watched_at - when) < window:
                return w
        if episode.id is None:  # made in this transaction: no older watches
            return None
        return self.session.scalar(_EARLIER, {"episode": episode.id, "account": account,
                                              "after": when - window, "before": when + window})

    def add_watch(self, watch: Watch) -> None:
        self.session.add(watch)
        self._new_watches.append(watch)


class BuiltinTracker(Destination):
    """Marks episodes in Scrobble Tray's own database, in the inbox row's transaction."""

    kind: ClassVar[str] = "builtin"
    exactly_once: ClassVar[bool] = True
    idempotent: ClassVar[bool] = True

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        super().__init__(BUILTIN_ID, "Built-in tracker")
        self.sessions = sessions
        self.enabled = True  # off: the pipeline counts plays for the other destinations only
        self._index: ShowIndex | None = None
        self._stamp: tuple[int, int] | None = None
        self._edits = 0  # changes to the shows made here: an index built before one is stale
        self.movies = MovieShelf()

    def wants(self, event: Settled) -> bool:
        return True  # every episode play that passed the filters is matched and marked here

    async def checks(self) -> list[Check]:
        if not self.enabled:
            return [Check("Built-in tracker", CheckStatus.PASS, "off: plays are marked in your other "
                          "destinations only", "")]

        def count() -> tuple[int, int]:
            with self.sessions() as session:
                return (int(session.scalar(select(func.count(Show.id))) or 0),
                        int(session.scalar(select(func.count(Movie.id))) or 0))
        try:
            n, movies = await asyncio.to_thread(count)
        except Exception as exc:  # the detail is what the user needs, not a traceback
            return [Check("Built-in tracker", CheckStatus.FAIL, f"{type(exc).__name__}: {exc}",
                          "Check the database URL in Settings and that the file is writable.")]
        return [Check("Built-in tracker", CheckStatus.PASS, f"{n} shows, {movies} movies; marks are written in the "
                      "same transaction as the event, exactly once")]

    # -- the show index ---------------------------------------------------------------
    def shows_stamp(self, session: Session) -> tuple[int, int]:
        """How many shows, and the newest id: another process's change moves it."""
        count, top = session.execute(select(func.count(Show.id), func.max(Show.id))).one()
        return int(count), int(top or 0)

    def index(self, session: Session) -> ShowIndex:
        """The show index, rebuilt when another process changed the shows."""
        stamp = self.shows_stamp(session)
        if self._index is None or stamp != self._stamp:
            self._index, self._stamp, _ = self.built_index(session)
        return self._index

    def built_index(self, session: Session, pause: float = 0.0) -> tuple[ShowIndex, tuple[int, int], int]:
        """A new show index, the shows' stamp and the edits count it was built at;
        ``pause``: seconds to sleep (the GIL let go) after each :data:`WARM_SLICE` shows."""
        edits, stamp = self._edits, self.shows_stamp(session)
        index = ShowIndex()
        # columns, a slice at a time: ORM objects for every show were one long hold of the GIL
        rows = session.execute(_SHOW_REFS.execution_options(yield_per=WARM_SLICE) if pause else _SHOW_REFS)
        for i, row in enumerate(rows, 1):
            index.add(ShowRef(*row))
            if pause and i % WARM_SLICE == 0:
                time.sleep(pause)
        return index, stamp, edits

    def install_index(self, index: ShowIndex, stamp: tuple[int, int], edits: int) -> None:
        """Use ``index``, built on another thread, unless one was built or a show changed
        meanwhile (on the database thread, where every change is made)."""
        if self._index is None and edits == self._edits:
            self._index, self._stamp = index, stamp

    def indexed(self, session: Session, show: Show) -> None:
        """Add a show just created in ``session`` to the index."""
        self._edits += 1
        if self._index is not None and self._stamp is not None:
            self._index.add(show_ref(show))
            self._stamp = self.shows_stamp(session)

    def new_show(self, session: Session, title: str, year: int | None, ids: dict[str, str]) -> Show:
        """A show made from what Plex says of it (its external ids where they are usable)."""
        show = Show(title=title, year=year, **id_columns(ids))
        session.add(show)
        session.flush()
        self.indexed(session, show)
        return show

    def changed(self, show: ShowRef) -> None:
        """A show's title, year or ids were changed (and committed): re-index that one."""
        self._edits += 1
        if self._index is not None:
            self._index.add(show)

    def deleted(self, show_id: int, stamp: tuple[int, int]) -> None:
        """A show was deleted (and committed); ``stamp`` is the shows' stamp after it."""
        self._edits += 1
        if self._index is not None:
            self._index.remove(show_id)
            self._stamp = stamp

    def forget_index(self) -> None:
        self._edits += 1
        self._index = None
        self.movies.forget_index()

    # -- marking ----------------------------------------------------------------------
    def mark(self, marks: Marks, show_id: int, season: int, number: int, episode_title: str | None,
             account: str, when: datetime, dedup_window: timedelta, event_id: int) -> Mark:
        """Mark an episode watched for ``account`` (creating the episode if the tracker lacks it)."""
        show = marks.session.get(Show, show_id)
        if show is None:
            return Mark(Action.FAILED, f"tracker show #{show_id} no longer exists")
        episode = marks.episode(show_id, season, number)
        if episode is None:
            episode = Episode(show_id=show_id, season=season, number=number, title=episode_title,
                              watch_count=0)
            marks.add_episode(episode)
        elif not episode.title and episode_title:
            episode.title = episode_title

        earlier = marks.earlier_watch(episode, account, when, dedup_window)
        if earlier is not None:
            return Mark(Action.DUPLICATE, f"this play was already counted (event #{earlier.event_id})",
                        episode)
        rewatch = episode.watch_count > 0
        marks.add_watch(Watch(episode=episode, account_id=account, watched_at=when, event_id=event_id))
        _count(show, episode, when, +1)
        if rewatch:
            return Mark(Action.REWATCH, f"watched {episode.watch_count} times", episode)
        return Mark(Action.MARKED, None, episode)

    def undo(self, session: Session, event_id: int) -> bool:
        """Take back the watch that event counted; False when it counted none."""
        watch = session.scalar(select(Watch).where(Watch.event_id == event_id))
        if watch is None:
            return self.movies.undo(session, event_id)
        episode = session.get(Episode, watch.episode_id)
        session.delete(watch)
        session.flush()
        if episode is not None:
            show = session.get(Show, episode.show_id)
            last = session.scalar(select(Watch.watched_at).where(Watch.episode_id == episode.id)
                                  .order_by(Watch.watched_at.desc()).limit(1))
            if show is not None:
                _count(show, episode, None, -1)
            episode.last_watched_at = last
        return True


def _count(show: Show, episode: Episode, when: datetime | None, delta: int) -> None:
    """Keep episode and show counters right after a watch is added or removed."""
    before = episode.watch_count
    episode.watch_count = max(0, before + delta)
    show.total_plays = max(0, show.total_plays + delta)
    if before == 0 and episode.watch_count > 0:
        show.watched_episodes += 1
        episode.first_watched_at = when
    elif before > 0 and episode.watch_count == 0:
        show.watched_episodes = max(0, show.watched_episodes - 1)
        episode.first_watched_at = None
    if delta > 0 and when is not None:
        episode.last_watched_at = max(filter(None, [episode.last_watched_at, when]))
        show.last_watched_at = max(filter(None, [show.last_watched_at, when]))


def id_columns(ids: dict[str, str]) -> dict[str, int | str]:
    """Plex's show ids (``{"tmdb": "1396", "imdb": "tt0903747"}``) as Show columns."""
    out: dict[str, int | str] = {}
    for name, value in ids.items():
        value = str(value).strip()
        if name == "imdb" and value.startswith("tt"):
            out["imdb_id"] = value
        elif name in ("tmdb", "tvdb", "anidb") and value.isdigit() and len(value) <= 11:
            out[f"{name}_id"] = int(value)
    return out
