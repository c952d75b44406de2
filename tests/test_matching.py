"""Show matching: ids, exact titles, fuzzy titles with the year as evidence."""

from __future__ import annotations

import pytest

from app.core.matching import ShowIndex, ShowRef, normalise

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


def _many(n: int = 3000) -> list[ShowRef]:
    import random
    import string

    rng = random.Random(3)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(800)]
    return [ShowRef(i, " ".join(rng.choices(words, k=rng.randint(1, 4))).title(), 2000 + i % 20)
            for i in range(10, n)]


def test_reordered_words_and_a_typo_find_the_show_among_thousands() -> None:
    index = ShowIndex([ShowRef(1, "The Wire", 2002), ShowRef(2, "Breaking Bad", 2008), *_many()])
    assert index.resolve("Bad Breaking", 2008, {}).show_id == 2  # words reordered
    assert index.resolve("Breaking Bsd", 2008, {}).show_id == 2  # a typo
    assert index.resolve("Wire The", 2002, {}).candidates[0].show_id == 1  # offered first, to confirm
    assert index.resolve("qzxwvutsrponml", None, {}).show_id is None


def test_the_index_follows_adds_and_removes() -> None:
    index = ShowIndex(_many(500))
    assert not index.search("Severance")
    index.add(ShowRef(1, "Severance", 2022))
    assert index.search("Severence")[0].show_id == 1
    index.remove(1)
    assert all(c.show_id != 1 for c in index.search("Severence"))


def test_a_query_scores_a_bounded_number_of_titles(monkeypatch) -> None:
    from app.core import matching
    from app.core.trigram_index import MAX_CANDIDATES

    scored: list[int] = []
    real = matching.process.extract

    def counting(query, choices, **kw):  # type: ignore[no-untyped-def]
        scored.append(len(choices))
        return real(query, choices, **kw)

    monkeypatch.setattr(matching.process, "extract", counting)
    ShowIndex(_many(20_000)).search("Something Else Entirely")
    assert scored and max(scored) <= MAX_CANDIDATES  # never the 20,000 titles
