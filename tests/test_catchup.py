"""Never miss a play: catch-up from a stand-in Plex server's history, through the real
python-plexapi and the real core."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import pytest

from app.core import catchup
from app.core.config import Paths, Settings, load_state
from app.core.facade import Core
from tests.helpers import post, sample, settled, wait_for, webhook_url

pytestmark = pytest.mark.timeout(60)
DAY = 86_400


async def started(paths: Paths, settings: Settings) -> Core:
    core = Core(paths, settings)
    await core.start()
    return core


async def marked(core: Core) -> list[tuple[int, int, str, str | None]]:
    await settled(core)
    return sorted((r.season or 0, r.episode or 0, r.action, r.source)
                  for r in await core.runtime.run(core.runtime.store.scrobbles, limit=5000))


async def test_plays_while_the_app_was_closed_are_all_marked_once(paths, settings, plex) -> None:
    _, pms = plex
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    core = await started(paths, settings)
    await core.runtime.run(core.runtime.store.add_show, title="Breaking Bad", year=2008, tmdb_id=1396)
    first = await wait_for(lambda: core.status.plex.caught_up, timeout=15)  # at start
    assert first.new_servers == ("NAS",) and first.added == 0  # a server new to it: from now on
    await core.stop()

    now = time.time()
    for n in range(1, 6):  # five episodes while Scrobble Tray is closed
        pms.play(f"20{n}", show, 1, n, viewed_at=now + n)
    core = await started(paths, settings)  # catches up at start
    try:
        await wait_for(lambda: core.status.plex.caught_up and core.status.plex.caught_up.added == 5, timeout=15)
        rows = await marked(core)
        assert rows == [(1, n, "marked", "history") for n in range(1, 6)]
        from app.present.formatting import plex_text
        assert "caught up 5 plays from while Scrobble Tray was off" in plex_text(core.status.plex)
        checks = {c.name: c for c in await core.diagnostics()}
        assert checks["Catch-up"].detail == "just now: 5 play(s) read, 5 added, 0 already here, 0 not counted"
        again = await core.runtime.catch_up.run(since=datetime.now(UTC) - timedelta(days=1))
        assert (again.added, again.already) == (0, 5)  # none twice
        assert [r for r in await marked(core) if r[3] == "history"] == rows
    finally:
        await core.stop()


async def test_a_play_that_came_as_a_webhook_counts_once_and_a_rewatch_next_day_again(
        paths, settings, plex) -> None:
    _, pms = plex
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    core = await started(paths, settings)
    try:
        await core.runtime.run(core.runtime.store.add_show, title="Breaking Bad", year=2008, tmdb_id=1396)
        await core.runtime.catch_up.run()
        assert (await post(webhook_url(core), sample("scrobble-legacy-themoviedb")))[0] == 200  # S01E01
        await settled(core)
        pms.play("301", show, 1, 1, viewed_at=time.time() + 60)  # the same play, in the history
        result = await core.runtime.catch_up.run()
        assert (result.read, result.added, result.already) == (1, 0, 1)
        pms.play("301", show, 1, 1, viewed_at=time.time() + DAY)  # watched again the next day
        result = await core.runtime.catch_up.run()
        assert (result.added, result.already) == (1, 0)
        rows = await marked(core)
        assert [(action, source == "history") for *_, action, source in rows] == [
            ("marked", False), ("rewatch", True)]
    finally:
        await core.stop()


async def test_history_is_read_in_pages_and_other_accounts_are_not_counted(paths, settings, plex) -> None:
    _, pms = plex
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    start = time.time() - 30 * DAY
    for i in range(1200):
        pms.play(str(1000 + i), show, 1 + i // 100, 1 + i % 100, viewed_at=start + i * 60,
                 account_id=1 if i % 10 else 4242)  # every tenth play is someone else's
    core = await started(paths, settings)
    try:
        await core.runtime.run(core.runtime.store.add_show, title="Breaking Bad", year=2008, tmdb_id=1396)
        seen: list[int] = []
        result = await core.runtime.catch_up.run(since=datetime.now(UTC) - timedelta(days=31),
                                         progress=seen.append)
        assert (result.read, result.added, result.ignored) == (1200, 1080, 120)
        assert seen == [500, 1000, 1200]
        history = [r for r in pms.requests if r[1].startswith("/status/sessions/history/all")]
        assert len(history) == 3
        await settled(core)
        rows = await core.runtime.run(core.runtime.store.scrobbles, limit=5000)
        assert len(rows) == 1080 and {r.action for r in rows} == {"marked"}
        assert load_state(paths)["plex_history_seen"][pms.uuid] >= int(start + 1199 * 60)
    finally:
        await core.stop()


async def test_a_server_unreachable_at_start_is_tried_again_later_without_a_storm(
        paths, settings, plex, monkeypatch, caplog) -> None:
    _, pms = plex
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(catchup, "RETRY", 0.5)
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    core = await started(paths, settings)
    await core.runtime.run(core.runtime.store.add_show, title="Breaking Bad", year=2008, tmdb_id=1396)
    await core.runtime.catch_up.run()
    await core.stop()
    await pms.__aexit__(None, None, None)  # the server is off when the app starts
    core = await started(paths, settings)
    try:
        await wait_for(lambda: core.status.plex.caught_up and core.status.plex.caught_up.failed == ("NAS",),
                       timeout=15)
        assert caplog.text.count("Catch-up could not read the history of NAS") == 1
        pms.play("401", show, 1, 4, viewed_at=time.time() + 1)
        await pms.__aenter__()  # back, at the same address
        await wait_for(lambda: core.status.plex.caught_up and core.status.plex.caught_up.added == 1, timeout=15)
        assert [r[:3] for r in await marked(core)] == [(1, 4, "marked")]
        assert caplog.text.count("Catch-up could not read the history of NAS") <= 3  # a retry each 0.5 s, no more
    finally:
        await core.stop()


async def test_plex_catch_up_on_the_command_line_imports_older_history(paths, settings, plex, capsys,
                                                                       monkeypatch) -> None:
    import asyncio

    from app.cli import main
    from app.core.config import save_settings

    tv, pms = plex
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    other = pms.add_show("200", "NonExistent Show XYZ", 2020)
    save_settings(paths, settings)
    monkeypatch.setenv("SCROBBLETRAY_PLEX_TV_URL", tv.url)
    data = ["--data-dir", str(paths.data_dir)]
    add = [*data, "shows", "add", "Breaking Bad", "--year", "2008", "--tmdb", "1396"]
    assert await asyncio.to_thread(main, add) == 0
    ten_days = time.time() - 10 * DAY
    for n in range(1, 4):
        pms.play(f"50{n}", show, 2, n, viewed_at=ten_days + n)
    pms.play("601", other, 1, 1, viewed_at=ten_days + 10)
    pms.play("602", show, 2, 9, viewed_at=ten_days + 20, account_id=777)  # a friend's: not counted
    since = (datetime.now() - timedelta(days=20)).strftime("%Y-%m-%d")
    capsys.readouterr()
    assert await asyncio.to_thread(main, [*data, "plex", "catch-up", "--since", since]) == 0
    out = capsys.readouterr().out
    assert "Read 5 play(s) from the history: 4 added, 0 already here, 1 not counted." in out
    assert "Of those added: 1 conflict, 3 marked" in out
    with pytest.raises(SystemExit) as exit_:
        await asyncio.to_thread(main, [*data, "plex", "catch-up", "--since", "yesterday"])
    assert exit_.value.code == 2 and "is not a date like" in capsys.readouterr().err

    # While the app runs, the command asks it (a core of its own would be a second one).
    core = await started(paths, settings)
    try:
        await wait_for(lambda: core.status.plex.caught_up, timeout=30)  # the one it runs at start
        pms.play("504", show, 2, 4, viewed_at=ten_days + 30)
        capsys.readouterr()
        assert await asyncio.to_thread(main, [*data, "plex", "catch-up", "--since", since]) == 0
        captured = capsys.readouterr()
        assert "1 added" in captured.out and "already runs" not in captured.err, captured
        assert core.status.plex.caught_up.added == 1  # the running app's own status says so
    finally:
        await core.stop()


async def test_after_the_computer_wakes_it_catches_up(paths, settings, plex, monkeypatch) -> None:
    _, pms = plex
    show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
    monkeypatch.setattr(catchup, "TICK", 0.05)
    slept = [0.0]
    real_time = time.time
    monkeypatch.setattr(catchup.time, "time", lambda: real_time() + slept[0])  # the wall clock only
    core = await started(paths, settings)
    try:
        await core.runtime.run(core.runtime.store.add_show, title="Breaking Bad", year=2008, tmdb_id=1396)
        await wait_for(lambda: core.status.plex.caught_up, timeout=30)  # at start: the server is new
        pms.play("451", show, 1, 5, viewed_at=real_time() + 30)  # watched while the laptop slept
        slept[0] = 3600.0  # an hour passes on the wall clock, none on the monotonic one
        await wait_for(lambda: core.status.plex.caught_up.added == 1, timeout=10)
        assert [r[:3] for r in await marked(core)] == [(1, 5, "marked")]
    finally:
        await core.stop()
