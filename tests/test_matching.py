"""Show matching: ids, exact titles, fuzzy titles with the year as evidence."""

from __future__ import annotations

import random
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rapidfuzz import fuzz

from app.core import matching
from app.core.matching import CANDIDATE_CUTOFF, CONTAINED_WEIGHT, ShowIndex, ShowRef, _scores, normalise
from app.core.movie_matching import MovieIndex
from app.core.ngram_index import MAX_CANDIDATES, NgramIndex, grams

SHOWS = [
    ShowRef(1, "Breaking Bad", 2008, tmdb_id=1396, tvdb_id=81189, imdb_id="tt0903747"),
    ShowRef(2, "The Office", 2001, tvdb_id=78107),  # UK
    ShowRef(3, "The Office", 2005, tvdb_id=73244),  # US
    ShowRef(4, "Doctor Who", 1963),
    ShowRef(5, "Doctor Who", 2005),
    ShowRef(6, "Pokémon", 1997),
    ShowRef(7, "Marvel's Agents of S.H.I.E.L.D.", 2013),
    ShowRef(8, "Law & Order", 1990),
    ShowRef(9, "Shōgun", 2024),
    ShowRef(10, "Shogun", 1980),
]


@pytest.fixture
def index() -> ShowIndex:
    return ShowIndex(SHOWS)


@pytest.mark.parametrize("title, key, year", [
    ("The Office (US)", "office", None),
    ("Doctor Who (2005)", "doctor who", 2005),
    ("Pokémon", "pokemon", None),
    ("Law & Order", "law and order", None),
    ("  Marvel's Agents of S.H.I.E.L.D. ", "marvel s agents of s h i e l d", None),
])
def test_normalise(title, key, year) -> None:
    assert normalise(title) == (key, year)


def test_ids_win_over_titles(index: ShowIndex) -> None:
    r = index.resolve("Something Else Entirely", 2010, {"tvdb": "81189"})
    assert (r.show_id, r.method) == (1, "ids")


def test_exact_title_ignoring_case_accents_and_punctuation(index: ShowIndex) -> None:
    assert index.resolve("pokemon", 1999, {}).show_id == 6
    assert index.resolve("Law and Order", 2001, {}).show_id == 8


@pytest.mark.parametrize("title, year, expected", [
    ("The Office", 2003, 2),  # only the UK show existed in 2003
    ("The Office", 2007, 3),  # the newest show that had started: the US one
    ("Doctor Who", 1975, 4),
    ("Doctor Who", 2008, 5),
    ("Doctor Who (1963)", 2008, 4),  # a year in the title names the show
    ("Shogun", 2024, 9),
])
def test_same_title_different_show_is_decided_by_year(index, title, year, expected) -> None:
    assert index.resolve(title, year, {}).show_id == expected


def test_same_title_without_a_year_asks_the_user(index: ShowIndex) -> None:
    r = index.resolve("The Office", None, {})
    assert r.show_id is None and r.conflict == "ambiguous"
    assert {c.show_id for c in r.candidates} == {2, 3}


def test_fuzzy_title_is_applied_only_when_confident(index: ShowIndex) -> None:
    r = index.resolve("Marvels Agents of SHIELD", 2014, {})
    assert r.conflict == "low_confidence" and r.candidates[0].show_id == 7
    r = index.resolve("Breaking Bad!", 2009, {})
    assert r.show_id == 1
    r = index.resolve("Breaking Badly", 2009, {})
    assert r.show_id is None and r.candidates[0].show_id == 1


def test_year_is_evidence_not_a_filter(index: ShowIndex) -> None:
    assert index.resolve("Shōgun", 1985, {}).show_id == 10
    # The only "Severance" started after this episode aired: kept as a candidate, not applied.
    idx = ShowIndex([ShowRef(1, "Severance", 2022)])
    r = idx.resolve("Severance", 2019, {})
    assert r.show_id is None and r.conflict == "low_confidence"
    assert [c.show_id for c in r.candidates] == [1]


def test_no_match(index: ShowIndex) -> None:
    r = index.resolve("Zzyzx Qwerty", 2020, {})
    assert r.show_id is None and r.conflict == "no_match" and r.candidates == []


def test_index_add_and_remove() -> None:
    idx = ShowIndex()
    idx.add(ShowRef(1, "Severance", 2022))
    assert idx.resolve("Severance", 2022, {}).show_id == 1
    idx.add(ShowRef(1, "Severance Renamed", 2022))  # replacing keeps one entry
    assert len(idx) == 1 and idx.resolve("Severance", 2022, {}).show_id is None
    idx.remove(1)
    assert len(idx) == 0 and idx.search("Severance") == []


# The fuzzy path at scale: candidates come from the n-gram index (app/core/ngram_index.py),
# never from a scan of every title, so these run against thousands of titles.

def _filler(n: int, seed: int = 3) -> list[ShowRef]:
    rng = random.Random(seed)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(800)]
    return [ShowRef(1000 + i, " ".join(rng.choices(words, k=rng.randint(1, 4))).title(),
                    rng.randint(1950, 2025)) for i in range(n)]


@pytest.fixture(scope="module")
def big() -> ShowIndex:
    return ShowIndex(SHOWS + _filler(5000))


def _first(r) -> int | None:
    return r.show_id if r.show_id is not None else (r.candidates[0].show_id if r.candidates else None)


def test_words_reordered_are_found(big: ShowIndex) -> None:
    r = big.resolve("Bad Breaking", 2008, {})
    assert (r.show_id, r.method) == (1, "title")  # word-order-blind: scores 100
    assert _first(big.resolve("Order & Law", 1990, {})) == 8
    assert _first(big.resolve("Agents of SHIELD Marvels", 2013, {})) == 7


def test_a_typo_is_found(big: ShowIndex) -> None:
    assert big.resolve("Braking Bad", 2008, {}).show_id == 1
    assert _first(big.resolve("Pokemno", 1997, {})) == 6
    assert _first(big.resolve("Doctor Whoo", 2005, {})) == 5  # the year picks the 2005 one
    assert _first(big.resolve("Doctor Whoo", 1963, {})) == 4


@pytest.mark.parametrize("query", ["Zzyzx Qwerty", "qpwoeirutyalskdj", "Xqj Vbnmzk Plqwo"])
def test_a_random_string_matches_nothing(big: ShowIndex, query: str) -> None:
    r = big.resolve(query, 2020, {})
    assert (r.show_id, r.conflict, r.candidates) == (None, "no_match", [])
    assert big.search(query) == []


def test_shows_added_and_removed_while_running_are_searched() -> None:
    idx = ShowIndex(_filler(3000))
    assert idx.search("Severence") == []
    idx.add(ShowRef(1, "Severance", 2022))
    assert [c.show_id for c in idx.search("Severence")][:1] == [1]
    assert idx.resolve("Severence", 2022, {}).candidates[0].show_id == 1
    idx.add(ShowRef(2, "Slow Horses", 2022))
    idx.remove(1)
    assert all(c.show_id != 1 for c in idx.search("Severence"))
    idx.add(ShowRef(3, "Andor", 2022))  # takes the freed slot: nothing of Severance left in it
    assert [c.show_id for c in idx.search("Andorr")][:1] == [3]
    assert all(c.show_id != 3 for c in idx.search("Severence"))
    assert [c.show_id for c in idx.search("Horses Slow")][:1] == [2]
    idx.add(ShowRef(2, "Slough House", 2022))  # renamed: the old title is gone
    assert idx.resolve("Slow Horses", 2022, {}).show_id is None  # no longer applied...
    assert all(c.score < 80 for c in idx.search("Horses Slow"))  # ...nor its words found
    assert idx.resolve("Slough House", 2022, {}).show_id == 2


def test_an_extra_word_rarer_than_the_others_does_not_hide_the_show() -> None:
    # The extra word is in fewer titles than the show's own words, and in more than
    # MAX_CANDIDATES: rarest-lists-first would spend the walk on it alone.
    filler = [s.title for s in _filler(200, seed=9)]
    shows = [ShowRef(i, f"Fueggmp {filler[i]}", 2000) for i in range(35)]
    for n, word in enumerate(("Rdfzglrz", "Njbqbtqwr", "Qvxv")):
        shows += [ShowRef(100 * (n + 1) + i, f"{word} {filler[i]}", 2000) for i in range(45)]
    shows.append(ShowRef(1, "Rdfzglrz Njbqbtqwr Qvxv", 1993))
    idx = ShowIndex(shows)
    assert idx.search("Fueggmp Rdfzglrz Njbqbtqwr Qvxv", 1993)[0].show_id == 1


def test_no_query_scores_more_than_max_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    # 600 titles that all look like the query: more than the bound, so the bound bites.
    shows = [ShowRef(i, f"Star Trek {w}", 1990) for i, w in enumerate(
        {s.title.split()[0] for s in _filler(4000, seed=5)}) if i < 600]
    shows.append(ShowRef(9999, "Star Trek", 1966))
    idx = ShowIndex(shows + _filler(2000))
    scored: list[int] = []

    def counting(scorer):
        def wrapped(a, b, **kw):
            scored[-1] += 1
            return scorer(a, b, **kw)
        return wrapped

    monkeypatch.setattr(matching, "SCORERS", tuple(counting(s) for s in matching.SCORERS))
    for query in ("Star Trak", "Trek Star", "Star Trek Voyagr", "Sta Trek"):
        scored.append(0)
        r = idx.resolve(query, 1966, {})
        assert 0 < scored[-1] <= MAX_CANDIDATES * len(matching.SCORERS)
        assert _first(r) == 9999
    assert max(scored) == MAX_CANDIDATES * len(matching.SCORERS)  # it did cut the list


def test_a_query_of_common_grams_only_is_bounded_too() -> None:
    idx = ShowIndex([ShowRef(i, f"Love {s.title}", 2000) for i, s in enumerate(_filler(1500))])
    cands = idx._grams.candidates("lov")  # every gram of it is in all 1,500 titles
    assert 0 < len(cands) <= MAX_CANDIDATES


def test_ngram_index_reuses_slots_and_drops_empty_lists() -> None:
    g = NgramIndex()
    g.add("severance")
    g.add("andor")
    g.discard("severance")
    assert "severance" not in g and len(g) == 1
    assert all(len(p) for p in g._postings.values())
    assert not any(gram in g._postings for gram in grams("severance") - grams("andor"))
    g.add("slow horses")  # the freed slot
    assert sorted(g._keys) == ["andor", "slow horses"]
    assert g.candidates("horses slow") == ["slow horses"]
    assert g.candidates("") == [] and g.candidates("qqqqqq") == []


def test_editing_or_deleting_a_show_updates_the_index_in_place(tmp_path) -> None:
    """Not a rebuild of the whole index (1.3 s for 100,000 shows) after each edit."""
    from app.core.config import Paths, Settings
    from app.core.runtime import open_store

    tracker = open_store(Paths(tmp_path / "data"), Settings())
    severance = tracker.add_show(title="Severance", year=2022, tmdb_id=95396)
    andor = tracker.add_show(title="Andor", year=2022, tmdb_id=83867)
    with tracker.sessions() as session:
        index = tracker.index(session)
    tracker.update_show(severance.id, title="Severance (US)", year=2022, tmdb_id=95396)
    tracker.delete_show(andor.id)
    with tracker.sessions() as session:
        assert tracker.index(session) is index  # the same index, changed in place
    assert index.resolve("Severance (US)", 2022, {}).show_id == severance.id
    assert index.resolve("Andor", 2022, {"tmdb": "83867"}).show_id is None
    assert index.by_ids({"tmdb": "95396"})[0].title == "Severance (US)" and len(index) == 1
    tracker.sessions.kw["bind"].dispose()


# Titles from a small alphabet of syllables (tests/bench/matching.py --set syllables): many
# near-twins, and a short word with a letter wrong keeps none of its 4-grams.

def _syllable_filler(n: int, seed: int = 4) -> list[ShowRef]:
    rng = random.Random(seed)
    syllables = [c + v for c in "bdklmnrst" for v in "aeiou"]
    words = ["".join(rng.choices(syllables, k=rng.choice((2, 2, 3)))) for _ in range(1500)]
    return [ShowRef(1000 + i, " ".join(rng.choices(words, k=rng.choice((1, 2, 2, 3)))).title(),
                    rng.randint(1950, 2025)) for i in range(n)]


def test_a_title_with_every_word_misspelt_is_found_among_near_twins(monkeypatch: pytest.MonkeyPatch) -> None:
    shows = [*_syllable_filler(6000), ShowRef(1, "Rekimi Dito", 1958),
             ShowRef(2, "Sekimi Dito", 1958), ShowRef(3, "Rekimi Dabo", 1958), ShowRef(4, "Rekimi", 1958)]
    idx = ShowIndex(shows)
    assert _first(idx.resolve("Reqimi Dqto", 1958, {})) == 1
    assert [c.show_id for c in idx.search("Dqto Reqimi")][:1] == [1]
    # Without the nearest-words pass the 4-grams miss it ("dqto" keeps none of "dito"'s):
    monkeypatch.setattr(matching, "WORDS_BELOW", 0.0)
    assert _first(idx.resolve("Reqimi Dqto", 1958, {})) != 1


def test_the_words_index_follows_titles_added_and_removed() -> None:
    idx = NgramIndex()
    idx.add("rekimi dito")
    idx.add("dito sabo")
    assert idx.words.similar("dqto") == ["dito"]
    assert idx.word_candidates("reqimi dqto") == ["rekimi dito"]
    idx.discard("rekimi dito")
    assert idx.words.similar("dqto") == ["dito"]  # still in "dito sabo"
    assert idx.words.similar("reqimi") == []
    idx.discard("dito sabo")
    assert idx.words.similar("dqto") == [] and len(idx.words) == 0
    idx.add("doto")  # the freed slots are reused
    assert idx.words.similar("dqto") == ["doto"]


def test_a_random_string_of_several_words_is_still_no_match(big: ShowIndex) -> None:
    for query in ("Qwzrtx Plmkzq Vbnqw", "Xtlkzq Wqpfhv"):
        assert big.resolve(query, 2020, {}).candidates == []


@pytest.mark.parametrize("title, key", [
    ("ガンダム", "ガンダム"),  # voicing marks are letters' parts: not カンタム
    ("ｶﾞﾝﾀﾞﾑ", "ガンダム"),  # half-width kana: the same key
    ("हिन्दी", "हिन्दी"),  # Devanagari's vowel signs and virama stay inside the word
    ("Ёлки 2", "елки 2"),  # a diacritic goes, as in Latin
    ("Ελληνικά!", "ελληνικα"),
])
def test_normalise_non_latin(title: str, key: str) -> None:
    assert normalise(title)[0] == key


def test_non_latin_titles_are_told_apart_and_found_with_a_typo(big: ShowIndex) -> None:
    idx = ShowIndex([*_filler(3000), ShowRef(1, "ガンダム", 1979), ShowRef(2, "カンタム", 2001),
                     ShowRef(3, "Война и мир", 2016), ShowRef(4, "Война и мир", 1966),
                     ShowRef(5, "Το Νησί", 2010)])
    assert (idx.resolve("ガンダム", None, {}).show_id, idx.resolve("カンタム", None, {}).show_id) == (1, 2)
    assert _first(idx.resolve("Вайна и мир", 2016, {})) == 3
    assert _first(idx.resolve("Το Νισί", 2010, {})) == 5


def test_an_extra_word_beside_common_words_does_not_hide_the_show(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each of the show's words is in 2,500 titles: the 4-gram walk passes over their lists
    # and counts the extra word's; the nearest-words pass intersects the words' titles.
    filler = [s.title for s in _filler(2500, seed=11)]
    shows = [ShowRef(10_000 * (n + 1) + i, f"{word} {filler[i]}", 2000)
             for n, word in enumerate(("Horticulture", "Abdicates", "Knighthood")) for i in range(2500)]
    shows += [ShowRef(1, "Horticulture Abdicates Knighthood", 2000),
              *(ShowRef(2 + i, f"Unhorsed {filler[i]}", 2000) for i in range(40))]
    idx = ShowIndex(shows)
    assert _first(idx.resolve("Horticulture Abdicates Knighthood Unhorsed", 2000, {})) == 1
    monkeypatch.setattr(matching, "WORDS_BELOW", 0.0)
    assert _first(idx.resolve("Horticulture Abdicates Knighthood Unhorsed", 2000, {})) != 1


def test_a_title_one_word_short_of_the_query_beats_one_sharing_fewer_letters() -> None:
    idx = ShowIndex([ShowRef(1, "Paep Imm", 1997), ShowRef(2, "Krmmw Hxxtjzok", 1997), *_filler(2000)])
    assert _first(idx.resolve("Paep Imm Hxxtjzok", 1997, {})) == 1
    # ...but a title with the query's own words, one misspelt, beats the one a word short
    idx = ShowIndex([ShowRef(1, "Lituli Kini", 2003), ShowRef(2, "Lituli", 2003), *_filler(2000)])
    assert _first(idx.resolve("Lituli Kizz", 2003, {})) == 1


def test_a_random_string_sharing_a_title_s_start_is_offered_nothing() -> None:
    idx = ShowIndex([ShowRef(1, "Hdrjedy", 1972)])  # ratio 57 against the query: below the cutoff
    assert idx.resolve("hdrjebizshudxp", None, {}).candidates == []


def test_a_remake_s_title_reordered_goes_to_the_movie_of_the_year() -> None:
    idx = MovieIndex([ShowRef(1, "Nkkbd Kbk", 2014), ShowRef(2, "Nkkbd Kbk", 2039), *_filler(2000)])
    assert _first(idx.resolve("Kbk Nkkbd", 2039, {})) == 2
    assert _first(idx.resolve("Kbk Nkkbd", 2014, {})) == 1


def test_a_movie_of_another_year_ranks_below_the_title_reordered_of_the_year() -> None:
    # "Frizzes Breaching" (1989) is another movie's exact title; the query is 2010's
    # "Breaching Frizzes" reordered, its words too common for the 4-gram walk.
    filler = [s.title for s in _filler(2500, seed=12)]
    movies = [ShowRef(10_000 * (n + 1) + i, f"{word} {filler[i]}", 2000)
              for n, word in enumerate(("Frizzes", "Breaching")) for i in range(2500)]
    idx = MovieIndex([*movies, ShowRef(1, "Frizzes Breaching", 1989), ShowRef(2, "Breaching Frizzes", 2010)])
    r = idx.resolve("Frizzes Breaching", 2010, {})
    assert r.show_id is None and [c.show_id for c in r.candidates[:2]] == [2, 1]


def _scores_by_all_three(key: str, candidates: list[str]) -> dict[str, float]:
    """What ``_scores`` says, every scorer run on every candidate (no shortcut)."""
    best: dict[str, float] = {}
    for hit in candidates:
        r, by_sorted, by_set = fuzz.ratio(key, hit), fuzz.token_sort_ratio(key, hit), fuzz.token_set_ratio(key, hit)
        blended = CONTAINED_WEIGHT * by_set + (1 - CONTAINED_WEIGHT) * r
        score = max([s for s in (r, by_sorted, blended) if s >= CANDIDATE_CUTOFF], default=None)
        if score is not None:
            best[hit] = score
    return best


@given(st.text("abcdz", min_size=1, max_size=6),
       st.lists(st.lists(st.text("abcdz", min_size=1, max_size=6), min_size=1, max_size=3).map(" ".join),
                min_size=1, max_size=8, unique=True))
def test_a_one_word_title_scores_as_with_every_scorer(key: str, candidates: list[str]) -> None:
    # (one word against one word: the token scorers are skipped as saying what ratio says)
    got, want = _scores(key, candidates), _scores_by_all_three(key, candidates)
    assert got.keys() == want.keys() and all(abs(got[k] - v) < 1e-6 for k, v in want.items())
