"""The log's search on real SQLite files: the FTS5 trigram index (migration 0009) finds
rows by Plex title, episode, account and tracker title in any case, follows every write
(intake, processing, re-run, retention's rewrite), fills itself for old rows when an
existing folder is migrated, and a SQLite without it falls back to LIKE."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, event
from sqlalchemy import text as sql

from app.core.config import Paths, Settings
from app.core.db import _alembic_config, make_engine, open_database
from app.core.models import WebhookEvent
from app.core.runtime import open_store
from app.core.store import Store
from app.core.store import search as search_index
from tests.helpers import BREAKING_BAD, episode_payload
from tests.test_retention import _age, _prune_all

HEISENBERG = {**BREAKING_BAD, "title": "Heisenberg Chronicles"}  # the tracker's own title (matched by TMDB id)


def _store(tmp_path: Path) -> Store:
    return open_store(Paths(tmp_path / "data"), Settings())


def _put(store: Store, *payloads: dict[str, object]) -> list[int]:
    ids = store.ingest([(json.dumps(p), None) for p in payloads])
    store.process_pending()
    return ids


def _found(store: Store, text: str, action: str | None = None) -> list[int]:
    return [r.id for r in store.scrobbles(100, action, text)]


def _integrity(store: Store) -> None:
    with store.sessions.kw["bind"].begin() as conn:
        conn.exec_driver_sql(f"INSERT INTO {search_index.TABLE} ({search_index.TABLE}) VALUES ('integrity-check')")


def _indexed(store: Store, text: str) -> list[int]:
    with store.sessions() as session:
        return sorted(session.execute(sql(
            f"SELECT rowid FROM {search_index.TABLE} WHERE {search_index.TABLE} MATCH :q"),
            {"q": search_index.phrase(text)}).scalars())


def test_search_finds_every_title_in_any_case_through_the_index(tmp_path) -> None:
    store = _store(tmp_path)
    store.add_show(**HEISENBERG)
    bb, shogun = _put(store, episode_payload(1, 1, title="Breaking Bad", title_episode="x"),
                      episode_payload(1, 2, title="Shōgun", guid="plex://show/none", grandparentGuid="plex://x"))
    with store.sessions.begin() as session:
        session.get(WebhookEvent, shogun).episode_title = "Anjin"
        session.get(WebhookEvent, bb).account_title = "Mariko Toda"
    assert _indexed(store, "breaking") == [bb]  # found by the index itself, not a LIKE
    assert _found(store, "BREAKING bad") == [bb]
    assert _found(store, "episode 1") == [bb]
    assert _found(store, "anjin") == [shogun]
    assert _found(store, "mariko") == [bb]
    assert _found(store, "heisenberg") == [bb]  # the tracker's title, never in the webhook
    assert _found(store, "shōgun") == [shogun] and _found(store, "SHŌGUN") == [shogun]
    assert _found(store, "nowhere at all") == []
    assert _found(store, "breaking", action="ignored") == []
    for odd in ('"', 'a "quoted" text', "*", "bad*", "-bad", "title:bad", "NEAR(a b)", "%", "_", "\\", "b'a"):
        store.scrobbles(100, None, odd)  # never an error
    assert _found(store, 'ng "b') == []
    _integrity(store)


def test_the_index_follows_processing_rerun_and_retention(tmp_path) -> None:
    store = _store(tmp_path)
    ids = store.ingest([(json.dumps(episode_payload(1, 3, event="media.play", title="Better Call Saul")), None)])
    assert _indexed(store, "saul") == []  # stored untitled: processing titles it
    store.process_pending()
    assert _indexed(store, "saul") == ids and _found(store, "call saul") == ids
    with store.sessions.begin() as session:
        row = session.get(WebhookEvent, ids[0])
        row.plex_title, row.action = "Renamed Show", "failed"
    assert _found(store, "call saul") == [] and _found(store, "renamed") == ids
    store.rerun(ids[0])  # read again from the payload: the title comes back
    assert _found(store, "call saul") == ids and _found(store, "renamed") == []
    _age(store, ids)
    assert _prune_all(store) == 1  # deleted and written again without its payload
    assert _found(store, "call saul") == ids
    _integrity(store)
    with store.sessions.begin() as session:
        session.delete(session.get(WebhookEvent, ids[0]))
    assert _indexed(store, "saul") == []
    _integrity(store)


def test_migrating_an_existing_folder_fills_the_index_and_downgrade_removes_it(tmp_path) -> None:
    path = tmp_path / "old.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0008")
        conn.exec_driver_sql("INSERT INTO webhook_events (received_at, payload, status, plex_title, account_title) "
                             "VALUES ('2021-12-01', '{}', 'done', 'The Office', 'pam'), "
                             "('2021-12-02', '{}', 'pending', NULL, NULL)")
    engine.dispose()
    sessions = open_database(f"sqlite:///{path}", tmp_path / "backups")
    store = Store(sessions, Settings())
    assert _indexed(store, "office") == [1]
    assert _found(store, "OFFICE") == [1]
    _integrity(store)
    with sessions.kw["bind"].begin() as conn:
        command.downgrade(_alembic_config(conn), "0008")
        assert conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE name LIKE 'webhook_search%'").all() == []


def test_a_sqlite_without_fts5_trigram_still_migrates_and_searches_by_like(tmp_path) -> None:
    def no_trigram(conn, cursor, statement, *_args) -> None:  # as an SQLite built without it answers
        if "tokenize='trigram'" in statement:
            raise sqlite3.OperationalError("no such tokenizer: trigram")

    event.listen(Engine, "before_cursor_execute", no_trigram)
    try:
        store = _store(tmp_path)
    finally:
        event.remove(Engine, "before_cursor_execute", no_trigram)
    store = _store(tmp_path)
    with store.sessions() as session:
        assert not search_index.has_index(session)
    store.add_show(**HEISENBERG)
    ids = _put(store, episode_payload(1, 1))
    assert _found(store, "breaking") == ids and _found(store, "heisenberg") == ids
    assert _found(store, "br") == ids


def test_a_short_search_reads_only_the_newest_rows(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(search_index, "SEARCH_RECENT", 2)
    store = _store(tmp_path)
    store.add_show(**HEISENBERG)
    old, *new = _put(store, *(episode_payload(1, n) for n in (1, 2, 3)))
    assert _found(store, "br") == list(reversed(new))
    assert _found(store, "bre") == [*reversed(new), old]
    assert _found(store, "HR") == list(reversed(new))  # the tracker's "Heisenberg Chronicles"
    assert _found(store, "OW") == list(reversed(new))  # the account, "homeowner"
    assert _found(store, "%") == [] and _found(store, "_") == []  # as typed, no wildcards
    assert _found(store, "br", action="ignored") == []
