"""The PostgreSQL fixtures (tests/conftest_pg.py) against a real server they start."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.pg import PostgresNotAvailable, find_binaries, unprivileged_user
from tests.pg_schema import (
    BREAKING_BAD_ID,
    CAMEL,
    OPTIONAL_COLUMNS,
    SHOWS_BY_ID,
    TABLES,
    VARIANTS,
    WEBHOOK_SECRET,
    create_reference_schema,
    seed_reference_data,
)

pytest_plugins = ["tests.conftest_pg"]


def seasons_of(conn: sa.Connection, show_id: int) -> list[dict]:
    return conn.execute(sa.text("SELECT seasons FROM tvshows WHERE id = :id"), {"id": show_id}).scalar_one()


def test_sqlalchemy_psycopg_over_tcp_with_a_password_sees_the_seed(pg_tracker_db, pg_server):
    url = sa.make_url(pg_tracker_db.url)
    assert (url.drivername, url.host, url.port, url.database) == (
        "postgresql+psycopg", "127.0.0.1", pg_server.port, pg_tracker_db.name)
    assert url.username == "scrobble" and url.password == pg_server.password

    with pg_tracker_db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT current_user, inet_server_addr()::text")).one() == (
            "scrobble", "127.0.0.1/32")
        assert conn.execute(sa.text("SHOW fsync")).scalar_one() == "off"
        shows = conn.execute(sa.text("SELECT id, title, tmdb_id, watched_episodes FROM tvshows "
                                     "ORDER BY id")).all()
        assert shows == [(12, "The Wire", 1438, 2), (30, "Breaking Bad", 1396, 0),
                         (41, "Severance", 95396, 0)]
        bb = seasons_of(conn, BREAKING_BAD_ID)
        assert [s["season_number"] for s in bb] == [1, 2]
        assert all(len(s["episodes"]) >= 3 for s in bb)
        ep = bb[0]["episodes"][1]
        assert ep == {"episode_number": 2, "name": "Cat's in the Bag...", "watched": False,
                      "dateWatched": None}
        assert not any(e["watched"] for s in bb for e in s["episodes"])
        cfg = conn.execute(sa.text("SELECT * FROM plex_config")).mappings().all()
        assert len(cfg) == 1 and cfg[0]["user_id"] == 1 and cfg[0]["enabled"] is True
        assert cfg[0]["auto_add_shows"] is False and cfg[0]["auto_mark_watched"] is True
        assert cfg[0]["webhook_secret"] == WEBHOOK_SECRET and len(WEBHOOK_SECRET) == 64
        int(WEBHOOK_SECRET, 16)
        for table in ("plex_show_mappings", "plex_webhook_logs", "plex_conflicts"):
            assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
        # the serial moved past the seeded ids; the tables belong to the tests' role
        new_id = conn.execute(sa.text("INSERT INTO tvshows (title) VALUES ('Andor') RETURNING id")).scalar_one()
        assert new_id == 42
        owners = conn.execute(sa.text(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        assert owners == ["scrobble"]

    # the password is checked (TCP is scram-sha-256, not trust)
    wrong = sa.create_engine(pg_server.url(pg_tracker_db.name, password="not-the-password"))
    with pytest.raises(sa.exc.OperationalError, match="password authentication failed"):
        wrong.connect()
    wrong.dispose()


@pytest.mark.parametrize("pg_tracker_db", list(VARIANTS), indirect=True)
def test_each_variant_has_its_spelling_and_columns(pg_tracker_db):
    v = pg_tracker_db.variant
    insp = sa.inspect(pg_tracker_db.engine)
    tables = set(insp.get_table_names())
    if not v.tables:
        assert tables == set()
        return
    assert tables == set(TABLES)
    for table, optional in OPTIONAL_COLUMNS.items():
        cols = {c["name"] for c in insp.get_columns(table)}
        assert all((col in cols) == v.optional_columns for col in optional), (table, cols)
    mapping_cols = {c["name"] for c in insp.get_columns("plex_show_mappings")}
    assert {"plex_rating_key", "plex_guid", "tvshow_id", "match_confidence"} <= mapping_cols

    sp = v.spelling
    with pg_tracker_db.engine.connect() as conn:
        for show_id, show in SHOWS_BY_ID.items():
            seasons = seasons_of(conn, show_id)
            assert seasons == show.seasons_json(sp)
            assert {k for s in seasons for k in s} == {sp.season, "episodes"}
            assert {k for s in seasons for e in s["episodes"] for k in e} == {
                sp.episode, "name", "watched", "dateWatched"}
        s1e1 = seasons_of(conn, 12)[0]["episodes"][0]
        assert s1e1["watched"] is True and s1e1["dateWatched"].startswith("2024-03-02T")


def test_stop_and_start_keep_the_data_and_the_port(pg_server, pg_tracker_db):
    port = pg_server.port
    engine = pg_tracker_db.engine
    with engine.begin() as conn:
        conn.execute(sa.text(
            "UPDATE tvshows SET seasons = jsonb_set(seasons, '{0,episodes,0,watched}', 'true') "
            "WHERE id = :id"), {"id": BREAKING_BAD_ID})
    held = engine.connect()  # an open connection, as a writer mid-burst has
    try:
        pg_server.stop()
        assert not pg_server.running
        with pytest.raises(sa.exc.OperationalError):
            sa.create_engine(pg_tracker_db.url).connect()
        with pytest.raises(sa.exc.DBAPIError):
            held.execute(sa.text("SELECT 1"))
    finally:
        held.close()
        pg_server.start()
    assert pg_server.running and pg_server.port == port
    engine.dispose()  # the pool's connections died with the server
    with engine.connect() as conn:
        assert seasons_of(conn, BREAKING_BAD_ID)[0]["episodes"][0]["watched"] is True


_independent: dict[str, str] = {}


@pytest.mark.parametrize("who", ["first", "second"])
def test_two_tests_get_independent_databases(pg_tracker_db, who):
    with pg_tracker_db.engine.begin() as conn:
        # whatever ran before, this database is the pristine seed...
        assert conn.execute(sa.text("SELECT count(*) FROM plex_webhook_logs")).scalar_one() == 0
        assert not seasons_of(conn, BREAKING_BAD_ID)[0]["episodes"][0]["watched"]
        # ...and this test's writes stay in it
        conn.execute(sa.text("INSERT INTO plex_webhook_logs (event_type, status, action_taken) "
                             "VALUES ('media.scrobble', 'success', 'episode_marked')"))
        conn.execute(sa.text(
            "UPDATE tvshows SET seasons = jsonb_set(seasons, '{0,episodes,0,watched}', 'true') "
            "WHERE id = :id"), {"id": BREAKING_BAD_ID})
    _independent[who] = pg_tracker_db.name
    if len(_independent) == 2:
        assert _independent["first"] != _independent["second"]


def test_a_factory_gives_more_databases_and_the_helpers_take_sqlalchemy(make_pg_tracker_db):
    a, b = make_pg_tracker_db(), make_pg_tracker_db("empty")
    assert a.name != b.name
    with b.engine.begin() as conn:  # build the schema through a SQLAlchemy Connection
        create_reference_schema(conn, optional_columns=False)
        seed_reference_data(conn, spelling=CAMEL, optional_columns=False)
    with b.engine.connect() as conn:
        assert seasons_of(conn, BREAKING_BAD_ID) == SHOWS_BY_ID[BREAKING_BAD_ID].seasons_json(CAMEL)
        assert "updated_at" not in {c["name"] for c in sa.inspect(conn).get_columns("tvshows")}
    with a.engine.connect() as conn:
        assert seasons_of(conn, BREAKING_BAD_ID)[0]["season_number"] == 1
    with pytest.raises(ValueError, match="unknown tracker schema 'nope'"):
        make_pg_tracker_db("nope")


def test_the_server_runs_unprivileged_in_its_own_folder(pg_server):
    data = Path(pg_server.data_dir)
    assert data.is_dir() and str(pg_server.socket_dir) in str(data)
    assert (Path(pg_server.socket_dir) / f".s.PGSQL.{pg_server.port}").exists()
    if os.geteuid() == 0:
        assert data.stat().st_uid != 0 and pg_server.os_user is not None
    with pg_server.connect() as conn:
        assert conn.execute("SHOW data_directory").fetchone()[0] == str(data)
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"


def test_missing_postgresql_fails_with_a_clear_message(tmp_path):
    with pytest.raises(PostgresNotAvailable, match=r"binaries not found.*apt-get install postgresql"):
        find_binaries(path=str(tmp_path), search_globs=[str(tmp_path / "nothing" / "*")], env_bindir="")
    if os.geteuid() == 0:
        with pytest.raises(PostgresNotAvailable, match=r"refuses to run as root.*no unprivileged user"):
            unprivileged_user("no-such-user-scrobbletray")


_CHILD = """
import sys, time
from tests.pg import PgServer
s = PgServer.launch()
print(s.base, flush=True)
time.sleep(120)
"""


def test_a_killed_test_process_leaves_no_server_behind():
    """The watchdog stops the cluster and removes its folder when the test process dies."""
    child = subprocess.Popen([sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).parents[1])
    try:
        base = Path(child.stdout.readline().strip())
        assert (base / "data" / "postmaster.pid").exists()
        pid = int((base / "data" / "postmaster.pid").read_text().split()[0])
    finally:
        child.kill()
        child.wait()
    deadline = time.monotonic() + 10
    while (base.exists() or _alive(pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not base.exists() and not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")
