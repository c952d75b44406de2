"""The built-in tracker's movies: add, import, list, edit, delete and search them."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from app.core.models import Movie, MovieMapping, MovieWatch, utcnow
from app.core.store.base import StoreBase, StoreError, plain, row_columns
from app.core.store.shows import MAX_SHOWS, ImportResult, _clean_show
from app.core.types import Candidate, MovieRow

MAX_MOVIES = MAX_SHOWS  # movies in one import, as shows
_TRAILING_YEAR = re.compile(r"(.*?)[\s(\[]+((?:19|20)\d\d)[)\]]?")


def _clean_movie(data: Any, where: str) -> dict[str, Any]:
    """Validate one movie record (title, year, tmdb_id, imdb_id; other columns are dropped)."""
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k in ("title", "year", "tmdb_id", "imdb_id")}
    return _clean_show(data, where, "movie")


def _keys(rec: dict[str, Any]) -> set[tuple[str, Any]]:
    """What makes two movies the same: an id, or the title and year."""
    keys = {(n, rec[n]) for n in ("tmdb_id", "imdb_id") if rec.get(n) is not None}
    keys.add(("title", (rec["title"].casefold(), rec.get("year"))))
    return keys


def _movie_keys(movie: Movie) -> set[tuple[str, Any]]:
    return _keys({"title": movie.title, "year": movie.year, "tmdb_id": movie.tmdb_id, "imdb_id": movie.imdb_id})


class Movies(StoreBase):
    """Movies in the built-in tracker (kept up to date in its movie index)."""

    def add_movie(self, **values: Any) -> MovieRow:
        """Add one movie; one already there (the same id, or the same title and year) is refused."""
        clean = _clean_movie(values, "movie")
        with self.sessions.begin() as session:
            self._refuse_duplicate_movie(session, clean)
            movie = Movie(watch_count=0, **clean)
            session.add(movie)
            session.flush()
            self.builtin.movies.changed(session, movie)
            return plain(MovieRow, movie)

    def import_movies(self, records: object) -> ImportResult:
        """Add movies from records like ``{title, year, tmdb_id, imdb_id}``: all checked
        before any is written; one already in the tracker is skipped."""
        if isinstance(records, dict) and isinstance(records.get("movies"), list):
            records = records["movies"]  # {"movies": [...]}, as a tracker's export may be
        if not isinstance(records, list):
            raise StoreError("the import file must hold a JSON list of movies")
        if len(records) > MAX_MOVIES:
            raise StoreError(f"the import file holds {len(records):,} movies; one import takes at most "
                             f"{MAX_MOVIES:,}", "Split it into smaller files and import each.")
        clean = [_clean_movie(r, f"movie #{i + 1}") for i, r in enumerate(records)]
        added = skipped = 0
        with self.sessions.begin() as session:
            seen: set[tuple[str, Any]] = set()
            for movie in session.scalars(select(Movie)):
                seen.update(_movie_keys(movie))
            for rec in clean:
                keys = _keys(rec)
                if keys & seen:
                    skipped += 1
                    continue
                seen.update(keys)
                session.add(Movie(watch_count=0, **rec))
                added += 1
        self.builtin.movies.forget_index()
        return ImportResult(added, skipped)

    def _refuse_duplicate_movie(self, session: Session, clean: dict[str, Any], but: int | None = None) -> None:
        """A StoreError naming the movie (other than ``but``) with one of these ids, or this title and year."""
        keys = _keys(clean)
        alike = or_(Movie.title.ilike(clean["title"]), *(getattr(Movie, n) == v for n, v in keys if n != "title"))
        for existing in session.scalars(select(Movie).where(alike, Movie.id != (but if but is not None else -1))):
            if _movie_keys(existing) & keys:
                year = f" ({existing.year})" if existing.year else ""
                raise StoreError(f"{existing.title}{year} is already in the tracker as movie #{existing.id}")

    def update_movie(self, movie_id: int, **values: Any) -> MovieRow:
        """Change a movie's title, year or ids (all given: a missing id is cleared)."""
        clean = _clean_movie(values, "movie")
        with self.sessions.begin() as session:
            movie = session.get(Movie, movie_id)
            if movie is None:
                raise StoreError(f"there is no movie #{movie_id}")
            self._refuse_duplicate_movie(session, clean, but=movie_id)
            for name in ("title", "year", "tmdb_id", "imdb_id"):
                setattr(movie, name, clean.get(name))
            session.flush()
            row = plain(MovieRow, movie)
        self.builtin.movies.forget_index()  # (rebuilt on the next match: movies are few)
        return row

    def delete_movie(self, movie_id: int) -> None:
        """Delete a movie with its plays; Plex movies mapped to it will ask again."""
        with self.sessions.begin() as session:
            movie = session.get(Movie, movie_id)
            if movie is None:
                raise StoreError(f"there is no movie #{movie_id}")
            session.execute(delete(MovieWatch).where(MovieWatch.movie_id == movie_id))
            session.execute(delete(MovieMapping).where(MovieMapping.movie_id == movie_id))
            session.delete(movie)
        self.builtin.movies.forget_index()

    def list_movies(self, search: str | None = None, limit: int | None = None, offset: int = 0) -> list[MovieRow]:
        """Movies by title (and year), those whose title holds ``search`` only if given;
        ``limit`` of them from ``offset``."""
        q = select(*row_columns(MovieRow, Movie)).order_by(Movie.title, Movie.year, Movie.id)
        if search:
            q = q.where(Movie.title.ilike(f"%{search}%"))
        with self.sessions() as session:
            return [MovieRow(**row) for row in session.execute(q.limit(limit).offset(offset)).mappings()]

    def count_movies(self, search: str | None = None) -> int:
        """How many movies :meth:`list_movies` lists in all."""
        q = select(func.count()).select_from(Movie)
        with self.sessions() as session:
            return session.scalar(q.where(Movie.title.ilike(f"%{search}%")) if search else q) or 0

    def search_movies(self, query: str, limit: int = 20) -> list[Candidate]:
        """Ranked tracker movies for a title; a year at its end ("Dune 1984", "Dune (1984)")
        ranks that year's movie first."""
        year = None
        m = _TRAILING_YEAR.fullmatch(query.strip())
        if m and m.group(1).strip() and int(m.group(2)) <= utcnow().year + 2:  # ("Blade Runner 2049": a title)
            query, year = m.group(1), int(m.group(2))
        with self.sessions() as session:
            return self.builtin.movies.index(session).search(query, year, limit=limit)
