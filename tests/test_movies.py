"""Movies the whole way: parsing their GUIDs, matching (ids, then title with the year),
counting plays and re-watches in the built-in tracker, conflicts and their answers; every
webhook over real HTTP to the running server, a real SQLite file behind it."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.core.facade import Core
from app.core.matching import ShowRef
from app.core.models import MovieWatch
from app.core.movie_matching import MovieIndex
from app.core.payload import event_from_dict
from app.core.store import StoreError
from tests.helpers import post, sample, settled, webhook_url

HEAT = {"title": "Heat", "year": 1995, "tmdb_id": 949, "imdb_id": "tt0113277"}


def movie(title: str, year: int | None, rating_key: str = "700", **meta: Any) -> dict[str, Any]:
    """A new-agent movie scrobble with no external ids (as an unmatched one, or one whose
    ids the tracker does not hold)."""
    data = copy.deepcopy(sample("scrobble-movie"))
    m = data["Metadata"]
    m.update(title=title, ratingKey=rating_key, key=f"/library/metadata/{rating_key}",
             guid=f"plex://movie/{int(rating_key):024x}", Guid=[])
    if year is None:
        del m["year"]
    else:
        m["year"] = year
    m.update(meta)
    return data


async def _rows(core: Core) -> list[Any]:
    return await core.runtime.run(core.runtime.store.scrobbles, limit=100)


async def _movies(core: Core, search: str | None = None) -> list[Any]:
    return await core.runtime.run(core.runtime.store.list_movies, search)


# -- parsing ---------------------------------------------------------------------------

def test_a_legacy_imdb_guid_names_the_movie() -> None:
    ev = event_from_dict(sample("scrobble-legacy-imdb-movie"))
    assert ev.is_movie and not ev.is_episode
    assert ev.movie_ids == {"imdb": "tt0113277"}
    assert ev.movie_key == "com.plexapp.agents.imdb://tt0113277"  # (no ?lang=en)
    assert (ev.episode_title, ev.year) == ("Heat", 1995)


def test_a_legacy_themoviedb_guid_names_the_movie() -> None:
    data = sample("scrobble-legacy-imdb-movie")
    data["Metadata"]["guid"] = "com.plexapp.agents.themoviedb://949?lang=en"
    assert event_from_dict(data).movie_ids == {"tmdb": "949"}


def test_a_new_agent_movie_carries_its_own_ids_in_its_guid_list() -> None:
    ev = event_from_dict(sample("scrobble-movie"))
    assert ev.movie_ids == {"imdb": "tt0113277", "tmdb": "949", "tvdb": "1047"}
    assert ev.movie_key == "plex://movie/5d7768ba96b655001fdc0408"


def test_a_local_movie_has_title_and_year_only() -> None:
    ev = event_from_dict(sample("scrobble-local-movie"))
    assert ev.movie_ids == {}
    assert (ev.episode_title, ev.year) == ("Holiday Home Video", 2019)
    assert ev.movie_key == "8c1f0e2ab5d94c6f9e7d3b2a1c0f9e8d7c6b5a49/503"  # the server's item, not local://503


# -- matching, in memory ---------------------------------------------------------------

def _dunes() -> MovieIndex:
    return MovieIndex([ShowRef(1, "Dune", 1984), ShowRef(2, "Dune", 2021), ShowRef(3, "Heat", 1995, 949)])


def test_remakes_are_told_apart_by_year() -> None:
    index = _dunes()
    assert index.resolve("Dune", 1984, {}).show_id == 1
    assert index.resolve("Dune", 2021, {}).show_id == 2
    assert index.resolve("Dune", 2022, {}).show_id == 2  # a year off: festival and release
    no_year = index.resolve("Dune", None, {})
    assert no_year.show_id is None and no_year.conflict == "ambiguous"
    assert {c.show_id for c in no_year.candidates} == {1, 2}


def test_a_title_of_another_year_is_not_taken_for_the_movie() -> None:
    index = MovieIndex([ShowRef(1, "Dune", 1984)])
    result = index.resolve("Dune", 2021, {})  # the remake, which the tracker lacks
    assert result.show_id is None and result.conflict == "low_confidence"
    assert index.resolve("Dune", None, {}).show_id == 1  # one of that title, no year to doubt it


def test_ids_win_over_title_and_year() -> None:
    assert _dunes().resolve("Heat (Director's Cut)", 1999, {"tmdb": "949", "tvdb": "1"}).method == "ids"


# -- through the running core ----------------------------------------------------------

async def test_a_legacy_imdb_movie_scrobble_is_marked(core: Core) -> None:
    await core.runtime.run(core.runtime.store.add_movie, **HEAT)
    status, _ = await post(webhook_url(core), sample("scrobble-legacy-imdb-movie"))
    assert status == 200
    await settled(core)
    [row] = await _rows(core)
    assert (row.action, row.kind, row.show_title, row.plex_year, row.match_method) == (
        "marked", "movie", "Heat", 1995, "ids")
    [heat] = await _movies(core)
    assert heat.watch_count == 1 and heat.last_watched_at is not None


async def test_a_new_agent_movie_is_matched_by_its_ids_not_its_title(core: Core) -> None:
    # The tracker knows Heat under another title; a decoy has Heat's title but no ids.
    await core.runtime.run(core.runtime.store.add_movie, title="Heat (1995 film)", year=1995, tmdb_id=949)
    await core.runtime.run(core.runtime.store.add_movie, title="Heat", year=1986)
    await post(webhook_url(core), sample("scrobble-movie"))
    await settled(core)
    [row] = await _rows(core)
    assert (row.action, row.match_method, row.show_title) == ("marked", "ids", "Heat (1995 film)")
    # Remembered: the next play of that Plex movie goes by the mapping.
    await post(webhook_url(core), sample("scrobble-movie"))
    await settled(core)
    assert (await _rows(core))[0].match_method == "mapping"


async def test_dune_1984_and_2021_are_told_apart_and_no_year_asks(core: Core) -> None:
    store = core.runtime.store
    old = await core.runtime.run(store.add_movie, title="Dune", year=1984)
    new = await core.runtime.run(store.add_movie, title="Dune", year=2021)
    url = webhook_url(core)
    await post(url, movie("Dune", 2021, "801"))
    await post(url, movie("Dune", 1984, "802"))
    await post(url, movie("Dune", None, "803"))
    await settled(core)
    no_year, r1984, r2021 = await _rows(core)
    assert (r2021.action, r2021.movie_id) == ("marked", new.id)
    assert (r1984.action, r1984.movie_id) == ("marked", old.id)
    assert no_year.action == "conflict" and "no year" in no_year.reason
    [conflict] = await core.runtime.run(store.conflicts)
    assert (conflict.kind, conflict.type, conflict.plex_title) == ("movie", "ambiguous", "Dune")
    assert {c.show_id for c in conflict.candidates} == {old.id, new.id}

    # Answered with the 1984 film: the waiting play goes there, where the same account's
    # play of minutes before already counted it (within the de-duplication window).
    [outcome] = await core.runtime.run(store.resolve_conflict, conflict.id, show_id=old.id)
    assert outcome.action == "duplicate"
    assert {m.year: m.watch_count for m in await _movies(core, "dune")} == {1984: 1, 2021: 1}
    await post(url, movie("Dune", None, "803"))  # remembered now: no question
    await settled(core)
    assert ((await _rows(core))[0].match_method, (await _rows(core))[0].movie_id) == ("mapping", old.id)


async def test_a_movie_rewatch_counts_again_outside_the_window_once_inside(core: Core) -> None:
    await core.runtime.run(core.runtime.store.add_movie, **HEAT)
    url = webhook_url(core)
    await post(url, sample("scrobble-movie"))
    await post(url, sample("scrobble-movie"))  # Plex sent it twice
    await settled(core)
    assert [r.action for r in await _rows(core)] == ["duplicate", "marked"]

    def age_watches() -> None:  # (in Python: SQLite would store date arithmetic as a number)
        with core.runtime.store.sessions.begin() as s:
            for w in s.scalars(select(MovieWatch)):
                w.watched_at -= timedelta(days=3)
    await core.runtime.run(age_watches)
    await post(url, sample("scrobble-movie"))
    await settled(core)
    rewatch = (await _rows(core))[0]
    assert rewatch.action == "rewatch" and rewatch.reason == "watched 2 times"
    [heat] = await _movies(core)
    assert heat.watch_count == 2 and heat.last_watched_at > heat.first_watched_at

    # Undo takes that play back.
    await core.runtime.run(core.runtime.store.undo, rewatch.id)
    [heat] = await _movies(core)
    assert heat.watch_count == 1 and heat.last_watched_at == heat.first_watched_at


async def test_an_unknown_movie_opens_a_conflict_that_create_answers(core: Core) -> None:
    await post(webhook_url(core), sample("scrobble-local-movie"))
    await settled(core)
    [row] = await _rows(core)
    assert row.action == "conflict" and row.kind == "movie"
    [conflict] = await core.runtime.run(core.runtime.store.conflicts)
    assert (conflict.kind, conflict.plex_year) == ("movie", 2019)
    [outcome] = await core.runtime.run(core.runtime.store.resolve_conflict, conflict.id, create=True)
    assert outcome.action == "marked"
    [made] = await _movies(core)
    assert (made.title, made.year, made.watch_count) == ("Holiday Home Video", 2019, 1)
    assert await core.runtime.run(core.runtime.store.list_shows) != []  # (shows untouched: Breaking Bad)


async def test_a_movie_plex_identifies_is_added_when_nothing_resembles_it(paths, settings) -> None:
    from tests.helpers import running

    settings.auto_add_shows = True
    async with running(paths, settings) as c:
        await post(webhook_url(c), sample("scrobble-movie"))
        await settled(c)
        [row] = await _rows(c)
        assert (row.action, row.match_method) == ("marked", "added")
        [heat] = await _movies(c)
        assert (heat.title, heat.year, heat.tmdb_id, heat.imdb_id) == ("Heat", 1995, 949, "tt0113277")


# -- the migration ---------------------------------------------------------------------

def test_migration_0006_matches_the_models_and_keeps_old_rows_readable(tmp_path) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from app.core.db import _alembic_config, make_engine, open_database
    from app.core.models import Base

    path = tmp_path / "old.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0005")
        for reason, season in (("movies are not tracked", None), (None, 1), ("music is not tracked", None)):
            conn.exec_driver_sql("INSERT INTO webhook_events (received_at, payload, status, reason, season) "
                                 "VALUES ('2026-12-01', '{}', 'done', ?, ?)", (reason, season))
    engine.dispose()

    engine = open_database(f"sqlite:///{path}", tmp_path / "backups").kw["bind"]
    with engine.connect() as conn:
        # (the search index is SQLite's own, made by migration 0009 only when FTS5 is there)
        search_tables = {"include_name": lambda name, kind, _parent: not (kind == "table" and name
                                                                         and name.startswith("webhook_search"))}
        diff = compare_metadata(MigrationContext.configure(conn, opts=search_tables), Base.metadata)
        # (a float column is FLOAT in the migrations, Double in SQLAlchemy 2's mapping: one type in SQLite)
        float_double = {"FLOAT", "Double"}
        assert [d for d in diff if not (isinstance(d, list) and d[0][0] == "modify_type"
                                        and {type(d[0][-2]).__name__, type(d[0][-1]).__name__} == float_double)] == []
        kinds = conn.exec_driver_sql("SELECT media_type FROM webhook_events ORDER BY id").scalars().all()
    assert kinds == ["movie", "episode", None]


async def test_edit_and_delete_a_movie_keep_matching_right(core: Core) -> None:
    store = core.runtime.store
    heat = await core.runtime.run(store.add_movie, title="Heet", year=1995)
    await core.runtime.run(store.update_movie, heat.id, title="Heat", year=1995, imdb_id="tt0113277")
    await post(webhook_url(core), sample("scrobble-legacy-imdb-movie"))
    await settled(core)
    [row] = await _rows(core)
    assert (row.action, row.movie_id, row.match_method) == ("marked", heat.id, "ids")

    await core.runtime.run(store.delete_movie, heat.id)
    assert await _movies(core) == []
    with pytest.raises(StoreError, match="counted a movie that is no longer in the tracker"):
        await core.runtime.run(store.undo, row.id)  # (its play went with it)
    await post(webhook_url(core), sample("scrobble-legacy-imdb-movie"))  # its mapping went too: it asks
    await settled(core)
    assert (await _rows(core))[0].action == "conflict"


async def test_searching_movies_with_a_year_ranks_that_years_film_first(core: Core) -> None:
    store = core.runtime.store
    for title, year in (("Dune", 2021), ("Dune", 1984), ("Blade Runner 2049", 2017), ("Blade Runner", 1982)):
        await core.runtime.run(store.add_movie, title=title, year=year)
    for query in ("dune 1984", "Dune (1984)"):
        assert [c.year for c in await core.runtime.run(store.search_movies, query)][:2] == [1984, 2021]
    assert (await core.runtime.run(store.search_movies, "blade runner 2049"))[0].title == "Blade Runner 2049"
