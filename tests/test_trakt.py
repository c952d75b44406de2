"""Trakt as a destination, over real HTTP against the stand-in (tests/fake_trakt.py):
plays delivered with the right ids and the time Plex gave, once each, at Trakt's pace,
through a token renewal, and every answer that is not a yes said in words."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.core.config import Paths, Settings
from app.core.credentials import get_secret, set_secret
from app.core.destinations.base import Context, Delivery, Verdict
from app.core.destinations.online.signin import Tokens
from app.core.destinations.online.target import TraktTarget
from app.core.destinations.online.trakt import TraktTracker
from app.core.destinations.sender import Timing
from app.core.facade import Core
from app.core.types import Action, DeliveryState
from tests.fake_trakt import FakeTrakt
from tests.helpers import BREAKING_BAD, episode_payload, post, sample, wait_for, webhook_url

FAST = Timing(timeout=1.0, backoff_base=0.05, backoff_cap=0.3)
CID, SECRET = "trakt-cid", "trakt-secret"


@pytest.fixture
async def trakt(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTrakt]:
    fake = FakeTrakt(CID, SECRET, post_interval=0.0)  # (a test that paces says so)
    await fake.start()
    monkeypatch.setenv("SCROBBLETRAY_TRAKT_API_URL", fake.api_url)
    monkeypatch.setenv("SCROBBLETRAY_TRAKT_AUTH_URL", fake.auth_url)
    fake.add_show("Breaking Bad", {"tmdb": 1396, "tvdb": 81189, "imdb": "tt0903747"}, {1: 7, 2: 13})
    yield fake
    await fake.close()


def signed_in(paths: Paths, fake: FakeTrakt, target_id: str = "trakt-1", lifetime: float = 7 * 86400) -> Tokens:
    """Tokens the stand-in issued, kept as a sign-in would keep them."""
    grant = fake.issue()
    tokens = Tokens(grant.access_token, grant.refresh_token, time.time() + lifetime)
    set_secret(paths, f"{target_id}-tokens", tokens.to_json())
    return tokens


def target(**kw: Any) -> TraktTarget:
    return TraktTarget("trakt-1", client_id=CID, **kw)


def tracker(paths: Paths, settings: Settings, **kw: Any) -> TraktTracker:
    set_secret(paths, "trakt-1-client-secret", SECRET)
    return TraktTracker(target(**kw), Context(lambda: settings, lambda k: get_secret(paths, k), 1.0,
                                              keep=lambda k, v: set_secret(paths, k, v)))


def delivery(payload: dict[str, Any], at: datetime, n: int = 1, outcome: str | None = None,
             action: Action = Action.MARKED) -> Delivery:
    return Delivery(n, n, json.dumps(payload), 0, None, at, None, outcome, action.value)


async def core_with_trakt(paths: Paths, settings: Settings, fake: FakeTrakt) -> Core:
    core = Core(paths, settings, timing=FAST)
    await core.start()
    assert core.runtime.store is not None
    await core.runtime.run(core.runtime.store.add_show, **BREAKING_BAD)
    did = await core.add_destination("trakt", "", client_id=CID, client_secret=SECRET)
    signed_in(paths, fake, did)
    await core.sign_in_changed(did)
    return core


async def trakt_row(core: Core) -> Any:
    return next(d for d in await core.destinations() if d.id == "trakt-1")


async def test_episodes_and_movies_go_to_the_history_with_their_ids_and_the_time_plex_gave(
        paths: Paths, settings: Settings, trakt: FakeTrakt) -> None:
    trakt.add_movie("Heat", 1995, {"imdb": "tt0113277", "tmdb": 949})
    dest = tracker(paths, settings)
    signed_in(paths, trakt)
    await dest.reload()
    late = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=26)  # delivered 26 hours late
    try:
        episode = await dest.send(delivery(episode_payload(2, 5), late))
        movie = await dest.send(delivery(sample("scrobble-legacy-imdb-movie"), late, 2))
    finally:
        await dest.close()
    assert episode.verdict is Verdict.DELIVERED, episode.detail
    assert movie.verdict is Verdict.DELIVERED, movie.detail
    first, second = trakt.history
    assert first["type"] == "episode" and first["show"]["ids"]["tmdb"] == 1396
    assert (first["episode"]["season"], first["episode"]["number"]) == (2, 5)
    assert second["type"] == "movie" and second["movie"]["ids"]["imdb"] == "tt0113277"
    when = late.strftime("%Y-%m-%dT%H:%M:%S")
    assert first["watched_at"].startswith(when) and second["watched_at"].startswith(when)


async def test_a_timeout_after_trakt_recorded_the_play_does_not_record_it_twice(
        paths: Paths, settings: Settings, trakt: FakeTrakt) -> None:
    dest = tracker(paths, settings)
    signed_in(paths, trakt)
    await dest.reload()
    at = datetime.now(UTC).replace(tzinfo=None)
    trakt.record_then_hang = True
    try:
        first = await dest.send(delivery(episode_payload(1, 1), at))
        assert first.verdict is Verdict.RETRY and first.outcome == "unknown", first
        assert len(trakt.history) == 1
        trakt.record_then_hang = False
        again = await dest.send(delivery(episode_payload(1, 1), at, outcome=first.outcome))
    finally:
        await dest.close()
    assert again.verdict is Verdict.DELIVERED and again.outcome == "already", again
    assert len(trakt.history) == 1


async def test_not_found_is_parked_with_what_was_sent_and_the_next_goes_on(
        paths: Paths, settings: Settings, trakt: FakeTrakt) -> None:
    dest = tracker(paths, settings)
    signed_in(paths, trakt)
    await dest.reload()
    at = datetime.now(UTC).replace(tzinfo=None)
    try:
        unknown = await dest.send(delivery(episode_payload(
            1, 1, "Nobody Knows", grandparentGuid="com.plexapp.agents.themoviedb://999999?lang=en"), at))
        known = await dest.send(delivery(episode_payload(1, 2), at, 2))
    finally:
        await dest.close()
    assert unknown.verdict is Verdict.REFUSED and unknown.outcome == "not_found"
    assert "Nobody Knows S01E01" in unknown.detail and "tmdb 999999" in unknown.detail and unknown.fix
    assert known.verdict is Verdict.DELIVERED


async def test_420_is_said_as_an_account_limit_and_not_retried(
        paths: Paths, settings: Settings, trakt: FakeTrakt) -> None:
    dest = tracker(paths, settings)
    signed_in(paths, trakt)
    await dest.reload()
    trakt.account_limit = True
    try:
        attempt = await dest.send(delivery(episode_payload(1, 1), datetime.now(UTC).replace(tzinfo=None)))
    finally:
        await dest.close()
    assert attempt.verdict is Verdict.REFUSED and attempt.status == 420
    assert "account's limit" in attempt.detail and "VIP" in (attempt.fix or "")
    assert trakt.history == []


async def test_a_backlog_of_300_drains_in_order_at_the_pace_allowed_through_a_token_renewal(
        paths: Paths, settings: Settings, trakt: FakeTrakt, monkeypatch: pytest.MonkeyPatch) -> None:
    # Trakt's one POST a second and its block after a 429, on a clock twenty times faster.
    trakt.post_interval, trakt.block_seconds = 0.05, 15.0
    monkeypatch.setattr(TraktTracker, "min_interval", TraktTracker.min_interval / 20)
    settings.rate_limit_per_minute = 0
    trakt.add_show("Long Show", {"tmdb": 4242}, {1: 300})
    core = await core_with_trakt(paths, settings, trakt)
    await core.runtime.run(core.runtime._store().add_show, title="Long Show", year=2020, tmdb_id=4242)
    try:
        await trakt.down()  # the outage
        url = webhook_url(core)
        for n in range(1, 301):
            status, _ = await post(url, episode_payload(
                1, n, "Long Show", grandparentGuid="com.plexapp.agents.themoviedb://4242?lang=en",
                ratingKey=str(900000 + n)))
            assert status == 200

        async def queued() -> bool:
            return (await trakt_row(core)).pending == 300
        await wait_for(queued, timeout=30)
        await trakt.up()

        async def half() -> bool:
            return len(trakt.history) >= 150
        await wait_for(half, timeout=60, interval=0.05)
        trakt.expire_access_tokens()  # mid-backlog: the next POST is refused, renewed, sent again

        async def drained() -> bool:
            return (await trakt_row(core)).pending == 0
        await wait_for(drained, timeout=60, interval=0.1)
    finally:
        await core.stop()
    numbers = [h["episode"]["number"] for h in trakt.history]
    assert numbers == list(range(1, 301)), "each once, in order"
    limited = [r.at for r in trakt.requests if r.status == 429]
    assert len(limited) <= 1, "no storm of 429s"
    assert not limited or not [r for r in trakt.requests if limited[0] < r.at < limited[0] + 15], \
        "nothing sent during Trakt's block"
    assert trakt.refreshes == 1
    row_states = {d.state for d in await core_rows(paths, settings)}
    assert row_states == {DeliveryState.DELIVERED}


async def core_rows(paths: Paths, settings: Settings) -> list[Any]:
    from app.core.runtime import open_store

    store = open_store(paths, settings)
    with store.sessions() as session:
        from sqlalchemy import select

        from app.core.models import Delivery as Row
        return list(session.scalars(select(Row)))


async def test_a_live_play_reaches_trakt_s_scrobble_and_diagnostics_name_each_hop(
        paths: Paths, settings: Settings, trakt: FakeTrakt) -> None:
    core = await core_with_trakt(paths, settings, trakt)
    try:
        payload = episode_payload(1, 2, event="media.play", viewOffset=60_000, duration=3_000_000)
        assert (await post(webhook_url(core), payload))[0] == 200
        await wait_for(lambda: [r for r in trakt.requests if r.path == "/scrobble/start"], timeout=10)
        checks = {c.name: c for c in await core.diagnostics() if c.name.startswith("Trakt")}
        assert [c.status.value for c in checks.values()] == ["pass", "pass", "pass"], checks
        assert "the account" in checks["Trakt: API"].detail
        await trakt.down()
        down = {c.name: c for c in await core.diagnostics() if c.name.startswith("Trakt")}
        assert down["Trakt: network"].status.value == "fail" and "could not reach" in down["Trakt: network"].detail
        await trakt.up()
        await core.sign_out("trakt-1")
        out = {c.name: c for c in await core.diagnostics() if c.name.startswith("Trakt")}
        assert out["Trakt: sign-in"].status.value == "fail" and "login trakt-1" in out["Trakt: sign-in"].fix
    finally:
        await core.stop()
    assert trakt.history == []


async def test_a_play_plex_gives_no_ids_for_goes_by_the_built_in_tracker_s_show(
        paths: Paths, settings: Settings, trakt: FakeTrakt) -> None:
    core = await core_with_trakt(paths, settings, trakt)
    try:
        payload = episode_payload(2, 3, grandparentGuid="local://55", guid="local://56")
        assert (await post(webhook_url(core), payload))[0] == 200
        await wait_for(lambda: trakt.history, timeout=10)
    finally:
        await core.stop()
    assert trakt.history[0]["show"]["ids"]["tmdb"] == 1396 and trakt.history[0]["episode"]["number"] == 3
