"""Migrations on real SQLite files: applied at start-up, with a copy taken first."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from app.core.config import Paths, Settings
from app.core.db import HEAD, DatabaseError, _alembic_config, make_engine, open_database
from app.core.runtime import open_store


def test_a_new_database_is_created_at_the_newest_version(tmp_path) -> None:
    sessions = open_database(f"sqlite:///{tmp_path / 'new.sqlite3'}", tmp_path / "backups")
    engine = sessions.kw["bind"]
    assert {"shows", "episodes", "show_mappings", "webhook_events", "conflicts", "watches"} <= set(
        inspect(engine).get_table_names())
    with engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD
    assert not (tmp_path / "backups").exists()  # nothing to back up


def test_an_empty_file_becomes_a_new_database(tmp_path) -> None:
    path = tmp_path / "empty.sqlite3"
    path.touch()  # made by hand, or by a tool that only creates the file
    engine = open_database(f"sqlite:///{path}", tmp_path / "backups").kw["bind"]
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD
    engine.dispose()


def test_an_old_database_is_backed_up_then_migrated_keeping_its_data(tmp_path) -> None:
    path = tmp_path / "old.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0001")
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO shows (title, watched_episodes, total_plays, created_at) "
                             "VALUES ('Breaking Bad', 0, 0, '2026-01-01')")
    engine.dispose()

    sessions = open_database(f"sqlite:///{path}", tmp_path / "backups")
    engine = sessions.kw["bind"]
    indexes = {i["name"] for i in inspect(engine).get_indexes("webhook_events")}
    assert "ix_webhook_events_action" in indexes
    [backup] = (tmp_path / "backups").glob("*.sqlite3")
    assert "0001" in backup.name
    with sqlite3.connect(backup) as b:
        assert b.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
        assert b.execute("SELECT title FROM shows").fetchall() == [("Breaking Bad",)]
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT title FROM shows").scalar() == "Breaking Bad"

    # Opening again: already current, no second copy.
    open_database(f"sqlite:///{path}", tmp_path / "backups")
    assert len(list((tmp_path / "backups").glob("*.sqlite3"))) == 1


@pytest.mark.parametrize("url, message", [
    ("not a url", "not a database URL"),
    ("postgresql+nosuchdriver://u:hunter2@localhost/x", "not a database URL"),
    ("nosuchdialect://x", "not a database URL"),
])
def test_bad_database_urls_give_a_clear_error(tmp_path, url, message) -> None:
    with pytest.raises(DatabaseError, match=message) as err:
        open_store(Paths(tmp_path), Settings(database_url=url))
    assert "hunter2" not in str(err.value)


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "junk.sqlite3"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseError, match="cannot open database"):
        open_database(f"sqlite:///{bad}")


def test_0003_keeps_marks_and_log_when_the_foreign_keys_to_shows_go(tmp_path) -> None:
    """The SQLite rebuild runs with foreign keys off: nothing pointing at the rebuilt
    tables is deleted or refused, and the outbox table is there."""
    path = tmp_path / "old.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0002")
    with engine.begin() as conn:
        for sql in ("INSERT INTO shows (id, title, watched_episodes, total_plays, created_at) "
                    "VALUES (1, 'Breaking Bad', 1, 1, '2026-01-01')",
                    "INSERT INTO episodes (id, show_id, season, number, watch_count) VALUES (1, 1, 1, 1, 1)",
                    "INSERT INTO webhook_events (id, received_at, payload, status, show_id, episode_id) "
                    "VALUES (1, '2026-01-01', '{}', 'done', 1, 1)",
                    "INSERT INTO watches (episode_id, account_id, watched_at, event_id) "
                    "VALUES (1, '1', '2026-01-01', 1)",
                    "INSERT INTO show_mappings (plex_key, show_id, ignored, method, confidence, created_at) "
                    "VALUES ('plex://show/x', 1, 0, 'ids', 1.0, '2026-01-01')"):
            conn.exec_driver_sql(sql)
    engine.dispose()

    engine = open_database(f"sqlite:///{path}", tmp_path / "backups").kw["bind"]
    insp = inspect(engine)
    assert "deliveries" in insp.get_table_names()
    for table in ("show_mappings", "conflicts"):
        assert not insp.get_foreign_keys(table)
    assert {fk["referred_table"] for fk in insp.get_foreign_keys("webhook_events")} == {"conflicts"}
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM watches").scalar() == 1
        assert c.exec_driver_sql("SELECT show_id, episode_id FROM webhook_events").one() == (1, 1)
        assert c.exec_driver_sql("SELECT show_id FROM show_mappings").scalar() == 1
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert c.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []


def test_someone_elses_database_is_never_migrated(tmp_path) -> None:
    path = tmp_path / "webapp.sqlite3"
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE tvshows (id integer primary key, title text)")
    with pytest.raises(DatabaseError, match=r"already holds tables \(tvshows\) and no Scrobble Tray schema"):
        open_database(f"sqlite:///{path}", tmp_path / "backups")
    with sqlite3.connect(path) as c:  # untouched: no alembic_version, none of our tables
        assert [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["tvshows"]


def test_head_constant_is_alembics_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(_alembic_config(None)).get_current_head() == HEAD


def test_a_damaged_file_is_moved_aside_untouched_and_the_backup_offered(tmp_path, caplog) -> None:
    db = tmp_path / "scrobbletray.sqlite3"
    backups = tmp_path / "backups"
    open_database(f"sqlite:///{db}", backups).kw["bind"].dispose()
    backups.mkdir()
    (backups / "scrobbletray-0004-20261201-120000.sqlite3").write_bytes(db.read_bytes())
    damaged = db.read_bytes()[:100] + b"\xde\xad" * 500 + db.read_bytes()[1100:]
    db.write_bytes(damaged)
    with caplog.at_level("ERROR"):
        sessions = open_database(f"sqlite:///{db}", backups)
    sessions.kw["bind"].dispose()
    [aside] = tmp_path.glob("scrobbletray.sqlite3.damaged-*")
    assert aside.read_bytes() == damaged  # kept exactly as it was
    assert db.exists() and db.read_bytes() != damaged  # a new, working one
    message = caplog.text
    assert str(aside) in message and "scrobbletray-0004-20261201-120000.sqlite3" in message



def _foreign_app_database(path, wal: bool = False) -> None:
    """Another application's SQLite file: a few tables with rows, rollback journal (or WAL)."""
    c = sqlite3.connect(path)
    if wal:
        c.execute("PRAGMA journal_mode=WAL")
    c.executescript(
        "CREATE TABLE users (id integer primary key, name text not null);"
        "CREATE TABLE posts (id integer primary key autoincrement, user_id integer references users(id), body text);"
        "CREATE INDEX ix_posts_user ON posts (user_id);"
        "INSERT INTO users (name) VALUES ('ann'), ('bob');"
        "INSERT INTO posts (user_id, body) VALUES (1, 'hello'), (2, 'hi');")
    c.commit()
    c.close()


@pytest.mark.parametrize("wal", [False, True], ids=["rollback-journal", "wal"])
@pytest.mark.parametrize("command", [["shows", "list"], ["serve", "--port", "0", "--no-tunnel"]])
def test_someone_elses_sqlite_file_is_refused_byte_for_byte_untouched(tmp_path, wal, command) -> None:
    """The refusal comes from a read-only look: the engine's first connection would switch
    the file to WAL mode (header bytes 18-19, the change counter) before migrate() refused."""
    path = tmp_path / "other app.db"  # a space: the read-only URI must quote the path
    _foreign_app_database(path, wal)
    before = path.read_bytes()
    assert before[18:20] == (b"\x02\x02" if wal else b"\x01\x01")
    result = subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(tmp_path / "data"), "--database-url",
         f"sqlite:///{path}", *command],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[1])
    assert result.returncode == 2, result.stderr
    assert "already holds tables (posts, users) and no Scrobble Tray schema" in result.stderr
    assert "another application's database" in result.stderr and "Traceback" not in result.stderr
    after = path.read_bytes()
    # journal mode (18-19) and change counter (24-27) first: a readable message when they moved
    assert (after[18:20], after[24:28]) == (before[18:20], before[24:28])
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "other app.db"]  # no -wal, -shm, -journal
