"""The stand-in web tracker behaves like the reference endpoint (so relay tests mean something)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.fake_tracker import FakeTracker
from tests.helpers import episode_payload, post


async def test_secret_scrobbles_only_and_five_minute_dedup() -> None:
    async with FakeTracker(secret="s3cret") as t:
        assert (await post(t.url.replace("s3cret", "wrong"), episode_payload(1, 1)))[0] == 403
        assert (await post(t.url, episode_payload(1, 1, event="media.play")))[1] == '{"status": "ignored"}'
        assert (await post(t.url, episode_payload(1, 1)))[1] == '{"status": "success"}'
        assert (await post(t.url, episode_payload(1, 1)))[1] == '{"status": "duplicate"}'
        assert (await post(t.url, episode_payload(1, 2)))[1] == '{"status": "success"}'
        assert [e["Metadata"]["index"] for e in t.accepted] == [1, 2]
        async with aiohttp.ClientSession() as s:
            async with s.post(t.url, data=b"{}", headers={"Content-Type": "application/json"}) as r:
                assert r.status == 400


async def test_rate_limit_answers_429_with_retry_after_until_the_window_frees() -> None:
    async with FakeTracker(limit=3, window=1.0) as t:
        statuses = [(await post(t.url, episode_payload(1, n)))[0] for n in range(1, 5)]
        assert statuses == [200, 200, 200, 429]
        limited = t.requests[-1]
        assert limited.status == 429
        async with aiohttp.ClientSession() as s, s.post(t.url, data=aiohttp.FormData({"payload": "{}"})) as r:
            assert r.status == 429 and r.headers["Retry-After"] == "1"
        await asyncio.sleep(1.05)
        assert (await post(t.url, episode_payload(1, 9)))[0] == 200


@pytest.mark.parametrize("mode, status", [("error", 500), ("forbidden", 403)])
async def test_error_and_forbidden_switches(mode: str, status: int) -> None:
    async with FakeTracker() as t:
        t.mode = mode
        assert (await post(t.url, episode_payload(1, 1)))[0] == status
        t.mode = "ok"
        assert (await post(t.url, episode_payload(1, 1)))[0] == 200


async def test_refuse_closes_the_port_and_drops_open_connections_then_the_same_port_answers() -> None:
    async with FakeTracker() as t, aiohttp.ClientSession() as session:
        port = t.port
        assert (await post(t.url, episode_payload(1, 1), session=session))[0] == 200  # a kept-alive connection
        t.mode = "refuse"
        await asyncio.sleep(0.1)
        with pytest.raises(aiohttp.ClientConnectionError):
            await post(t.url, episode_payload(1, 2), session=session)
        t.mode = "ok"
        await asyncio.sleep(0.1)
        assert t.port == port and (await post(t.url, episode_payload(1, 3), session=session))[0] == 200
        await t.restart(down_for=0.05)
        assert t.port == port and (await post(t.url, episode_payload(1, 4)))[0] == 200


async def test_hang_holds_the_request_until_switched_back() -> None:
    async with FakeTracker() as t:
        t.mode = "hang"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as s:
            with pytest.raises(asyncio.TimeoutError):
                await post(t.url, episode_payload(1, 1), session=s)
        assert t.hanging == 1
        t.mode = "ok"
        await asyncio.sleep(0.05)
        assert t.hanging == 0 and (await post(t.url, episode_payload(1, 1)))[0] == 200
