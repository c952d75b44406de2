"""The core with its tunnel, through the stand-in ngrok agent driven by the real pyngrok."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from app.core.config import Paths, Settings, load_state, save_settings
from app.core.credentials import set_authtoken
from app.core.diagnostics import PASS, WARN
from app.core.facade import Core
from tests.helpers import BREAKING_BAD, NGROK_TOKEN, agent_pids, post, running, sample, settled, wait_for, write_agent

pytestmark = pytest.mark.timeout(60)
FAST = dict(poll_interval=0.1, backoff_base=0.05, backoff_cap=0.4, start_timeout=8, request_timeout=2)


@pytest.fixture
async def tunnelled(paths: Paths, settings: Settings, tmp_path: Path) -> AsyncIterator[Core]:
    """A core whose tunnel runs through the stand-in agent."""
    settings.ngrok_path = str(write_agent(tmp_path / "bin" / "ngrok"))
    set_authtoken(paths, NGROK_TOKEN)
    core = Core(paths, settings)
    core.runtime._tunnel_options = FAST
    await core.start()
    await core.runtime.run(core.runtime.store.add_show, **BREAKING_BAD)
    await core.wait_tunnel()
    yield core
    await core.stop()
    assert agent_pids(str(paths.data_dir)) == [], "an ngrok agent outlived the app"


async def test_a_scrobble_through_the_public_url_marks_the_episode(tunnelled: Core) -> None:
    core = tunnelled
    assert core.status.tunnel == "online" and core.status.public_url
    assert not core.status.url_changed  # the first URL is new, not changed: nothing to replace
    label, url = core.webhook_urls()[0]
    assert label.startswith("Public") and url == f"{core.status.public_url}/webhook/{core.secret}"
    assert core.best_webhook_url() == url
    assert (await post(url, sample("scrobble-legacy-themoviedb")))[0] == 200
    await settled(core)
    [row] = await core.runtime.run(core.runtime.store.scrobbles)
    assert row.action == "marked" and row.source == "203.0.113.50"  # ngrok's client address
    assert core.runtime.server.stats.last_source == "203.0.113.50"
    assert load_state(core.paths)["tunnel_online"] is True


async def test_only_the_webhook_route_is_reachable_through_the_tunnel(tunnelled: Core) -> None:
    public = tunnelled.status.public_url
    async with aiohttp.ClientSession() as s:
        for path in ("/", "/admin", "/webhook", "/api/tunnels", "/status"):
            for method in ("GET", "POST"):
                async with s.request(method, public + path) as r:
                    assert r.status == 404, (method, path)
        async with s.get(f"{public}/webhook/{tunnelled.secret}") as r:
            assert r.status == 200


async def test_tunnel_guesses_are_rate_limited_by_forwarded_address(paths, settings, tmp_path,
                                                                    monkeypatch) -> None:
    settings.rate_limit_per_minute = 3
    settings.ngrok_path = str(write_agent(tmp_path / "bin" / "ngrok"))
    monkeypatch.setenv("NGROK_AUTHTOKEN", NGROK_TOKEN)  # counts as a token, as with ngrok's tools
    async with running(paths, settings, **FAST) as core:
        await core.wait_tunnel()
        public = core.public_webhook_url
        assert public
        wrong = public.replace(core.secret, "guess" * 8)
        async with aiohttp.ClientSession() as s:
            codes = [(await post(wrong, sample("play-new-agent-episode"), session=s))[0] for _ in range(4)]
            assert codes == [403, 403, 403, 429]
            # A client forging X-Forwarded-For does not escape: ngrok appends the real address.
            async with s.post(wrong, data=b"", headers={"X-Forwarded-For": "198.51.100.7"}) as r:
                assert r.status == 429
            # Local clients are counted apart from the tunnel's...
            local_wrong = core.local_webhook_url.replace(core.secret, "guess" * 8)
            assert (await post(local_wrong, sample("play-new-agent-episode"), session=s))[0] == 403
            # ...and Plex, with the right secret, is never refused.
            assert (await post(public, sample("play-new-agent-episode"), session=s))[0] == 200


async def test_agent_killed_brings_a_new_url_everywhere(tunnelled: Core) -> None:
    core = tunnelled
    old = core.best_webhook_url()
    [pid] = agent_pids(str(core.paths.data_dir))
    os.kill(pid, signal.SIGKILL)
    await wait_for(lambda: core.status.tunnel == "online" and core.best_webhook_url() != old, timeout=20)
    assert core.status.url_changed
    assert (await post(core.best_webhook_url(), sample("scrobble-legacy-themoviedb")))[0] == 200
    checks = {c.name: c for c in await core.diagnostics()}
    assert checks["Tunnel"].status == PASS
    assert checks["Public URL self-test"].status == PASS and "ms" in checks["Public URL self-test"].detail
    assert checks["Webhook URL in Plex"].status == WARN
    assert load_state(core.paths)["public_url"] == core.status.public_url


async def test_without_a_token_the_tunnel_stays_off_and_lan_urls_are_offered(paths, settings) -> None:
    settings.host = "0.0.0.0"
    async with running(paths, settings) as core:
        assert not core.tunnel_wanted() and core.status.tunnel == "off"
        labels = [label for label, _ in core.webhook_urls()]
        assert labels[-1] == "This computer only" and "Public (ngrok tunnel)" not in labels
        checks = {c.name: c for c in await core.diagnostics()}
        assert checks["Tunnel"].status == WARN and "authtoken" in checks["Tunnel"].fix


async def test_enabled_without_a_token_is_an_error_with_a_fix(paths, settings) -> None:
    settings.tunnel_enabled = True
    async with running(paths, settings) as core:
        await core.wait_tunnel()
        assert core.status.tunnel == "error" and core.status.attention
        assert "authtoken" in core.status.tunnel_reason.lower() and core.status.tunnel_fix
        assert core.best_webhook_url() == core.local_webhook_url


async def test_serve_prints_the_public_url_and_leaves_no_agent(paths, tmp_path) -> None:
    agent = write_agent(tmp_path / "bin" / "ngrok")
    set_authtoken(paths, NGROK_TOKEN)
    save_settings(paths, Settings(port=0))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "--data-dir", str(paths.data_dir), "--ngrok-path", str(agent),
        "serve", stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=Path(__file__).parents[1])
    try:
        lines = []
        while not any("Public, ngrok tunnel" in line for line in lines):
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert line, f"serve exited: {lines} {(await proc.stderr.read()).decode()[-500:]}"
            lines.append(line)
        url = lines[-1].split(": ", 1)[1].strip()
        assert (await post(url, sample("play-new-agent-episode")))[0] == 200
        assert agent_pids(str(paths.data_dir))
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        err = (await proc.stderr.read()).decode()
        assert NGROK_TOKEN not in err and NGROK_TOKEN not in "".join(lines)
        assert NGROK_TOKEN not in (paths.log_file.read_text())
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert agent_pids(str(paths.data_dir)) == []
    # The CLI knows the tunnel is closed now.
    out = subprocess.run([sys.executable, "-m", "app", "--data-dir", str(paths.data_dir), "webhook-url"],
                         capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert out.stdout.startswith("http://127.0.0.1:")


async def test_setting_the_authtoken_opens_the_tunnel_and_clearing_it_closes_it(paths, settings,
                                                                                 tmp_path) -> None:
    settings.ngrok_path = str(write_agent(tmp_path / "bin" / "ngrok"))
    async with running(paths, settings, **FAST) as core:
        assert core.status.tunnel == "off"
        where = await core.set_authtoken(NGROK_TOKEN)
        assert where == "a private file in the data folder"  # the test keyring refuses
        await core.wait_tunnel()
        assert core.status.tunnel == "online" and core.public_webhook_url
        assert NGROK_TOKEN in core.secrets()
        await core.set_authtoken(None)
        assert core.status.tunnel == "off" and core.public_webhook_url is None
        assert agent_pids(str(paths.data_dir)) == []
