"""``scrobbletray status``: the running app's state, webhooks and refused requests, read
from the status file it keeps; the database's trouble with its fix."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime

import aiohttp

from app import cli
from app.core import inbox, status_file, webhooks
from app.core.config import Paths
from app.core.facade import Core
from app.core.types import CoreStatus, PlexStatus, WebhookStats
from tests.helpers import disk_full, episode_payload, post, wait_for, webhook_url


async def _status(paths: Paths, capsys, *extra: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    code = await asyncio.to_thread(cli.main, ["--data-dir", str(paths.data_dir), "status", *extra])
    return code, capsys.readouterr().out


def test_the_status_file_gives_back_what_was_written(paths: Paths) -> None:
    status = CoreStatus(server="listening", host="0.0.0.0", port=47810, tunnel="online",
                        public_url="https://x.ngrok-free.app", conflicts_open=2,
                        database_problem="The disk holding the database is full", database_fix="Free some",
                        database_since=datetime(2026, 12, 2, 12, tzinfo=UTC), database_held=4,
                        plex=PlexStatus(signed_in=True, username="bob", servers=("NAS",), registered=True))
    stats = WebhookStats(3, 2, datetime(2026, 12, 2, 12, 5, tzinfo=UTC), "1.2.3.4", "NAS",
                         (("wrong secret", 2),))
    status_file.write(paths, status_file.snapshot(status, stats), [])
    back, back_stats, written_at, _pid = status_file.read(paths)
    assert (back, back_stats) == (status, stats) and written_at is not None


async def test_not_running_says_so_with_its_exit_code(paths: Paths, capsys) -> None:  # type: ignore[no-untyped-def]
    assert await _status(paths, capsys) == (3, "Scrobble Tray is not running.\n")
    code, out = await _status(paths, capsys, "--json")
    assert (code, json.loads(out)) == (3, {"running": False})


async def test_status_shows_the_running_apps_state_and_what_it_refused(core: Core, paths: Paths, capsys) -> None:  # type: ignore[no-untyped-def]
    assert (await post(webhook_url(core), episode_payload(1, 1)))[0] == 200
    wrong = webhook_url(core).rsplit("/", 1)[0] + "/" + "guess" * 8
    async with aiohttp.ClientSession() as s:
        for url, body in ((wrong, b"x"), (webhook_url(core), b"not a form")):
            async with s.post(url, data=body, headers={"Content-Type": "multipart/form-data; boundary=b"}) as r:
                assert r.status in (400, 403)
    await wait_for(lambda: (found := status_file.read(paths)) and found[1].rejected == 2, timeout=5)
    code, out = await _status(paths, capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"Scrobble Tray is running (pid {os.getpid()}), listening on 127.0.0.1 port {core.status.port}."
    assert lines[1] == f"All good: listening for Plex on this computer (port {core.status.port})"
    assert "Webhooks: 1 accepted, last just now from Living Room (127.0.0.1)." in lines
    assert "Refused: 2 (1 malformed, 1 wrong secret)." in lines
    assert core.secret not in out and core.secret not in (paths.data_dir / "status.json").read_text()
    code, out = await _status(paths, capsys, "--json")
    data = json.loads(out)
    assert data["refused"] == {"malformed": 1, "wrong secret": 1} and data["accepted"] == 1 and data["state"] == "ok"


async def test_status_says_the_database_trouble_and_its_fix(core: Core, paths: Paths, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(webhooks, "STORE_DEADLINE", 0.5)
    monkeypatch.setattr(inbox, "RETRY_EVERY", 60)
    disk_full(core.runtime.store.sessions.kw["bind"])
    assert (await post(webhook_url(core), episode_payload(1, 2, summary="x" * 20_000)))[0] == 503
    await wait_for(lambda: (found := status_file.read(paths)) and found[0].database_problem, timeout=5)
    code, out = await _status(paths, capsys)
    assert code == 1
    assert "\nThe disk holding the database is full\n" in out
    assert "webhooks are answered with an error (503); 1 held until it takes them" in out
    assert f"  Fix: Free some space on the disk of {paths.database_file}" in out
    assert "Refused: 1 (1 not saved (database unavailable))." in out


def test_the_status_file_never_holds_a_secret(paths: Paths) -> None:
    status = CoreStatus(server="listening", tunnel="error", tunnel_reason="ngrok said: bad authtoken 2abcSECRET")
    status_file.write(paths, status_file.snapshot(status, WebhookStats()), ["2abcSECRET"])
    text = (paths.data_dir / "status.json").read_text()
    assert "2abcSECRET" not in text and "bad authtoken" in text
