"""Movies at the other destinations: a relay's "only watched" passes a counted movie on; a
PostgreSQL tracker marks movies only where its schema has a movies table (on a real
PostgreSQL server) and, with the reference schema, says why a movie is not kept there."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text

from app.core.config import Paths, Settings
from app.core.destinations.sender import Timing
from app.core.facade import Core
from tests.fake_tracker import FakeTracker
from tests.helpers import post, sample, settled, wait_for, webhook_url

pytest_plugins = ["tests.conftest_pg"]
FAST = Timing(timeout=2.0, backoff_base=0.05, backoff_cap=0.3)
SECRET = "cd" * 32


@pytest.fixture
async def tracker() -> AsyncIterator[FakeTracker]:
    t = FakeTracker(secret=SECRET)
    await t.start()
    yield t
    await t.stop()


async def _delivered(core: Core, kind: str, n: int) -> Any:
    async def done() -> Any:
        d = next(d for d in await core.destinations() if d.kind == kind)
        return d if d.pending == 0 and d.delivered + d.failed >= n else None
    return await wait_for(done, timeout=30, interval=0.05)


async def test_only_watched_relays_a_counted_movie_and_not_a_music_track(paths: Paths, settings: Settings,
                                                                        tracker: FakeTracker) -> None:
    core = Core(paths, settings, timing=FAST)
    await core.start()
    try:
        await core.runtime.run(core.runtime.store.add_movie, title="Heat", year=1995, tmdb_id=949)
        await core.add_relay(tracker.url, only_watched=True)
        url = webhook_url(core)
        await post(url, sample("scrobble-music-track"))
        await post(url, sample("scrobble-movie"))
        await settled(core)
        await _delivered(core, "relay", 1)
        assert [json.loads(r.payload)["Metadata"]["type"] for r in tracker.requests if r.status == 200] == ["movie"]
    finally:
        await core.stop()


async def _with_postgres(paths: Paths, settings: Settings, db: Any, *payloads: dict[str, Any]) -> Core:
    settings.builtin_tracker = False  # (the PostgreSQL tracker is the one that counts)
    core = Core(paths, settings, timing=FAST)
    await core.start()
    await core.add_postgres(db.url)
    for payload in payloads:
        assert (await post(webhook_url(core), payload))[0] == 200
    await _delivered(core, "postgres", len(payloads))
    return core


def _logs(db: Any) -> list[tuple[str, str, str]]:
    with db.engine.connect() as c:
        return [tuple(r) for r in c.execute(text(
            "SELECT plex_title, status, action_taken FROM plex_webhook_logs ORDER BY id"))]


async def test_the_reference_schema_has_no_movies_so_a_movie_is_ignored_with_that_reason(
        paths: Paths, settings: Settings, pg_tracker_db: Any) -> None:
    core = await _with_postgres(paths, settings, pg_tracker_db, sample("scrobble-movie"))
    try:
        assert _logs(pg_tracker_db) == [("Heat", "ignored", "movies_not_tracked")]
        d = next(d for d in await core.destinations() if d.kind == "postgres")
        assert (d.delivered, d.failed, d.pending) == (1, 0, 0)  # not failed, not retried
        [row] = await core.scrobbles()
        assert row.action == "counted" and row.kind == "movie"
        with pg_tracker_db.engine.connect() as c:  # nothing made in the tracker's database
            assert c.execute(text("SELECT to_regclass('movies')")).scalar() is None
    finally:
        await core.stop()


async def test_a_tracker_with_a_movies_table_gets_its_movie_marked_told_apart_by_year(
        paths: Paths, settings: Settings, pg_tracker_db: Any) -> None:
    with pg_tracker_db.engine.begin() as c:
        c.execute(text("CREATE TABLE movies (id serial PRIMARY KEY, title text NOT NULL, year int, "
                       "tmdb_id int, watched boolean DEFAULT false, watch_count int DEFAULT 0, "
                       "watched_at timestamptz)"))
        c.execute(text("INSERT INTO movies (title, year) VALUES ('Dune', 1984), ('Dune', 2021), ('Heat', 1995)"))
    dune = sample("scrobble-local-movie")
    dune["Metadata"].update(title="Dune", year=2021, ratingKey="900")
    core = await _with_postgres(paths, settings, pg_tracker_db, sample("scrobble-movie"), dune)
    try:
        with pg_tracker_db.engine.connect() as c:
            rows = c.execute(text("SELECT title, year, watched, watch_count, watched_at IS NOT NULL "
                                  "FROM movies ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [("Dune", 1984, False, 0, False), ("Dune", 2021, True, 1, True),
                                            ("Heat", 1995, True, 1, True)]
        assert [a for _, _, a in _logs(pg_tracker_db)] == ["movie_marked", "movie_marked"]
    finally:
        await core.stop()
