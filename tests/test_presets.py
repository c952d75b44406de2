"""Relay presets over real HTTP: Scrobble Tray's webhook server in front, each self-hosted
tracker's stand-in (tests/fake_selfhosted*.py, built from its code) behind. For each
preset: the URL built from its fields, only the events it takes sent, a wrong token said
in its words; and each tracker's own ways (Movary's movies, MediaTracker's one token and
its 500s, Ryot's 202, a late backlog)."""

from __future__ import annotations

import asyncio
import copy
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from app.core.config import Paths, Settings
from app.core.destinations.base import Verdict
from app.core.destinations.presets import PRESETS
from app.core.destinations.sender import Timing
from app.core.errors import SettingsInvalid
from app.core.facade import Core
from app.core.models import WebhookEvent, utcnow
from app.core.types import DeliveryState
from tests.fake_selfhosted import MediaTracker, Movary, SelfHosted, Yamtrack
from tests.fake_selfhosted_raw import CrossWatch, Goplaxt, Ryot
from tests.fake_tracker import FakeTracker
from tests.helpers import BREAKING_BAD, episode_payload, post, sample, settled, wait_for, webhook_url

FAST = Timing(timeout=2.0, backoff_base=0.05, backoff_cap=0.3)
LEGACY_PLEX_AGENT_EPISODE = episode_payload(1, 1)  # no Guid list: a legacy agent's


class Reference(FakeTracker):
    """The reference tracker's stand-in, with the others' ``token``/``url(token)``."""

    @property
    def token(self) -> str:
        return self.secret

    def at(self, token: str | None = None) -> str:
        return f"{self.base_url}/api/plex/webhook?secret={token or self.secret}"


def standin(name: str) -> Any:
    return {"yamtrack": Yamtrack, "mediatracker": MediaTracker, "ryot": Ryot, "movary": Movary,
            "crosswatch": CrossWatch, "goplaxt": Goplaxt}.get(name, lambda: Reference(secret="rf" * 16))()


def token_of(t: Any) -> str:
    return str(getattr(t, "token", None) or getattr(t, "slug", None) or getattr(t, "webhook_id", None)
               or getattr(t, "profile", None) or t.user_id)


def url_of(t: Any, token: str | None = None) -> str:
    return t.at(token) if isinstance(t, Reference) else t.url(token)


def received(t: Any) -> list[tuple[str | None, str | None]]:
    """(event, media type) of what reached the tracker, in order."""
    if isinstance(t, FakeTracker):
        import json
        return [(r.payload_event, (json.loads(r.payload).get("Metadata") or {}).get("type"))
                for r in t.requests if r.payload]
    assert isinstance(t, SelfHosted)
    return [(r.event, r.media) for r in t.requests]


async def started(paths: Paths, settings: Settings) -> Core:
    core = Core(paths, settings, timing=FAST)
    await core.start()
    assert core.runtime.store is not None
    await core.runtime.run(core.runtime.store.add_show, **BREAKING_BAD)
    return core


async def relay_status(core: Core, relay_id: str = "relay-1") -> Any:
    return next(d for d in await core.destinations() if d.id == relay_id)


async def drained(core: Core, sent: int, relay_id: str = "relay-1") -> Any:
    """The relay's status once ``sent`` events are done (delivered or failed) and none waits."""
    async def done() -> bool:
        d = await relay_status(core, relay_id)
        return d.pending == 0 and d.delivered + d.failed >= sent
    await wait_for(done, timeout=15, interval=0.05)
    return await relay_status(core, relay_id)


def movie(event: str = "media.scrobble", **meta: Any) -> dict[str, Any]:
    data = sample("scrobble-movie")
    data["event"] = event
    data["Metadata"].update(lastViewedAt=1762160000, **meta)
    return data


def episode(event: str) -> dict[str, Any]:
    data = sample("scrobble-new-agent-episode")
    data["event"] = event
    return data


PLAYS = [episode("media.play"), episode("media.pause"), episode("media.resume"), episode("media.stop"),
         episode("media.scrobble"), movie("media.play"), movie("media.scrobble"), {**movie("media.rate"), "rating": 8}]


@pytest.mark.parametrize("name", [n for n in PRESETS if n != "other"])
async def test_each_preset_builds_its_url_tests_harmlessly_and_says_a_wrong_token_in_its_words(
        paths, settings, name) -> None:
    preset = PRESETS[name]
    async with standin(name) as t:
        url = preset.url("127.0.0.1", t.port, token_of(t))
        assert url == url_of(t) and preset.fields(url) == ("127.0.0.1", t.port, token_of(t))
        core = await started(paths, settings)
        try:
            rid = await core.add_destination("relay", url, preset=name)
            attempt = await core.test_destination(rid)
            assert attempt.verdict is Verdict.DELIVERED, attempt
            assert preset.tested in attempt.detail
            assert len(t.requests) == 1 and not _history(t), "the Test changed the tracker's history"
            d = await relay_status(core, rid)
            assert token_of(t) not in repr(d) and token_of(t) not in str(await core.scrobbles())
            assert d.label == f"{preset.title[:1].upper()}{preset.title[1:]} at 127.0.0.1:{t.port}"

            await core.update_destination(rid, url=url_of(t, "wr0ng" + token_of(t)[5:]))
            wrong = await core.test_destination(rid)
            said = {"yamtrack": "Yamtrack does not know this token", "mediatracker": "MediaTracker refused the token",
                    "ryot": "even for a wrong slug", "movary": "Movary does not know this webhook id",
                    "crosswatch": "CrossWatch ignored it: it does not know this profile token",
                    "goplaxt": "goplaxt does not know this id", "reference": "refused (HTTP 403"}[name]
            assert said in wrong.detail, wrong
            assert wrong.verdict is (Verdict.DELIVERED if name == "ryot" else Verdict.REFUSED)
            assert token_of(t)[5:] not in wrong.detail + (wrong.fix or "")
        finally:
            await core.stop()


def _history(t: Any) -> list[Any]:
    """What the tracker recorded as watched or in progress."""
    return [*getattr(t, "episodes", []), *getattr(t, "movies", {}), *getattr(t, "seen", []),
            *getattr(t, "progress", []), *getattr(t, "plays", {}), *getattr(t, "scrobbles", []),
            *getattr(t, "to_trakt", []), *getattr(t, "accepted", [])]


# Which of PLAYS each tracker acts on, as read from its code (TRACKERS.md section 3).
TAKES = {"yamtrack": [0, 4, 5, 6], "mediatracker": [4, 6], "ryot": [0, 1, 2, 3, 4, 5, 6], "movary": [6, 7],
         "crosswatch": list(range(8)), "goplaxt": [0, 1, 2, 3, 4, 5, 6], "reference": [4], "other": list(range(8))}


@pytest.mark.parametrize("name", list(PRESETS))
async def test_only_the_events_the_tracker_takes_are_sent(paths, settings, name) -> None:
    preset = PRESETS[name]
    async with standin(name) as t:
        core = await started(paths, settings)
        try:
            await core.add_destination("relay", url_of(t), preset=name)
            for payload in PLAYS:
                assert (await post(webhook_url(core), payload))[0] == 200
            await settled(core)
            wanted = [(PLAYS[i]["event"], PLAYS[i]["Metadata"]["type"]) for i in TAKES[name]]
            assert wanted == [(p["event"], p["Metadata"]["type"]) for p in PLAYS
                              if preset.wants(p["event"], p["Metadata"]["type"])]
            d = await drained(core, len(wanted))
            await asyncio.sleep(0.2)  # (nothing more goes out)
            assert received(t) == wanted and d.failed == 0
        finally:
            await core.stop()


async def test_a_movie_to_movary_is_counted_there_and_an_episode_is_not_sent(paths, settings) -> None:
    async with Movary() as t:
        core = await started(paths, settings)
        try:
            await core.add_destination("relay", t.url(), preset="movary")
            for payload in (episode("media.scrobble"), movie("media.scrobble")):
                assert (await post(webhook_url(core), payload))[0] == 200
            await settled(core)
            d = await drained(core, 1)
            assert t.plays == {(949, "2025-11-03"): 1}  # Heat, on the day Plex says it was watched
            assert received(t) == [("media.scrobble", "movie")] and d.delivered == 1
            rows = await core.scrobbles()
            assert [m.destination for m in rows[1].deliveries if m.destination.startswith("Movary")] == []
        finally:
            await core.stop()


async def test_mediatracker_is_given_one_token_only(paths, settings) -> None:
    async with MediaTracker() as t:
        core = await started(paths, settings)
        try:
            with pytest.raises(SettingsInvalid, match="reads two as a list"):
                await core.add_destination("relay", f"{t.url()}&token={t.token}", preset="mediatracker")
            with pytest.raises(SettingsInvalid, match=r"MediaTracker's webhook URL looks like http://HOST:7481/api/plex"):
                await core.add_destination("relay", f"http://127.0.0.1:{t.port}/api/plex", preset="mediatracker")
            built = PRESETS["mediatracker"].url("127.0.0.1", t.port, t.token)
            assert built.count("token=") == 1
            await core.add_destination("relay", built, preset="mediatracker")
            assert (await post(webhook_url(core), episode("media.scrobble")))[0] == 200
            await settled(core)
            await drained(core, 1)
            assert [r.query for r in t.requests] == [f"token={t.token}"] and len(t.seen) == 1
            # (what a second token= does there: the stand-in refuses it, as Express + the check do)
            status, _ = await post(f"{t.url()}&token={t.token}", episode("media.scrobble"))
            assert status == 401
        finally:
            await core.stop()


async def test_a_mediatracker_500_for_a_scrobble_without_guids_is_refused_once_not_retried(paths, settings) -> None:
    async with MediaTracker() as t:
        core = await started(paths, settings)
        try:
            await core.add_destination("relay", t.url(), preset="mediatracker")
            assert (await post(webhook_url(core), LEGACY_PLEX_AGENT_EPISODE))[0] == 200
            await settled(core)
            d = await drained(core, 1)
            await asyncio.sleep(1.0)  # several back-offs of FAST: a retry would have gone by now
            assert [r.status for r in t.requests] == [500] and d.failed == 1 and d.pending == 0
            [row] = await core.scrobbles()
            [delivery] = row.deliveries
            assert delivery.state is DeliveryState.FAILED
            assert "MediaTracker cannot read a play without Plex's Guid list" in (delivery.detail or "")
            assert "not sent again" in (delivery.detail or "")
            assert "legacy Plex agent" in (d.fix or "")
            # a scrobble with its Guid list goes through after it
            assert (await post(webhook_url(core), episode("media.scrobble")))[0] == 200
            await settled(core)
            await drained(core, 2)
            assert [r.status for r in t.requests] == [500, 200] and len(t.seen) == 1
        finally:
            await core.stop()


async def test_ryots_202_is_said_as_unverifiable_and_its_test_is_confirmed_in_ryot(paths, settings) -> None:
    async with Ryot() as t:
        core = await started(paths, settings)
        try:
            await core.add_destination("relay", t.url("not-the-slug"), preset="ryot")
            wrong = await core.test_destination("relay-1")
            assert wrong.verdict is Verdict.DELIVERED and "even for a wrong slug" in wrong.detail
            assert t.last_trigger is None and t.unseen_errors == ["Integration does not exist"]
            await core.update_destination("relay-1", url=t.url())
            right = await core.test_destination("relay-1")
            assert "last trigger should now show an error" in right.detail
            assert t.last_trigger is not None and t.last_trigger[1] == "Error during JSON payload deserialization"
            assert t.progress == []  # the test recorded nothing
            assert (await post(webhook_url(core), episode("media.scrobble")))[0] == 200
            await settled(core)
            d = await drained(core, 1)
            assert d.delivered == 1 and "Ryot answers 202 even for a wrong slug (a mistake shows only in Ryot)" in (
                d.note or "")
            assert [p.detail["progress"] for p in t.progress] == [pytest.approx(3420000 / 3480000 * 100)]
        finally:
            await core.stop()


async def test_the_row_says_what_the_tracker_cannot_do_and_a_late_backlog_is_said(paths, settings) -> None:
    async with Yamtrack() as t:
        core = await started(paths, settings)
        try:
            await core.add_destination("relay", t.url(), preset="yamtrack")
            d = await relay_status(core)
            assert d.note == ("Yamtrack dates a play when it receives it; de-duplicates only within 5 s, "
                              "reads no event id, so a repeat is a second play")
            core.set_paused(True)  # a backlog: events wait, as while the tracker was down
            assert (await post(webhook_url(core), episode("media.scrobble")))[0] == 200
            assert core.runtime.store is not None
            with core.runtime.store.sessions.begin() as s:  # ...for 40 minutes
                s.execute(update(WebhookEvent).values(received_at=utcnow() - timedelta(minutes=40)))
            core.set_paused(False)
            await settled(core)
            d = await drained(core, 1)
            assert d.late == "events 40 min late: Yamtrack dates each play when it receives it, not when it was played"
            assert d.note is not None and d.note.startswith("Yamtrack dates a play when it receives it")
            assert len(t.episodes) == 1
        finally:
            await core.stop()


async def test_query_tokens_of_crosswatch_and_goplaxt_are_masked_where_shown(paths, settings) -> None:
    async with CrossWatch() as cw, Goplaxt() as gp:
        core = await started(paths, settings)
        try:
            await core.add_destination("relay", cw.url(), preset="crosswatch")
            await core.add_destination("relay", gp.url(), preset="goplaxt")
            rows = {d.id: d for d in await core.destinations()}
            assert rows["relay-1"].target == f"http://127.0.0.1:{cw.port}/webhook/plex?profile=•••"
            assert rows["relay-2"].target == f"http://127.0.0.1:{gp.port}/api?id=•••"
        finally:
            await core.stop()


def test_old_settings_without_a_preset_are_other_and_an_unknown_one_is_refused_clearly() -> None:
    plain = Settings.from_dict({"relays": [{"id": "relay-1", "url": "http://localhost:3000/hook?secret=x"}]})
    assert plain.relays[0].preset == "other" and plain.validate() == []
    assert "preset" not in plain.to_dict()["relays"][0]
    odd = Settings.from_dict({"relays": [{"id": "relay-1", "url": "http://localhost:3000/x", "preset": "trakt"}]})
    assert odd.validate() == ["relay relay-1: there is no tracker preset 'trakt' (yamtrack, mediatracker, ryot, "
                              "movary, crosswatch, goplaxt, reference, other)"]
    kept = copy.deepcopy(odd)
    assert kept.relays[0].preset == "trakt"


@pytest.mark.parametrize("name", [n for n in PRESETS if n != "other"])
def test_a_url_behind_a_reverse_proxy_or_https_keeps_its_prefix_and_scheme_through_the_fields(name) -> None:
    preset = PRESETS[name]
    url = preset.url("https://nas.lan/trackers/", 443, "t0ken")
    assert url.startswith("https://nas.lan:443/trackers/") and preset.url_problem(url) is None
    assert preset.fields(url) == ("https://nas.lan/trackers", 443, "t0ken")
    assert preset.url(*preset.fields(url)) == url
    assert preset.url_problem(url.replace("t0ken", "")) is not None


async def test_a_target_is_tested_before_it_is_added_and_nothing_is_kept(paths, settings) -> None:
    async with Goplaxt() as t:
        core = await started(paths, settings)
        try:
            attempt = await core.test_target("relay", t.url(), preset="goplaxt")
            assert attempt.verdict is Verdict.DELIVERED and PRESETS["goplaxt"].tested in attempt.detail
            assert t.to_trakt == [] and core.settings.relays == []
            with pytest.raises(SettingsInvalid, match="goplaxt's webhook URL looks like http://HOST:8000/api"):
                await core.test_target("relay", f"http://127.0.0.1:{t.port}/api", preset="goplaxt")
            assert len(t.requests) == 1
        finally:
            await core.stop()
