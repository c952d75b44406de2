"""Movie matching: a Plex movie (ids, title, year) to a tracker movie.

The show index does the work (ids, normalised titles, fuzzy candidates); what differs is
the year. A show's episodes air years after it started, so a show's year is a hint; a
movie's year is its own, so remakes that share a title ("Dune" 1984 and 2021) are told
apart by it, and a title alone never picks between them.
"""

from __future__ import annotations

from app.core.matching import CONFIDENT_MARGIN, CONFIDENT_SCORE, MatchResult, ShowIndex, ShowRef, normalise
from app.core.types import Candidate

YEAR_SLACK = 1  # Plex's year and a tracker's release year may differ by one (festival vs release)
OTHER_YEAR = -25.0  # score points for a movie of another year: a remake, or another movie


def same_year(a: int | None, b: int | None) -> bool:
    """Whether two years can be the same movie's (unknown fits anything)."""
    return a is None or b is None or abs(a - b) <= YEAR_SLACK


class MovieIndex(ShowIndex):
    """Tracker movies indexed for matching (refs carry tmdb and imdb ids only)."""

    def resolve(self, title: str | None, year: int | None, ids: dict[str, str]) -> MatchResult:
        """Ids first; then the title, where a year that differs rules a movie out."""
        by_ids = self.by_ids({k: v for k, v in ids.items() if k in ("tmdb", "imdb")}) if ids else []
        if len(by_ids) == 1:
            return MatchResult(by_ids[0].id, "ids", 1.0)
        if len(by_ids) > 1:
            cands = [Candidate(m.id, m.title, self._year(m), 100.0) for m in by_ids]
            return MatchResult(None, conflict="ambiguous", candidates=cands)
        if not title:
            return MatchResult(None, conflict="no_match")

        key, hint = normalise(title)
        year = year or hint
        exact = self._by_title.get(key, [])
        fitting = [m for m in exact if same_year(self._year(m), year)]
        if year is not None and len(fitting) > 1:  # a year given: the movie of exactly that year
            fitting = [m for m in fitting if self._year(m) in (year, None)] or fitting
        if len(fitting) == 1:
            return MatchResult(fitting[0].id, "exact_title", 1.0 if year else 0.95)
        if len(fitting) > 1:  # no year (or two of one year): remakes share titles, ask
            return MatchResult(None, conflict="ambiguous", candidates=self._cands(fitting))

        cands = self._ranked(key, year, limit=8)
        if not cands:
            return MatchResult(None, conflict="no_match")
        if exact:  # the same title, another year: a remake the tracker does not have, or a wrong year
            return MatchResult(None, conflict="low_confidence", candidates=cands)
        best = cands[0]
        runner_up = cands[1].score if len(cands) > 1 else 0.0
        if (year is not None and same_year(best.year, year) and best.year is not None
                and best.score >= CONFIDENT_SCORE and best.score - runner_up >= CONFIDENT_MARGIN):
            return MatchResult(best.show_id, "title", best.score / 100.0, candidates=cands)
        return MatchResult(None, conflict="low_confidence", candidates=cands)

    def _adjust(self, movie_year: int | None, year: int | None) -> float:
        """The year's bonus for a movie of that year; another year (beyond the slack) is
        another movie, so it ranks below a near title of the right year."""
        if not same_year(movie_year, year):
            return OTHER_YEAR
        return super()._adjust(movie_year, year)

    def _cands(self, movies: list[ShowRef]) -> list[Candidate]:
        return sorted((Candidate(m.id, m.title, self._year(m), 100.0) for m in movies),
                      key=lambda c: c.year or 0, reverse=True)
