"""A five-year household's folder (tests/bench/history.py, small) made by the previous
version (schema 0006) migrates to the current schema with every row kept, and the reading
commands read it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from app.cli import main
from app.core.config import Paths
from app.core.db import _alembic_config
from app.core.runtime import open_store
from tests.bench import growth, history


def _counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("webhook_events", "shows", "episodes", "movies", "deliveries", "conflicts")}


def _revision(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def test_a_five_year_folder_of_the_previous_version_migrates_and_reads(tmp_path: Path, monkeypatch,
                                                                       capsys) -> None:
    for name in history.FULL:  # build_folder scales these: put them back afterwards
        monkeypatch.setattr(growth, name, getattr(growth, name))
    data = tmp_path / "data"
    history.build_folder(data, 0.005)
    db = Paths(data).database_file
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:  # as version 0006 left it
        command.downgrade(_alembic_config(conn), "0006")
    engine.dispose()
    assert _revision(db) == "0006"
    before = _counts(db)
    assert before["webhook_events"] == 2000 and before["shows"] == 15 and before["movies"] == 50
    assert before["deliveries"] == 200 and before["conflicts"] >= 1

    store = open_store(Paths(data), history.settings())
    store.sessions.kw["bind"].dispose()
    assert _revision(db) == ScriptDirectory.from_config(_alembic_config(None)).get_current_head()
    assert _counts(db) == before
    with sqlite3.connect(db) as conn:
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"ix_webhook_events_prunable", "ix_deliveries_event_id"} <= indexes
    capsys.readouterr()

    assert main(["--data-dir", str(data), "scrobbles", "--limit", "50", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 50 and {r["action"] for r in rows} - {None}
    assert main(["--data-dir", str(data), "shows", "list", "--json"]) == 0
    shows = json.loads(capsys.readouterr().out)
    assert len(shows) == 15 and all(s["title"] for s in shows)


def test_the_smallest_scale_still_makes_a_household(monkeypatch) -> None:
    for name in history.FULL:
        monkeypatch.setattr(growth, name, getattr(growth, name))
    assert history.scaled(0.0001) == 50 and growth.SHOWS == 1 and growth.DELIVERIES == 2


async def test_the_day_s_scrobbles_count_only_the_last_24_hours(core: Any) -> None:
    """The status window's "episodes marked today" (read by the date index on a five-year folder)."""
    from datetime import timedelta

    from sqlalchemy import update

    from app.core.models import WebhookEvent, utcnow
    from tests.helpers import episode_payload, post, wait_for, webhook_url

    store = core.runtime.store  # (Breaking Bad in its tracker)
    for n in (1, 2, 3):
        assert (await post(webhook_url(core), episode_payload(1, n)))[0] == 200
    assert (await post(webhook_url(core), episode_payload(1, 4, event="media.play")))[0] == 200
    await wait_for(lambda: store.counts().pending == 0 and store.counts().scrobbles_24h == 3)
    with store.sessions.begin() as session:  # one of them was two days ago
        session.execute(update(WebhookEvent).where(WebhookEvent.id == 1).values(
            received_at=utcnow() - timedelta(days=2)))
    assert store.counts().scrobbles_24h == 2
