"""The relay against a tracker that misbehaves the way a real one can (over real HTTP on
127.0.0.1): nonsense in ``Retry-After``, a wait of days, an HTTP date, 429s that say
nothing, a redirect to nowhere. Every wait stays bounded and said, Retry cuts it short, and
the sender goes on with the next event."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web

from app.core.destinations.relay import EVENT_ID_HEADER
from app.core.facade import Core
from app.core.types import DeliveryState, DestinationState
from tests.helpers import wait_for
from tests.test_relay import burst, relay_status, started

Answer = tuple[int, dict[str, str]]  # status, headers
OK: Answer = (200, {})


class Scripted:
    """A tracker's webhook endpoint that answers request ``n`` (from 0) as ``script(n, t)``
    says, ``t`` being the seconds since it started; it notes each event id and status."""

    def __init__(self, script: Callable[[int, float], Answer]) -> None:
        self.script = script
        self.seen: list[tuple[float, int, int]] = []  # (monotonic time, event id, status)
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.started = time.monotonic()

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        status, headers = self.script(len(self.seen), time.monotonic() - self.started)
        self.seen.append((time.monotonic(), int(request.headers[EVENT_ID_HEADER]), status))
        return web.json_response({"status": status}, status=status, headers=headers)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/plex/webhook?secret=s3cret-s3cret"

    def delivered(self) -> list[int]:
        return [e for _, e, status in self.seen if status == 200]


@pytest.fixture
async def scripted() -> AsyncIterator[Callable[[Callable[[int, float], Answer]], Scripted]]:
    made: list[Scripted] = []

    def make(script: Callable[[int, float], Answer]) -> Scripted:
        target = Scripted(script)
        made.append(target)
        return target

    yield make
    for target in made:
        if target.runner is not None:
            await target.runner.cleanup()


async def _relaying(paths, settings, target: Scripted) -> Core:  # type: ignore[no-untyped-def]
    await target.start()
    return await started(paths, settings, target.url)


@pytest.mark.parametrize("said", ["inf", "1e400", "9" * 400, "nan", "soon", "-5"])
async def test_retry_after_nonsense_is_ignored_and_the_sender_goes_on(paths, settings, scripted, said) -> None:
    target = scripted(lambda n, t: (503, {"Retry-After": said}) if n == 0 else OK)
    core = await _relaying(paths, settings, target)
    try:
        await burst(core, 3, clients=1)
        await wait_for(lambda: len(set(target.delivered())) == 3, timeout=10)
        d = await relay_status(core)
        assert d.state is not DestinationState.FAILING and d.failed == 0
    finally:
        await core.stop()


@pytest.mark.parametrize("said", ["0", "-5", "nan"])
async def test_a_tracker_asking_for_no_wait_is_not_hammered(paths, settings, scripted, said) -> None:
    target = scripted(lambda n, t: (503, {"Retry-After": said}))
    core = await _relaying(paths, settings, target)
    try:
        await burst(core, 1, clients=1)
        await wait_for(lambda: target.seen, timeout=5)
        await asyncio.sleep(1.5)
        # A floor of 1 s for "0"; the sender's own back-off (0.05 s doubling to 0.3 s in
        # these tests) for what is no wait at all. Without them: hundreds a second.
        assert len(target.seen) <= 12, f"{len(target.seen)} requests in 1.5 s"
    finally:
        await core.stop()


async def test_an_http_date_in_retry_after_is_obeyed_and_said(paths, settings, scripted) -> None:
    def script(n: int, t: float) -> Answer:
        when = datetime.now(UTC) + timedelta(seconds=3)
        return (503, {"Retry-After": format_datetime(when, usegmt=True)}) if n == 0 else OK

    target = scripted(script)
    core = await _relaying(paths, settings, target)
    try:
        await burst(core, 1, clients=1)
        await wait_for(lambda: target.seen, timeout=5)
        d = await relay_status(core)
        assert d.state is DestinationState.FAILING
        assert "the tracker asked to wait until" in (d.reason or ""), d.reason
        await wait_for(lambda: target.delivered(), timeout=10)
        first, second = target.seen[0][0], target.seen[1][0]
        assert second - first >= 1.5, f"sent again after {second - first:.2f} s"
    finally:
        await core.stop()


def _until(reason: str) -> float:
    """Seconds from now to the "until HH:MM:SS" (local time) in ``reason``."""
    m = re.search(r"until (\d\d):(\d\d):(\d\d)", reason)
    assert m, reason
    now = datetime.now()
    then = now.replace(hour=int(m[1]), minute=int(m[2]), second=int(m[3]), microsecond=0)
    return (then - now).total_seconds() % 86400


@pytest.mark.parametrize("said", ["999999", "300000000000"])  # 11.6 days; past what a date can hold
async def test_a_wait_of_days_is_capped_said_and_retry_cuts_it_short(paths, settings, scripted, said) -> None:
    target = scripted(lambda n, t: (429, {"Retry-After": said}) if n == 0 else OK)
    core = await _relaying(paths, settings, target)
    try:
        await burst(core, 3, clients=1)
        await wait_for(lambda: target.seen, timeout=5)
        await asyncio.sleep(0.5)
        d = await relay_status(core)
        assert d.pending == 3 and not target.delivered()
        assert "the tracker asked to wait until" in (d.reason or ""), d.reason
        assert _until(d.reason or "") <= 301, "a wait past the cap of 5 minutes"
        await core.retry_destination("relay-1")  # the user's Retry: every wait and the pace reset
        await wait_for(lambda: len(target.delivered()) == 3, timeout=5)
        assert (await relay_status(core)).reason is None
    finally:
        await core.stop()


async def test_429s_without_retry_after_do_not_slow_the_backlog_once_the_tracker_recovers(
        paths, settings, scripted) -> None:
    recovered_at = 1.5  # seconds after the first request

    def script(n: int, t: float) -> Answer:
        return (429, {}) if not target.seen or target.seen[0][0] + recovered_at > time.monotonic() else OK

    target = scripted(script)
    core = await _relaying(paths, settings, target)
    try:
        core.set_paused(True)  # a backlog, as after an outage
        await burst(core, 40)
        core.set_paused(False)
        await wait_for(lambda: len(set(target.delivered())) == 40, timeout=30)
        took = target.seen[-1][0] - (target.seen[0][0] + recovered_at)
        assert took < 3, f"the backlog took {took:.1f} s after the tracker recovered"
        assert len(target.seen) - 40 < 30, "hammered while rate-limited"
    finally:
        await core.stop()


async def test_a_redirect_to_an_address_that_is_not_valid_fails_that_event_only(paths, settings, scripted) -> None:
    target = scripted(lambda n, t: (307, {"Location": "http://127.0.0.1:99999/hook"}) if n == 1 else OK)
    core = await _relaying(paths, settings, target)
    try:
        await burst(core, 3, clients=1)
        await wait_for(lambda: len(target.delivered()) == 2, timeout=10)
        rows = await core.scrobbles()
        marks = sorted((r.id, r.deliveries[0].state, r.deliveries[0].detail) for r in rows)
        assert [m[1] for m in marks] == [DeliveryState.DELIVERED, DeliveryState.FAILED, DeliveryState.DELIVERED]
        assert "redirected to an address that is not valid" in (marks[1][2] or "")
    finally:
        await core.stop()
