"""The built-in tracker's movies: their match index, marking a play (a re-watch counts
again outside the de-duplication window, once inside it) and taking one back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.matching import ShowRef
from app.core.models import Movie, MovieMapping, MovieWatch
from app.core.movie_matching import MovieIndex
from app.core.types import Action


def movie_ref(movie: Movie) -> ShowRef:
    """A movie as the matcher sees it (only tmdb and imdb ids)."""
    return ShowRef(movie.id, movie.title, movie.year, movie.tmdb_id, None, movie.imdb_id, None)


def movie_columns(ids: dict[str, str]) -> dict[str, int | str]:
    """Plex's movie ids (``{"tmdb": "949", "imdb": "tt0113277"}``) as Movie columns."""
    out: dict[str, int | str] = {}
    imdb, tmdb = str(ids.get("imdb", "")).strip(), str(ids.get("tmdb", "")).strip()
    if imdb.startswith("tt"):
        out["imdb_id"] = imdb
    if tmdb.isdigit() and len(tmdb) <= 11:
        out["tmdb_id"] = int(tmdb)
    return out


@dataclass(frozen=True)
class MovieMark:
    """What marking one movie play did."""

    action: Action  # marked, rewatch, duplicate or failed
    reason: str | None = None
    movie: Movie | None = None


class MovieLookups:
    """Mappings and watches one transaction has read or made (autoflush off, as for
    episodes: new watches are checked here before the database is asked)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._mappings: dict[str, MovieMapping | None] = {}
        self._new_watches: list[MovieWatch] = []

    def mapping(self, plex_key: str) -> MovieMapping | None:
        if plex_key not in self._mappings:
            self._mappings[plex_key] = self.session.scalar(
                select(MovieMapping).where(MovieMapping.plex_key == plex_key))
        return self._mappings[plex_key]

    def add_mapping(self, mapping: MovieMapping) -> None:
        self.session.add(mapping)
        self._mappings[mapping.plex_key] = mapping

    def earlier_watch(self, movie: Movie, account: str, when: datetime, window: timedelta) -> MovieWatch | None:
        """A watch of this movie by this account within ``window`` of ``when``."""
        for w in self._new_watches:
            if w.movie is movie and w.account_id == account and abs(w.watched_at - when) < window:
                return w
        return self.session.scalar(select(MovieWatch).where(
            MovieWatch.movie_id == movie.id, MovieWatch.account_id == account,
            MovieWatch.watched_at > when - window, MovieWatch.watched_at < when + window).limit(1))

    def add_watch(self, watch: MovieWatch) -> None:
        self.session.add(watch)
        self._new_watches.append(watch)


class MovieShelf:
    """The built-in tracker's movies: the index matching runs over, marks and undo."""

    def __init__(self) -> None:
        self._index: MovieIndex | None = None
        self._stamp: tuple[int, int] | None = None

    @staticmethod
    def stamp(session: Session) -> tuple[int, int]:
        """How many movies, and the newest id: another process's change moves it."""
        count, top = session.execute(select(func.count(Movie.id), func.max(Movie.id))).one()
        return int(count), int(top or 0)

    def index(self, session: Session) -> MovieIndex:
        """The movie index, rebuilt when the movies changed under it."""
        stamp = self.stamp(session)
        if self._index is None or stamp != self._stamp:
            self._index = MovieIndex(movie_ref(m) for m in session.scalars(select(Movie)))
            self._stamp = stamp
        return self._index

    def changed(self, session: Session, movie: Movie) -> None:
        """A movie was added or edited in ``session`` (flushed): index that one."""
        if self._index is not None:
            self._index.add(movie_ref(movie))
            self._stamp = self.stamp(session)

    def forget_index(self) -> None:
        self._index = None

    def new_movie(self, session: Session, title: str, year: int | None, ids: dict[str, str]) -> Movie:
        """A movie made from what Plex says of it (its usable ids)."""
        movie = Movie(title=title, year=year, watch_count=0, **movie_columns(ids))
        session.add(movie)
        session.flush()
        self.changed(session, movie)
        return movie

    def mark(self, lookups: MovieLookups, movie_id: int, account: str, when: datetime,
             dedup_window: timedelta, event_id: int) -> MovieMark:
        """Count a play of a movie for ``account``."""
        movie = lookups.session.get(Movie, movie_id)
        if movie is None:
            return MovieMark(Action.FAILED, f"tracker movie #{movie_id} no longer exists")
        earlier = lookups.earlier_watch(movie, account, when, dedup_window)
        if earlier is not None:
            return MovieMark(Action.DUPLICATE, f"this play was already counted (event #{earlier.event_id})",
                             movie)
        rewatch = movie.watch_count > 0
        lookups.add_watch(MovieWatch(movie=movie, account_id=account, watched_at=when, event_id=event_id))
        movie.watch_count += 1
        if movie.first_watched_at is None or when < movie.first_watched_at:
            movie.first_watched_at = when
        movie.last_watched_at = max(filter(None, [movie.last_watched_at, when]))
        if rewatch:
            return MovieMark(Action.REWATCH, f"watched {movie.watch_count} times", movie)
        return MovieMark(Action.MARKED, None, movie)

    @staticmethod
    def undo(session: Session, event_id: int) -> bool:
        """Take back the movie watch that event counted; False when it counted none."""
        watch = session.scalar(select(MovieWatch).where(MovieWatch.event_id == event_id))
        if watch is None:
            return False
        movie = session.get(Movie, watch.movie_id)
        session.delete(watch)
        session.flush()
        if movie is not None:
            movie.watch_count = max(0, movie.watch_count - 1)
            watched = select(MovieWatch.watched_at).where(MovieWatch.movie_id == movie.id)
            movie.last_watched_at = session.scalar(watched.order_by(MovieWatch.watched_at.desc()).limit(1))
            movie.first_watched_at = session.scalar(watched.order_by(MovieWatch.watched_at).limit(1))
        return True
