"""Show matching: Plex show (ids, title, year) to a tracker show.

Pure and in memory. Titles are normalised once when the index is built; a lookup tries
ids, then exact normalised titles in a dict, and only then fuzzy scoring with rapidfuzz,
with the year as evidence rather than a filter. The fuzzy path never scans every title:
an n-gram index (app/core/ngram_index.py) hands it at most ``MAX_CANDIDATES`` titles,
which are scored word-order-blind; when none of those scores ``WORDS_BELOW`` and the
query has two words or more, at most as many again: the titles holding two of its
words, each misspelt word standing for its nearest indexed words (a short word with a
letter wrong keeps none of its 4-grams). Measured against pg_trgm on five title sets
with tests/bench/matching.py (README, "Performance").
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter

from rapidfuzz import fuzz, process

from app.core.ngram_index import NgramIndex
from app.core.types import Candidate

CONFIDENT_SCORE = 94.0  # a fuzzy best at or above this...
CONFIDENT_MARGIN = 6.0  # ...and this far ahead of the runner-up is applied
CANDIDATE_CUTOFF = 58.0  # (55 offered a random string a title at 57)
WORDS_BELOW = 80.0  # a fuzzy best below this: the titles of the nearest words are scored too
WORDS_CUTOFF = 65.0  # ...and kept from those at least this (a random string shares a word's 3-grams)
YEAR_BONUS = 3.0  # score points for a show that started in the episode's year (the most a year adds)
ID_NAMES = ("tmdb", "tvdb", "imdb", "anidb")

# A candidate's score is the best of: plain ratio, ratio of the words sorted (so "Bad
# Breaking" scores 100 against "Breaking Bad"), and CONTAINED_WEIGHT of token_set_ratio
# (100 when all of one's words are in the other) with the rest ratio. That last puts a
# title one word short of the query, or one longer, ahead of titles sharing fewer of its
# letters ("paep imm hxxtjzok": "paep imm" 76, "krmmw hxxtjzok" 71), but not ahead of the
# query's own title with a typo ("lituli kizz": "lituli kini" 82, "lituli" 79; with half
# the weight, 85), and never near the confident score on containment alone.
SCORERS = (fuzz.ratio, fuzz.token_sort_ratio, fuzz.token_set_ratio)
CONTAINED_WEIGHT = 0.3

_YEAR_SUFFIX = re.compile(r"\s*[\(\[]((?:19|20)\d\d)[\)\]]\s*$")
_PAREN_SUFFIX = re.compile(r"\s*[\(\[][^\)\]]{1,12}[\)\]]\s*$")
_NON_WORD = re.compile(r"[^\w]+")
# Diacritics (é = e + U+0301, ё = е + U+0308): dropped. Other combining marks are letters'
# parts (Japanese voicing marks: カ/ガ; Devanagari's virama and vowel signs) and stay.
_DIACRITICS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


@dataclass(frozen=True)
class ShowRef:
    """The parts of a tracker show the matcher needs."""

    id: int
    title: str
    year: int | None = None
    tmdb_id: int | None = None
    tvdb_id: int | None = None
    imdb_id: str | None = None
    anidb_id: int | None = None

    def ids(self) -> dict[str, str]:
        values = {"tmdb": self.tmdb_id, "tvdb": self.tvdb_id, "imdb": self.imdb_id,
                  "anidb": self.anidb_id}
        return {k: str(v).lower() for k, v in values.items() if v not in (None, "")}


@dataclass(frozen=True)
class MatchResult:
    """The matcher's answer: a show, or a conflict type with ranked candidates."""

    show_id: int | None
    method: str | None = None  # ids, exact_title, title
    confidence: float = 0.0
    conflict: str | None = None  # no_match, ambiguous, low_confidence
    candidates: list[Candidate] = field(default_factory=list)


def normalise(title: str) -> tuple[str, int | None]:
    """``(key, year hint)``: lower case, no accents or punctuation, no leading "the"."""
    year = None
    if m := _YEAR_SUFFIX.search(title):
        year = int(m.group(1))
        title = title[: m.start()]
    title = _PAREN_SUFFIX.sub("", title)  # "(US)", "(2005)" and friends
    text = title
    if text.isascii():  # (ASCII has no accents to drop: most titles skip the per-character walk)
        text = _NON_WORD.sub(" ", text.casefold().replace("&", " and "))
    else:
        text = unicodedata.normalize("NFC", _DIACRITICS.sub("", unicodedata.normalize("NFKD", text)))
        text = text.casefold().replace("&", " and ")
        # A combining mark left is part of its word (\w does not match it: "हिन्दी" was "ह नद")
        text = "".join(c if c.isalnum() or unicodedata.category(c)[0] == "M" else " " for c in text)
    text = text.replace("_", " ").strip()
    if text.startswith("the "):
        text = text[4:]
    return " ".join(text.split()), year


def _year_adjustment(show_year: int | None, year: int | None) -> float:
    """Score points for how well a show's first year fits the episode's year."""
    if show_year is None or year is None:
        return 0.0
    if show_year > year + 1:
        return -25.0  # the show did not exist yet when this episode aired
    if show_year == year:
        return YEAR_BONUS
    return 0.0


def _scores(key: str, candidates: list[str]) -> dict[str, float]:
    """The candidates scoring at least ``CANDIDATE_CUTOFF`` against ``key`` (see ``SCORERS``)."""
    if not candidates:
        return {}
    by_ratio, by_sorted, by_set = SCORERS
    ratio = {hit: score for hit, score, _ in process.extract(key, candidates, scorer=by_ratio, processor=None,
                                                              limit=None)}
    best = {hit: score for hit, score in ratio.items() if score >= CANDIDATE_CUTOFF}
    if " " not in key:
        # Two single words: sorting or setting their tokens changes nothing, both scorers
        # say what ratio said (short one-word titles: a third of the time)
        candidates = [hit for hit in candidates if " " in hit]
        ratio = {hit: ratio[hit] for hit in candidates}
    for hit, score, _ in process.extract(key, candidates, scorer=by_sorted, processor=None, limit=None,
                                         score_cutoff=CANDIDATE_CUTOFF):
        best[hit] = max(score, best.get(hit, 0.0))
    # token_set_ratio only where a full 100 of it could lift the blend to the cutoff
    # (a random string's candidates have none: the slowest scorer is skipped)
    reach = (CANDIDATE_CUTOFF - 100 * CONTAINED_WEIGHT) / (1 - CONTAINED_WEIGHT)
    if hopeful := [hit for hit, score in ratio.items() if score >= reach]:
        for hit, score, _ in process.extract(key, hopeful, scorer=by_set, processor=None, limit=None):
            blended = CONTAINED_WEIGHT * score + (1 - CONTAINED_WEIGHT) * ratio[hit]
            if blended >= CANDIDATE_CUTOFF:
                best[hit] = max(blended, best.get(hit, 0.0))
    return {hit: float(score) for hit, score in best.items()}


class ShowIndex:
    """Tracker shows indexed for matching; cheap to add to, fast to query."""

    def __init__(self, shows: Iterable[ShowRef] = ()) -> None:
        self._shows: dict[int, ShowRef] = {}
        self._by_id: dict[tuple[str, str], list[int]] = defaultdict(list)
        self._by_title: dict[str, list[ShowRef]] = defaultdict(list)
        self._grams = NgramIndex()  # the keys of _by_title, for fuzzy candidates
        self._hint: dict[int, int] = {}
        for show in shows:
            self.add(show)

    def __len__(self) -> int:
        return len(self._shows)

    def add(self, show: ShowRef) -> None:
        """Index one show (a show already indexed is replaced)."""
        if show.id in self._shows:
            self.remove(show.id)
        self._shows[show.id] = show
        for name, value in show.ids().items():
            self._by_id[(name, value)].append(show.id)
        key, hint = normalise(show.title)
        if hint and show.year is None:
            self._hint[show.id] = hint
        self._by_title[key].append(show)
        self._grams.add(key)

    def remove(self, show_id: int) -> None:
        show = self._shows.pop(show_id, None)
        if show is None:
            return
        for name, value in show.ids().items():
            self._by_id[(name, value)].remove(show_id)
        key, _ = normalise(show.title)
        self._by_title[key].remove(show)
        if not self._by_title[key]:
            del self._by_title[key]
            self._grams.discard(key)
        self._hint.pop(show_id, None)

    def get(self, show_id: int) -> ShowRef | None:
        return self._shows.get(show_id)

    def _year(self, show: ShowRef) -> int | None:
        return show.year if show.year is not None else self._hint.get(show.id)

    def by_ids(self, ids: dict[str, str]) -> list[ShowRef]:
        """Shows that share any of ``ids``, strongest id kind first."""
        found: list[int] = []
        for name in ID_NAMES:
            value = ids.get(name)
            if value is None:
                continue
            for show_id in self._by_id.get((name, str(value).lower()), ()):
                if show_id not in found:
                    found.append(show_id)
        return [self._shows[i] for i in found]

    def search(self, query: str, year: int | None = None, limit: int = 10) -> list[Candidate]:
        """Ranked shows for a title, exact matches first; the year adjusts scores."""
        key, hint = normalise(query)
        return self._ranked(key, year or hint, limit)

    def _ranked(self, key: str, year: int | None, limit: int) -> list[Candidate]:
        """``search`` for a normalised key: its exact shows, then the n-gram candidates."""
        candidates = self._grams.candidates(key) if key else []
        scores = _scores(key, candidates)
        if key in self._by_title:
            scores[key] = 100.0
        if " " in key and self._best(scores, year) < WORDS_BELOW:
            # Not sure yet: the titles of the words nearest the query's words, too (every
            # word misspelt shares too few 4-grams with its title). Not for one word: the
            # 4-grams find a word with one typo, and none of its near words is the better bet.
            seen = set(candidates)
            more = _scores(key, [k for k in self._grams.word_candidates(key) if k not in seen])
            scores.update((k, score) for k, score in more.items() if score >= WORDS_CUTOFF)
        # Best title first; (-score, title, id, year) tuples are cheap, Candidates are made
        # for the top `limit` only. A year adds at most YEAR_BONUS, so once `limit` shows
        # are in, a title scoring below the lowest of them by more than that can't enter.
        ranked = []
        floor = None
        for hit_key, score in sorted(scores.items(), key=itemgetter(1), reverse=True):
            if floor is not None and score + YEAR_BONUS < floor:
                break  # neither this title nor any after it can reach the top `limit`
            for show in self._by_title[hit_key]:
                show_year = self._year(show)
                by_year = self._adjust(show_year, year)
                adjusted = max(0.0, min(100.0, score + by_year))
                # (of two at 100, the one of the year: a remake's reordered title is no tie)
                ranked.append((-adjusted, -by_year, show.title, show.id, show_year))
            if floor is None and len(ranked) >= limit:
                floor = -sorted(ranked)[limit - 1][0]
        ranked.sort()
        return [Candidate(i, title, y, -s) for s, _, title, i, y in ranked[:limit]]

    def _adjust(self, show_year: int | None, year: int | None) -> float:
        """Score points for a show of ``show_year`` when the query's year is ``year``."""
        return _year_adjustment(show_year, year)

    def _best(self, scores: dict[str, float], year: int | None) -> float:
        """The best of ``scores`` once the year has adjusted them (a title ruled out by
        its year is no reason to look no further)."""
        best = 0.0
        for key, score in scores.items():
            if score >= WORDS_BELOW:  # (below it, the year's few points change nothing here)
                score += max(self._adjust(self._year(s), year) for s in self._by_title[key])
            best = max(best, score)
        return best

    def resolve(self, title: str | None, year: int | None, ids: dict[str, str]) -> MatchResult:
        """Match a Plex show: ids first, then exact title, then fuzzy title."""
        by_ids = self.by_ids(ids) if ids else []
        if len(by_ids) == 1:
            return MatchResult(by_ids[0].id, "ids", 1.0)
        if len(by_ids) > 1:
            cands = [Candidate(s.id, s.title, self._year(s), 100.0) for s in by_ids]
            return MatchResult(None, conflict="ambiguous", candidates=cands)
        if not title:
            return MatchResult(None, conflict="no_match")

        key, hint = normalise(title)
        year_hint = hint
        exact = self._by_title.get(key, [])
        if year_hint:  # "Doctor Who (2005)" names its year: trust it
            exact = [s for s in exact if self._year(s) in (None, year_hint)] or exact
        if len(exact) == 1 and _year_adjustment(self._year(exact[0]), year) >= 0:
            return MatchResult(exact[0].id, "exact_title", 1.0)
        if len(exact) > 1:
            return self._pick_among_exact(exact, year_hint or year)

        cands = self._ranked(key, year or hint, limit=8)
        if not cands:
            return MatchResult(None, conflict="no_match")
        best = cands[0]
        runner_up = cands[1].score if len(cands) > 1 else 0.0
        if best.score >= CONFIDENT_SCORE and best.score - runner_up >= CONFIDENT_MARGIN:
            return MatchResult(best.show_id, "title", best.score / 100.0, candidates=cands)
        return MatchResult(None, conflict="low_confidence", candidates=cands)

    def _pick_among_exact(self, shows: list[ShowRef], year: int | None) -> MatchResult:
        """Same title, several shows: the latest one that had started by ``year``.

        A remake usually starts after the original ended ("Doctor Who" 1963/2005,
        "The Office" UK 2001/US 2005), so the newest show that already existed is the
        likely one. Without a year, or with two shows of one year, ask the user.
        """
        cands = sorted(
            (Candidate(s.id, s.title, self._year(s), 100.0) for s in shows),
            key=lambda c: (c.year or 0), reverse=True,
        )
        if year is not None and all(c.year is not None for c in cands):
            started = [c for c in cands if c.year is not None and c.year <= year + 1]
            if started and (len(started) == 1 or started[0].year != started[1].year):
                chosen = started[0]
                ranked = [Candidate(c.show_id, c.title, c.year, 100.0 if c is chosen else 80.0)
                          for c in cands]
                return MatchResult(chosen.show_id, "exact_title", 0.9, candidates=ranked)
        return MatchResult(None, conflict="ambiguous", candidates=cands)
