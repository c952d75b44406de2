"""Simkl as a destination over real HTTP against the stand-in (tests/fake_simkl.py), and
what is playing now on Trakt: plays to the history once each, Simkl's limits waited out,
live events shown only while they are live; no secret anywhere the user can read."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.core.config import Paths, Settings
from app.core.credentials import get_secret, set_secret
from app.core.destinations.base import Context, Verdict
from app.core.destinations.online.signin import Tokens
from app.core.destinations.online.simkl import SimklTracker
from app.core.destinations.online.target import SimklTarget
from app.core.destinations.sender import Timing
from app.core.facade import Core
from app.core.types import Action
from tests.fake_simkl import FakeSimkl
from tests.fake_trakt import FakeTrakt
from tests.helpers import BREAKING_BAD, episode_payload, post, sample, wait_for, webhook_url
from tests.test_trakt import delivery, signed_in, tracker

FAST = Timing(timeout=1.0, backoff_base=0.05, backoff_cap=0.3)


@pytest.fixture
async def simkl(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeSimkl]:
    fake = FakeSimkl()
    await fake.start()
    monkeypatch.setenv("SCROBBLETRAY_SIMKL_API_URL", fake.api_url)
    fake.add_show("Breaking Bad", {"tmdb": 1396, "tvdb": 81189, "imdb": "tt0903747"}, {1: 7, 2: 13})
    yield fake
    await fake.close()


def simkl_tracker(paths: Paths, settings: Settings, fake: FakeSimkl) -> SimklTracker:
    set_secret(paths, "simkl-1-tokens", Tokens(fake.sign_in()).to_json())
    return SimklTracker(SimklTarget("simkl-1", client_id=fake.client_id),
                        Context(lambda: settings, lambda k: get_secret(paths, k), 1.0))


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


async def test_simkl_takes_episodes_and_movies_and_a_play_that_may_have_arrived_is_looked_up_first(
        paths: Paths, settings: Settings, simkl: FakeSimkl) -> None:
    simkl.add_movie("Heat", 1995, {"imdb": "tt0113277", "tmdb": 949})
    dest = simkl_tracker(paths, settings, simkl)
    at = now() - timedelta(hours=26)
    try:
        episode = await dest.send(delivery(episode_payload(1, 4), at))
        movie = await dest.send(delivery(sample("scrobble-legacy-imdb-movie"), at, 2))
        simkl.record_then_hang = True
        lost = await dest.send(delivery(episode_payload(2, 1), at, 3))
        simkl.record_then_hang = False
        again = await dest.send(delivery(episode_payload(2, 1), at, 3, outcome=lost.outcome))
    finally:
        await dest.close()
    assert episode.verdict is Verdict.DELIVERED and movie.verdict is Verdict.DELIVERED, (episode, movie)
    assert lost.verdict is Verdict.RETRY and lost.outcome == "unknown"
    assert again.verdict is Verdict.DELIVERED and again.outcome == "already", again
    assert [h["type"] for h in simkl.history] == ["episode", "movie", "episode"]
    assert all(h["watched_at"].startswith(at.strftime("%Y-%m-%dT%H:%M:%S")) for h in simkl.history)


async def test_simkl_s_limits_slow_sending_down_and_every_play_goes_once_in_order(
        paths: Paths, settings: Settings, simkl: FakeSimkl, monkeypatch: pytest.MonkeyPatch) -> None:
    simkl.min_interval, simkl.limit_status = 0.15, 403  # "403 ... due to API limits"
    monkeypatch.setattr(SimklTracker, "min_interval", 0.1)  # faster than it takes: it must learn
    settings.rate_limit_per_minute = 0
    core = Core(paths, settings, timing=FAST)
    await core.start()
    try:
        assert core.runtime.store is not None
        await core.runtime.run(core.runtime.store.add_show, **BREAKING_BAD)
        did = await core.add_destination("simkl", "", client_id=simkl.client_id)
        set_secret(paths, f"{did}-tokens", Tokens(simkl.sign_in()).to_json())
        await core.sign_in_changed(did)
        for n in range(1, 13):
            assert (await post(webhook_url(core), episode_payload(2, n)))[0] == 200

        async def drained() -> bool:
            row = next(d for d in await core.destinations() if d.id == did)
            return row.pending == 0 and row.delivered == 12
        await wait_for(drained, timeout=30, interval=0.05)
    finally:
        await core.stop()
    assert [h["episode"]["number"] for h in simkl.history] == list(range(1, 13))
    refused = [r for r in simkl.requests if r.status == 403]
    assert 1 <= len(refused) <= 3, "it slowed down instead of hammering"


@pytest.fixture
async def trakt(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTrakt]:
    fake = FakeTrakt(post_interval=0.0)
    await fake.start()
    monkeypatch.setenv("SCROBBLETRAY_TRAKT_API_URL", fake.api_url)
    monkeypatch.setenv("SCROBBLETRAY_TRAKT_AUTH_URL", fake.auth_url)
    fake.add_show("Breaking Bad", {"tmdb": 1396}, {1: 7})
    yield fake
    await fake.close()


def live(event: str, offset: float, at: datetime, n: int = 1) -> Any:
    payload = episode_payload(1, 2, event=event, viewOffset=int(offset * 3_000_000), duration=3_000_000)
    return delivery(payload, at, n, action=Action.IGNORED)


async def test_what_is_playing_now_is_shown_on_trakt_only_while_it_is_live(
        paths: Paths, settings: Settings, trakt: FakeTrakt) -> None:
    dest = tracker(paths, settings)
    signed_in(paths, trakt)
    await dest.reload()
    try:
        start = await dest.send(live("media.play", 0.1, now()))
        assert start.outcome == "scrobble_start" and trakt.playing, start
        paused = await dest.send(live("media.pause", 0.3, now(), 2))
        backlog = await dest.send(live("media.resume", 0.3, now() - timedelta(minutes=10), 3))
        near_end = await dest.send(live("media.stop", 0.95, now(), 4))
    finally:
        await dest.close()
    assert paused.outcome == "scrobble_pause"
    assert backlog.outcome == "stale" and near_end.outcome == "not_sent"
    assert [r.path for r in trakt.requests if r.path.startswith("/scrobble")] == ["/scrobble/start", "/scrobble/pause"]
    assert trakt.history == [], "a live event never counts a play"


async def test_secrets_are_never_in_settings_status_the_log_or_a_report(
        paths: Paths, settings: Settings, trakt: FakeTrakt, caplog: pytest.LogCaptureFixture) -> None:
    core = Core(paths, settings, timing=FAST)
    await core.start()
    try:
        assert core.runtime.store is not None
        await core.runtime.run(core.runtime.store.add_show, **BREAKING_BAD)
        did = await core.add_destination("trakt", "", client_id=trakt.client_id, client_secret=trakt.client_secret)
        tokens = signed_in(paths, trakt, did, lifetime=60)  # renewed at the first send
        await core.sign_in_changed(did)
        assert (await post(webhook_url(core), episode_payload(1, 5)))[0] == 200
        await wait_for(lambda: trakt.history, timeout=10)
        trakt.expire_access_tokens()
        checks = await core.diagnostics()
        report = core.report(checks)
        rows = json.dumps([d.__dict__ for d in await core.destinations()], default=str)
        renewed = Tokens.from_json(get_secret(paths, f"{did}-tokens") or "")
    finally:
        await core.stop()
    assert renewed.refresh_token != tokens.refresh_token and trakt.refreshes >= 1
    secrets = [trakt.client_secret, tokens.access_token, tokens.refresh_token, renewed.access_token,
               renewed.refresh_token]
    shown = [paths.settings_file.read_text(), report, rows, caplog.text, repr(tokens), repr(renewed)]
    shown += [p.read_text(errors="replace") for p in paths.data_dir.glob("*.json") if p.name != "keyring.json"]
    shown += [p.read_text(errors="replace") for p in paths.data_dir.rglob("*.log")]
    for secret in secrets:
        assert secret and not any(secret in text for text in shown)
