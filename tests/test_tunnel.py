"""TunnelManager against the real pyngrok and a fake ngrok agent (tests/fake_ngrok.py).

Everything runs on loopback: the fake agent's "public" URLs are listeners on 127.0.0.1,
and the agent download is pointed at local servers. Every test checks at the end that
no agent process it started is still alive.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml
from aiohttp import web
from pyngrok import installer

from app.core.tunnel import (
    TunnelConfig,
    TunnelManager,
    TunnelState,
    TunnelStatus,
    pid_alive,
)
from tests.helpers import FAKE_NGROK, NGROK_TOKEN, write_agent

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]

FAKE = FAKE_NGROK
TOKEN = NGROK_TOKEN
FAST: dict[str, Any] = dict(poll_interval=0.1, backoff_base=0.05, backoff_cap=0.4,
                            start_timeout=8, request_timeout=2)
ERR_105 = ("authentication failed: The authtoken you specified does not look like a proper ngrok "
           "tunnel authtoken.\nYour authtoken: {authtoken}\nInstructions to install your authtoken "
           "are on your ngrok dashboard:\nhttps://dashboard.ngrok.com/get-started/your-authtoken"
           "\r\n\r\nERR_NGROK_105\r\n")


# -- helpers -------------------------------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_refuses(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        try:
            sock.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
    return False


def pids_from(log: Path) -> list[int]:
    return [int(x) for x in log.read_text().split()] if log.exists() else []


def web_api_url(config_dir: Path) -> str:
    data = yaml.safe_load((config_dir / "ngrok.yml").read_text())
    return f"http://{data['agent']['web_addr']}"


class Recorder:
    """on_change target: keeps every status and the thread it arrived on."""

    def __init__(self) -> None:
        self.items: list[TunnelStatus] = []
        self.threads: set[int] = set()
        self._changed = asyncio.Event()

    def __call__(self, status: TunnelStatus) -> None:
        self.items.append(status)
        self.threads.add(threading.get_ident())
        self._changed.set()

    async def wait_for(self, predicate: Callable[[TunnelStatus], bool], timeout: float = 15,
                       start: int = 0) -> tuple[int, TunnelStatus]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for index in range(start, len(self.items)):
                if predicate(self.items[index]):
                    return index, self.items[index]
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no matching status; got {[s.state.value for s in self.items]}: "
                                     f"{self.items[-1] if self.items else None}")
            self._changed.clear()
            with _ignore_timeout():
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_state(self, state: TunnelState, timeout: float = 15, start: int = 0) -> tuple[int, TunnelStatus]:
        return await self.wait_for(lambda s: s.state is state, timeout, start)

    def states(self) -> list[str]:
        return [s.state.value for s in self.items]


class _ignore_timeout:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, *rest: Any) -> bool:
        return kind is not None and issubclass(kind, asyncio.TimeoutError)


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture
def pid_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean agent environment; the fake records every agent pid it runs here."""
    for name in list(os.environ):
        if name.startswith("FAKE_NGROK_") or name in ("NGROK_AUTHTOKEN", "PYNGROK_NGROK_PATH"):
            monkeypatch.delenv(name)
    log = tmp_path / "agent-pids"
    monkeypatch.setenv("FAKE_NGROK_PID_LOG", str(log))
    return log


@pytest.fixture
def agent(tmp_path: Path) -> Path:
    return write_agent(tmp_path / "bin" / "ngrok")


@pytest_asyncio.fixture
async def upstream() -> Any:
    """The local app behind the tunnel: records what reaches it."""
    seen: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append({"method": request.method, "path_qs": request.path_qs,
                     "headers": dict(request.headers), "body": await request.read(),
                     "remote": request.remote})
        return web.json_response({"ok": True, "path": request.path}, headers={"X-Upstream": "yes"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield port, seen
    await runner.cleanup()


@pytest_asyncio.fixture
async def managers(pid_log: Path, tmp_path: Path) -> Any:
    """Makes managers; stops them all and checks that no agent outlives the test."""
    made: list[TunnelManager] = []

    def make(local_port: int, recorder: Recorder, *, ngrok_path: Path | None = None,
             config_dir: Path | None = None, authtoken: str | None = TOKEN, domain: str | None = None,
             previous_url: str | None = None, **knobs: Any) -> TunnelManager:
        config = TunnelConfig(authtoken=authtoken, domain=domain, region=None,
                              ngrok_path=str(ngrok_path) if ngrok_path else None,
                              config_dir=config_dir or tmp_path / "ngrok-data", previous_url=previous_url)
        manager = TunnelManager(config, local_port, recorder, **{**FAST, **knobs})
        made.append(manager)
        return manager

    yield make
    for manager in made:
        await manager.stop()
    leaked = [pid for pid in pids_from(pid_log) if pid_alive(pid)]
    for pid in leaked:
        os.kill(pid, signal.SIGKILL)
    assert not leaked, f"agent processes left alive: {leaked}"


# -- (a) start, forward ----------------------------------------------------------------------
async def test_online_forwards_requests_with_forwarded_for(managers: Any, agent: Path, upstream: Any,
                                                           pid_log: Path, tmp_path: Path) -> None:
    port, seen = upstream
    rec = Recorder()
    manager = managers(port, rec, ngrok_path=agent)
    await manager.start()

    assert rec.states() == ["starting", "online"]
    online = rec.items[-1]
    assert online.public_url and online.public_url.startswith("http://127.0.0.1:")
    assert online.url_changed is True  # nothing was known before: Plex must be told
    assert manager.public_url == online.public_url
    assert rec.threads == {threading.get_ident()}  # every callback on the loop's thread

    async with aiohttp.ClientSession() as http:
        async with http.post(f"{online.public_url}/webhook/s3cret?x=1&y=%20z", data=b"payload-bytes",
                             headers={"Content-Type": "application/octet-stream", "X-Plex": "1"}) as resp:
            assert resp.status == 200
            assert resp.headers["X-Upstream"] == "yes"
            assert await resp.json() == {"ok": True, "path": "/webhook/s3cret"}
    assert len(seen) == 1
    got = seen[0]
    assert got["method"] == "POST" and got["path_qs"] == "/webhook/s3cret?x=1&y=%20z"
    assert got["body"] == b"payload-bytes" and got["headers"]["X-Plex"] == "1"
    assert got["remote"] == "127.0.0.1"  # through a tunnel everything is loopback...
    assert got["headers"]["X-Forwarded-For"] == "203.0.113.50"  # ...and this names the client
    assert got["headers"]["X-Forwarded-Proto"] == "http"

    # The token is in a private config file, not on the agent's command line.
    pid = manager.agent_pid
    assert pid is not None and pids_from(pid_log) == [pid]
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
    assert TOKEN not in cmdline and str(tmp_path / "ngrok-data" / "ngrok.yml") in cmdline
    config_file = tmp_path / "ngrok-data" / "ngrok.yml"
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert yaml.safe_load(config_file.read_text())["agent"]["authtoken"] == TOKEN


async def test_token_from_environment_reaches_the_agent(managers: Any, agent: Path, upstream: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NGROK_AUTHTOKEN", TOKEN)
    monkeypatch.setenv("FAKE_NGROK_REQUIRE_AUTHTOKEN", "1")
    rec = Recorder()
    manager = managers(upstream[0], rec, ngrok_path=agent, authtoken=None)
    await manager.start()
    assert manager.status.state is TunnelState.ONLINE, manager.status


# -- (b) agent dies --------------------------------------------------------------------------
async def test_killed_agent_is_restarted_with_a_new_url(managers: Any, agent: Path, upstream: Any,
                                                        pid_log: Path) -> None:
    port, seen = upstream
    rec = Recorder()
    manager = managers(port, rec, ngrok_path=agent)
    await manager.start()
    first_url, first_pid = manager.public_url, manager.agent_pid
    assert first_url and first_pid
    mark = len(rec.items)

    os.kill(first_pid, signal.SIGKILL)
    i, lost = await rec.wait_state(TunnelState.RECONNECTING, start=mark)
    assert "stopped unexpectedly" in (lost.reason or "") and lost.public_url is None
    _, back = await rec.wait_state(TunnelState.ONLINE, start=i)
    assert back.public_url and back.public_url != first_url
    assert back.url_changed is True
    assert manager.agent_pid not in (None, first_pid)
    assert not pid_alive(first_pid)
    assert pids_from(pid_log) == [first_pid, manager.agent_pid]

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{back.public_url}/after") as resp:
            assert resp.status == 200
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"{first_url}/before")
    assert [s["path_qs"] for s in seen] == ["/after"]


async def test_closed_endpoint_is_reopened(managers: Any, agent: Path, upstream: Any, tmp_path: Path) -> None:
    rec = Recorder()
    manager = managers(upstream[0], rec, ngrok_path=agent)
    await manager.start()
    mark = len(rec.items)
    async with aiohttp.ClientSession() as http:  # someone closes the tunnel behind our back
        async with http.delete(f"{web_api_url(tmp_path / 'ngrok-data')}/api/endpoints/scrobble-tray") as resp:
            assert resp.status == 204
    i, lost = await rec.wait_state(TunnelState.RECONNECTING, start=mark)
    assert lost.reason and "closed" in lost.reason
    _, back = await rec.wait_state(TunnelState.ONLINE, start=i)
    async with aiohttp.ClientSession() as http, http.get(f"{back.public_url}/ok") as resp:
        assert resp.status == 200


async def test_session_drop_waits_for_the_agent_to_reconnect(managers: Any, agent: Path, upstream: Any,
                                                             pid_log: Path) -> None:
    rec = Recorder()
    manager = managers(upstream[0], rec, ngrok_path=agent)
    await manager.start()
    url, pid = manager.public_url, manager.agent_pid
    assert pid is not None
    mark = len(rec.items)

    os.kill(pid, signal.SIGUSR1)  # the fake loses its ngrok session but keeps running
    i, down = await rec.wait_state(TunnelState.RECONNECTING, start=mark)
    assert down.reason and "Lost the connection to ngrok" in down.reason and "heartbeat timeout" in down.reason
    await asyncio.sleep(0.5)
    assert manager.status.state is TunnelState.RECONNECTING and manager.agent_pid == pid  # not restarted

    os.kill(pid, signal.SIGUSR2)
    _, back = await rec.wait_state(TunnelState.ONLINE, start=i)
    assert back.public_url == url and back.url_changed is False
    assert pids_from(pid_log) == [pid]


async def test_static_domain_keeps_its_url(managers: Any, agent: Path, upstream: Any) -> None:
    domain_url = "https://scrobble-test.ngrok-free.dev"
    rec = Recorder()
    manager = managers(upstream[0], rec, ngrok_path=agent, domain="https://scrobble-test.ngrok-free.dev/",
                       previous_url=domain_url)
    await manager.start()
    assert manager.status.public_url == domain_url and manager.status.url_changed is False

    pid = manager.agent_pid
    assert pid is not None
    mark = len(rec.items)
    os.kill(pid, signal.SIGKILL)
    i, _ = await rec.wait_state(TunnelState.RECONNECTING, start=mark)
    _, back = await rec.wait_state(TunnelState.ONLINE, start=i)
    assert back.public_url == domain_url and back.url_changed is False


# -- (c) no token ----------------------------------------------------------------------------
async def test_missing_authtoken_is_an_error(managers: Any, agent: Path, pid_log: Path) -> None:
    rec = Recorder()
    manager = managers(8080, rec, ngrok_path=agent, authtoken=None)
    await manager.start()
    assert rec.states() == ["error"]
    status = manager.status
    assert status.reason == "No ngrok authtoken"
    assert status.fix and "https://dashboard.ngrok.com/get-started/your-authtoken" in status.fix
    assert pids_from(pid_log) == []  # no agent was even started


# -- (d) download ----------------------------------------------------------------------------
def platform_key() -> str:
    return f"{installer.get_system()}_{installer.get_arch()}"


async def serve(handler: Callable[[web.Request], Any]) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_get("/{name}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


async def test_download_refused_is_a_quick_error(managers: Any, monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/ngrok-v3-stable-test-{os.getpid()}.zip"
    monkeypatch.setitem(installer.PLATFORMS, platform_key(), url)
    rec = Recorder()
    manager = managers(8080, rec, config_dir=tmp_path / "empty")
    started = time.monotonic()
    await manager.start()
    assert time.monotonic() - started < 5
    assert rec.states() == ["installing", "error"]
    assert rec.items[0].progress == 0.0
    status = manager.status
    assert status.reason and status.reason.startswith("Downloading the ngrok agent failed")
    assert "refused" in status.reason.lower() and "Traceback" not in status.reason
    assert status.fix and "network" in status.fix and "path" in status.fix
    assert not (tmp_path / "empty" / "ngrok").exists()


async def test_download_http_error_is_an_error(managers: Any, monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    async def fail(request: web.Request) -> web.Response:
        return web.Response(status=500, text="broken CDN")

    runner, port = await serve(fail)
    try:
        monkeypatch.setitem(installer.PLATFORMS, platform_key(), f"http://127.0.0.1:{port}/ngrok-500.zip")
        rec = Recorder()
        manager = managers(8080, rec, config_dir=tmp_path / "empty")
        await manager.start()
        assert manager.status.state is TunnelState.ERROR
        assert "HTTP Error 500" in (manager.status.reason or "")
    finally:
        await runner.cleanup()


async def test_stalled_download_is_bounded(managers: Any, monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    release = asyncio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.Response(status=503)

    runner, port = await serve(stall)
    try:
        monkeypatch.setitem(installer.PLATFORMS, platform_key(), f"http://127.0.0.1:{port}/ngrok-stall.zip")
        rec = Recorder()
        manager = managers(8080, rec, config_dir=tmp_path / "empty", download_timeout=1.0)
        started = time.monotonic()
        await manager.start()
        assert time.monotonic() - started < 4
        assert manager.status.state is TunnelState.ERROR
        assert "timed out" in (manager.status.reason or "")
    finally:
        release.set()  # frees the installer's thread before the loop closes
        await runner.cleanup()


async def test_download_installs_agent_with_progress(managers: Any, monkeypatch: pytest.MonkeyPatch,
                                                     upstream: Any, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("ngrok", write_agent(tmp_path / "zipped-agent").read_text())
        archive.writestr("LICENSE.padding", os.urandom(400_000))  # several read chunks
    blob = buffer.getvalue()
    requests: list[str] = []

    async def serve_zip(request: web.Request) -> web.Response:
        requests.append(request.path)
        return web.Response(body=blob, content_type="application/zip")

    runner, port = await serve(serve_zip)
    name = f"ngrok-v3-stable-test-{os.getpid()}.zip"
    try:
        monkeypatch.setitem(installer.PLATFORMS, platform_key(), f"http://127.0.0.1:{port}/{name}")
        rec = Recorder()
        config_dir = tmp_path / "fresh"
        manager = managers(upstream[0], rec, config_dir=config_dir)
        await manager.start()
    finally:
        await runner.cleanup()

    assert requests == [f"/{name}"]
    assert manager.status.state is TunnelState.ONLINE, manager.status
    progress = [s.progress for s in rec.items if s.state is TunnelState.INSTALLING]
    assert progress[0] == 0.0 and progress[-1] == 1.0
    assert progress == sorted(progress) and len(set(progress)) == len(progress)
    assert len([p for p in progress if p is not None and 0 < p < 1]) >= 3
    assert rec.states()[-2:] == ["starting", "online"]
    installed = config_dir / "ngrok"
    assert installed.is_file() and os.access(installed, os.X_OK)
    assert not Path(tempfile.gettempdir(), name).exists()  # the archive was cleaned up


# -- (e) the agent refuses to start ----------------------------------------------------------
async def test_agent_error_is_reported_without_the_token(managers: Any, agent: Path, pid_log: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    monkeypatch.setenv("FAKE_NGROK_FAIL_START", ERR_105)
    rec = Recorder()
    manager = managers(8080, rec, ngrok_path=agent)
    await manager.start()

    status = manager.status
    assert rec.states() == ["starting", "error"]
    assert status.reason and "ERR_NGROK_105" in status.reason
    assert "does not look like a proper ngrok tunnel authtoken" in status.reason
    assert "Your authtoken: [redacted]" in status.reason  # the agent did echo the token
    assert status.fix and "authtoken" in status.fix
    everything = " ".join(f"{s.reason} {s.fix}" for s in rec.items) + caplog.text
    assert TOKEN not in everything
    agent_lines = [r.getMessage() for r in caplog.records if r.name == "pyngrok.process.ngrok"]
    assert any("Your authtoken: [redacted]" in line for line in agent_lines)  # pyngrok's copy
    assert len(pids_from(pid_log)) == 1  # a refused token is not retried


# -- start-up that never finishes ------------------------------------------------------------
async def test_silent_agent_start_is_bounded(managers: Any, agent: Path, monkeypatch: pytest.MonkeyPatch,
                                             pid_log: Path) -> None:
    monkeypatch.setenv("FAKE_NGROK_HANG_START", "1")
    rec = Recorder()
    manager = managers(8080, rec, ngrok_path=agent, start_timeout=1, backoff_base=5)
    started = time.monotonic()
    await manager.start()
    assert time.monotonic() - started < 8
    assert manager.status.state is TunnelState.RECONNECTING
    assert "did not come up" in (manager.status.reason or "")
    first = pids_from(pid_log)[0]
    assert not pid_alive(first)  # the wedged agent was killed, freeing pyngrok's thread
    await manager.stop()
    assert manager.status.state is TunnelState.OFF


async def test_offline_start_retries_until_online(managers: Any, agent: Path, upstream: Any,
                                                  monkeypatch: pytest.MonkeyPatch, pid_log: Path) -> None:
    monkeypatch.setenv("FAKE_NGROK_OFFLINE", "1")
    rec = Recorder()
    manager = managers(upstream[0], rec, ngrok_path=agent, start_timeout=1, backoff_base=0.2)
    await manager.start()
    status = manager.status
    assert status.state is TunnelState.RECONNECTING, status
    assert status.reason and "no such host" in status.reason and "Retrying" in status.reason

    monkeypatch.delenv("FAKE_NGROK_OFFLINE")  # the network is back for the next agent
    _, online = await rec.wait_state(TunnelState.ONLINE, timeout=20)
    assert online.public_url and len(pids_from(pid_log)) >= 2


async def test_loop_keeps_running_while_the_agent_starts(managers: Any, agent: Path, upstream: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NGROK_START_DELAY", "1.5")
    gaps: list[float] = []
    running = True

    async def ticker() -> None:
        last = time.monotonic()
        while running:
            await asyncio.sleep(0.02)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    rec = Recorder()
    manager = managers(upstream[0], rec, ngrok_path=agent)
    started = time.monotonic()
    await manager.start()
    running = False
    await tick
    assert time.monotonic() - started >= 1.5
    assert manager.status.state is TunnelState.ONLINE
    assert max(gaps) < 0.5, max(gaps)


# -- (f) stop -------------------------------------------------------------------------------
async def test_stop_ends_the_agent_and_the_public_listener(managers: Any, agent: Path, upstream: Any,
                                                           pid_log: Path, tmp_path: Path) -> None:
    rec = Recorder()
    manager = managers(upstream[0], rec, ngrok_path=agent)
    await manager.start()
    url, pid = manager.public_url, manager.agent_pid
    assert url and pid and pid_alive(pid)
    public_port = int(url.rsplit(":", 1)[1])
    api_port = int(web_api_url(tmp_path / "ngrok-data").rsplit(":", 1)[1])
    assert (tmp_path / "ngrok-data" / "agent.pid").read_text().strip() == str(pid)

    await manager.stop()
    assert manager.status == TunnelStatus(TunnelState.OFF)
    assert manager.public_url is None and manager.agent_pid is None
    assert not pid_alive(pid) and not Path(f"/proc/{pid}").exists()  # gone and reaped
    assert all(not pid_alive(p) for p in pids_from(pid_log))
    assert port_refuses(public_port) and port_refuses(api_port)
    assert not (tmp_path / "ngrok-data" / "agent.pid").exists()
    await manager.stop()  # idempotent
    assert rec.states().count("off") == 1


async def test_agent_left_by_a_crashed_run_is_ended(managers: Any, agent: Path, upstream: Any,
                                                    pid_log: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # One agent session per account, as on ngrok's free plan; and the agent outlives its parent.
    monkeypatch.setenv("FAKE_NGROK_SESSION_LOCK", str(tmp_path / "session.lock"))
    monkeypatch.setenv("FAKE_NGROK_EXIT_WITH_PARENT", "0")
    config_dir = tmp_path / "ngrok-data"
    script = textwrap.dedent(f"""
        import asyncio, sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        from pathlib import Path
        from app.core.tunnel import TunnelConfig, TunnelManager
        async def main():
            m = TunnelManager(TunnelConfig({TOKEN!r}, None, None, {str(agent)!r}, Path({str(config_dir)!r})),
                              {upstream[0]}, lambda s: None)
            await m.start()
            print(m.status.state.value, m.agent_pid, flush=True)
            await asyncio.sleep(60)
        asyncio.run(main())
    """)
    app = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(app.stdout.readline), 20)  # type: ignore[union-attr]
    finally:
        app.kill()  # the "crash": no stop(), no atexit
        app.wait()
    state, orphan = line.split()
    assert state == "online" and pid_alive(int(orphan))

    rec = Recorder()
    manager = managers(upstream[0], rec, ngrok_path=agent, config_dir=config_dir)
    await manager.start()
    assert manager.status.state is TunnelState.ONLINE, manager.status  # else ERR_NGROK_108
    assert not pid_alive(int(orphan))
