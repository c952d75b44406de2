"""The PostgreSQL tracker destination, on a real PostgreSQL server (tests/pg.py) holding the
reference tracker's schema and seed (tests/pg_schema.py): never a mock."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from typing import Any

import pytest
from sqlalchemy import text

from app.core.config import Paths, PostgresTarget, Settings
from app.core.destinations.base import Delivery, Verdict
from app.core.destinations.postgres.schema import read_schema
from app.core.destinations.postgres.seasons import Spelling, mark_in_seasons
from app.core.destinations.postgres.tracker import PostgresTracker
from app.core.destinations.sender import Timing
from app.core.facade import Core
from app.core.types import DestinationState
from tests.helpers import episode_payload, new_agent, post, sample, settled, wait_for, webhook_url
from tests.pg_schema import BREAKING_BAD_ID

pytest_plugins = ["tests.conftest_pg"]
FAST = Timing(timeout=2.0, backoff_base=0.05, backoff_cap=0.3)


def seasons(db: Any, show_id: int = BREAKING_BAD_ID) -> list[dict[str, Any]]:
    with db.engine.connect() as c:
        return c.execute(text("SELECT seasons FROM tvshows WHERE id = :i"), {"i": show_id}).scalar_one()


def episode(db: Any, season: int, number: int, show_id: int = BREAKING_BAD_ID) -> dict[str, Any] | None:
    s = db.spelling
    for x in seasons(db, show_id):
        if x[s.season] == season:
            return next((e for e in x["episodes"] if e[s.episode] == number), None)
    return None


def logs(db: Any) -> list[tuple[str, str, str]]:
    with db.engine.connect() as c:
        return [tuple(r) for r in c.execute(text(
            "SELECT event_type, status, action_taken FROM plex_webhook_logs ORDER BY id"))]


async def started(paths: Paths, settings: Settings, db: Any) -> Core:
    core = Core(paths, settings, timing=FAST)
    await core.start()
    await core.add_postgres(db.url)
    return core


async def delivered(core: Core, n: int, timeout: float = 30) -> None:
    async def done() -> bool:
        d = next(d for d in await core.destinations() if d.kind == "postgres")
        return d.pending == 0 and d.delivered + d.failed >= n
    await wait_for(done, timeout=timeout, interval=0.05)


async def marked_by_ids(core: Core, db: Any) -> None:
    """The one play was delivered and marked S01E01 of tvshow 30, found by its ids."""
    await delivered(core, 1)
    assert episode(db, 1, 1)["watched"] is True
    with db.engine.connect() as c:
        assert tuple(c.execute(text("SELECT tvshow_id, match_method FROM plex_show_mappings")).one()) \
            == (BREAKING_BAD_ID, "ids")


async def test_the_seeds_three_scenarios_end_to_end(paths, settings, pg_tracker_db) -> None:
    db = pg_tracker_db
    core = await started(paths, settings, db)
    try:
        url = webhook_url(core)
        for name in ("scrobble-legacy-themoviedb", "scrobble-unknown-show", "play-new-agent-episode"):
            assert (await post(url, sample(name)))[0] == 200
        await delivered(core, 3)
        pilot = episode(db, 1, 1)
        assert pilot is not None and pilot["watched"] is True and pilot["dateWatched"].endswith("Z")
        with db.engine.connect() as c:
            assert c.execute(text("SELECT watched_episodes FROM tvshows WHERE id = 30")).scalar() == 1
            conflict = c.execute(text("SELECT plex_title, conflict_type, resolved FROM plex_conflicts")).one()
            assert tuple(conflict) == ("NonExistent Show XYZ", "no_match", False)
            mapping = c.execute(text("SELECT tvshow_id, match_method FROM plex_show_mappings")).one()
            assert tuple(mapping) == (30, "ids")
            assert c.execute(text("SELECT last_webhook_received FROM plex_config")).scalar() is not None
        assert logs(db) == [("media.scrobble", "success", "episode_marked"),
                            ("media.scrobble", "success", "conflict_created"),
                            ("media.play", "ignored", "event_not_scrobble")]
        [row] = [r for r in await core.scrobbles() if r.plex_title == "Breaking Bad" and r.event == "media.scrobble"]
        assert any(m.destination.startswith("PostgreSQL tracker") and m.state == "delivered"
                   for m in row.deliveries)
    finally:
        await core.stop()


@pytest.mark.parametrize("pg_tracker_db", ["camel", "number", "minimal"], indirect=True)
async def test_other_key_spellings_and_missing_optional_columns(paths, settings, pg_tracker_db) -> None:
    db = pg_tracker_db
    core = await started(paths, settings, db)
    try:
        url = webhook_url(core)
        await post(url, episode_payload(1, 2))
        await post(url, episode_payload(0, 1, title="Breaking Bad"))  # a special the tracker lacks
        await delivered(core, 2)
        assert episode(db, 1, 2)["watched"] is True
        special = episode(db, 0, 1)
        assert special is not None and special["watched"] is True
        assert set(special) == set(episode(db, 1, 1))  # added in the tracker's own shape
        checks = {c.name: c for c in await core.diagnostics()}
        check = next(c for n, c in checks.items() if n.startswith("PostgreSQL tracker"))
        assert f"seasons keys {db.spelling.season}/{db.spelling.episode}" in check.detail
        if not db.optional_columns:
            assert check.status == "warn"
            assert "table plex_webhook_logs has no column payload: events are logged without it" in check.detail
            assert "table tvshows has no column watched_episodes" in check.detail
        else:
            assert check.status == "pass"
    finally:
        await core.stop()


async def test_a_retried_delivery_never_marks_or_logs_twice(pg_tracker_db) -> None:
    db = pg_tracker_db
    dest = PostgresTracker(PostgresTarget("postgres-1", db.url), None, Settings())
    try:
        item = Delivery(1, 7, json.dumps(episode_payload(2, 1)), 0, None)
        first = await dest.send(item)
        again = await dest.send(item)  # as after a lost connection, or a crash before our commit
        assert first.verdict is again.verdict is Verdict.DELIVERED
        assert "not marked twice" in again.detail
        assert logs(db) == [("media.scrobble", "success", "episode_marked")]
        with db.engine.connect() as c:
            assert c.execute(text("SELECT watched_episodes FROM tvshows WHERE id = 30")).scalar() == 1
    finally:
        await dest.close()


async def test_a_concurrent_writer_and_200_webhooks_lose_nothing(paths, settings, pg_tracker_db) -> None:
    """The web app rewrites the same show's seasons (locking the row, as it should) while
    Scrobble Tray marks 200 episodes of it: every mark of both is there."""
    db = pg_tracker_db
    stop = threading.Event()
    app_marks: list[int] = []

    def web_app() -> None:  # marks episodes 1001, 1002, ... of season 9, read-modify-write
        n = 1000
        while not stop.is_set():
            n += 1
            with db.engine.begin() as c:
                value = c.execute(text("SELECT seasons FROM tvshows WHERE id = 30 FOR UPDATE")).scalar_one()
                mark_in_seasons(value, Spelling(), 9, n, "by the web app", "2024-01-01T00:00:00.000Z")
                c.execute(text("UPDATE tvshows SET seasons = CAST(:s AS jsonb) WHERE id = 30"),
                          {"s": json.dumps(value)})
            app_marks.append(n)
            time.sleep(0.002)

    writer = threading.Thread(target=web_app)
    core = await started(paths, settings, db)
    writer.start()
    try:
        url = webhook_url(core)
        for n in range(1, 201):
            assert (await post(url, episode_payload(3, n)))[0] == 200
        await delivered(core, 200, timeout=60)
    finally:
        stop.set()
        writer.join()
        await core.stop()
    assert all(episode(db, 3, n)["watched"] for n in range(1, 201)), "a mark of ours was lost"
    assert all(episode(db, 9, n)["watched"] for n in app_marks), "a mark of the web app was lost"
    assert len(app_marks) > 10


async def test_postgres_stopped_mid_burst_then_back_no_loss_no_double(paths, settings, pg_tracker_db) -> None:
    db = pg_tracker_db
    core = await started(paths, settings, db)
    try:
        url = webhook_url(core)
        for n in range(1, 41):
            await post(url, episode_payload(4, n))
            if n == 15:
                await asyncio.to_thread(db.server.stop)
        await settled(core)
        await wait_for(lambda: _state(core, DestinationState.FAILING), timeout=20)
        d = next(d for d in await core.destinations() if d.kind == "postgres")
        assert d.pending > 0 and "PostgreSQL" in (d.reason or "") and "Start PostgreSQL" in (d.fix or "")
        await asyncio.to_thread(db.server.start)
        await delivered(core, 40, timeout=60)
    finally:
        await core.stop()
    assert all(episode(db, 4, n)["watched"] for n in range(1, 41))
    assert [a for _, _, a in logs(db)].count("episode_marked") == 40  # each once


async def _state(core: Core, state: DestinationState) -> bool:
    return any(d.kind == "postgres" and d.state is state for d in await core.destinations())


async def test_auto_add_shows_creates_a_tvshow_instead_of_a_conflict(pg_tracker_db) -> None:
    db = pg_tracker_db
    with db.engine.begin() as c:
        c.execute(text("UPDATE plex_config SET auto_add_shows = true"))
    dest = PostgresTracker(PostgresTarget("postgres-1", db.url), None, Settings())
    try:
        data = episode_payload(1, 1, title="Andor", grandparentGuid="com.plexapp.agents.themoviedb://83867?lang=en",
                               guid="com.plexapp.agents.themoviedb://83867/1/1?lang=en")
        assert (await dest.send(Delivery(1, 1, json.dumps(data), 0, None))).verdict is Verdict.DELIVERED
        with db.engine.connect() as c:
            row = c.execute(text("SELECT id, tmdb_id FROM tvshows WHERE title = 'Andor'")).one()
            assert row.tmdb_id == 83867
            assert c.execute(text("SELECT count(*) FROM plex_conflicts")).scalar() == 0
        assert episode(db, 1, 1, show_id=row.id)["watched"] is True
    finally:
        await dest.close()


@pytest.mark.parametrize("pg_tracker_db", ["empty"], indirect=True)
async def test_a_database_without_the_tables_is_reported_never_changed(pg_tracker_db) -> None:
    db = pg_tracker_db
    dest = PostgresTracker(PostgresTarget("postgres-1", db.url), None, Settings())
    try:
        [check] = await dest.checks()
        assert check.status == "fail" and "there is no table tvshows" in check.detail
        attempt = await dest.send(Delivery(1, 1, json.dumps(episode_payload(1, 1)), 0, None))
        assert attempt.verdict is Verdict.REFUSED
        assert read_schema(db.engine).columns == {}  # still nothing: no DDL was run
    finally:
        await dest.close()


async def test_the_password_goes_to_the_secrets_never_to_settings(paths, settings, pg_tracker_db) -> None:
    db = pg_tracker_db
    password = db.url.split(":")[2].split("@")[0]
    core = await started(paths, settings, db)
    try:
        assert password not in paths.settings_file.read_text()
        [pg] = core.settings.postgres
        assert pg.url.startswith("postgresql+psycopg://") and password not in pg.url
        d = next(d for d in await core.destinations() if d.kind == "postgres")
        assert password not in repr(d) and "***" in (d.target or "")
        assert password not in core.report(await core.diagnostics())
    finally:
        await core.stop()


@pytest.mark.parametrize("pg_tracker_db", ["minimal"], indirect=True)
def test_cli_add_postgres_then_test_reports_the_schema_found(tmp_path, pg_tracker_db, capsys) -> None:
    from app.cli import main

    db = pg_tracker_db
    password = db.url.split(":")[2].split("@")[0]
    data = str(tmp_path / "data")
    assert main(["--data-dir", data, "destinations", "add-postgres", db.url.replace("+psycopg", "")]) == 0
    out = capsys.readouterr().out
    assert "Added postgres-1: postgresql+psycopg://" in out and password not in out
    assert "password kept in a private file" in out  # the tests' keyring is the "fail" backend
    assert main(["--data-dir", data, "destinations", "test", "postgres-1"]) == 0
    out = capsys.readouterr().out
    assert "warn: schema found: plex_config, plex_conflicts, plex_show_mappings, plex_webhook_logs, tvshows" in out
    assert "table plex_webhook_logs has no column payload" in out and password not in out
    assert main(["--data-dir", data, "destinations", "remove", "postgres-1"]) == 0
    assert not (tmp_path / "data" / "postgres-password-postgres-1").exists()


async def test_with_the_built_in_tracker_off_only_the_postgres_tracker_marks(paths, pg_tracker_db) -> None:
    db = pg_tracker_db
    core = await started(paths, Settings(port=0, rate_limit_per_minute=0, builtin_tracker=False), db)
    try:
        url = webhook_url(core)
        await post(url, sample("scrobble-legacy-themoviedb"))
        await post(url, sample("scrobble-unknown-show"))
        await delivered(core, 2)
        assert episode(db, 1, 1)["watched"] is True
        assert core.status.conflicts_open == 0  # nothing asked here: the tracker has its own conflict
        rows = await core.scrobbles()
        assert {r.action for r in rows} == {"counted"} and all(r.show_id is None for r in rows)
        builtin = next(d for d in await core.destinations() if d.kind == "builtin")
        assert builtin.state is DestinationState.OFF
        with db.engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM plex_conflicts")).scalar() == 1
    finally:
        await core.stop()


def test_the_trackers_own_database_is_refused_as_scrobble_trays_database(tmp_path, pg_tracker_db) -> None:
    """--database-url pointed at the web tracker's database: refused, not migrated."""
    from app.core.db import DatabaseError
    from app.core.runtime import open_store

    with pytest.raises(DatabaseError, match="another application's database") as err:
        open_store(Paths(tmp_path), Settings(database_url=pg_tracker_db.url))
    assert pg_tracker_db.url.split(":")[2].split("@")[0] not in str(err.value)  # no password shown
    assert "alembic_version" not in read_schema(pg_tracker_db.engine).columns
    with pg_tracker_db.engine.connect() as c:
        assert c.execute(text("SELECT to_regclass('alembic_version')")).scalar() is None


async def conflicted(paths: Paths, db: Any) -> Core:
    """A core with the built-in tracker off whose PostgreSQL tracker holds one conflict."""
    core = await started(paths, Settings(port=0, rate_limit_per_minute=0, builtin_tracker=False), db)
    await post(webhook_url(core), sample("scrobble-unknown-show"))
    await delivered(core, 1)
    return core


async def test_a_conflict_resolved_in_the_desktop_dialog_is_written_to_the_tracker(paths, pg_tracker_db) -> None:
    db = pg_tracker_db
    core = await conflicted(paths, db)
    try:
        [conflict] = await core.conflicts()
        assert (conflict.plex_title, conflict.type, conflict.waiting) == ("NonExistent Show XYZ", "no_match", 1)
        [held] = await core.waiting_events(conflict.id)
        assert (held.season, held.episode) == (1, 1)
        found = await core.search_shows("severance")
        assert found[0].show_id == 41  # the tracker's own shows are offered
        await core.resolve_conflict(conflict.id, show_id=41)
        await wait_for(lambda: _marked(db, 1, 1, 41), timeout=15)
        with db.engine.connect() as c:
            assert c.execute(text("SELECT resolved FROM plex_conflicts")).scalar() is True
            assert tuple(c.execute(text("SELECT tvshow_id, match_method FROM plex_show_mappings "
                                        "WHERE plex_rating_key = '99899'")).one()) == (41, "user")
        assert await core.conflicts() == [] and core.status.conflicts_open == 0
        assert logs(db)[-1] == ("media.scrobble", "success", "episode_marked")
    finally:
        await core.stop()


async def test_the_cli_lists_and_resolves_the_conflicts_the_dialog_shows(paths, pg_tracker_db, capsys) -> None:
    """The built-in tracker off: the PostgreSQL tracker's conflicts, from the CLI too (it
    read only the built-in tables), running or not."""
    from app import cli

    def run(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = cli.main(["--data-dir", str(paths.data_dir), *args])
        return code, capsys.readouterr().out

    db = pg_tracker_db
    core = await conflicted(paths, db)
    try:
        [conflict] = await core.conflicts()
        code, out = await asyncio.to_thread(run, "conflicts", "list", "--json")
        assert code == 0 and [(c["id"], c["plex_title"], c["waiting"]) for c in json.loads(out)] == [
            (conflict.id, "NonExistent Show XYZ", 1)]
    finally:
        await core.stop()
    code, out = await asyncio.to_thread(run, "conflicts", "list")  # not running: the same answer
    assert code == 0 and "NonExistent Show XYZ" in out
    code, out = await asyncio.to_thread(run, "conflicts", "resolve", str(conflict.id), "--show", "41")
    assert code == 0, out
    with db.engine.connect() as c:
        assert c.execute(text("SELECT resolved FROM plex_conflicts")).scalar() is True


async def test_a_conflict_resolved_in_the_web_app_is_seen_here(paths, pg_tracker_db, monkeypatch) -> None:
    monkeypatch.setattr("app.core.runtime.delivery.WATCH_EVERY", 0.1)
    db = pg_tracker_db
    core = await started(paths, Settings(port=0, rate_limit_per_minute=0, builtin_tracker=False), db)
    try:
        await post(webhook_url(core), sample("scrobble-unknown-show"))
        await delivered(core, 1)
        await wait_for(lambda: core.status.conflicts_open == 1, timeout=10)
        with db.engine.begin() as c:  # what the web app does when its user picks The Wire
            c.execute(text("INSERT INTO plex_show_mappings (plex_rating_key, plex_title, tvshow_id, match_method) "
                           "VALUES ('99899', 'NonExistent Show XYZ', 12, 'manual')"))
            c.execute(text("UPDATE plex_conflicts SET resolved = true"))
        await wait_for(lambda: _marked(db, 1, 1, 12), timeout=15)
        await wait_for(lambda: core.status.conflicts_open == 0, timeout=10)
    finally:
        await core.stop()


def _marked(db: Any, season: int, number: int, show_id: int) -> bool:
    ep = episode(db, season, number, show_id)
    return bool(ep and ep["watched"])


async def test_a_thetvdb_show_is_found_by_its_tmdb_id_through_tmdb_find_cached(pg_tracker_db, caplog) -> None:
    """The tracker keys on tmdb_id; Plex names the show by TheTVDB id, under a localised title
    no title match would find."""
    from app.core.tmdb import Tmdb
    from tests.fake_tmdb import FakeTmdb

    db = pg_tracker_db
    data = sample("scrobble-legacy-thetvdb")  # Breaking Bad S02E03 by TheTVDB id 81189
    data["Metadata"]["grandparentTitle"] = "Reperto Bad"
    async with FakeTmdb() as tmdb:
        dest = PostgresTracker(PostgresTarget("postgres-1", db.url), None, Settings(),
                               tmdb=Tmdb(tmdb.key, tmdb.base_url))
        try:
            for n in (1, 2):
                data["Metadata"]["index"] = n
                attempt = await dest.send(Delivery(n, n, json.dumps(data), 0, None))
                assert "episode_marked" in attempt.detail, attempt.detail
            assert episode(db, 2, 1)["watched"] and episode(db, 2, 2)["watched"]  # tvshow 30
            assert [r["id"] for r in tmdb.requests] == ["81189"]  # asked once: cached
            assert tmdb.key not in caplog.text

            # The first answer was remembered (plex_show_mappings); another show, with a wrong key:
            wrong = PostgresTracker(PostgresTarget("postgres-2", db.url), None, Settings(),
                                    tmdb=Tmdb("not-the-key", tmdb.base_url))
            wire = json.loads(json.dumps(data).replace("81189", "79126"))
            wire["Metadata"] |= {"grandparentTitle": "Sur écoute", "grandparentRatingKey": "20000"}
            attempt = await wrong.send(Delivery(3, 3, json.dumps(wire), 0, None))
            assert "conflict_created" in attempt.detail  # no id: a conflict, never a wrong mark
            await wrong.close()
        finally:
            await dest.close()


async def test_postgres_down_with_the_built_in_tracker_off_keeps_everything_running(paths, pg_tracker_db) -> None:
    db = pg_tracker_db
    core = await started(paths, Settings(port=0, rate_limit_per_minute=0, builtin_tracker=False), db)
    try:
        await asyncio.to_thread(db.server.stop)
        url = webhook_url(core)
        for n in (1, 2):
            assert (await post(url, episode_payload(1, n)))[0] == 200
        await settled(core)  # the pipeline goes on (and counts conflicts) without the database
        assert core.status.server == "listening"
        await asyncio.to_thread(db.server.start)
        await delivered(core, 2, timeout=30)
        assert episode(db, 1, 2)["watched"]
    finally:
        await core.stop()


async def test_a_new_agent_show_is_marked_by_the_plex_servers_ids(paths, settings, pg_tracker_db) -> None:
    """The tracker keys on tmdb_id only; the payload names the show as plex://show/... under
    its Chinese library title: the Plex server's ids (signed in) find tvshow 30."""
    from tests.fake_plex import FakePlexTv, FakePms

    db = pg_tracker_db
    async with FakePlexTv() as tv, FakePms() as pms:
        tv.servers.append(pms)
        pms.add_show("10000", "绝命毒师", 2008, tmdb="1396", tvdb="81189")
        token, _ = tv.add_user("alice")
        settings.plex_tv_url = tv.url
        settings.builtin_tracker = False  # the PostgreSQL tracker is the one that counts
        core = await started(paths, settings, db)
        try:
            await core.plex_signed_in(token)
            assert (await post(webhook_url(core), new_agent("绝命毒师", pms.uuid)))[0] == 200
            await marked_by_ids(core, db)
        finally:
            await core.stop()


async def test_a_new_agent_show_its_server_cannot_tell_is_marked_by_the_built_in_match_s_ids(
        paths, settings, pg_tracker_db) -> None:
    """The Plex server is not reachable from here (a friend's, not signed in): the payload
    names the show only by its library title, which the tracker does not hold; the built-in
    tracker knows that title (its show made from an earlier play, with TMDB's id), as
    Trakt and Simkl are given it."""
    db = pg_tracker_db
    core = await started(paths, settings, db)
    try:
        await core.runtime.run(core.runtime.store.add_show, title="绝命毒师", year=2008, tmdb_id=1396)
        assert (await post(webhook_url(core), new_agent("绝命毒师", "a-friends-server")))[0] == 200
        await marked_by_ids(core, db)
    finally:
        await core.stop()


async def test_a_running_postgres_tracker_judges_by_the_settings_applied_since(paths, settings, pg_tracker_db) -> None:
    """Settings changed while the core runs (a lower stop threshold, an account accepted)
    reach the PostgreSQL tracker at once, not at the next start."""
    db = pg_tracker_db

    def stop_at_60(season: int) -> dict[str, Any]:
        return episode_payload(season, 2, event="media.stop", viewOffset=2_088_000, duration=3_480_000)

    def by_guest(season: int) -> dict[str, Any]:
        return episode_payload(season, 3) | {"user": False, "Account": {"id": 52817331, "title": "guest-friend"}}

    core = await started(paths, settings, db)
    try:
        url = webhook_url(core)
        assert not any(episode(db, s, n)["watched"] for s in (1, 2) for n in (2, 3))
        for payload in (stop_at_60(1), by_guest(1)):
            assert (await post(url, payload))[0] == 200
        await delivered(core, 2)
        assert logs(db) == [("media.stop", "ignored", "filtered"), ("media.scrobble", "ignored", "filtered")]

        await core.apply_settings(dataclasses.replace(core.settings, stop_threshold=0.5,
                                                      accepted_accounts=["guest-friend"]))
        for payload in (stop_at_60(2), by_guest(2)):
            assert (await post(url, payload))[0] == 200
        await delivered(core, 4)
        assert logs(db)[2:] == [("media.stop", "success", "episode_marked"),
                                ("media.scrobble", "success", "episode_marked")]
        assert episode(db, 2, 2)["watched"] and episode(db, 2, 3)["watched"]
        assert not (episode(db, 1, 2)["watched"] or episode(db, 1, 3)["watched"])
    finally:
        await core.stop()
