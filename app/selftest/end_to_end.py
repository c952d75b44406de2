"""The self-test's end-to-end run: the real core on a temporary data folder, Breaking Bad
added, a real Plex scrobble of S01E01 posted to its own webhook over HTTP, the episode
found marked, then a movie's scrobble (legacy IMDb agent) counted the same way; after the
checks that need no core (:mod:`.checks`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any

from app.selftest import checks
from app.selftest.report import Abort, Report, StepFailed

DATABASE_URL_ENV = "SCROBBLETRAY_SELFTEST_DATABASE_URL"

SHOW = {"title": "Breaking Bad", "year": 2008, "tmdb_id": 1396, "tvdb_id": 81189,
        "imdb_id": "tt0903747"}

#: A Plex ``media.scrobble`` of Breaking Bad S01E01 from the legacy TMDB agent, as Plex
#: puts it in the multipart field ``payload`` (the test samples are not shipped).
SAMPLE_SCROBBLE: dict[str, Any] = {
    "event": "media.scrobble",
    "user": True,
    "owner": True,
    "Account": {"id": 1, "title": "homeowner"},
    "Server": {"title": "Scrobble Tray self-test", "uuid": "5e1f7e570000000000000000000000000000beef"},
    "Player": {"local": True, "publicAddress": "203.0.113.7", "title": "Chrome",
               "uuid": "selftestplayer01"},
    "Metadata": {
        "librarySectionType": "show",
        "ratingKey": "12345",
        "key": "/library/metadata/12345",
        "parentRatingKey": "11111",
        "grandparentRatingKey": "10000",
        "guid": "com.plexapp.agents.themoviedb://1396/1/1?lang=en",
        "parentGuid": "com.plexapp.agents.themoviedb://1396/1?lang=en",
        "grandparentGuid": "com.plexapp.agents.themoviedb://1396?lang=en",
        "type": "episode",
        "title": "Pilot",
        "grandparentKey": "/library/metadata/10000",
        "parentKey": "/library/metadata/11111",
        "librarySectionTitle": "TV Shows",
        "librarySectionID": 2,
        "grandparentTitle": "Breaking Bad",
        "parentTitle": "Season 1",
        "index": 1,
        "parentIndex": 1,
        "year": 2008,
        "originallyAvailableAt": "2008-01-20",
        "viewOffset": 3420000,
        "duration": 3480000,
        "lastViewedAt": 1762160000,
    },
}

MOVIE = {"title": "Heat", "year": 1995, "imdb_id": "tt0113277"}

#: A Plex ``media.scrobble`` of the movie Heat from the legacy IMDb agent.
MOVIE_SCROBBLE: dict[str, Any] = {
    **{k: v for k, v in SAMPLE_SCROBBLE.items() if k != "Metadata"},
    "Metadata": {"librarySectionType": "movie", "ratingKey": "501", "key": "/library/metadata/501",
                 "guid": "com.plexapp.agents.imdb://tt0113277?lang=en", "type": "movie", "title": "Heat",
                 "year": 1995, "librarySectionTitle": "Movies", "librarySectionID": 1,
                 "viewOffset": 9500000, "duration": 10200000},
}


async def run(report: Report, data_dir: Path) -> None:
    await report.step("load core", checks.check_core)
    await report.step("migration scripts", checks.check_migrations)
    await report.step("resources", checks.check_resources)
    await report.step("fuzzy matching", checks.check_rapidfuzz)
    await report.step("keyring", checks.check_keyring)
    await report.step("TLS certificates", checks.check_tls)
    await report.step("ngrok installer", checks.check_ngrok_installer)
    await report.step("PostgreSQL driver", checks.check_postgres_driver)
    await report.step("Plex sign-in", checks.check_plexapi)

    import aiohttp

    from app.core.config import Paths, Settings
    from app.core.events import ScrobbleRecorded
    from app.core.facade import Core
    from app.core.types import Action, Outcome

    settings = Settings(port=0, database_url=os.environ.get(DATABASE_URL_ENV) or None,
                        tunnel_enabled=False, auto_add_shows=False)  # a wrong match must fail
    core = Core(Paths(data_dir), settings)
    outcomes: dict[int, asyncio.Future[Outcome]] = {}
    loop = asyncio.get_running_loop()

    def on_event(event: Any) -> None:
        if isinstance(event, ScrobbleRecorded):
            outcomes.setdefault(event.outcome.event_id, loop.create_future())
            fut = outcomes[event.outcome.event_id]
            if not fut.done():
                fut.set_result(event.outcome)

    core.events.subscribe(on_event)

    async def start() -> str:
        await core.start(port=0, tunnel=False)
        return f"database created and migrated; webhook server on {core.status.host}:{core.status.port}"

    async def add_show() -> tuple[int, str]:
        show = await core.add_show(**SHOW)
        return show.id, f"{show.title} (tmdb {SHOW['tmdb_id']}) is show #{show.id}"

    async def post(payload: dict[str, Any] = SAMPLE_SCROBBLE, what: str = "S01E01") -> tuple[int, str]:
        url = core.local_webhook_url
        if not url:
            raise StepFailed("the core is not listening")
        form = aiohttp.FormData()
        form.add_field("payload", json.dumps(payload), content_type="application/json")
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.post(url, data=form, headers={"User-Agent": "PlexMediaServer/selftest"}) as r:
                body = await r.text()
                if r.status != 200:
                    raise StepFailed(f"HTTP {r.status}: {body.strip()[:200]}")
        event_id = int(json.loads(body)["id"])
        return event_id, f"media.scrobble {what} accepted over HTTP as event #{event_id}"

    try:
        await report.step("start core", start)
        show_id = await report.step("add show", add_show)
        event_id = await report.step("post scrobble", post)

        async def processed() -> str:
            outcome = await outcomes.setdefault(event_id, loop.create_future())
            if outcome.action is not Action.MARKED:
                raise StepFailed(f"event #{event_id} was {outcome.action.value}: {outcome.reason or 'no reason'}")
            if outcome.show_id != show_id:
                raise StepFailed(f"event #{event_id} matched show #{outcome.show_id}, not #{show_id}")
            return f"event #{event_id} marked on show #{show_id}"

        await report.step("processed", processed)

        async def marked() -> str:
            episodes = await core.episodes(show_id)
            pilot = [e for e in episodes if (e.season, e.number) == (1, 1)]
            if not pilot or not pilot[0].watched:
                raise StepFailed(f"S01E01 is not watched in the tracker: {episodes}")
            log = await core.scrobbles(limit=1)
            if not log or log[0].id != event_id or log[0].action != "marked":
                raise StepFailed(f"the scrobble log does not show event #{event_id} as marked: {log}")
            return f"S01E01 watched ({pilot[0].watch_count}x); scrobble log agrees"

        await report.step("episode marked", marked)

        async def movie() -> str:
            added = await core.add_movie(**MOVIE)
            movie_event, _ = await post(MOVIE_SCROBBLE, "of the movie Heat")
            outcome = await outcomes.setdefault(movie_event, loop.create_future())
            [heat] = await core.list_movies(search="Heat")
            if outcome.action is not Action.MARKED or heat.id != added.id or heat.watch_count != 1:
                raise StepFailed(f"the movie's event #{movie_event} was {outcome.action.value}: "
                                 f"{outcome.reason or 'no reason'}; Heat watched {heat.watch_count}x")
            return f"Heat (1995) matched by its IMDb id and counted (event #{movie_event})"

        await report.step("movie counted", movie)
    finally:
        async def stop() -> str:
            await core.stop()  # (releases the SQLite file, so the folder can go)
            return "server and worker stopped"

        with contextlib.suppress(Abort):  # recorded in the report; the first failure is the one to tell
            await report.step("stop core", stop)
