"""The PostgreSQL tracker when the other side misbehaves (issue #22): rows of shapes it
does not understand, a show deleted under a mark, conflicts answered while Scrobble Tray
is stopped, a role without the rights it needs, a default thread pool filled by others.
A real PostgreSQL server (tests/pg.py) holding the reference schema; the odd rows are
written the way another program could write them."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text

from app.core.config import PostgresTarget, Settings, load_settings
from app.core.destinations.base import Delivery, Verdict
from app.core.destinations.postgres.tracker import PostgresTracker
from app.core.facade import Core
from tests.helpers import episode_payload, post, sample, wait_for, webhook_url
from tests.pg_schema import BREAKING_BAD_ID
from tests.test_postgres import FAST, delivered, episode, logs, seasons, started

pytest_plugins = ["tests.conftest_pg"]
WIRE_ID, SEVERANCE_ID = 12, 41
_ids = itertools.count(100)


def other(season: int, number: int, title: str, key: str) -> dict[str, Any]:
    """A scrobble of a show other than Breaking Bad, known by its title only (a local item)."""
    return episode_payload(season, number, title=title, grandparentRatingKey=key,
                           grandparentGuid=f"local://{key}", guid=f"local://{key}{season}{number}")


def wire(season: int, number: int) -> dict[str, Any]:
    return other(season, number, "The Wire", "7012")


def severance(season: int, number: int) -> dict[str, Any]:
    return other(season, number, "Severance", "7041")


def send(dest: PostgresTracker, payload: dict[str, Any]) -> Any:
    n = next(_ids)
    return dest.send(Delivery(n, n, json.dumps(payload), 0, None))


def set_seasons(db: Any, show_id: int, value: str) -> None:
    with db.engine.begin() as c:
        c.execute(text("UPDATE tvshows SET seasons = CAST(:v AS jsonb) WHERE id = :i"), {"v": value, "i": show_id})


def row(db: Any, show_id: int) -> tuple[Any, ...]:
    with db.engine.connect() as c:
        return tuple(c.execute(text("SELECT seasons::text, watched_episodes, updated_at FROM tvshows WHERE id = :i"),
                               {"i": show_id}).one())


# -- 1. a seasons value that is not a list is never overwritten ---------------------------------
@pytest.mark.parametrize("odd", ['{"1": [{"episode_number": 3, "watched": false}]}', '"S1: 1-3"', "3"])
async def test_a_seasons_value_that_is_not_a_list_is_refused_and_left_as_it_was(pg_tracker_db, odd) -> None:
    db = pg_tracker_db
    set_seasons(db, WIRE_ID, odd)
    before = row(db, WIRE_ID)
    dest = PostgresTracker(PostgresTarget("postgres-1", db.url), None, Settings())
    try:
        attempt = await send(dest, wire(1, 3))
        assert attempt.verdict is Verdict.REFUSED
        assert "The Wire" in attempt.detail and "not a list" in attempt.detail and attempt.fix
        assert row(db, WIRE_ID) == before  # not a byte changed
        assert logs(db) == [("media.scrobble", "error", "seasons_not_understood")]
        # the next event goes on
        assert (await send(dest, episode_payload(1, 1))).verdict is Verdict.DELIVERED
        assert episode(db, 1, 1)["watched"] is True
    finally:
        await dest.close()


async def test_seasons_kept_as_json_text_in_a_text_column_are_refused_not_rewritten(pg_tracker_db) -> None:
    db = pg_tracker_db
    with db.engine.begin() as c:
        c.execute(text("ALTER TABLE tvshows ALTER COLUMN seasons TYPE text USING seasons::text"))
        before = c.execute(text("SELECT seasons FROM tvshows WHERE id = 12")).scalar_one()
    dest = PostgresTracker(PostgresTarget("postgres-1", db.url), None, Settings())
    try:
        attempt = await send(dest, wire(1, 3))
        assert attempt.verdict is Verdict.REFUSED and "The Wire" in attempt.detail, attempt
        with db.engine.connect() as c:
            assert c.execute(text("SELECT seasons FROM tvshows WHERE id = 12")).scalar_one() == before
        assert len(json.loads(before)[0]["episodes"]) == 3
    finally:
        await dest.close()


# -- 2. odd numbers, episodes and watched values never stop the sender --------------------------
async def test_odd_numbers_and_episodes_never_stop_the_sender(paths, settings, pg_tracker_db) -> None:
    db = pg_tracker_db
    # Breaking Bad's numbers as text (understood: "1" is season 1), The Wire's episodes null,
    # Severance's season 2 episodes an object: the two last refused, the rest goes on.
    bb = seasons(db)
    for s in bb:
        s["season_number"] = str(s["season_number"])
        for e in s["episodes"]:
            e["episode_number"] = str(e["episode_number"])
    set_seasons(db, BREAKING_BAD_ID, json.dumps(bb))
    set_seasons(db, WIRE_ID, '[{"season_number": 1, "episodes": null}]')
    sev = seasons(db, SEVERANCE_ID)
    sev[1]["episodes"] = {"1": {"watched": False}}
    set_seasons(db, SEVERANCE_ID, json.dumps(sev))
    wire_before = row(db, WIRE_ID)
    core = await started(paths, settings, db)
    try:
        url = webhook_url(core)
        for payload in (episode_payload(1, 2), wire(1, 1),
                        severance(2, 1), severance(1, 1),
                        episode_payload(2, 3)):
            assert (await post(url, payload))[0] == 200
        await delivered(core, 5, timeout=30)
        d = next(d for d in await core.destinations() if d.kind == "postgres")
        assert (d.delivered, d.failed) == (3, 2)
    finally:
        await core.stop()
    after = seasons(db)
    assert [s["season_number"] for s in after] == ["1", "2"]  # no season added beside "1"
    ep = next(e for e in after[0]["episodes"] if e["episode_number"] == "2")
    assert ep["watched"] is True
    assert len(after[0]["episodes"]) == 3 and len(after[1]["episodes"]) == 3
    assert row(db, WIRE_ID) == wire_before
    assert episode(db, 1, 1, SEVERANCE_ID)["watched"] is True  # (its season 1 is understood)
    assert seasons(db, SEVERANCE_ID)[1] == {"season_number": 2, "episodes": {"1": {"watched": False}}}


async def test_watched_as_the_text_false_is_not_watched(pg_tracker_db) -> None:
    db = pg_tracker_db
    sev = seasons(db, SEVERANCE_ID)
    sev[0]["episodes"][1]["watched"] = "false"
    set_seasons(db, SEVERANCE_ID, json.dumps(sev))
    dest = PostgresTracker(PostgresTarget("postgres-1", db.url), None, Settings())
    try:
        attempt = await send(dest, severance(1, 2))
        assert attempt.verdict is Verdict.DELIVERED and "already" not in attempt.detail, attempt.detail
        ep = episode(db, 1, 2, SEVERANCE_ID)
        assert ep["watched"] is True and ep["dateWatched"]
        with db.engine.connect() as c:
            assert c.execute(text("SELECT watched_episodes FROM tvshows WHERE id = 41")).scalar() == 1
        sev = seasons(db, SEVERANCE_ID)  # a value neither boolean nor true/false: refused
        sev[0]["episodes"][0]["watched"] = "yes"
        set_seasons(db, SEVERANCE_ID, json.dumps(sev))
        attempt = await send(dest, severance(1, 1))
        assert attempt.verdict is Verdict.REFUSED and "Severance" in attempt.detail
        assert episode(db, 1, 1, SEVERANCE_ID)["watched"] == "yes"
    finally:
        await dest.close()


# -- 3. a show deleted while its mark is in flight ------------------------------------------------
async def test_a_show_deleted_while_its_mark_is_in_flight_is_not_reported_delivered(pg_tracker_db) -> None:
    db = pg_tracker_db
    with db.engine.begin() as c:  # a tracker without the foreign key (the reference has one)
        c.execute(text("ALTER TABLE plex_show_mappings DROP CONSTRAINT plex_show_mappings_tvshow_id_fkey"))
        c.execute(text("INSERT INTO plex_show_mappings (plex_rating_key, plex_title, tvshow_id, match_method) "
                       "VALUES ('7000', 'Severance', 41, 'user')"))
    item = Delivery(1, 1, json.dumps(other(1, 1, "Severance", "7000")), 0, None)
    dest = PostgresTracker(PostgresTarget("postgres-1", db.url), None, Settings())
    try:
        with db.engine.connect() as web_app:
            web_app.execute(text("DELETE FROM tvshows WHERE id = 41"))  # not committed yet: the row is held
            in_flight = asyncio.ensure_future(dest.send(item))  # mapped to #41, waits for the row
            await asyncio.sleep(1.0)
            assert not in_flight.done()
            web_app.commit()  # deleted under the mark
        first = await asyncio.wait_for(in_flight, 10)
        assert first.verdict is Verdict.RETRY and "#41" in first.detail and "no longer exists" in first.detail
        assert logs(db) == []  # nothing written
        again = await dest.send(item)  # the stale mapping counts for nothing: the show is looked for again
        assert again.verdict is Verdict.DELIVERED and again.outcome == "conflict_created", again
    finally:
        await dest.close()


# -- 4. conflicts in step with the tracker ---------------------------------------------------------
def answer_in_web_app(db: Any, show_id: int = SEVERANCE_ID) -> None:
    with db.engine.begin() as c:
        c.execute(text("INSERT INTO plex_show_mappings (plex_rating_key, plex_title, tvshow_id, match_method) "
                       "VALUES ('99899', 'NonExistent Show XYZ', :i, 'manual')"), {"i": show_id})
        c.execute(text("UPDATE plex_conflicts SET resolved = true WHERE plex_rating_key = '99899'"))


def _marked(db: Any, season: int, number: int, show_id: int) -> bool:
    ep = episode(db, season, number, show_id)
    return bool(ep and ep["watched"] is True)


async def test_a_conflict_answered_while_scrobble_tray_was_stopped_marks_its_play(paths, pg_tracker_db,
                                                                                  monkeypatch) -> None:
    monkeypatch.setattr("app.core.runtime.delivery.WATCH_EVERY", 0.1)
    db = pg_tracker_db
    core = await started(paths, Settings(port=0, rate_limit_per_minute=0, builtin_tracker=False), db)
    try:
        await post(webhook_url(core), sample("scrobble-unknown-show"))
        await delivered(core, 1)
    finally:
        await core.stop()
    answer_in_web_app(db)  # while Scrobble Tray is stopped
    again = Core(paths, load_settings(paths), timing=FAST)
    await again.start()
    try:
        await wait_for(lambda: _marked(db, 1, 1, SEVERANCE_ID), timeout=15)
    finally:
        await again.stop()


async def test_a_conflict_answered_at_once_marks_its_play(paths, pg_tracker_db) -> None:
    """Answered before the next look (every 5 s): never seen open here, answered all the same."""
    db = pg_tracker_db
    core = await started(paths, Settings(port=0, rate_limit_per_minute=0, builtin_tracker=False), db)
    try:
        await post(webhook_url(core), sample("scrobble-unknown-show"))
        await delivered(core, 1)
        answer_in_web_app(db)
        await wait_for(lambda: _marked(db, 1, 1, SEVERANCE_ID), timeout=15)
    finally:
        await core.stop()


async def test_an_odd_conflict_row_is_skipped_the_others_shown_and_answers_noticed(
        paths, pg_tracker_db, monkeypatch, caplog) -> None:
    monkeypatch.setattr("app.core.runtime.delivery.WATCH_EVERY", 0.1)
    db = pg_tracker_db
    with db.engine.begin() as c:
        for n in range(7):
            c.execute(text("INSERT INTO plex_conflicts (plex_rating_key, plex_title, conflict_type, potential_matches) "
                           "VALUES (:k, :t, 'no_match', '[]')"), {"k": str(5000 + n), "t": f"Show {n}"})
        c.execute(text("INSERT INTO plex_conflicts (plex_rating_key, plex_title, conflict_type, potential_matches) "
                       "VALUES ('6000', 'Odd One', 'no_match', '5')"))
    core = await started(paths, Settings(port=0, rate_limit_per_minute=0, builtin_tracker=False), db)
    try:
        with caplog.at_level(logging.WARNING):
            await post(webhook_url(core), sample("scrobble-unknown-show"))
            await delivered(core, 1)
            shown = await core.conflicts()
            assert len(shown) == 8 and "Odd One" not in {c.plex_title for c in shown}
            await core.conflicts()
        assert caplog.text.count("Odd One") == 1 and "potential_matches" in caplog.text
        answer_in_web_app(db)
        await wait_for(lambda: _marked(db, 1, 1, SEVERANCE_ID), timeout=15)
        await wait_for(lambda: core.status.conflicts_open == 7, timeout=10)
    finally:
        await core.stop()


# -- 5. a role that may not UPDATE tvshows ----------------------------------------------------------
async def test_a_role_that_cannot_update_tvshows_fails_the_test_with_the_grant(pg_tracker_db) -> None:
    db = pg_tracker_db
    role = f"reader_{db.name}"[:60]
    db.server.admin(f"CREATE ROLE {role} LOGIN PASSWORD 'reader-pw'")
    with db.engine.begin() as c:  # the tables' owner gives it all but UPDATE on tvshows
        c.execute(text(f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO {role}"))
        c.execute(text(f"GRANT UPDATE ON plex_conflicts, plex_config TO {role}"))
        c.execute(text(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}"))
    url = db.url.replace(f"{db.server.user}:{db.server.password}@", f"{role}@")
    dest = PostgresTracker(PostgresTarget("postgres-1", url), "reader-pw", Settings())
    try:
        result = await dest.test()
        assert result.verdict is Verdict.REFUSED, result
        assert f"role {role} lacks the privilege of UPDATE on tvshows" in result.detail
        assert result.fix and f"GRANT UPDATE ON tvshows TO {role};" in result.fix
        assert "reader-pw" not in result.detail + result.fix
    finally:
        await dest.close()
    with db.engine.begin() as c:  # and a role that may not even read them
        c.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}"))
    dest = PostgresTracker(PostgresTarget("postgres-1", url), "reader-pw", Settings())
    try:
        result = await dest.test()
        assert result.verdict is Verdict.REFUSED and "permission denied" in result.detail, result
        assert result.fix and "SELECT, UPDATE on tvshows" in result.fix
    finally:
        await dest.close()


# -- 7. its own threads ------------------------------------------------------------------------------
async def test_deliveries_and_checks_go_on_while_the_default_pool_is_full(pg_tracker_db) -> None:
    db = pg_tracker_db
    loop = asyncio.get_running_loop()
    busy = ThreadPoolExecutor(1)
    loop.set_default_executor(busy)
    release = threading.Event()
    blocker = loop.run_in_executor(None, release.wait)  # what slow Plex calls do to the default pool
    dest = PostgresTracker(PostgresTarget("postgres-1", db.url), None, Settings())
    try:
        [check] = await asyncio.wait_for(dest.checks(), 10)
        assert check.status.value == "pass", check
        attempt = await asyncio.wait_for(send(dest, episode_payload(1, 1)), 10)
        assert attempt.verdict is Verdict.DELIVERED
    finally:
        release.set()
        await blocker
        await dest.close()


async def test_close_does_not_wait_for_a_delivery_stuck_on_a_lock(pg_tracker_db) -> None:
    db = pg_tracker_db
    dest = PostgresTracker(PostgresTarget("postgres-1", db.url), None, Settings())
    with db.engine.connect() as c:
        c.execute(text("SELECT 1 FROM tvshows WHERE id = 30 FOR UPDATE"))  # the web app holds the row
        stuck = asyncio.ensure_future(send(dest, episode_payload(1, 1)))
        await asyncio.sleep(1.0)
        assert not stuck.done()
        await asyncio.wait_for(dest.close(), 8)
        c.rollback()
    await stuck  # the lock let go: it ends (its result is the sender's to judge)


# -- 6. the shows, narrowed by PostgreSQL -------------------------------------------------------------
async def test_shows_added_and_deleted_in_the_web_app_are_seen(pg_tracker_db) -> None:
    db = pg_tracker_db
    dest = PostgresTracker(PostgresTarget("postgres-1", db.url), None, Settings())
    try:
        andor = other(1, 1, "Andor", "8000")
        assert (await send(dest, andor)).outcome == "conflict_created"
        with db.engine.begin() as c:
            c.execute(text("INSERT INTO tvshows (title, seasons) VALUES ('Andor', '[]')"))
            c.execute(text("UPDATE plex_conflicts SET resolved = true"))
            c.execute(text("DELETE FROM tvshows WHERE id = 41"))
        assert (await send(dest, andor)).outcome == "episode_marked"
        from app.core.destinations.postgres.conflicts import PostgresConflicts

        found = await dest.run(PostgresConflicts(dest).search_shows, "severance")
        assert all(c.show_id != SEVERANCE_ID for c in found)
        assert [c.title for c in await dest.run(PostgresConflicts(dest).search_shows, "andor")][:1] == ["Andor"]
    finally:
        await dest.close()
