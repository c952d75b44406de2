"""Movies caught from a Plex server (stand-in, through the real core): plays from its
history while the app was closed, and live sessions for an account without Plex Pass."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from app.core.credentials import set_secret
from app.core.facade import Core
from app.core.plex.service import TOKEN_KEY
from tests.fake_plex import FakePlexTv, FakePms
from tests.helpers import post, sample, settled, wait_for, webhook_url

pytestmark = pytest.mark.timeout(60)
MINUTE = 60_000


async def _movie_rows(core: Core) -> list[tuple[str | None, str, str | None]]:
    await settled(core)
    return sorted((r.show_title, r.action, r.source) for r in await core.runtime.run(core.runtime.store.scrobbles)
                  if r.kind == "movie")


async def test_movies_watched_while_the_app_was_closed_are_caught_up_once(paths, settings, plex) -> None:
    _, pms = plex
    core = Core(paths, settings)
    await core.start()
    store = core.runtime.store
    await core.runtime.run(store.add_movie, title="Dune", year=1984)
    await core.runtime.run(store.add_movie, title="Dune", year=2021)
    await core.runtime.run(store.add_movie, title="Heat", year=1995, tmdb_id=949)
    await wait_for(lambda: core.status.plex.caught_up, timeout=15)  # the first look: from now on
    await core.stop()

    now = time.time()
    pms.play_movie("801", "Dune", "2021-09-03", viewed_at=now + 1)
    pms.play_movie("501", "Heat", "1995-12-15", viewed_at=now + 2)
    core = Core(paths, settings)
    await core.start()
    try:
        await wait_for(lambda: core.status.plex.caught_up and core.status.plex.caught_up.added == 2, timeout=15)
        assert await _movie_rows(core) == [("Dune", "marked", "history"), ("Heat", "marked", "history")]
        dunes = {m.year: m.watch_count for m in await core.runtime.run(store.list_movies, "Dune")}
        assert dunes == {1984: 0, 2021: 1}  # the release date told the remake apart
        again = await core.runtime.catch_up.run(since=datetime.now(UTC) - timedelta(days=1))
        assert again.added == 0  # none twice
    finally:
        await core.stop()


async def test_a_history_movie_is_matched_by_the_ids_its_server_gives(paths, settings, plex) -> None:
    _, pms = plex
    pms.add_movie("801", "Dune", 2021, tmdb="438631", imdb="tt1160419")
    core = Core(paths, settings)
    await core.start()
    store = core.runtime.store
    # The tracker's title is not Plex's: only the ids can say it is the same film.
    part_one = await core.runtime.run(store.add_movie, title="Dune: Part One", year=2021, tmdb_id=438631)
    await core.runtime.run(store.add_movie, title="Dune", year=1984)
    await wait_for(lambda: core.status.plex.caught_up, timeout=15)
    await core.stop()

    pms.play_movie("801", "Dune", "2021-09-03", viewed_at=time.time() + 1)  # by title and date only
    core = Core(paths, settings)
    await core.start()
    try:
        await wait_for(lambda: core.status.plex.caught_up and core.status.plex.caught_up.added == 1, timeout=15)
        await settled(core)
        [row] = await core.runtime.run(store.scrobbles)
        assert (row.action, row.movie_id, row.match_method) == ("marked", part_one.id, "ids")
    finally:
        await core.stop()


async def test_a_movie_whose_webhook_came_is_not_added_again_from_history(paths, settings, plex) -> None:
    _, pms = plex
    core = Core(paths, settings)
    await core.start()
    try:
        await core.runtime.run(core.runtime.store.add_movie, title="Heat", year=1995, tmdb_id=949)
        await wait_for(lambda: core.status.plex.caught_up, timeout=15)
        await post(webhook_url(core), sample("scrobble-movie"))
        await settled(core)
        pms.play_movie("501", "Heat", "1995-12-15")  # the same play, in the server's history
        result = await core.runtime.catch_up.run(since=datetime.now(UTC) - timedelta(days=1))
        assert (result.added, result.already) == (0, 1)
        [heat] = await core.runtime.run(core.runtime.store.list_movies)
        assert heat.watch_count == 1
    finally:
        await core.stop()


async def test_a_live_movie_session_past_the_threshold_counts_once(paths, settings) -> None:
    async with FakePlexTv() as tv, FakePms(name="NAS") as pms:
        tv.servers.append(pms)
        token, _ = tv.add_user("alice", plex_pass=False)
        set_secret(paths, TOKEN_KEY, token)
        settings.plex_tv_url = tv.url
        core = Core(paths, settings)
        await core.start()
        try:
            await core.runtime.run(core.runtime.store.add_movie, title="Heat (1995 film)", year=1995, tmdb_id=949)
            await wait_for(lambda: core.status.plex.live == ("NAS",) and pms.sockets, timeout=15)
            pms.start_movie_session("9", "501", "Heat", 1995, "plex://movie/5d7768ba96b655001fdc0408",
                                    duration=100 * MINUTE)
            await pms.notify("9", 50 * MINUTE)
            await pms.notify("9", 95 * MINUTE)
            await wait_for(_one_row(core), timeout=10)
            await pms.notify("9", 97 * MINUTE)
            await pms.notify("9", 99 * MINUTE, "stopped")
            assert await _movie_rows(core) == [("Heat (1995 film)", "marked", "live")]
        finally:
            await core.stop()


def _one_row(core: Core):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return len(await core.runtime.run(core.runtime.store.scrobbles)) == 1
    return check
