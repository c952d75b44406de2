"""Pipeline behaviour through the running core: de-duplication, re-watches, conflicts, undo."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from app.core.config import Settings
from app.core.facade import Core
from app.core.models import Watch
from tests.helpers import episode_payload, post, running, sample, settled, webhook_url


async def _rows(core: Core, **kw) -> list[dict]:
    return await core.runtime.run(core.runtime.store.scrobbles, limit=100, **kw)


async def _episode(core: Core, show_id: int, season: int, number: int) -> dict:
    eps = await core.runtime.run(core.runtime.store.episodes, show_id)
    return next(e for e in eps if (e.season, e.number) == (season, number))


async def test_same_play_counts_once_and_a_later_rewatch_counts_again(core: Core) -> None:
    url = webhook_url(core)
    await post(url, episode_payload(2, 5))
    await post(url, episode_payload(2, 5))  # Plex sent the scrobble twice
    await post(url, episode_payload(2, 5, event="media.stop", viewOffset=3470000))  # then a stop
    await settled(core)
    assert [r.action for r in reversed(await _rows(core))] == ["marked", "duplicate", "duplicate"]
    ep = await _episode(core, 1, 2, 5)
    assert ep.watch_count == 1

    # Two days later the same episode again: a re-watch, not a duplicate.
    def age_watches() -> None:
        with core.runtime.store.sessions.begin() as s:
            s.execute(update(Watch).values(watched_at=Watch.watched_at - timedelta(days=2)))
    await core.runtime.run(age_watches)
    await post(url, episode_payload(2, 5))
    await settled(core)
    assert (await _rows(core))[0].action == "rewatch"
    ep = await _episode(core, 1, 2, 5)
    assert ep.watch_count == 2 and ep.last_watched_at >= ep.first_watched_at
    [show] = await core.runtime.run(core.runtime.store.list_shows)
    assert (show.watched_episodes, show.total_plays) == (1, 2)


async def test_another_account_watching_the_same_episode_is_not_a_duplicate(paths, settings: Settings) -> None:
    settings.accepted_accounts = ["52817331"]
    async with running(paths, settings) as c:
        await c.runtime.run(c.runtime.store.add_show, title="Breaking Bad", year=2008)
        await post(webhook_url(c), sample("scrobble-new-agent-episode"))
        await post(webhook_url(c), sample("scrobble-shared-user"))
        await settled(c)
        assert [r.action for r in await c.runtime.run(c.runtime.store.scrobbles)] == ["rewatch", "marked"]


async def test_conflict_resolution_creates_the_show_and_applies_waiting_scrobbles(core: Core) -> None:
    url = webhook_url(core)
    unknown = sample("scrobble-unknown-show")
    await post(url, unknown)
    unknown["Metadata"]["index"] = 2
    await post(url, unknown)
    await settled(core)
    [conflict] = await core.runtime.run(core.runtime.store.conflicts)
    assert conflict.waiting == 2  # the second episode joined the open conflict
    seen = []
    core.events.subscribe(seen.append)

    outcomes = await core.resolve_conflict(conflict.id, create=True)
    assert [o.action.value for o in outcomes] == ["marked", "marked"]
    assert core.status.conflicts_open == 0
    assert any(type(e).__name__ == "ConflictsChanged" and e.open_count == 0 for e in seen)
    shows = {s.title: s for s in await core.runtime.run(core.runtime.store.list_shows)}
    assert shows["NonExistent Show XYZ"].watched_episodes == 2

    # Never asked again: the next episode goes straight to the new show.
    unknown["Metadata"]["index"] = 3
    await post(url, unknown)
    await settled(core)
    row = (await _rows(core))[0]
    assert row.action == "marked" and row.match_method == "mapping"


async def test_conflict_mapped_to_an_existing_show_or_ignored(core: Core) -> None:
    url = webhook_url(core)
    data = sample("scrobble-unknown-show")
    data["Metadata"]["grandparentTitle"] = "Breaking Badly"  # close, not close enough to trust
    await post(url, data)
    await settled(core)
    [conflict] = await core.runtime.run(core.runtime.store.conflicts)
    assert conflict.type == "low_confidence"
    assert conflict.candidates[0].title == "Breaking Bad"
    [outcome] = await core.resolve_conflict(conflict.id, show_id=conflict.candidates[0].show_id)
    assert outcome.action.value == "marked"

    other = sample("scrobble-unknown-show")
    other["Metadata"].update(grandparentGuid="plex://show/other", grandparentTitle="Something Else")
    await post(url, other)
    await settled(core)
    [conflict] = await core.runtime.run(core.runtime.store.conflicts)
    [outcome] = await core.resolve_conflict(conflict.id, ignore=True)
    assert outcome.action.value == "ignored" and "ignored" in outcome.reason
    await post(url, other)
    await settled(core)
    assert (await _rows(core))[0].reason == "this Plex show is ignored (your choice)"
    assert await core.runtime.run(core.runtime.store.conflicts) == []


async def test_undo_and_rerun(core: Core) -> None:
    url = webhook_url(core)
    await post(url, episode_payload(1, 3))
    await settled(core)
    row = (await _rows(core))[0]
    await core.runtime.run(core.runtime.store.undo, row.id)
    assert (await _episode(core, 1, 1, 3)).watch_count == 0
    [show] = await core.runtime.run(core.runtime.store.list_shows)
    assert show.watched_episodes == 0 and show.total_plays == 0
    assert (await _rows(core))[0].action == "undone"

    shared = sample("scrobble-shared-user")
    await post(url, shared)
    await settled(core)
    ignored = (await _rows(core))[0]
    assert ignored.action == "ignored"
    core.settings.accepted_accounts.append("guest-friend")  # the user accepts the account
    outcome = await core.runtime.run(core.runtime.store.rerun, ignored.id)
    assert outcome.action.value == "marked"


async def test_rows_left_pending_by_a_crash_are_processed_at_start(paths, settings: Settings) -> None:
    c = Core(paths, settings)
    await c.start()
    await c.runtime.run(c.runtime.store.add_show, title="Breaking Bad", year=2008, tmdb_id=1396)
    c.set_paused(True)  # accepted but not processed, as if the process died here
    await post(webhook_url(c), sample("scrobble-legacy-themoviedb"))
    assert await c.runtime.run(c.runtime.store.pending_count) == 1
    await c.stop()

    async with running(paths, settings) as c:
        await settled(c)
        assert (await c.runtime.run(c.runtime.store.scrobbles))[0].action == "marked"


async def test_payload_without_episode_numbers_fails_with_a_reason(core: Core) -> None:
    data = sample("scrobble-legacy-themoviedb")
    del data["Metadata"]["index"]
    await post(webhook_url(core), data)
    await settled(core)
    row = (await _rows(core))[0]
    assert row.action == "failed" and "no season or episode" in row.reason
