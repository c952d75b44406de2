"""Kill -9 in the middle of a burst: every acknowledged event is processed exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from app.core.config import Paths, Settings, save_settings
from app.core.runtime import open_store
from tests.helpers import BREAKING_BAD, episode_payload, form

_DRAINING: set[asyncio.Task[bytes]] = set()  # the loop keeps only weak references to tasks


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _start_server(data_dir: Path, port: int) -> tuple[asyncio.subprocess.Process, str]:
    """``scrobbletray serve`` in its own process; returns it and its webhook URL."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "--data-dir", str(data_dir), "serve", "--port", str(port),
        "--no-tunnel", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        cwd=Path(__file__).parents[1])
    assert proc.stdout is not None
    try:
        while True:
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert line, "server exited before printing its URL"
            if line.startswith("Webhook URL"):
                break
    except BaseException:
        proc.kill()
        raise
    # Keep draining stdout so the server never blocks on a full pipe.
    drain = asyncio.create_task(proc.stdout.read())
    _DRAINING.add(drain)
    drain.add_done_callback(_DRAINING.discard)
    return proc, line.split(": ", 1)[1].strip()


@pytest.mark.timeout(120)
async def test_sigkill_mid_burst_loses_no_acknowledged_event(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "data")
    save_settings(paths, Settings(rate_limit_per_minute=0))  # one client sends the burst
    tracker = open_store(paths, Settings())
    show_id = tracker.add_show(**BREAKING_BAD).id
    port = _free_port()
    proc, url = await _start_server(paths.data_dir, port)
    try:
        await _burst_and_kill(proc, url, paths, tracker, show_id, port)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _burst_and_kill(proc, url, paths, tracker, show_id, port) -> None:  # type: ignore[no-untyped-def]
    acked: list[int] = []
    total = 600

    async def client(numbers: list[int], session: aiohttp.ClientSession) -> None:
        for n in numbers:
            try:
                async with session.post(url, data=form(episode_payload(1, n))) as r:
                    if r.status == 200:
                        acked.append(n)
            except (TimeoutError, aiohttp.ClientError):
                return  # the server is gone: this request was never acknowledged

    async def killer() -> None:
        for _ in range(2000):
            if len(acked) >= 150:
                break
            await asyncio.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        await asyncio.gather(killer(), *(client(list(range(i, total + 1, 32)), session)
                                         for i in range(1, 33)))
    await asyncio.wait_for(proc.wait(), 10)
    assert 150 <= len(acked) < total, "the kill must land in the middle of the burst"

    # Restart: rows left pending by the crash are processed first.
    proc2, url = await _start_server(paths.data_dir, port)
    try:
        for _ in range(500):
            if tracker.pending_count() == 0:
                break
            await asyncio.sleep(0.02)
        assert tracker.pending_count() == 0
    finally:
        proc2.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc2.wait(), 10) == 0

    episodes = {e.number: e.watch_count for e in tracker.episodes(show_id)}
    assert all(episodes.get(n) == 1 for n in acked), "an acknowledged event was lost"
    assert set(episodes.values()) == {1}, "an event was counted twice"
    rows = tracker.scrobbles(limit=10_000)
    assert {r.status for r in rows} == {"done"}
    assert sorted(r.episode for r in rows if r.action == "marked") == sorted(episodes)
    [show] = tracker.list_shows()
    assert show.watched_episodes == show.total_plays == len(episodes)


@pytest.mark.timeout(120)
async def test_sigkill_with_200_undelivered_events_then_restart_delivers_them_all(tmp_path: Path) -> None:
    from app.core.config import RelayTarget
    from app.core.destinations.relay import EVENT_ID_HEADER
    from tests.fake_tracker import FakeTracker

    async with FakeTracker(secret="s3cret", limit=100, window=1.0) as web_tracker:  # 100 a "minute" of 1 s
        web_tracker.mode = "refuse"  # the web tracker is not running
        paths = Paths(tmp_path / "data")
        save_settings(paths, Settings(rate_limit_per_minute=0, relays=[RelayTarget("relay-1", web_tracker.url)]))
        tracker = open_store(paths, Settings())
        port = _free_port()
        proc, url = await _start_server(paths.data_dir, port)
        acked: list[int] = []
        try:
            async with aiohttp.ClientSession() as session:
                for n in range(1, 201):
                    async with session.post(url, data=form(episode_payload(1, n))) as r:
                        assert r.status == 200
                        acked.append(int((await r.json())["id"]))
            for _ in range(500):  # every event settled, its delivery waiting
                if tracker.delivery_stats().get("relay-1") and tracker.delivery_stats()["relay-1"].pending == 200:
                    break
                await asyncio.sleep(0.02)
            assert tracker.delivery_stats()["relay-1"].pending == 200
            os.kill(proc.pid, signal.SIGKILL)
            await asyncio.wait_for(proc.wait(), 10)

            web_tracker.mode = "ok"
            proc, url = await _start_server(paths.data_dir, port)
            for _ in range(1000):
                if tracker.delivery_stats()["relay-1"].pending == 0:
                    break
                await asyncio.sleep(0.02)
            got = [int(r.headers[EVENT_ID_HEADER]) for r in web_tracker.requests if r.status == 200]
            assert sorted(set(got)) == acked, "an undelivered event was lost"
            assert got == sorted(got), "delivered out of order"
            assert tracker.delivery_stats()["relay-1"].delivered == 200
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), 10)
