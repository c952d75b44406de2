""""Which event counted this episode for this account?" (an episode marked unplayed in
Plex, taken back) is answered by its partial index, not by every counted play of the
inbox: on five years of webhooks that was 0.07-1.7 s on the database thread."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import event

from app.core.config import Paths, Settings
from app.core.runtime import open_store
from tests.helpers import episode_payload


def test_the_play_an_unmark_takes_back_is_found_by_its_index(tmp_path: Path) -> None:
    store = open_store(Paths(tmp_path / "data"), Settings())
    store.add_show(title="Breaking Bad", year=2008, tmdb_id=1396)
    store.ingest([(json.dumps(episode_payload(1, n)), "127.0.0.1") for n in range(1, 6)])
    store.process_pending()
    account = store.scrobbles(1)[0].account_id
    assert account is not None
    engine = store.sessions.kw["bind"]
    asked: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, _many: bool) -> None:
        if "lower(webhook_events.plex_title)" in statement:
            asked.append((statement, params))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        taken = store.undo_unmarked(account, "breaking BAD", 1, 3)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert taken is not None and store.scrobbles(5)[2].action == "undone"  # (S01E03, the third of five)
    [(statement, params)] = asked
    with engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params))
    assert "ix_webhook_events_counted" in plan, plan
