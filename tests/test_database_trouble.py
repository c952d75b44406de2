"""The database under stress: locked by another program, the disk full, the data folder
deleted while running. Each webhook that cannot be made durable gets 503 (never a 200),
is held in memory and stored once the cause is gone; the status says what is wrong."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.core import inbox, webhooks
from app.core.config import Settings, save_settings
from app.core.facade import Core
from tests.helpers import BREAKING_BAD, disk_full, episode_payload, post, running, settled, wait_for, webhook_url


@pytest.fixture(autouse=True)
def quick(monkeypatch) -> None:
    monkeypatch.setattr(webhooks, "STORE_DEADLINE", 0.5)
    monkeypatch.setattr(inbox, "SLOW_AFTER", 0.3)
    monkeypatch.setattr(inbox, "RETRY_EVERY", 0.2)


async def _episodes(core: Core) -> list[int]:
    await settled(core)
    return sorted(r.episode for r in await core.runtime.run(core.runtime.store.scrobbles, limit=20))


async def _refused(core: Core, episode: int) -> None:
    status, text = await post(webhook_url(core), episode_payload(1, episode, summary="x" * 20_000))
    assert status == 503 and "could not save this webhook" in text


async def test_a_locked_database_gets_503_and_every_webhook_lands_when_it_is_free(paths, settings) -> None:
    async with running(paths, settings) as core:
        assert (await post(webhook_url(core), episode_payload(1, 1)))[0] == 200
        other = sqlite3.connect(paths.database_file, timeout=1)  # another program holds the write lock
        other.execute("BEGIN EXCLUSIVE")
        await _refused(core, 2)
        await wait_for(lambda: core.status.database_problem)
        assert core.status.database_problem.startswith("The database has not answered for 0.3 s")
        assert "database browser" in core.status.database_fix
        assert core.webhook_stats().refused == (("not saved (database unavailable)", 1),)
        other.rollback()
        other.close()
        await wait_for(lambda: core.status.database_problem is None)  # by itself
        assert (await post(webhook_url(core), episode_payload(1, 3)))[0] == 200
        assert await _episodes(core) == [1, 2, 3]  # the 503 one was kept


async def test_a_full_disk_gets_503_and_held_webhooks_are_saved_when_there_is_room(paths, settings) -> None:
    async with running(paths, settings) as core:
        assert (await post(webhook_url(core), episode_payload(1, 1)))[0] == 200
        make_room = disk_full(core.runtime.store.sessions.kw["bind"])
        await _refused(core, 2)
        await _refused(core, 3)
        assert core.status.database_problem == "The disk holding the database is full"
        assert core.status.database_held == 2 and str(paths.database_file) in core.status.database_fix
        assert core.webhook_stats().refused == (("not saved (database unavailable)", 2),)
        [check] = [c for c in await core.diagnostics() if c.name == "Database"]
        assert (check.status, check.detail) == ("fail", "The disk holding the database is full: webhooks get "
                                                        "503; 2 webhooks held in memory")
        make_room()
        await wait_for(lambda: core.status.database_problem is None)
        assert core.status.database_held == 0
        assert (await post(webhook_url(core), episode_payload(1, 4)))[0] == 200
        assert await _episodes(core) == [1, 2, 3, 4]


@pytest.mark.parametrize("put_back", ["moved back", "copied back"])
async def test_a_deleted_data_folder_gets_503_never_200_and_it_goes_on_when_put_back(
        paths, settings, tmp_path, put_back) -> None:
    trash = tmp_path / "Trash"
    async with running(paths, settings) as core:
        assert (await post(webhook_url(core), episode_payload(1, 1)))[0] == 200
        await settled(core)
        os.rename(paths.data_dir, trash)  # SQLite would go on writing into the deleted file
        await _refused(core, 2)
        assert core.status.database_problem == "The database file was deleted or moved while Scrobble Tray was running"
        assert core.status.database_fix.startswith(f"Put {paths.database_file} back (from the trash, say)")
        assert core.status.database_held == 1
        assert not paths.data_dir.exists()  # nothing made a new, empty folder in its place
        if put_back == "moved back":
            os.rename(trash, paths.data_dir)
        else:  # a new file (from another disk, say): opened afresh
            shutil.copytree(trash, paths.data_dir)
            shutil.rmtree(trash)
        await wait_for(lambda: core.status.database_problem is None)
        assert (await post(webhook_url(core), episode_payload(1, 3)))[0] == 200
        assert await _episodes(core) == [1, 2, 3]
    check = sqlite3.connect(paths.database_file)
    stored = [json.loads(p)["Metadata"]["index"] for (p,) in check.execute("SELECT payload FROM webhook_events")]
    check.close()
    assert sorted(stored) == [1, 2, 3]  # in the file the user has, not in a deleted one


async def test_held_webhooks_lost_at_quit_are_logged(paths, settings, caplog) -> None:
    async with running(paths, settings) as core:
        disk_full(core.runtime.store.sessions.kw["bind"])
        await _refused(core, 2)
    assert "1 webhook(s) held for the database are lost" in caplog.text


async def test_quitting_while_the_data_folder_is_gone_makes_no_new_one(paths, settings, tmp_path) -> None:
    async with running(paths, settings) as core:
        os.rename(paths.data_dir, tmp_path / "Trash")
        await _refused(core, 1)
    assert not paths.data_dir.exists()  # (the trash can still be put back as it was)


async def test_serve_says_on_stderr_when_the_database_fails_and_when_it_is_back(paths, tmp_path) -> None:
    save_settings(paths, Settings(port=0, plex_location="this"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "--data-dir", str(paths.data_dir), "serve", "--no-tunnel",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=Path(__file__).parents[1])

    async def line_of(stream, text: str) -> str:  # type: ignore[no-untyped-def]
        while text not in (line := (await asyncio.wait_for(stream.readline(), 30)).decode()):
            assert line, f"serve exited before saying {text!r}"
        return line

    try:
        url = (await line_of(proc.stdout, "Webhook URL")).split(": ", 1)[1].strip()
        os.rename(paths.data_dir, tmp_path / "Trash")
        assert (await post(url, episode_payload(1, 1)))[0] == 503
        said = await line_of(proc.stderr, "Database:")
        assert "was deleted or moved while Scrobble Tray was running" in said and "held in memory" in said
        assert f"Put {paths.database_file} back" in said
        os.rename(tmp_path / "Trash", paths.data_dir)
        assert "takes writes again" in await line_of(proc.stderr, "Database:")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    check = sqlite3.connect(paths.database_file)
    assert check.execute("SELECT count(*) FROM webhook_events").fetchone() == (1,)  # the held one
    check.close()


async def test_processing_that_fails_is_shown_and_goes_on_by_itself(paths, settings, monkeypatch) -> None:
    from app.core import db, worker
    from app.present.state import TrayState, summarize

    monkeypatch.setattr(worker, "RETRY_EVERY", 0.2)
    monkeypatch.setattr(db, "BUSY_TIMEOUT", 0.3)
    async with running(paths, settings) as core:
        await core.runtime.run(core.runtime.store.add_show, **BREAKING_BAD)
        core.set_paused(True)
        assert (await post(webhook_url(core), episode_payload(1, 1)))[0] == 200  # in the inbox
        other = sqlite3.connect(paths.database_file, timeout=1)  # another program takes the write lock
        other.execute("BEGIN EXCLUSIVE")
        core.set_paused(False)
        await wait_for(lambda: core.status.processing_problem)
        assert core.status.processing_problem == "The database is locked by another program"
        summary = summarize(core.status)
        assert summary.state is TrayState.ATTENTION and summary.details[0].startswith("Webhooks are saved")
        [check] = [c for c in await core.diagnostics() if c.name == "Database"]
        assert check.status == "warn" and "processing waits" in check.detail
        other.rollback()
        other.close()
        await wait_for(lambda: core.status.processing_problem is None)  # tried again by itself
        await settled(core)
        assert [r.action for r in await core.runtime.run(core.runtime.store.scrobbles)] == ["marked"]
