"""The relay over real HTTP: Scrobble Tray's webhook server in front, a stand-in web
tracker (tests/fake_tracker.py) behind, and every way the tracker can let it down."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from app.core.config import Paths, Settings
from app.core.destinations.relay import EVENT_ID_HEADER, USER_AGENT
from app.core.destinations.sender import Timing
from app.core.facade import Core
from app.core.types import DeliveryState, DestinationState
from tests.fake_tracker import FakeTracker
from tests.helpers import BREAKING_BAD, episode_payload, post, settled, wait_for, webhook_url

FAST = Timing(timeout=1.0, backoff_base=0.05, backoff_cap=0.3)
SECRET = "ab" * 32


@pytest.fixture
async def tracker() -> AsyncIterator[FakeTracker]:
    # The reference's 100 requests a minute, on a clock sixty times faster.
    t = FakeTracker(secret=SECRET, limit=100, window=1.0)
    await t.start()
    yield t
    await t.stop()


async def started(paths: Paths, settings: Settings, *urls: str, only_watched: bool = False) -> Core:
    core = Core(paths, settings, timing=FAST)
    await core.start()
    assert core.runtime.store is not None
    await core.runtime.run(core.runtime.store.add_show, **BREAKING_BAD)
    for url in urls:
        await core.add_relay(url, only_watched=only_watched)
    return core


async def burst(core: Core, n: int, clients: int = 16, start: int = 1) -> list[float]:
    """``n`` scrobbles of distinct episodes; returns each acknowledgement's latency (s)."""
    url = webhook_url(core)
    latencies: list[float] = []
    numbers = iter(range(start, start + n))

    async def client(session: aiohttp.ClientSession) -> None:
        for i in numbers:
            t = time.perf_counter()
            status, body = await post(url, episode_payload(1 + i // 1000, i % 1000 or 1000), session=session)
            assert status == 200, body
            latencies.append(time.perf_counter() - t)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    return latencies


async def relay_status(core: Core, relay_id: str = "relay-1") -> Any:
    return next(d for d in await core.destinations() if d.id == relay_id)


async def delivered_all(core: Core, relay_id: str = "relay-1", timeout: float = 30) -> None:
    async def done() -> bool:
        d = await relay_status(core, relay_id)
        return d.pending == 0 and d.delivered > 0
    await wait_for(done, timeout=timeout, interval=0.05)


def event_ids(t: FakeTracker) -> list[int]:
    return [int(r.headers[EVENT_ID_HEADER]) for r in t.requests if r.status == 200]


async def test_payload_is_relayed_unchanged_with_who_and_which_event(paths, settings, tracker) -> None:
    core = await started(paths, settings, tracker.url)
    try:
        raw = json.dumps(episode_payload(1, 1), indent=1)  # Plex's bytes, whatever their spacing
        status, body = await post(webhook_url(core), raw, thumb=True)
        assert status == 200
        await delivered_all(core)
        [req] = tracker.requests
        assert req.payload == raw  # byte for byte; the thumb is not kept, so not sent
        assert req.headers["User-Agent"] == USER_AGENT
        assert req.headers[EVENT_ID_HEADER] == str(json.loads(body)["id"])
        assert [e["Metadata"]["index"] for e in tracker.accepted] == [1]
        [row] = await core.scrobbles()
        assert [(m.destination, m.state) for m in row.deliveries] == [
            (f"Web tracker at 127.0.0.1:{tracker.port}", DeliveryState.DELIVERED)]
    finally:
        await core.stop()


async def test_target_down_during_a_burst_of_300_then_up_gets_every_event_in_order(
        paths, settings, tracker) -> None:
    tracker.mode = "refuse"
    core = await started(paths, settings, tracker.url)
    try:
        await burst(core, 300)
        await settled(core)
        await wait_for(lambda: relay_status(core), timeout=5)
        d = await relay_status(core)
        assert d.pending == 300 and d.state is DestinationState.FAILING
        assert "cannot connect" in (d.reason or "") and "npm run dev" in (d.fix or "")
        tracker.mode = "ok"
        await delivered_all(core)
        ids = event_ids(tracker)
        assert ids == sorted(ids) and len(set(ids)) == 300, "lost, repeated or out of order"
        assert (await relay_status(core)).state in (DestinationState.OK, DestinationState.DELIVERING)
    finally:
        await core.stop()


async def test_target_restarting_twice_mid_drain_loses_nothing(paths, settings, tracker) -> None:
    tracker.mode = "refuse"
    core = await started(paths, settings, tracker.url)
    try:
        await burst(core, 200)
        await settled(core)
        tracker.mode = "ok"
        for n in (1, 2):
            await wait_for(lambda n=n: len(tracker.accepted) >= 40 * n, timeout=20)
            await tracker.restart(down_for=0.3)
        await delivered_all(core)
        ids = event_ids(tracker)
        assert sorted(set(ids)) == list(range(ids[0], ids[0] + 200))
        assert ids == sorted(ids)
    finally:
        await core.stop()


async def test_rate_limit_429_with_retry_after_drains_without_a_storm(paths, settings) -> None:
    async with FakeTracker(secret=SECRET, limit=25, window=1.0) as t:
        core = await started(paths, settings)
        try:
            core.set_paused(True)  # a backlog, as after an outage
            await burst(core, 120)
            await core.add_relay(t.url)
            core.set_paused(False)
            await delivered_all(core, timeout=30)
            limited = [r for r in t.requests if r.status == 429]
            assert len(set(event_ids(t))) == 120
            assert len(limited) <= 4, f"{len(limited)} answers of 429: the pace was not learned"
            assert (await relay_status(core)).failed == 0
        finally:
            await core.stop()


async def test_wrong_secret_parks_events_with_a_clear_reason_then_retry_delivers(
        paths, settings, tracker) -> None:
    core = await started(paths, settings, tracker.url.replace(SECRET, "00" * 32))
    try:
        await burst(core, 5, clients=1)
        await wait_for(lambda: _state(core, DestinationState.PAUSED), timeout=10)
        d = await relay_status(core)
        assert d.failed == 3 and d.pending == 2  # three refusals, then paused: the rest wait
        assert "every event is refused" in (d.reason or "") and "HTTP 403" in (d.reason or "")
        assert "secret" in (d.fix or "")
        assert SECRET not in repr(d) and "00" * 32 not in repr(d)
        assert core.status.destinations_failing == 1 and core.status.attention
        row = (await core.scrobbles())[-1]  # the first event: refused
        assert row.deliveries[0].state is DeliveryState.FAILED and "403" in (row.deliveries[0].detail or "")

        await core.update_destination("relay-1", url=tracker.url)  # the user fixes the secret
        await delivered_all(core)
        d = await relay_status(core)
        assert (d.failed, d.pending, d.delivered) == (0, 0, 5)
        assert core.status.destinations_failing == 0
    finally:
        await core.stop()


async def _state(core: Core, state: DestinationState) -> bool:
    return (await relay_status(core)).state is state


async def test_a_hanging_target_does_not_delay_plexs_200(paths, settings, tracker) -> None:
    tracker.mode = "hang"
    core = await started(paths, settings, tracker.url)
    try:
        await burst(core, 5, clients=1)
        await wait_for(lambda: tracker.hanging, timeout=5)  # a send is stuck at the target
        latencies = await burst(core, 100, clients=8, start=10)
        assert max(latencies) < FAST.timeout / 2, f"slowest 200 took {max(latencies) * 1000:.0f} ms"
        await wait_for(lambda: _state(core, DestinationState.FAILING), timeout=5)
        d = await relay_status(core)
        assert d.state is DestinationState.FAILING and "no answer within 1 s" in (d.reason or "")
        tracker.mode = "ok"
        await delivered_all(core)
        assert len(set(event_ids(tracker))) == 105
    finally:
        await core.stop()


async def test_two_targets_one_dead_the_live_one_is_not_delayed(paths, settings, tracker) -> None:
    async with FakeTracker(secret=SECRET, limit=100, window=1.0) as dead:
        dead.mode = "refuse"
        core = await started(paths, settings, dead.url, tracker.url)
        try:
            t = time.perf_counter()
            await burst(core, 50)
            await delivered_all(core, "relay-2")
            assert time.perf_counter() - t < 5
            assert len(set(event_ids(tracker))) == 50
            assert (await relay_status(core, "relay-1")).pending == 50
            assert core.runtime.store is not None
        finally:
            await core.stop()


async def test_only_watched_relays_what_counted(paths, settings, tracker) -> None:
    core = await started(paths, settings, tracker.url, only_watched=True)
    try:
        url = webhook_url(core)
        await post(url, episode_payload(1, 1, event="media.play"))
        await post(url, episode_payload(1, 1))
        await post(url, episode_payload(1, 1))  # the same play again: a duplicate
        await settled(core)
        await delivered_all(core)
        assert [r.payload_event for r in tracker.requests] == ["media.scrobble"]
    finally:
        await core.stop()


async def test_redirect_to_another_host_is_not_followed(paths, settings, tracker) -> None:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(tracker.url.replace("127.0.0.1", "localhost"))

    app = web.Application()
    app.router.add_post("/hook", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    core = await started(paths, settings, f"http://127.0.0.1:{port}/hook?secret={SECRET}")
    try:
        await burst(core, 1, clients=1)
        await wait_for(lambda: _failed(core), timeout=10)
        d = await relay_status(core)
        assert "another host (not followed)" in (d.reason or "")
        assert not tracker.requests
    finally:
        await core.stop()
        await runner.cleanup()


async def _failed(core: Core) -> bool:
    return (await relay_status(core)).failed > 0


async def test_secrets_in_target_urls_never_reach_the_log(paths, settings, tracker, caplog) -> None:
    tracker.mode = "forbidden"
    caplog.set_level(logging.INFO)
    core = await started(paths, settings, tracker.url)
    try:
        await burst(core, 2, clients=1)
        await wait_for(lambda: _failed(core), timeout=10)
        attempt = await core.test_destination("relay-1")
        assert attempt.status == 403
        report = core.report(await core.diagnostics())
        d = await relay_status(core)
        assert d.target == f"http://127.0.0.1:{tracker.port}/api/plex/webhook?secret=•••"
        for text in (caplog.text, report, repr(d)):
            assert SECRET not in text
        assert "Web tracker at" in report
    finally:
        await core.stop()


async def test_a_restart_sends_what_a_previous_run_left(paths, settings, tracker) -> None:
    tracker.mode = "refuse"
    core = await started(paths, settings, tracker.url)
    await burst(core, 30)
    await settled(core)
    await core.stop()
    tracker.mode = "ok"
    core = Core(paths, timing=Timing(backoff_base=300, backoff_cap=300))  # settings from the file; a long back-off
    await core.start()
    try:
        await delivered_all(core, timeout=10)
        assert len(set(event_ids(tracker))) == 30
    finally:
        await core.stop()


async def test_diagnostics_say_which_hop_failed_and_what_waits(paths, settings, tracker) -> None:
    core = await started(paths, settings, tracker.url)
    try:
        ok = {c.name: c for c in await core.diagnostics()}[f"Web tracker at 127.0.0.1:{tracker.port}"]
        assert ok.status == "pass" and "accepted (HTTP 200" in ok.detail
        tracker.mode = "refuse"
        await burst(core, 3, clients=1)
        await wait_for(lambda: _state(core, DestinationState.FAILING), timeout=5)
        checks = {c.name: c for c in await core.diagnostics()}
        reach = checks[f"Web tracker at 127.0.0.1:{tracker.port}"]
        assert reach.status == "fail" and "cannot connect to 127.0.0.1" in reach.detail
        assert "npm run dev" in reach.fix
        queue = checks[f"Web tracker at 127.0.0.1:{tracker.port}: queue"]
        assert queue.status == "warn" and queue.detail.startswith("3 event(s) waiting since")
        tracker.mode = "forbidden"
        reach = {c.name: c for c in await core.diagnostics()}[f"Web tracker at 127.0.0.1:{tracker.port}"]
        assert "refused (HTTP 403" in reach.detail and "secret" in reach.fix
    finally:
        await core.stop()


async def test_attention_once_a_destination_has_failed_for_five_minutes(paths, settings, tracker,
                                                                        monkeypatch) -> None:
    monkeypatch.setattr("app.core.types.FAILING_FOR_ATTENTION", 0.5)  # five minutes, shortened
    monkeypatch.setattr("app.core.runtime.delivery.WATCH_EVERY", 0.1)
    tracker.mode = "refuse"
    core = await started(paths, settings, tracker.url)
    try:
        await burst(core, 1, clients=1)
        await wait_for(lambda: _state(core, DestinationState.FAILING), timeout=5)
        assert core.status.destinations_failing == 0 and not core.status.attention  # not yet
        await wait_for(lambda: core.status.destinations_failing == 1, timeout=5)
        assert core.status.attention and (await relay_status(core)).attention
        tracker.mode = "ok"
        await wait_for(lambda: core.status.destinations_failing == 0, timeout=5)
        assert not core.status.attention
    finally:
        await core.stop()
