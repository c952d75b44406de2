"""What each tracker's answers mean, over real HTTP to its stand-in: the answers that look
like success but are not (CrossWatch's 200 for a wrong profile or a setting that drops
everything), the ones that never change (Movary without lastViewedAt), a wrong path, a
goplaxt id forgotten; and the stand-ins' own behaviour where the trackers surprise
(Yamtrack's de-duplication, MediaTracker's 401, goplaxt's dropped connection)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from app.core.destinations.base import Verdict
from app.core.destinations.relay import Relay, RelayTarget
from app.core.types import DestinationState, DestinationStatus
from app.present.state import destination_words
from tests.fake_selfhosted import MediaTracker, Movary, Yamtrack
from tests.fake_selfhosted_raw import CrossWatch, Goplaxt
from tests.helpers import post, sample


async def answer_to_test(url: str, preset: str) -> Any:
    relay = Relay(RelayTarget(id="relay-1", url=url, preset=preset), timeout=2.0)
    try:
        return await relay.test()
    finally:
        await relay.close()


async def sent(url: str, preset: str, payload: dict[str, Any]) -> Any:
    import json

    from app.core.destinations.base import Delivery

    relay = Relay(RelayTarget(id="relay-1", url=url, preset=preset), timeout=2.0)
    try:
        return await relay.send(Delivery(1, 1, json.dumps(payload), 0, None))
    finally:
        await relay.close()


@pytest.mark.parametrize("gate, words", [
    ("no_destinations", "CrossWatch ignored it: it has no destination selected for Plex webhooks"),
    ("provider_not_connected", "CrossWatch ignored it: it is not connected to Plex for this profile"),
    ("profile_disabled", "CrossWatch ignored it: it has webhooks turned off for this profile"),
])
async def test_crosswatchs_200_that_drops_everything_is_said_as_refused(gate: str, words: str) -> None:
    async with CrossWatch(gate=gate) as t:
        attempt = await answer_to_test(t.url(), "crosswatch")
    assert attempt.verdict is Verdict.REFUSED and words in attempt.detail
    assert "CrossWatch's Scrobbler settings" in (attempt.fix or "")


async def test_crosswatch_with_a_webhook_secret_and_its_legacy_token() -> None:
    async with CrossWatch(webhook_secret="plex-secret") as t:
        attempt = await sent(t.url(), "crosswatch", sample("scrobble-movie"))
        assert attempt.verdict is Verdict.REFUSED and "CrossWatch wants a Plex signature" in attempt.detail
        assert "Clear the Plex webhook secret" in (attempt.fix or "") and t.scrobbles == []
        legacy = f"http://127.0.0.1:{t.port}/webhook/plextrakt?wrong"
        relay = Relay(RelayTarget(id="relay-1", url=legacy, preset="other"), timeout=2.0)
        try:  # (not the preset's shape: the legacy route as another tracker, for its 401)
            said = await relay.test()
        finally:
            await relay.close()
        assert said.status == 401 and "invalid_webhook_token" in said.detail
    async with CrossWatch() as t:
        attempt = await sent(t.url(), "crosswatch", sample("scrobble-movie"))
        assert attempt.verdict is Verdict.DELIVERED and [r.detail["action"] for r in t.scrobbles] == ["stop"]


async def test_goplaxt_a_wrong_path_a_forgotten_id_and_a_renewal_that_failed() -> None:
    async with Goplaxt() as t:
        wrong_path = await answer_to_test(f"http://127.0.0.1:{t.port}/api/plex?id={t.user_id}", "other")
        assert wrong_path.status == 404
        ok = await sent(t.url(), "goplaxt", sample("scrobble-new-agent-episode"))
        assert ok.verdict is Verdict.DELIVERED and [(r.detail["action"], r.detail["progress"]) for r in t.to_trakt] == [
            ("stop", 90)]
        other_user = {**sample("scrobble-shared-user")}
        assert (await sent(t.url(), "goplaxt", other_user)).verdict is Verdict.DELIVERED and len(t.to_trakt) == 1
        shouting = sample("scrobble-movie")
        shouting["Account"]["title"] = "HomeOwner"  # (it compares the name lower-cased)
        assert (await sent(t.url(), "goplaxt", shouting)).verdict is Verdict.DELIVERED and len(t.to_trakt) == 2
    async with Goplaxt(expired=True) as t:
        first = await answer_to_test(t.url(), "goplaxt")
        assert first.verdict is Verdict.REFUSED and "could not renew its Trakt sign-in" in first.detail
        again = await answer_to_test(t.url(), "goplaxt")
        assert "goplaxt does not know this id" in again.detail  # it deleted the user
        assert "Authorize again on goplaxt's page" in (again.fix or "")


async def test_movary_refuses_for_good_a_scrobble_without_its_date_and_ignores_a_play() -> None:
    async with Movary() as t:
        undated = sample("scrobble-movie")  # (no lastViewedAt)
        attempt = await sent(t.url(), "movary", undated)
        assert attempt.verdict is Verdict.REFUSED and "Movary cannot date a play without" in attempt.detail
        play = {**sample("scrobble-movie"), "event": "media.play"}
        ignored = await sent(t.url(), "movary", play)
        assert ignored.verdict is Verdict.DELIVERED and "Movary answers 200 for events it ignores too" in ignored.detail
        assert t.plays == {}


async def test_yamtrack_a_wrong_path_and_its_de_duplication_within_the_same_minute() -> None:
    async with Yamtrack() as t:
        wrong = await answer_to_test(f"http://127.0.0.1:{t.port}/webhook/jellyfin/{t.token}", "yamtrack")
        assert wrong.verdict is Verdict.REFUSED and "nothing at this path" in wrong.detail
        assert "http://HOST:8000/webhook/plex/TOKEN" in (wrong.fix or "")
        scrobble = sample("scrobble-new-agent-episode")
        if datetime.now(UTC).second >= 58:  # (both sends in the same minute, as a quick repeat is)
            import asyncio
            await asyncio.sleep(3)
        for _ in range(2):
            assert (await sent(t.url(), "yamtrack", scrobble)).verdict is Verdict.DELIVERED
        assert len(t.episodes) == 1, "a repeat within 5 s is one play there"
        async with aiohttp.ClientSession() as s, s.post(t.url(), data={"other": "x"}) as r:
            assert (r.status, await r.text()) == (400, "Missing payload")


async def test_mediatracker_says_401_as_it_does_and_a_header_token_works() -> None:
    async with MediaTracker() as t:
        async with aiohttp.ClientSession() as s, s.post(f"http://127.0.0.1:{t.port}/api/plex",
                                                        data={"payload": "{}"}, allow_redirects=False) as r:
            assert (r.status, r.headers["Location"], await r.text()) == (
                401, "/#login", "Unauthorized. Redirecting to /#login")
        status, _ = await post(f"http://127.0.0.1:{t.port}/api/plex?token={t.token}", sample("scrobble-movie"))
        assert status == 200 and len(t.seen) == 1


async def test_goplaxt_drops_the_connection_for_a_body_without_json() -> None:
    async with Goplaxt() as t, aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientError):
            async with s.post(t.url(), data=b"no json here") as r:
                await r.read()


def test_the_status_says_a_late_backlog_while_delivering() -> None:
    late = "events 40 min late: Yamtrack dates each play when it receives it, not when it was played"
    d = DestinationStatus("relay-1", "relay", "Yamtrack at nas.lan:8000", DestinationState.DELIVERING,
                          pending=3, late=late)
    _, words, _ = destination_words(d)
    assert words == f"Delivering: 3 waiting; {late}"
    _, words, _ = destination_words(DestinationStatus("relay-1", "relay", "x", DestinationState.OK, late=None))
    assert words == "Up to date"
