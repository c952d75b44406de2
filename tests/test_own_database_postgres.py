"""The app's own database on PostgreSQL (Settings > Database URL, ``--database-url``):
an empty database is migrated to head and then used as the SQLite file is. Real
PostgreSQL (tests/pg.py), real HTTP into the running core. Migration 0003 failed on it
(it dropped foreign keys by SQLite's names), so the app could not start there."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from app.core.config import Paths, Settings
from app.core.db import HEAD
from tests.helpers import BREAKING_BAD, episode_payload, post, running, sample, settled, webhook_url
from tests.pg import PgServer

pytest_plugins = ["tests.conftest_pg"]
_names = itertools.count(1)


@pytest.fixture
def own_db(pg_server: PgServer) -> Iterator[str]:
    """An empty database of the tests' role: the URL a user types in Settings."""
    if not pg_server.running:
        pg_server.start()
    name = f"own_{next(_names)}"
    pg_server.admin(f'CREATE DATABASE "{name}" OWNER {pg_server.user}')
    yield pg_server.url(name)
    pg_server.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_the_app_runs_on_an_empty_postgresql_database_and_keeps_it(paths: Paths, own_db: str) -> None:
    settings = Settings(port=0, rate_limit_per_minute=0, database_url=own_db)
    async with running(paths, settings) as core:
        await core.runtime.run(core.runtime.store.add_show, **BREAKING_BAD)
        for payload in (episode_payload(1, 1), episode_payload(1, 1), sample("scrobble-unknown-show")):
            assert (await post(webhook_url(core), payload))[0] == 200
        await settled(core)
        rows = await core.scrobbles()
        assert [r.action for r in rows] == ["conflict", "duplicate", "marked"]
        assert [r.plex_title for r in await core.scrobbles(search="breaking")] == ["Breaking Bad"] * 2
        [conflict] = await core.conflicts()
        assert conflict.plex_title == "NonExistent Show XYZ"
        page = await core.show_page("bad", 0, 50)
        assert (page.total, page.rows[0].title, page.rows[0].watched_episodes) == (1, "Breaking Bad", 1)
        undone = await core.undo(rows[2].id)
        assert undone.action == "undone", undone
        await core.runtime.upkeep(quiet=0)  # retention and the rest of idle time: no SQLite-only step
    assert not list(paths.data_dir.glob("*.sqlite3"))  # nothing went to the default file

    async with running(paths, settings) as core:  # a second start: at head already, all still there
        assert [r.action for r in await core.scrobbles()][:2] == ["conflict", "duplicate"]
    engine = create_engine(own_db)
    try:
        with engine.connect() as c:
            assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
    finally:
        engine.dispose()

    cli = subprocess.run([sys.executable, "-m", "app", "--data-dir", str(paths.data_dir),
                          "--database-url", own_db, "scrobbles"], capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert "NonExistent Show XYZ" in cli.stdout and own_db.split("@")[0] not in cli.stdout + cli.stderr
