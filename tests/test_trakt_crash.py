"""Kill -9 after Trakt has renewed the sign-in and before Scrobble Tray kept the new pair
(refresh tokens are single-use): the next start tells the user to sign in to Trakt again,
no event is lost, and once signed in the play goes to Trakt once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from app.core.config import Paths, Settings, save_settings
from app.core.credentials import set_secret
from app.core.destinations.online.signin import Tokens
from app.core.destinations.online.target import TraktTarget
from app.core.runtime import open_store
from tests.fake_trakt import FakeTrakt
from tests.helpers import BREAKING_BAD, episode_payload, form
from tests.test_crash import _free_port, _start_server

ROOT = Path(__file__).parents[1]


async def cli(data: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "--data-dir", str(data), *args, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, cwd=ROOT)


async def trakt_row(data: Path) -> dict[str, object]:
    proc = await cli(data, "destinations", "list", "--json")
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return next(r for r in json.loads(out) if r["id"] == "trakt-1")


@pytest.mark.timeout(180)
async def test_a_kill_between_the_refresh_answer_and_its_commit_asks_for_a_new_sign_in_and_loses_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trakt = FakeTrakt(interval=0.05, post_interval=0.0)
    await trakt.start()
    monkeypatch.setenv("SCROBBLETRAY_TRAKT_API_URL", trakt.api_url)
    monkeypatch.setenv("SCROBBLETRAY_TRAKT_AUTH_URL", trakt.auth_url)
    trakt.add_show("Breaking Bad", {"tmdb": 1396, "tvdb": 81189}, {1: 7})
    paths = Paths(tmp_path / "data")
    save_settings(paths, Settings(rate_limit_per_minute=0, trakt=[TraktTarget("trakt-1", client_id=trakt.client_id)]))
    set_secret(paths, "trakt-1-client-secret", trakt.client_secret)
    grant = trakt.issue()  # a sign-in that expires within the day: renewed before the first send
    set_secret(paths, "trakt-1-tokens", Tokens(grant.access_token, grant.refresh_token, time.time() + 3600).to_json())
    open_store(paths, Settings()).add_show(**BREAKING_BAD)
    port = _free_port()
    proc, url = await _start_server(paths.data_dir, port)
    try:
        trakt.on_refresh = lambda: os.kill(proc.pid, signal.SIGKILL)
        async with aiohttp.ClientSession() as session, session.post(url, data=form(episode_payload(1, 3))) as r:
            assert r.status == 200
        await asyncio.wait_for(proc.wait(), 30)
        assert proc.returncode == -signal.SIGKILL and trakt.refreshes == 1 and trakt.history == []
        trakt.on_refresh = None

        proc, url = await _start_server(paths.data_dir, port)  # the old refresh token is spent
        for _ in range(300):
            row = await trakt_row(paths.data_dir)
            if "sign in to Trakt again" in str(row["reason"]):
                break
            await asyncio.sleep(0.1)
        assert "sign in to Trakt again" in str(row["reason"]) and row["pending"] == 1, row
        assert "destinations login trakt-1" in str(row["fix"])

        login = await cli(paths.data_dir, "destinations", "login", "trakt-1")
        assert login.stdout is not None
        for _ in range(300):
            if codes := [c.user_code for c in trakt.codes.values()]:
                trakt.approve(codes[-1])
                break
            await asyncio.sleep(0.05)
        out, err = await asyncio.wait_for(login.communicate(), 60)
        assert login.returncode == 0, err.decode()
        assert "Signed in to Trakt" in out.decode()
        for _ in range(300):
            if trakt.history:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # (nothing more arrives)
        assert [(h["episode"]["season"], h["episode"]["number"]) for h in trakt.history] == [(1, 3)]
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 10)
        await trakt.close()
