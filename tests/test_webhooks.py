"""The webhook route over real HTTP against the running server, real SQLite behind it."""

from __future__ import annotations

import json

import aiohttp
import pytest

from app.core.config import Settings
from app.core.facade import Core
from tests.helpers import episode_payload, post, running, sample, settled, webhook_url


async def scrobbles(core: Core) -> list[dict]:
    assert core.runtime.store is not None
    return await core.runtime.run(core.runtime.store.scrobbles, limit=100)


async def test_legacy_tmdb_guid_marks_breaking_bad_and_remembers_the_mapping(core: Core) -> None:
    status, body = await post(webhook_url(core), sample("scrobble-legacy-themoviedb"))
    assert status == 200 and json.loads(body)["ok"] is True
    await settled(core)
    [row] = await scrobbles(core)
    assert (row.action, row.show_title, row.season, row.episode) == ("marked", "Breaking Bad", 1, 1)
    assert row.match_method == "ids"
    [ep] = await core.runtime.run(core.runtime.store.episodes, row.show_id)
    assert ep.watched and ep.watch_count == 1 and ep.title == "Pilot"
    [show] = await core.runtime.run(core.runtime.store.list_shows)
    assert show.watched_episodes == 1 and show.total_plays == 1

    # Remembered: the next episode of the same Plex show is matched by the mapping.
    await post(webhook_url(core), episode_payload(1, 2))
    await settled(core)
    assert (await scrobbles(core))[0].match_method == "mapping"


async def test_unknown_show_opens_a_conflict(core: Core) -> None:
    assert (await post(webhook_url(core), sample("scrobble-unknown-show")))[0] == 200
    await settled(core)
    [row] = await scrobbles(core)
    assert row.action == "conflict" and row.conflict_id
    [conflict] = await core.runtime.run(core.runtime.store.conflicts)
    assert conflict.plex_title == "NonExistent Show XYZ"
    assert conflict.type == "no_match" and conflict.waiting == 1
    assert core.status.conflicts_open == 1


async def test_media_play_is_recorded_as_ignored_and_its_thumb_is_not_kept(core: Core) -> None:
    assert (await post(webhook_url(core), sample("play-new-agent-episode"), thumb=True))[0] == 200
    await settled(core)
    [row] = await scrobbles(core)
    assert row.action == "ignored" and "playback state" in row.reason
    payload = await core.runtime.run(core.runtime.store.event_payload, row.id)
    assert json.loads(payload) == sample("play-new-agent-episode")  # the JPEG was not stored


EXPECTED = {
    "admin-database-backup": ("ignored", "not a playback event"),
    "play-new-agent-episode": ("ignored", "playback state"),
    "scrobble-hama-anidb": ("marked", None),
    "scrobble-legacy-themoviedb": ("marked", None),
    "scrobble-legacy-thetvdb": ("marked", None),
    "scrobble-legacy-imdb-movie": ("conflict", "no tracker movie"),
    "scrobble-local-movie": ("conflict", "no tracker movie"),
    "scrobble-movie": ("conflict", "no tracker movie"),
    "scrobble-music-track": ("ignored", "music is not tracked"),
    "scrobble-new-agent-episode": ("marked", None),
    "scrobble-shared-user": ("ignored", "not accepted"),
    "scrobble-unknown-show": ("conflict", "no tracker show"),
    "stop-new-agent-episode": ("marked", None),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_every_sample_gets_its_outcome(core: Core, name: str) -> None:
    assert core.runtime.store is not None
    await core.runtime.run(core.runtime.store.add_show, title="Example Anime Title", year=2015, anidb_id=11123)
    # A decoy whose TMDB id is the *episode* id in the new-agent Guid list: matching it
    # would be the classic bug of reading episode ids as show ids.
    await core.runtime.run(core.runtime.store.add_show, title="Decoy", tmdb_id=62085, tvdb_id=349232)
    assert (await post(webhook_url(core), sample(name), thumb=name.startswith("play")))[0] == 200
    await settled(core)
    [row] = await scrobbles(core)
    action, reason = EXPECTED[name]
    assert row.action == action, row
    if reason:
        assert reason in row.reason
    if action == "marked":
        want = "Example Anime Title" if "hama" in name else "Breaking Bad"
        assert row.show_title == want


async def test_shared_user_counts_when_their_account_is_accepted(paths, settings: Settings) -> None:
    settings.accepted_accounts = ["guest-friend"]
    async with running(paths, settings) as c:
        await c.runtime.run(c.runtime.store.add_show, title="Breaking Bad", year=2008)
        await post(webhook_url(c), sample("scrobble-shared-user"))
        await settled(c)
        [row] = await c.runtime.run(c.runtime.store.scrobbles)
        assert row.action == "marked" and row.account_title == "guest-friend"


async def test_stop_below_threshold_is_ignored(core: Core) -> None:
    data = sample("stop-new-agent-episode")
    data["Metadata"]["viewOffset"] = 1_000_000
    await post(webhook_url(core), data)
    await settled(core)
    [row] = await scrobbles(core)
    assert row.action == "ignored" and "below the 90% threshold" in row.reason


async def test_get_and_head_answer_so_a_user_can_check_the_url(core: Core) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(webhook_url(core)) as r:
            assert r.status == 200 and "Scrobble Tray is listening" in await r.text()
        async with s.head(webhook_url(core)) as r:
            assert r.status == 200
        async with s.get(webhook_url(core) + "x") as r:
            assert r.status == 403
    assert await scrobbles(core) == []


async def test_concurrent_webhooks_are_all_stored_and_processed(core: Core) -> None:
    import asyncio

    async with aiohttp.ClientSession() as s:
        results = await asyncio.gather(*(post(webhook_url(core), episode_payload(3, n), session=s)
                                         for n in range(1, 41)))
    assert [r[0] for r in results] == [200] * 40
    ids = [json.loads(r[1])["id"] for r in results]
    assert len(set(ids)) == 40
    await settled(core)
    rows = await scrobbles(core)
    assert sorted(r.episode for r in rows) == list(range(1, 41))
    assert {r.action for r in rows} == {"marked"}


def _tvdb_episode(title: str, tvdb: int, season: int = 1, episode: int = 1) -> dict:
    data = sample("scrobble-legacy-thetvdb")
    m = data["Metadata"]
    m.update(grandparentTitle=title, parentIndex=season, index=episode, ratingKey=f"9{tvdb}{episode}",
             guid=f"com.plexapp.agents.thetvdb://{tvdb}/{season}/{episode}?lang=en",
             grandparentGuid=f"com.plexapp.agents.thetvdb://{tvdb}?lang=en", grandparentRatingKey=f"8{tvdb}")
    return data


async def test_a_show_plex_identifies_and_nothing_resembles_is_added_and_marked(paths, settings: Settings) -> None:
    settings.auto_add_shows = True  # the default
    async with running(paths, settings) as c:
        for episode in (1, 2):
            assert (await post(webhook_url(c), _tvdb_episode("Slow Horses", 395247, 1, episode)))[0] == 200
        await settled(c)
        rows = await scrobbles(c)
        assert [(r.action, r.match_method) for r in rows] == [("marked", "mapping"), ("marked", "added")]
        [show] = await c.runtime.run(c.runtime.store.list_shows, "Slow Horses")
        assert (show.tvdb_id, show.watched_episodes) == (395247, 2)
        assert c.status.conflicts_open == 0


async def test_a_show_alike_or_without_ids_still_asks(paths, settings: Settings) -> None:
    settings.auto_add_shows = True
    async with running(paths, settings) as c:
        for year in (2001, 2005):  # two shows of that title: which one is Plex's?
            await c.runtime.run(c.runtime.store.add_show, title="The Office", year=year)
        payload = _tvdb_episode("The Office", 73244)
        payload["Metadata"].pop("year", None)
        assert (await post(webhook_url(c), payload))[0] == 200
        assert (await post(webhook_url(c), sample("scrobble-unknown-show")))[0] == 200  # no ids at all
        await settled(c)
        assert sorted(r.action for r in await scrobbles(c)) == ["conflict", "conflict"]
        assert len(await c.runtime.run(c.runtime.store.list_shows)) == 2  # nothing added
