"""Live sessions without Plex Pass: a stand-in server's playback notifications (its
websocket, tests/fake_plex.py) followed by the real core."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.core.config import Paths, Settings
from app.core.credentials import set_secret
from app.core.facade import Core
from app.core.plex.service import TOKEN_KEY
from app.present.formatting import plex_text
from tests.fake_plex import FakePlexTv, FakePms, FakeShow
from tests.helpers import settled, wait_for

pytestmark = pytest.mark.timeout(60)
MINUTE = 60_000  # ms
DURATION = 50 * MINUTE


@pytest.fixture
def websocket() -> bool:
    return True


@pytest.fixture
async def live(paths: Paths, settings: Settings, websocket: bool) -> AsyncIterator[tuple[Core, FakePms, FakeShow]]:
    """Signed in to an account without Plex Pass: live mode is on by itself."""
    async with FakePlexTv() as tv, FakePms(name="NAS") as pms:
        pms.websocket = websocket
        tv.servers.append(pms)
        token, _ = tv.add_user("alice", plex_pass=False)
        set_secret(paths, TOKEN_KEY, token)
        settings.plex_tv_url = tv.url
        show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
        core = Core(paths, settings)
        await core.start()
        try:
            await core.runtime.run(core.runtime.store.add_show, title="Breaking Bad", year=2008, tmdb_id=1396)
            await wait_for(lambda: core.status.plex.live == ("NAS",) and (pms.sockets or not websocket), timeout=15)
            yield core, pms, show
        finally:
            await core.stop()


async def rows(core: Core) -> list[tuple[int, str, str | None, str | None]]:
    await settled(core)
    return sorted((r.episode or 0, r.action, r.source, r.account_title)
                  for r in await core.runtime.run(core.runtime.store.scrobbles))


async def test_a_session_passing_the_threshold_marks_the_episode_once(live) -> None:
    core, pms, show = live
    assert "following live sessions on NAS" in plex_text(core.status.plex)
    pms.start_session("7", "901", show, 1, 1, duration=DURATION)
    for minutes in (1, 10, 25, 44):
        await pms.notify("7", minutes * MINUTE)
    assert await rows(core) == []  # 88 %: not yet
    await pms.notify("7", 46 * MINUTE)  # 92 %
    await wait_for(_counted(core, 1), timeout=10)
    await pms.notify("7", 48 * MINUTE)
    await pms.notify("7", 20 * MINUTE)  # seeks back...
    await pms.notify("7", 47 * MINUTE)  # ...and past the threshold again: the same play
    await pms.notify("7", 50 * MINUTE, "stopped")
    assert await rows(core) == [(1, "marked", "live", "alice")]
    checks = {c.name: c for c in await core.diagnostics()}
    assert checks["Live sessions on NAS"].detail == "followed: 1 play(s) counted since start"
    assert checks["Plex account"].status == "pass" and "followed live on NAS" in checks["Plex account"].detail


def _counted(core: Core, n: int):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return len(await core.runtime.run(core.runtime.store.scrobbles)) >= n
    return check


async def test_a_pause_at_half_and_a_stop_make_no_scrobble(live) -> None:
    core, pms, show = live
    pms.start_session("8", "902", show, 1, 2, duration=DURATION)
    await pms.notify("8", 10 * MINUTE)
    await pms.notify("8", 25 * MINUTE, "paused")
    await pms.notify("8", 25 * MINUTE, "stopped")
    pms.start_session("9", "903", show, 1, 3, duration=DURATION)  # something else after it
    await pms.notify("9", 47 * MINUTE)
    await wait_for(_counted(core, 1), timeout=10)
    assert await rows(core) == [(3, "marked", "live", "alice")]


async def test_two_accounts_at_once_each_their_own(live) -> None:
    core, pms, show = live
    pms.start_session("10", "904", show, 1, 4, duration=DURATION)
    pms.start_session("11", "905", show, 1, 5, account_id=5001, account="carol", duration=DURATION)
    for minutes in (5, 30, 46):
        await pms.notify("10", minutes * MINUTE)
        await pms.notify("11", minutes * MINUTE)
    await wait_for(_counted(core, 2), timeout=10)
    assert await rows(core) == [(4, "marked", "live", "alice"), (5, "ignored", "live", "carol")]


async def test_the_socket_dropping_mid_play_loses_nothing(live) -> None:
    core, pms, show = live
    pms.start_session("12", "906", show, 1, 6, duration=DURATION)
    await pms.notify("12", 20 * MINUTE)
    await pms.drop_sockets()
    await wait_for(lambda: pms.sockets, timeout=15)  # reconnected (after a short back-off)
    await pms.notify("12", 46 * MINUTE)
    await wait_for(_counted(core, 1), timeout=10)
    assert await rows(core) == [(6, "marked", "live", "alice")]


@pytest.fixture
def fast_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.core.plex import live as live_module

    monkeypatch.setattr(live_module, "POLL", 0.1)


@pytest.mark.parametrize("websocket", [False])
async def test_without_the_websocket_the_session_list_is_polled(fast_poll, live) -> None:
    core, pms, show = live
    pms.start_session("13", "907", show, 1, 7, duration=DURATION)
    await pms.notify("13", 25 * MINUTE, "paused")  # (no socket: only the list says it)
    await wait_for(lambda: any(r[1] == "/status/sessions" for r in pms.requests), timeout=15)
    await pms.notify("13", 47 * MINUTE)
    await wait_for(_counted(core, 1), timeout=10)
    await pms.notify("13", 49 * MINUTE, "stopped")
    assert await rows(core) == [(7, "marked", "live", "alice")]
