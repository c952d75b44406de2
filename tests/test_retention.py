"""Retention on real SQLite files: the raw payload of an old event that can never count is
dropped, and nothing else (undo, re-run, conflicts and deliveries keep theirs); the file
gives the space back in short steps while webhooks keep being acknowledged; the copies
taken before migrations are bounded."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, select

from app.core import config
from app.core.config import Paths, RelayTarget, Settings
from app.core.db import WAL_LIMIT, _alembic_config, bound_backups, open_database
from app.core.destinations.base import Attempt, Verdict
from app.core.destinations.outbox import Outbox
from app.core.facade import Core
from app.core.models import Delivery, WebhookEvent, utcnow
from app.core.runtime import open_store, upkeep
from app.core.store import Store, StoreError
from app.core.store.retention import PRUNED
from tests.helpers import BREAKING_BAD, SAMPLES, episode_payload, post, webhook_url

OLD = timedelta(days=40)  # past the default retention (28 days)
KEPT_COLUMNS = ("event", "account_id", "account_title", "server_title", "plex_title", "episode_title", "action",
                "reason", "status", "received_at", "season", "episode", "show_id", "media_type", "processed_at")


def _store(tmp_path: Path, **settings: object) -> Store:
    s = Settings(**settings)  # type: ignore[arg-type]
    return open_store(Paths(tmp_path / "data"), s)


def _put(store: Store, *payloads: dict[str, object] | str) -> list[int]:
    ids = store.ingest([(p if isinstance(p, str) else json.dumps(p), None) for p in payloads])
    store.process_pending()
    return ids


def _age(store: Store, ids: list[int], by: timedelta = OLD) -> None:
    with store.sessions.begin() as session:
        for row in session.scalars(select(WebhookEvent).where(WebhookEvent.id.in_(ids))):
            row.received_at = row.received_at - by


def _rows(store: Store) -> dict[int, WebhookEvent]:
    with store.sessions() as session:
        return {r.id: r for r in session.scalars(select(WebhookEvent))}


def _prune_all(store: Store) -> int:
    total = 0
    while n := store.prune_payloads(50):
        total += n
    return total


def test_old_playback_states_lose_only_their_payload_and_the_rest_keep_theirs(tmp_path) -> None:
    store = _store(tmp_path)
    store.add_show(**BREAKING_BAD)
    kinds = ["media.play", "media.pause", "media.resume", "media.rate"]
    states = _put(store, *(episode_payload(1, 1, event=e) for e in kinds),
                  (SAMPLES / "admin-database-backup.json").read_text())
    marked, stop_short, not_accepted, failed = _put(
        store, episode_payload(1, 2),
        episode_payload(1, 3, event="media.stop", viewOffset=600_000, duration=2_700_000),
        (SAMPLES / "scrobble-shared-user.json").read_text(), "not json")
    young = _put(store, episode_payload(1, 5, event="media.play"), episode_payload(1, 6, event="media.pause"))
    everything = [*states, marked, stop_short, not_accepted, failed]
    _age(store, everything)
    _age(store, young[1:], timedelta(days=27))  # (within the 28 days)
    before = _rows(store)
    assert {before[i].action for i in states} == {"ignored"}
    assert [before[i].action for i in (marked, stop_short, not_accepted, failed)] == [
        "marked", "ignored", "ignored", "failed"]

    assert _prune_all(store) == len(states)

    after = _rows(store)
    for i in states:  # the row stays, as the log shows it; only the raw webhook goes
        assert after[i].payload == PRUNED
        assert [getattr(after[i], c) for c in KEPT_COLUMNS] == [getattr(before[i], c) for c in KEPT_COLUMNS]
    for i in [marked, stop_short, not_accepted, failed, *young]:
        assert after[i].payload == before[i].payload != PRUNED
    [log_row] = [r for r in store.scrobbles(limit=100) if r.id == states[0]]
    assert (log_row.action.value, log_row.plex_title) == ("ignored", "Breaking Bad")
    with pytest.raises(StoreError, match="dropped after the retention period"):
        store.event_payload(states[0])
    with pytest.raises(StoreError, match="nothing to re-run"):
        store.rerun(states[0])
    assert _prune_all(store) == 0  # nothing left to do: the next round reads no row


def test_undo_and_rerun_work_on_old_events_after_pruning(tmp_path) -> None:
    store = _store(tmp_path)
    show = store.add_show(**BREAKING_BAD)
    marked, stop_short, failed, play = _put(
        store, episode_payload(1, 1), episode_payload(1, 2, event="media.stop", viewOffset=1_500_000,
                                                      duration=2_700_000),
        episode_payload(1, 3, parentIndex=None), episode_payload(1, 4, event="media.play"))
    _age(store, [marked, stop_short, failed, play])
    assert _prune_all(store) == 1
    assert _rows(store)[play].payload == PRUNED

    assert store.undo(marked).action.value == "undone"  # undo: the watch it counted is taken back
    store.settings = Settings(stop_threshold=0.5)  # re-run: the stop at 55 % counts now
    assert store.rerun(stop_short).action.value == "marked"
    again = store.rerun(failed)  # read again: the same reason, not "not valid JSON"
    assert (again.action.value, again.reason) == ("failed", "the payload has no season or episode number")
    episodes = {(e.season, e.number): e.watch_count for e in store.episodes(show.id)}
    assert (episodes[(1, 1)], episodes[(1, 2)]) == (0, 1)


def test_an_open_conflicts_events_keep_their_payload_and_go_through_once_answered(tmp_path) -> None:
    store = _store(tmp_path)
    [held] = _put(store, (SAMPLES / "scrobble-unknown-show.json").read_text())
    [conflict] = store.conflicts()
    _age(store, [held], timedelta(days=400))
    assert _prune_all(store) == 0
    assert _rows(store)[held].payload != PRUNED
    [outcome] = store.resolve_conflict(conflict.id, create=True)
    assert outcome.action.value == "marked"


def test_an_event_a_delivery_still_needs_keeps_its_payload(tmp_path) -> None:
    store = _store(tmp_path, relays=[RelayTarget("relay-1", "http://127.0.0.1:9/hook?secret=x", False)])
    store.add_show(**BREAKING_BAD)
    ids = _put(store, *(episode_payload(1, n, event="media.play") for n in range(1, 6)))
    pending, failed, conflict_held, delivered, retried = ids
    outbox = Outbox(store.sessions)
    with store.sessions() as session:
        delivery = {e: d for d, e in session.execute(select(Delivery.id, Delivery.event_id))}
    outbox.record([(delivery[failed], Attempt(Verdict.REFUSED, "refused", 400), None),
                   (delivery[conflict_held], Attempt(Verdict.DELIVERED, "ok", 200, outcome="conflict_created"), None),
                   (delivery[delivered], Attempt(Verdict.DELIVERED, "ok", 200, outcome="ok"), None),
                   (delivery[retried], Attempt(Verdict.RETRY, "try later", 503), 60.0)])
    _age(store, ids)

    assert _prune_all(store) == 1
    rows = _rows(store)
    assert [rows[i].payload == PRUNED for i in ids] == [False, False, False, True, False]
    # What reads them still can: the queue, a retry of the failed one, a conflict's send-again.
    assert store.retry_deliveries("relay-1") == 1
    due = outbox.due("relay-1")
    assert {d.event_id for d in due} == {pending, failed, retried}
    assert all(json.loads(d.payload)["event"] == "media.play" for d in due)
    held = store.held_by_conflicts("relay-1")
    assert [[e.id for _, e in v] for v in held.values()] == [[conflict_held]]


def test_the_setting_0_keeps_every_payload(tmp_path) -> None:
    store = _store(tmp_path, payload_retention_days=0)
    store.add_show(**BREAKING_BAD)
    ids = _put(store, *(episode_payload(1, 1, event="media.play") for _ in range(3)))
    _age(store, ids, timedelta(days=3650))
    assert _prune_all(store) == 0
    assert all(r.payload != PRUNED for r in _rows(store).values())
    assert config.setting_problem("payload_retention_days", -1) is not None
    assert config.setting_problem("payload_retention_days", 1.5) is not None
    assert config.setting_problem("payload_retention_days", 0) is None


def _playback_states(store: Store, n: int) -> list[int]:
    """``n`` plays, pauses and resumes of a real-sized webhook (as Plex sends them), settled:
    three through the pipeline, the rest copies of its rows (the pipeline at 2,000 rows a
    second would be most of the test's time)."""
    base = json.loads((SAMPLES / "play-new-agent-episode.json").read_text())
    seeds = _put(store, *({**base, "event": e} for e in ("media.play", "media.pause", "media.resume")))
    engine = store.sessions.kw["bind"]
    with engine.begin() as conn:
        cols = ", ".join(r[1] for r in conn.exec_driver_sql("PRAGMA table_info(webhook_events)") if r[1] != "id")
        for i in range(n - len(seeds)):
            conn.exec_driver_sql(f"INSERT INTO webhook_events ({cols}) SELECT {cols} FROM webhook_events WHERE id = ?",
                                 (seeds[i % 3],))
        return [*seeds, *conn.exec_driver_sql("SELECT id FROM webhook_events WHERE id > ?",
                                              (seeds[-1],)).scalars()]


def test_the_file_shrinks_after_pruning_and_incremental_vacuum(tmp_path) -> None:
    store = _store(tmp_path)
    assert store.space().auto_vacuum == 2  # a new file is made with incremental auto-vacuum
    with store.sessions.kw["bind"].connect() as conn:  # and its -wal file is cut back after a checkpoint
        assert conn.exec_driver_sql("PRAGMA journal_size_limit").scalar() == WAL_LIMIT
    keep = _put(store, *(episode_payload(1, n) for n in range(1, 200)))
    ids = _playback_states(store, 6000)
    _age(store, ids)
    store.checkpoint()
    full = store.space()
    assert _prune_all(store) == 6000
    pruned = store.space()
    assert pruned.pages == full.pages and pruned.free > full.pages // 2  # half the file is free pages
    steps = []
    while store.vacuum_step(256):
        steps.append(1)
    small = store.space()
    store.checkpoint()
    on_disk = store.space().file_bytes
    assert small.free == 0 and small.pages < full.pages / 2
    assert len(steps) >= pruned.free // 256
    assert on_disk < full.file_bytes / 2
    assert all(r.payload != PRUNED for i, r in _rows(store).items() if i in keep)
    with sqlite3.connect(store.sessions.kw["bind"].url.database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


async def test_a_webhook_during_the_vacuum_is_acknowledged_quickly(core: Core) -> None:
    runtime = core.runtime
    store = runtime.store
    assert store is not None
    ids = await runtime.run(_playback_states, store, 20_000)
    await runtime.run(_age, store, ids)
    steps: list[tuple[float, float]] = []  # when each vacuum step held the write lock
    vacuum_step = store.vacuum_step

    def timed(pages: int) -> int:
        started = time.perf_counter()
        try:
            return vacuum_step(pages)
        finally:
            steps.append((started, time.perf_counter()))
    store.vacuum_step = timed  # type: ignore[method-assign]
    url = webhook_url(core)
    acks: list[tuple[float, float]] = []
    result = asyncio.create_task(runtime.upkeep(quiet=0))
    while not result.done():
        started = time.perf_counter()
        status, _ = await post(url, episode_payload(2, 1 + len(acks) % 13, event="media.pause"))
        acks.append((started, time.perf_counter()))
        assert status == 200
        await asyncio.sleep(random.uniform(0.015, 0.04))  # (each time at another moment of a step)
    done = await result
    assert done.pruned == 20_000 and done.freed_pages > 5000
    during = [end - start for start, end in acks if any(s < end and start < e for s, e in steps)]
    slowest = max(end - start for start, end in acks)
    print(f"upkeep: {done}; {len(acks)} webhooks, {len(during)} while a vacuum step ran; slowest 200 "
          f"{slowest * 1000:.0f} ms, during a step {max(during, default=0) * 1000:.0f} ms")
    assert during  # some came while the file was giving space back...
    assert slowest < 0.5 and done.longest_step < 0.5  # ...and none waited long


def _old_database(path: Path) -> None:
    """A database made by version 0006 (before auto-vacuum), with some events in it."""
    engine = create_engine(f"sqlite:///{path}")  # (no pragmas: as that version made it)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0006")
        payload = (SAMPLES / "play-new-agent-episode.json").read_text()
        for _ in range(50):
            conn.exec_driver_sql("INSERT INTO webhook_events (received_at, payload, status, event, action) "
                                 "VALUES ('2026-01-01 10:00:00', ?, 'done', 'media.play', 'ignored')", (payload,))
    engine.dispose()


async def test_an_old_database_migrates_and_is_switched_to_incremental_once_in_idle_time(paths, settings) -> None:
    _old_database(paths.database_file)
    store = open_store(paths, settings)  # the migration: no VACUUM at start-up
    indexes = {i["name"] for i in inspect(store.sessions.kw["bind"]).get_indexes("webhook_events")}
    assert "ix_webhook_events_prunable" in indexes
    assert store.space().auto_vacuum == 0
    assert [p.name.split("-")[1] for p in paths.backups_dir.glob("*.sqlite3")] == ["0006"]
    store.sessions.kw["bind"].dispose()

    core = Core(paths, settings)
    await core.start()
    try:
        first = await core.runtime.upkeep(quiet=0)
        assert first.switched and first.pruned == 50
        space = await core.runtime.run(core.runtime.store.space)
        assert space.auto_vacuum == 2 and space.free == 0
        assert not (await core.runtime.upkeep(quiet=0)).switched  # once
        [check] = [c for c in await core.diagnostics() if c.name == "Database size"]
        assert check.status.value == "pass" and "kept 28 days" in check.detail
        assert "freed space goes back to the disk in idle time" in check.detail
    finally:
        await core.stop()


async def test_a_large_old_database_is_left_as_it_is_and_the_log_says_so(paths, settings, monkeypatch,
                                                                           caplog) -> None:
    _old_database(paths.database_file)
    monkeypatch.setattr(upkeep, "SWITCH_MAX_BYTES", 1000)
    caplog.set_level("INFO")
    async with _running(paths, settings) as core:
        result = await core.runtime.upkeep(quiet=0)
        assert not result.switched and result.pruned == 50
        assert (await core.runtime.run(core.runtime.store.space)).auto_vacuum == 0
        [check] = [c for c in await core.diagnostics() if c.name == "Database size"]
    assert "too large to switch while running" in caplog.text
    assert "the file does not shrink" in check.detail and "scrobbletray database compact" in check.fix


class _running:
    def __init__(self, paths: Paths, settings: Settings) -> None:
        self.core = Core(paths, settings)

    async def __aenter__(self) -> Core:
        await self.core.start()
        return self.core

    async def __aexit__(self, *exc: object) -> None:
        await self.core.stop()


def _copy(folder: Path, revision: str, stamp: str, size: int, age: float) -> Path:
    path = folder / f"scrobbletray-{revision}-{stamp}.sqlite3"
    path.write_bytes(b"x" * size)
    when = time.time() - age
    os.utime(path, (when, when))
    return path


def test_backups_keep_the_newest_within_a_count_and_a_size(tmp_path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    copies = [_copy(folder, f"000{i}", f"2026110{i}-120000", 1000, age=1000 - i) for i in range(1, 9)]
    other = folder / "mine.sqlite3"
    other.write_bytes(b"not ours")
    assert sorted(bound_backups(folder, keep=5)) == copies[:3]
    assert sorted(folder.iterdir()) == sorted([*copies[3:], other])
    assert sorted(bound_backups(folder, keep=5, max_bytes=2500)) == copies[3:6]  # the newest two fit
    assert bound_backups(folder, keep=5, max_bytes=10) == [copies[6]]  # the newest stays, whatever its size
    assert sorted(folder.iterdir()) == sorted([copies[7], other])


def test_a_migration_s_copy_is_bounded_with_the_others(tmp_path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    old = [_copy(folder, "0005", f"2026110{i}-120000", 100, age=10_000 - i) for i in range(1, 7)]
    path = tmp_path / "old.sqlite3"
    _old_database(path)
    open_database(f"sqlite:///{path}", folder)
    left = sorted(folder.glob("*.sqlite3"), key=lambda p: p.stat().st_mtime)
    assert len(left) == 5 and "-0006-" in left[-1].name and left[:4] == old[2:]


def test_compact_converts_an_old_file_and_shrinks_it_while_the_app_is_not_running(run, tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = data / "scrobbletray.sqlite3"
    _old_database(db)
    with sqlite3.connect(db) as conn:  # a few more, old and young: only the old lose their payload
        conn.execute("INSERT INTO webhook_events (received_at, payload, status, event, action) SELECT received_at, "
                     "payload, status, event, action FROM webhook_events")
        conn.execute("UPDATE webhook_events SET received_at = ? WHERE id > 90", (utcnow().isoformat(" "),))
    before = db.stat().st_size
    code, out, err = run("database", "compact")
    assert code == 0, err
    assert "90 raw webhooks older than 28 days dropped" in out and "MB ->" in out
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone() == (2,)
        assert conn.execute("SELECT COUNT(*), SUM(payload = '') FROM webhook_events").fetchone() == (100, 90)
    assert db.stat().st_size < before


async def test_compact_is_refused_while_the_app_runs(core: Core, capsys) -> None:
    from app.cli import main

    code = await asyncio.to_thread(main, ["--data-dir", str(core.paths.data_dir), "database", "compact"])
    assert code == 2
    assert "already runs on the data folder" in capsys.readouterr().err


def test_a_retention_that_is_not_a_whole_number_of_days_is_refused(run) -> None:
    code, _, err = run("config", "set", "payload_retention_days", "-3")
    assert code == 2 and "from 0 (keep for ever) to 3660 days" in err
    assert run("config", "set", "payload_retention_days", "7")[0] == 0
    assert "payload_retention_days" in run("config", "get")[1]
