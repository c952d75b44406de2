"""Kill -9, five times, in the middle of draining a backlog to a relay target: no event is
lost, and each crash sends again at most the one event that was in flight."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
from pathlib import Path

import aiohttp
import pytest

from app.core.config import Paths, RelayTarget, Settings, save_settings
from app.core.runtime import open_store
from tests.helpers import BREAKING_BAD, episode_payload, form
from tests.test_crash import _free_port, _start_server
from tests.test_relay_misbehaving import OK, Scripted

EVENTS = 1200
KILLS = 5


@pytest.mark.timeout(300)
async def test_sigkill_five_times_mid_drain_loses_none_and_repeats_at_most_one_each(tmp_path: Path) -> None:
    open_ = {"yes": False}
    target = Scripted(lambda n, t: OK if open_["yes"] else (503, {}))  # down until the backlog is in
    await target.start()
    paths = Paths(tmp_path / "data")
    save_settings(paths, Settings(rate_limit_per_minute=0, relays=[RelayTarget("relay-1", target.url)]))
    store = open_store(paths, Settings())
    store.add_show(**BREAKING_BAD)
    port = _free_port()
    proc, url = await _start_server(paths.data_dir, port)
    try:
        acked: list[int] = []
        async with aiohttp.ClientSession() as session:
            async def client(numbers: range) -> None:
                for n in numbers:
                    async with session.post(url, data=form(episode_payload(1 + n // 1000, 1 + n % 1000))) as r:
                        assert r.status == 200
                        acked.append(int((await r.json())["id"]))
            await asyncio.gather(*(client(range(i, EVENTS, 16)) for i in range(16)))

        def pending() -> int:
            stats = store.delivery_stats().get("relay-1")
            return stats.pending if stats else 0

        for _ in range(1500):  # every event settled, its delivery waiting for the target
            if pending() == EVENTS:
                break
            await asyncio.sleep(0.02)
        assert pending() == EVENTS
        open_["yes"] = True
        # A first crash while the target was down, so the next start sends at once (not
        # after the back-off), then KILLS in the middle of the drain.
        for crash in range(KILLS + 1):
            if crash:
                threshold = len(target.delivered()) + EVENTS // (KILLS + 2)
                for _ in range(5000):
                    if len(target.delivered()) >= threshold:
                        break
                    await asyncio.sleep(0.002)
                assert threshold <= len(target.delivered()) < EVENTS, "the kill must land mid-drain"
            os.kill(proc.pid, signal.SIGKILL)
            await asyncio.wait_for(proc.wait(), 10)
            proc, url = await _start_server(paths.data_dir, port)
        for _ in range(3000):
            if pending() == 0:
                break
            await asyncio.sleep(0.02)
        assert pending() == 0
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 10)
        assert target.runner is not None
        await target.runner.cleanup()

    got = target.delivered()
    assert sorted(set(got)) == sorted(acked), "an event was lost"
    repeats = {e: n - 1 for e, n in collections.Counter(got).items() if n > 1}
    assert sum(repeats.values()) <= KILLS + 1, f"{sum(repeats.values())} repeats in {KILLS + 1} crashes: {repeats}"
    assert store.delivery_stats()["relay-1"].delivered == EVENTS
