"""Marks made by hand in Plex ("Mark as played": no webhook, no history entry since PMS
1.40): found in a stand-in server's watched state, through the real python-plexapi and
the real core."""

from __future__ import annotations

import logging
import time

import pytest

from app.core import catchup
from app.core.config import Paths, Settings, load_state
from app.core.facade import Core
from tests.fake_plex import FakePlexTv, FakePms
from tests.helpers import post, sample, settled, wait_for, webhook_url
from tests.test_catchup import marked, started

pytestmark = pytest.mark.timeout(60)


async def _with_show(core: Core) -> None:
    await core.runtime.run(core.runtime.store.add_show, title="Breaking Bad", year=2008, tmdb_id=1396)


async def test_marks_made_while_the_app_was_closed_are_caught_at_the_next_start_each_once(
        paths: Paths, settings: Settings, plex: tuple[FakePlexTv, FakePms]) -> None:
    _, pms = plex
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    pms.mark_watched("199", show, 1, 9, viewed_at=time.time() - 86_400)  # before the first look: not imported
    core = await started(paths, settings)
    await _with_show(core)
    for year, tmdb in ((2021, 438631), (1984, 841)):  # both films of one title: each is its own mark
        await core.add_movie(title="Dune", year=year, tmdb_id=tmdb)
    first = await wait_for(lambda: core.status.plex.caught_up, timeout=15)
    assert (first.marks_read, first.marks_added) == (0, 0)  # the first look records where it stands
    assert load_state(paths)["plex_marks_seen"][pms.uuid]["at"] >= int(time.time()) - 5
    await core.stop()

    now = time.time()
    for n in range(1, 6):  # five episodes ticked in Plex while Scrobble Tray is closed
        pms.mark_watched(f"20{n}", show, 2, n, viewed_at=now + n)
    pms.mark_movie_watched("901", "Dune", 2021, viewed_at=now + 10, tmdb="438631")
    pms.mark_movie_watched("902", "Dune", 1984, viewed_at=now + 11, tmdb="841")
    core = await started(paths, settings)
    try:
        result = await wait_for(lambda: core.status.plex.caught_up, timeout=15)
        assert (result.marks_read, result.marks_added, result.added) == (7, 7, 0)
        assert result.marks_accounts == ("alice",)
        assert await marked(core) == [(0, 0, "marked", "handmark")] * 2 + [
            (2, n, "marked", "handmark") for n in range(1, 6)]
        movies = {m.year: m.watch_count for m in await core.list_movies()}
        assert movies == {2021: 1, 1984: 1}
        again = await core.runtime.catch_up.run()  # nothing new since
        assert (again.marks_read, again.marks_added) == (0, 0)
        pms.mark_watched("203", show, 2, 3, viewed_at=time.time() + 20)  # ticked again a minute later
        again = await core.runtime.catch_up.run()
        assert (again.marks_read, again.marks_added) == (1, 0)  # the same episode, within the window: once
        assert len(await marked(core)) == 7
        checks = {c.name: c for c in await core.diagnostics()}
        assert "marks made by hand: 1 read, 0 added (alice's)" in checks["Catch-up"].detail
    finally:
        await core.stop()


async def test_a_mark_while_running_is_caught_at_the_next_look(paths, settings, plex) -> None:
    _, pms = plex
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    core = await started(paths, settings)
    try:
        await _with_show(core)
        await wait_for(lambda: core.status.plex.caught_up, timeout=15)
        pms.mark_watched("305", show, 3, 5)
        before = core.status.plex.caught_up
        core.runtime.catch_up.soon()  # as when the tunnel comes back, or the hour is up
        await wait_for(lambda: core.status.plex.caught_up is not before, timeout=15)
        assert await marked(core) == [(3, 5, "marked", "handmark")]
    finally:
        await core.stop()


@pytest.mark.parametrize("live", [None, True], ids=["plex-pass", "following-live"])
async def test_a_mark_is_caught_within_seconds_when_the_server_notifies(paths, settings, plex, live) -> None:
    _, pms = plex
    settings.plex_live = live  # with Plex Pass (None) live plays are not followed; notifications are
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    core = await started(paths, settings)
    try:
        await _with_show(core)
        await wait_for(lambda: core.status.plex.caught_up and pms.sockets, timeout=15)
        pms.mark_watched("306", show, 3, 6)
        t0 = time.monotonic()
        await pms.notify_timeline("306")
        await wait_for(lambda: core.status.plex.caught_up.marks_added == 1, timeout=10)
        took = time.monotonic() - t0
        print(f"\nmarked by hand, then a timeline notification: found and in the inbox {took * 1000:.0f} ms later")
        assert took < catchup.SOON_GAP + 3, took  # seconds, not the hour
        assert await marked(core) == [(3, 6, "marked", "handmark")]
        checks = {c.name: c for c in await core.diagnostics()}
        assert ("Live sessions on NAS" in checks) == bool(live)
        assert ("Notifications from NAS" in checks) == (not live)
        assert core.status.plex.live == (("NAS",) if live else ())
    finally:
        await core.stop()


async def test_a_mark_that_also_came_as_a_webhook_counts_once(paths, settings, plex) -> None:
    _, pms = plex
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    core = await started(paths, settings)
    try:
        await _with_show(core)
        await core.runtime.catch_up.run()  # the first look
        assert (await post(webhook_url(core), sample("scrobble-legacy-themoviedb")))[0] == 200  # S01E01, alice
        pms.mark_watched("301", show, 1, 1, viewed_at=time.time() + 1)  # the same play, on the item
        pms.mark_watched("302", show, 1, 2, viewed_at=time.time() + 2)  # and one only marked
        result = await core.runtime.catch_up.run()
        assert (result.marks_read, result.marks_added) == (2, 1)
        assert await marked(core) == [(1, 1, "marked", "127.0.0.1"), (1, 2, "marked", "handmark")]
    finally:
        await core.stop()


async def test_a_server_whose_libraries_cannot_be_read_says_so_once_and_is_tried_again(
        paths, settings, plex, monkeypatch, caplog) -> None:
    _, pms = plex
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(catchup, "RETRY", 0.3)
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    core = await started(paths, settings)
    try:
        await _with_show(core)
        await wait_for(lambda: core.status.plex.caught_up, timeout=15)
        pms.sections_broken = True  # its history answers; its libraries do not
        pms.mark_watched("401", show, 4, 1)
        core.runtime.catch_up.soon()
        await wait_for(lambda: len([r for r in pms.requests if r[1] == "/library/sections"]) >= 4, timeout=15)
        assert core.status.plex.caught_up.failed == ("NAS",)
        assert caplog.text.count("Could not read what was marked viewed on NAS") == 1
        checks = {c.name: c for c in await core.diagnostics()}
        assert "could not read NAS" in checks["Catch-up"].detail
        pms.sections_broken = False
        await wait_for(lambda: core.status.plex.caught_up.marks_added == 1, timeout=15)
        assert await marked(core) == [(4, 1, "marked", "handmark")]
        assert "What was marked viewed on NAS can be read again" in caplog.text
    finally:
        await core.stop()


async def test_other_accepted_accounts_marks_are_seen_where_plex_gives_their_token(paths, settings, plex) -> None:
    tv, pms = plex
    owner_token = next(iter(tv.users))
    bob = tv.add_other(owner_token, pms, "bob")  # Plex Home: plex.tv lists his token for the server
    tv.add_other(owner_token, pms, "carol", token_given=False)  # no token for her
    tv.add_other(owner_token, pms, "dave")  # a token, but not an accepted account: not read
    settings.accepted_accounts = ["bob", "carol"]
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    core = await started(paths, settings)
    try:
        await _with_show(core)
        await wait_for(lambda: core.status.plex.caught_up, timeout=15)
        await core.runtime.plex.users()  # (the server's accounts: names stand for their ids)
        first = await core.runtime.catch_up.run()
        assert (first.marks_accounts, first.marks_not_covered) == (("alice", "bob"), ("carol",))
        pms.mark_watched("501", show, 5, 1, account_id=bob.id, viewed_at=time.time() + 1)
        pms.mark_watched("502", show, 5, 2, viewed_at=time.time() + 2)  # alice's own
        result = await core.runtime.catch_up.run()
        assert (result.marks_read, result.marks_added) == (2, 2)
        await settled(core)
        rows = await core.runtime.run(core.runtime.store.scrobbles, limit=10)
        assert sorted((r.episode, r.account_title, r.action, r.source) for r in rows) == [
            (1, "bob", "marked", "handmark"), (2, "alice", "marked", "handmark")]
        looked = [r for r in pms.requests if r[1].startswith("/library/sections/2/all")]
        assert len(looked) == 4  # alice and bob, twice: dave's token is never used
        checks = {c.name: c for c in await core.diagnostics()}
        assert ("(alice's, bob's); marks made by hand by carol are not seen (Plex gives no token for them)"
                in checks["Catch-up"].detail)
    finally:
        await core.stop()


@pytest.mark.parametrize("undo", [False, True])
async def test_an_unmark_is_said_and_taken_back_only_when_chosen(paths, settings, plex, undo) -> None:
    _, pms = plex
    settings.plex_undo_unmarked = undo
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    core = await started(paths, settings)
    try:
        await _with_show(core)
        await wait_for(lambda: core.status.plex.caught_up, timeout=15)
        pms.mark_watched("601", show, 6, 1, viewed_at=time.time() + 1)
        pms.mark_watched("602", show, 6, 2, viewed_at=time.time() + 2)
        await core.runtime.catch_up.run()
        assert [r[:3] for r in await marked(core)] == [(6, 1, "marked"), (6, 2, "marked")]
        pms.unmark("601")  # "Mark as unplayed" in Plex
        result = await core.runtime.catch_up.run()
        taken = "its watch was taken back in the built-in tracker" if undo else "the tracker keeps it"
        assert result.unmarked == (f"Breaking Bad S06E01 was marked unplayed in Plex on NAS by alice; {taken}",)
        assert [r[:3] for r in await marked(core)] == [(6, 1, "undone" if undo else "marked"), (6, 2, "marked")]
        checks = {c.name: c for c in await core.diagnostics()}
        assert "Breaking Bad S06E01 was marked unplayed" in checks["Catch-up"].detail
        assert (await core.runtime.catch_up.run()).unmarked == ()  # said once
    finally:
        await core.stop()


async def test_the_stand_in_answers_as_python_plexapi_expects(plex) -> None:
    """The stand-in's libraries, read through python-plexapi's own objects (not ours)."""
    import asyncio

    from plexapi.server import PlexServer

    _, pms = plex
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    pms.mark_watched("701", show, 7, 1, viewed_at=1_764_800_000)
    pms.mark_movie_watched("702", "Dune", 2021, viewed_at=1_764_800_100, tmdb="438631")

    def read() -> tuple[list[tuple[str, str]], list[object], list[object]]:
        server = PlexServer(pms.url, pms.token)
        sections = [(s.type, s.title) for s in server.library.sections()]
        episodes = server.fetchItems("/library/sections/2/all?type=4&lastViewedAt%3E%3E=1764799999")
        movies = server.fetchItems("/library/sections/1/all?type=1&includeGuids=1&lastViewedAt%3E%3E=1764800100")
        return sections, episodes, movies

    sections, episodes, movies = await asyncio.to_thread(read)
    assert sections == [("movie", "Movies"), ("show", "TV Shows")]
    [episode] = episodes
    assert (type(episode).__name__, episode.grandparentTitle, episode.seasonNumber, episode.index,
            episode.viewCount, int(episode.lastViewedAt.timestamp())) == (
        "Episode", "Breaking Bad", 7, 1, 1, 1_764_800_000)
    assert movies == []  # viewed at that second, not after it


async def test_a_damaged_state_file_means_from_now_on_not_a_traceback(paths, settings, plex, caplog) -> None:
    from app.core.config import save_state

    _, pms = plex
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    save_state(paths, plex_marks_seen={pms.uuid: {"at": "yesterday", "recent": [{"k": 5}]}, "x": 3})
    pms.mark_watched("801", show, 8, 1, viewed_at=time.time() - 3600)
    core = await started(paths, settings)
    try:
        result = await wait_for(lambda: core.status.plex.caught_up, timeout=15)
        assert (result.marks_read, result.failed) == (0, ())
        assert "Traceback" not in caplog.text and "Catch-up failed" not in caplog.text
        assert load_state(paths)["plex_marks_seen"][pms.uuid]["at"] >= int(time.time()) - 5
    finally:
        await core.stop()


async def test_plex_catch_up_on_the_command_line_says_what_was_marked_by_hand(
        paths, settings, plex, capsys, monkeypatch) -> None:
    import asyncio
    from datetime import datetime, timedelta

    from app.cli import main
    from app.core.config import save_settings

    tv, pms = plex
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    save_settings(paths, settings)
    monkeypatch.setenv("SCROBBLETRAY_PLEX_TV_URL", tv.url)
    pms.mark_watched("811", show, 8, 1, viewed_at=time.time() - 5 * 86_400)
    pms.mark_movie_watched("812", "Dune", 2021, viewed_at=time.time() - 4 * 86_400)
    since = (datetime.now() - timedelta(days=10)).strftime("%Y-%m-%d")
    assert await asyncio.to_thread(main, ["--data-dir", str(paths.data_dir), "plex", "catch-up", "--since", since]) == 0
    out = capsys.readouterr().out
    assert ("Marked viewed in Plex since the last look: 2, of which 2 marked by hand (no play of theirs came "
            "any other way); looked at for alice.") in out  # (the episode and the movie)


async def test_a_look_is_bounded_like_the_history_and_a_wrong_date_is_said_once(
        paths, settings, plex, monkeypatch) -> None:
    from app.core.plex import account as plex_account

    _, pms = plex
    monkeypatch.setattr(plex_account, "PAGE", 10)
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    core = await started(paths, settings)
    try:
        await _with_show(core)
        await wait_for(lambda: core.status.plex.caught_up, timeout=15)
        now = time.time()
        for n in range(1, 26):
            pms.mark_watched(str(900 + n), show, 9, n, viewed_at=now + n)
        pms.mark_watched("999", show, 9, 99, viewed_at=now + 400 * 86_400)  # a server clock a year ahead
        pms.library_repeats = True  # page one, whatever is asked
        result = await core.runtime.catch_up.run()
        looked = [r for r in pms.requests if r[1].startswith("/library/sections/2/all")]
        assert len(looked) == 2  # page one, then the same again: stopped there
        assert result.marks_added == 10  # page one's: the oldest first
        assert result.notes == (
            "NAS: the server sent items it had sent already; looking at what was viewed stopped there",)
        state = load_state(paths)["plex_marks_seen"][pms.uuid]["sections"]["2"]
        assert state == {"at": int(now + 10), "keys": ["910"]}  # where it got to
        pms.library_repeats = False
        result = await core.runtime.catch_up.run()  # the rest, from there on
        assert result.marks_added == 15
        assert result.notes == (
            "NAS: 1 item(s) marked viewed in the future or before 2000 were left out (is the server's clock right?)",)
        assert load_state(paths)["plex_marks_seen"][pms.uuid]["sections"]["2"]["at"] == int(now + 25)  # not a year on
        result = await core.runtime.catch_up.run()
        assert (result.marks_added, result.notes) == (0, ())  # the misdated item: said once
        assert [r[:2] for r in await marked(core)] == [(9, n) for n in range(1, 26)]  # each once
    finally:
        await core.stop()
