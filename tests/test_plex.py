"""Connect Plex, end to end: the real python-plexapi against stand-ins for plex.tv and a
Plex Media Server (tests/fake_plex.py), and the real core with its webhook server."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import logging
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.core.config import Paths, Settings
from app.core.credentials import get_secret, set_authtoken
from app.core.facade import Core
from app.core.logs import REDACTOR
from app.core.plex.http import NoPlexPass, PlexError
from app.core.plex.registration import plan
from app.core.plex.service import TOKEN_KEY
from app.core.types import CheckStatus
from tests.fake_plex import FakePlexTv, FakePms
from tests.helpers import NGROK_TOKEN, agent_pids, new_agent, post, sample, settled, wait_for, webhook_url, write_agent

pytestmark = pytest.mark.timeout(60)
FAST = dict(poll_interval=0.1, backoff_base=0.05, backoff_cap=0.4, start_timeout=8, request_timeout=2)
FOREIGN = ["https://hooks.example.org/sonarr", "http://192.168.1.20:8080/plex", "https://tautulli.example/hook"]


@pytest.fixture
async def plex(settings: Settings) -> AsyncIterator[tuple[FakePlexTv, FakePms]]:
    """plex.tv and one server of the account's, both stand-ins; the core is pointed at them."""
    async with FakePlexTv() as tv, FakePms(name="NAS") as pms:
        tv.servers.append(pms)
        settings.plex_tv_url = tv.url
        yield tv, pms


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """What the log file would hold: INFO and up, through the app's redactor."""
    caplog.handler.addFilter(REDACTOR)
    caplog.set_level(logging.INFO)
    return caplog


# -- sign-in ---------------------------------------------------------------------------

async def test_signing_in_with_a_pin_keeps_the_token_in_the_keyring_and_out_of_the_log(
        core: Core, plex: tuple[FakePlexTv, FakePms], paths: Paths, settings: Settings, log) -> None:
    tv, _ = plex
    token, _ = tv.add_user("alice")
    sign_in = await core.runtime.plex.begin_sign_in()
    assert sign_in.url.startswith("https://app.plex.tv/auth/#!?") and "clientID=" in sign_in.url
    assert tv.latest_pin().code in sign_in.url
    waiting = asyncio.create_task(sign_in.token(poll=0.05))
    await asyncio.sleep(0.2)
    assert not waiting.done()  # nobody has signed in on Plex's page yet
    tv.approve(token)
    assert await waiting == token
    where = await core.plex_signed_in(token)
    assert "private file" in where  # the tests' keyring is the failing one: the fallback is used
    assert get_secret(paths, TOKEN_KEY) == token
    st = core.status.plex
    assert (st.signed_in, st.username, st.plex_pass, st.servers) == (True, "alice", True, ("NAS",))
    assert token not in log.text and "Signed in" in (st.note or "")
    # A restart reads it again, without a sign-in.
    await core.stop()
    again = Core(paths, settings)
    await again.start()
    try:
        assert again.runtime.plex.connected
    finally:
        await again.stop()


async def test_the_headless_sign_in_gives_a_code_for_plex_tv_link(core: Core, plex) -> None:
    tv, _ = plex
    sign_in = await core.runtime.plex.begin_sign_in(browser=False)
    assert sign_in.url == "https://plex.tv/link" and len(sign_in.code) == 4
    assert sign_in.code == tv.latest_pin().code


async def test_an_expired_code_says_to_start_again(core: Core, plex) -> None:
    tv, _ = plex
    sign_in = await core.runtime.plex.begin_sign_in()
    tv.expire_pins()
    with pytest.raises(PlexError, match="expired") as err:
        await sign_in.token(poll=0.05)
    assert "again" in (err.value.fix or "")
    assert not core.runtime.plex.connected


async def test_cancelling_the_sign_in_stops_asking_plex(core: Core, plex, paths: Paths) -> None:
    tv, _ = plex
    sign_in = await core.runtime.plex.begin_sign_in()
    waiting = asyncio.create_task(sign_in.token(poll=0.05))
    await asyncio.sleep(0.2)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    asked = len(tv.requests)
    await asyncio.sleep(0.3)
    assert len(tv.requests) <= asked + 1  # at most the poll that was under way
    assert get_secret(paths, TOKEN_KEY) is None and not core.runtime.plex.connected


async def test_a_revoked_token_asks_to_sign_in_again(core: Core, plex) -> None:
    tv, _ = plex
    token, _ = tv.add_user("alice")
    await core.plex_signed_in(token)
    tv.revoke(token)
    checks = {c.name: c for c in await core.diagnostics()}
    assert checks["Plex account"].status == CheckStatus.FAIL
    assert "no longer accepts" in checks["Plex account"].detail
    assert "Sign in to Plex again" in checks["Plex account"].fix
    assert not core.runtime.plex.connected and not core.status.plex.signed_in


async def test_signing_out_forgets_the_token(core: Core, plex, paths: Paths) -> None:
    tv, _ = plex
    token, _ = tv.add_user("alice")
    await core.plex_signed_in(token)
    await core.runtime.plex.sign_out()
    assert get_secret(paths, TOKEN_KEY) is None
    assert not core.status.plex.signed_in and not core.runtime.plex.connected


# -- registration ----------------------------------------------------------------------

def test_the_plan_keeps_foreign_urls_in_place_and_replaces_only_ours() -> None:
    ours_old_host = "https://old-tunnel.ngrok-free.app/webhook/SECRET"
    ours_old_secret = "https://now.ngrok-free.app/webhook/OLDSECRET"
    remembered = "https://long-ago.ngrok-free.app/webhook/ANCIENT"
    existing = [FOREIGN[0], ours_old_host, FOREIGN[1], ours_old_secret, remembered, FOREIGN[2],
                "https://elsewhere.example/webhook/notours"]
    p = plan(existing, "https://now.ngrok-free.app/webhook/SECRET", "SECRET", {"long-ago.ngrok-free.app"})
    assert p.urls == [FOREIGN[0], FOREIGN[1], FOREIGN[2], "https://elsewhere.example/webhook/notours",
                      "https://now.ngrok-free.app/webhook/SECRET"]
    assert p.removed == [ours_old_host, ours_old_secret, remembered] and p.changed
    same = plan(p.urls, "https://now.ngrok-free.app/webhook/SECRET", "SECRET", set())
    assert not same.changed and same.urls == p.urls


@pytest.fixture
async def tunnelled(paths: Paths, settings: Settings, tmp_path: Path, plex) -> AsyncIterator[Core]:
    settings.ngrok_path = str(write_agent(tmp_path / "bin" / "ngrok"))
    set_authtoken(paths, NGROK_TOKEN)
    core = Core(paths, settings)
    core.runtime._tunnel_options = FAST
    await core.start()
    await core.wait_tunnel()
    yield core
    await core.stop()
    assert agent_pids(str(paths.data_dir)) == []


def ours(urls: list[str], secret: str) -> list[str]:
    return [u for u in urls if u.endswith(f"/webhook/{secret}")]


async def test_registering_keeps_three_foreign_webhooks_and_replaces_our_stale_one(tunnelled: Core, plex) -> None:
    tv, _ = plex
    core = tunnelled
    stale = f"https://gone-a1b2.ngrok-free.app/webhook/{core.secret}"
    token, user = tv.add_user("alice", webhooks=[FOREIGN[0], stale, FOREIGN[1], FOREIGN[2]])
    await core.plex_signed_in(token)  # on by default: it registers by itself
    url = core.public_webhook_url
    assert user.webhooks == [FOREIGN[0], FOREIGN[1], FOREIGN[2], url]
    st = core.status.plex
    assert st.registered and "replacing 1 old one" in (st.note or "") and "3 other" in (st.note or "")
    assert core.secret not in (st.registered_url or "") and core.secret not in (st.note or "")
    posts = [r for r in tv.requests if r == ("POST", "/api/v2/user/webhooks")]
    assert len(posts) == 1
    assert tv.requests.index(("GET", "/api/v2/user/webhooks")) < tv.requests.index(posts[0])  # read first
    checks = {c.name: c for c in await core.diagnostics()}
    assert checks["Webhook URL in Plex"].status == CheckStatus.PASS
    assert await core.plex_register() == "The webhook URL was already registered in Plex"
    assert len([r for r in tv.requests if r == ("POST", "/api/v2/user/webhooks")]) == 1  # nothing to write


async def test_the_public_url_changing_twice_is_registered_twice_never_two_of_ours(tunnelled: Core, plex,
                                                                                  log) -> None:
    tv, _ = plex
    core = tunnelled
    token, user = tv.add_user("alice", webhooks=list(FOREIGN))
    await core.plex_signed_in(token)
    first = core.public_webhook_url
    assert ours(user.webhooks, core.secret) == [first]
    seen = [first]
    for _ in range(2):
        [pid] = agent_pids(str(core.paths.data_dir))
        os.kill(pid, signal.SIGKILL)
        await wait_for(lambda: core.status.tunnel == "online" and core.public_webhook_url not in seen, timeout=20)
        seen.append(core.public_webhook_url)
        await wait_for(lambda: ours(user.webhooks, core.secret) == [core.public_webhook_url], timeout=10)
        assert user.webhooks[:3] == FOREIGN
        assert not core.status.url_changed  # nothing left for the user to do
    assert "registering it in Plex" in log.text and core.secret not in log.text
    # Someone replaced the whole list in Plex Web meanwhile: a new register puts ours back.
    user.webhooks = [FOREIGN[0]]
    await core.plex_register()
    assert user.webhooks == [FOREIGN[0], core.public_webhook_url]


async def test_without_plex_pass_registration_says_so_and_writes_nothing(tunnelled: Core, plex) -> None:
    tv, _ = plex
    core = tunnelled
    token, _ = tv.add_user("bob", plex_pass=False, webhooks=[])
    await core.plex_signed_in(token)
    with pytest.raises(NoPlexPass, match="no Plex Pass"):
        await core.plex_register()
    assert ("POST", "/api/v2/user/webhooks") not in tv.requests
    st = core.status.plex
    assert st.plex_pass is False and "Plex Pass" in (st.problem or "")
    checks = {c.name: c for c in await core.diagnostics()}
    assert checks["Plex account"].status == CheckStatus.FAIL and "Plex Pass" in checks["Plex account"].detail
    # The URL changes and cannot be registered: the user is told to update Plex by hand.
    [pid] = agent_pids(str(core.paths.data_dir))
    os.kill(pid, signal.SIGKILL)
    await wait_for(lambda: core.status.tunnel == "online" and core.status.url_changed, timeout=20)


async def test_registering_without_a_tunnel_explains_why_not(core: Core, plex) -> None:
    tv, _ = plex
    token, _ = tv.add_user("alice")
    await core.plex_signed_in(token)
    with pytest.raises(PlexError, match="no public webhook URL") as err:
        await core.plex_register()
    assert "tunnel" in (err.value.fix or "")


# -- show ids from the server -------------------------------------------------------------

async def test_a_new_agent_show_with_a_chinese_library_title_is_matched_by_the_servers_ids(core: Core, plex) -> None:
    tv, pms = plex
    token, _ = tv.add_user("alice")
    pms.add_show("10000", "绝命毒师", 2008, imdb="tt0903747", tmdb="1396", tvdb="81189")
    await core.plex_signed_in(token)
    status, _ = await post(webhook_url(core), new_agent("绝命毒师", pms.uuid))
    assert status == 200
    await settled(core)
    [row] = await core.runtime.run(core.runtime.store.scrobbles)
    assert (row.action, row.match_method) == ("marked", "ids")
    # Asked once: the next episode of the show uses what the server said.
    asked = len([r for r in pms.requests if r[1].startswith("/library/metadata/")])
    payload = new_agent("绝命毒师", pms.uuid)
    payload["Metadata"]["index"] = 2
    await post(webhook_url(core), payload)
    await settled(core)
    assert len([r for r in pms.requests if r[1].startswith("/library/metadata/")]) == asked == 1


async def test_not_signed_in_the_conflict_says_signing_in_would_have_identified_it(core: Core, plex) -> None:
    _, pms = plex
    await post(webhook_url(core), new_agent("绝命毒师", pms.uuid))
    await settled(core)
    [row] = await core.runtime.run(core.runtime.store.scrobbles)
    assert row.action == "conflict" and "signing in to Plex would have identified" in (row.reason or "")
    assert pms.requests == []


async def test_an_unreachable_server_falls_back_to_titles_without_delaying_plex(core: Core, plex, log) -> None:
    tv, pms = plex
    token, _ = tv.add_user("alice")
    await core.plex_signed_in(token)
    await pms.__aexit__(None, None, None)  # the server goes away (its port now refuses)
    started = time.monotonic()
    status, _ = await post(webhook_url(core), new_agent("Breaking Bad", pms.uuid))
    assert status == 200 and time.monotonic() - started < 1.0
    payload = new_agent("绝命毒师", pms.uuid, show_key="20000")
    await post(webhook_url(core), payload)
    await settled(core)
    rows = {r.plex_title: r for r in await core.runtime.run(core.runtime.store.scrobbles)}
    assert rows["Breaking Bad"].action == "marked" and rows["Breaking Bad"].match_method != "ids"
    assert rows["绝命毒师"].action == "conflict" and "did not answer" in (rows["绝命毒师"].reason or "")
    # No storm: the server is left alone for a while, one warning in the log.
    assert log.text.count("No answer from the Plex server") == 1


async def test_a_slow_server_never_delays_plexs_200(core: Core, plex) -> None:
    tv, pms = plex
    token, _ = tv.add_user("alice")
    pms.add_show("10000", "Breaking Bad", 2008, tmdb="1396")
    await core.plex_signed_in(token)
    pms.delay = 2.0
    times = []
    for episode in range(1, 6):
        payload = new_agent("Breaking Bad", pms.uuid)
        payload["Metadata"]["index"] = episode
        started = time.monotonic()
        assert (await post(webhook_url(core), payload))[0] == 200
        times.append(time.monotonic() - started)
    assert max(times) < 0.5, times
    await settled(core)
    rows = await core.runtime.run(core.runtime.store.scrobbles)
    assert {r.action for r in rows} == {"marked"} and len(rows) == 5


async def test_the_plex_tv_address_can_come_from_the_environment(paths, settings, monkeypatch) -> None:
    async with FakePlexTv() as tv:
        token, _ = tv.add_user("carol")
        monkeypatch.setenv("SCROBBLETRAY_PLEX_TV_URL", tv.url)
        core = Core(paths, settings)
        await core.start()
        try:
            await core.plex_signed_in(token)
            assert core.status.plex.username == "carol"
        finally:
            await core.stop()
    assert json.dumps(settings.to_dict()).count(tv.url) == 0  # not written into the settings


# -- the command line ----------------------------------------------------------------------

async def test_plex_login_on_the_command_line_prints_a_code_and_waits(paths: Paths, plex, capsys,
                                                                     monkeypatch) -> None:
    from app.cli import main

    tv, _ = plex
    token, _ = tv.add_user("alice", webhooks=list(FOREIGN))
    monkeypatch.setenv("SCROBBLETRAY_PLEX_TV_URL", tv.url)
    data = ["--data-dir", str(paths.data_dir)]
    login = asyncio.create_task(asyncio.to_thread(main, [*data, "plex", "login"]))
    await wait_for(lambda: tv.pins, timeout=10)
    await asyncio.sleep(0.2)
    assert not login.done()  # waiting for the user
    tv.approve(token)
    assert await login == 0
    out = capsys.readouterr().out
    assert f"Open https://plex.tv/link on any device, sign in, and enter the code:  {tv.latest_pin().code}" in out
    assert "Account: alice" in out and "Plex Pass: yes" in out and "Servers: NAS" in out
    assert token not in out
    assert await asyncio.to_thread(main, [*data, "plex", "status"]) == 0
    # register needs the running app's public URL...
    assert await asyncio.to_thread(main, [*data, "plex", "register"]) == 1
    assert "not running with its tunnel online" in capsys.readouterr().err
    # ...which a running app leaves in its state file, and answers on its port (a socket here).
    import socket

    from app.core.config import save_state
    with socket.socket() as app_port:
        app_port.bind(("127.0.0.1", 0))
        app_port.listen()
        save_state(paths, tunnel_online=True, public_url="https://abc.ngrok-free.app",
                   listening={"host": "127.0.0.1", "port": app_port.getsockname()[1]})
        assert await asyncio.to_thread(main, [*data, "plex", "register"]) == 0
    assert capsys.readouterr().out.startswith("Registered the webhook URL in Plex; 3 other webhook(s) kept")
    assert tv.users[token].webhooks[:3] == FOREIGN and len(tv.users[token].webhooks) == 4
    assert await asyncio.to_thread(main, [*data, "plex", "logout"]) == 0
    assert await asyncio.to_thread(main, [*data, "plex", "status"]) == 1
    assert "Not signed in" in capsys.readouterr().err


def stop_payload(server_uuid: str, episode_key: str, episode: int) -> dict[str, Any]:
    payload = copy.deepcopy(sample("stop-new-agent-episode"))
    payload["Server"]["uuid"] = server_uuid
    payload["Metadata"].update(ratingKey=episode_key, index=episode, grandparentRatingKey="10000",
                               grandparentTitle="Breaking Bad")
    for left_out in ("viewOffset", "duration"):  # as some players' stops come
        payload["Metadata"].pop(left_out, None)
    return payload


async def test_a_stop_without_progress_is_judged_by_what_the_server_says(core: Core, plex) -> None:
    tv, pms = plex
    token, _ = tv.add_user("alice")
    pms.add_show("10000", "Breaking Bad", 2008, tmdb="1396")
    pms.add_episode("501", viewOffset=3_300_000)  # stopped at 95 %
    pms.add_episode("502", viewOffset=600_000)  # stopped at 17 %
    pms.add_episode("503", viewCount=1, lastViewedAt=int(time.time()))  # the server counted it watched
    pms.add_episode("504", viewCount=1, lastViewedAt=int(time.time()) - 86_400 * 30)  # watched long ago
    await core.plex_signed_in(token)
    for n in (1, 2, 3, 4):
        assert (await post(webhook_url(core), stop_payload(pms.uuid, f"50{n}", n)))[0] == 200
    await settled(core)
    rows = {r.episode: r for r in await core.runtime.run(core.runtime.store.scrobbles)}
    assert rows[1].action == "marked"
    assert rows[2].action == "ignored" and "stopped at 17%" in (rows[2].reason or "")
    assert rows[3].action == "marked"
    assert rows[4].action == "ignored" and "no progress information" in (rows[4].reason or "")


async def test_a_show_created_from_a_conflict_gets_the_servers_first_year(core: Core, plex) -> None:
    tv, pms = plex
    token, _ = tv.add_user("alice")
    pms.add_show("30000", "Doctor Who", 2005, tvdb="78804")  # ids the tracker does not have
    await core.plex_signed_in(token)
    payload = new_agent("Doctor Who", pms.uuid, show_key="30000")
    payload["Metadata"]["year"] = 2013  # the episode's year, as Plex sends it
    await post(webhook_url(core), payload)
    await settled(core)
    [conflict] = await core.conflicts()
    assert conflict.plex_year == 2005
    await core.resolve_conflict(conflict.id, create=True)
    shows = {s.title: s for s in await core.runtime.run(core.runtime.store.list_shows)}
    assert shows["Doctor Who"].year == 2005 and shows["Doctor Who"].tvdb_id == 78804


async def test_accepted_accounts_picked_by_name_also_match_their_ids(core: Core, plex, settings: Settings) -> None:
    tv, pms = plex
    token, owner = tv.add_user("alice")
    pms.accounts = {1: "alice", 5001: "Bob", 7000: "carol"}  # server ids: 1 is the owner, friends keep theirs
    await core.plex_signed_in(token)
    users = await core.runtime.plex.users()
    assert [(u.name, u.plex_id, u.server_id, u.owner) for u in users] == [
        ("alice", owner.id, 1, True), ("Bob", 5001, 5001, False), ("carol", 7000, 7000, False)]
    await core.apply_settings(dataclasses.replace(core.settings, accepted_accounts=["bob", str(owner.id)]))

    def shared(account_id: int, title: str, episode: int) -> dict[str, Any]:
        payload = copy.deepcopy(sample("scrobble-legacy-themoviedb"))
        payload.update(user=False, owner=True, Account={"id": account_id, "title": title})
        payload["Metadata"]["index"] = episode
        return payload

    for payload in (shared(5001, "Plex User", 1),  # Bob under a generic title: by his id
                    shared(1, "Plex User", 2),  # the owner by the server's id, accepted by plex.tv's
                    shared(7000, "carol", 3)):  # not accepted
        await post(webhook_url(core), payload)
    await settled(core)
    rows = {r.episode: r.action for r in await core.runtime.run(core.runtime.store.scrobbles)}
    assert rows == {1: "marked", 2: "marked", 3: "ignored"}
