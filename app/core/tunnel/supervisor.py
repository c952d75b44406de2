"""The ngrok tunnel, driven through pyngrok and kept alive (Qt-free).

:class:`TunnelManager` owns one ngrok agent process for the app. It installs the agent
when it is missing, starts it, opens one HTTP endpoint to the local webhook port, watches
it, and restarts it with exponential back-off when the agent dies or the tunnel drops.
Every change is published as an immutable :class:`TunnelStatus` through ``on_change``,
always on the asyncio loop's thread.

pyngrok is blocking everywhere (``subprocess``, ``urllib``; even ``pyngrok.aio`` is only
``asyncio.to_thread`` around the same calls), so every pyngrok call runs in a worker
thread and the loop never waits on the agent.

What this module does about pyngrok's sharp edges:

* A dedicated :class:`~pyngrok.conf.PyngrokConfig` (agent and ``ngrok.yml`` inside
  ``config_dir``); the user's own ngrok config and pyngrok's global default are untouched.
* The authtoken goes into that private ``ngrok.yml`` (mode 0600), not on the agent's
  command line, where ``ps`` would show it to every local user. Agent errors such as
  ``ERR_NGROK_105`` echo the token; everything shown or logged is redacted.
* pyngrok's start-up wait only checks its timeout between agent log lines, so a silent
  agent would block forever; a hard timeout kills the agent to free the thread.
* pyngrok's ``get_tunnels()``/``connect()`` silently start a new agent when the old one
  died; the watchdog therefore checks the process and the agent API directly.
* The installer prints progress on ``sys.stdout`` (``None`` under ``pythonw``, which makes
  the install fail); while it runs, that printer is swapped for a progress callback.
* On Windows pyngrok already starts the agent with ``CREATE_NO_WINDOW`` when the app has
  no console (a windowless tray app), so no console window pops up; there is no option.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable

import yaml
from pyngrok import conf, installer, ngrok, process
from pyngrok.exception import (
    PyngrokError,
    PyngrokNgrokError,
    PyngrokNgrokHTTPError,
    PyngrokNgrokURLError,
)
from pyngrok.log import NgrokLog

from app.core.logs import add_secret, protect, redact

log = logging.getLogger(__name__)

AUTHTOKEN_URL = "https://dashboard.ngrok.com/get-started/your-authtoken"
DOMAINS_URL = "https://dashboard.ngrok.com/domains"
DOWNLOAD_URL = "https://ngrok.com/download"
TUNNEL_NAME = "scrobble-tray"
PIDFILE_NAME = "agent.pid"

_AUTH_ERRORS = {"ERR_NGROK_105", "ERR_NGROK_106", "ERR_NGROK_107", "ERR_NGROK_4018"}
_SESSION_LIMIT_ERRORS = {"ERR_NGROK_108"}
_SESSION_LOST = ("reconnect", "session closed", "session closing", "terminating session")
_DOWNLOAD_IO_TIMEOUT = 15.0  # per socket operation; the whole download has its own bound
_INSTALL_LOCK = threading.Lock()  # the installer's progress printer is module-global


class TunnelState(str, Enum):
    """Where the tunnel is in its life."""

    OFF = "off"
    INSTALLING = "installing"
    STARTING = "starting"
    ONLINE = "online"
    RECONNECTING = "reconnecting"
    ERROR = "error"


@dataclass(frozen=True)
class TunnelStatus:
    """A snapshot published on every change.

    ``public_url`` is set only while ONLINE. ``url_changed`` is True on the ONLINE status
    whose URL differs from the last known one (``TunnelConfig.previous_url`` at first, or
    none at all): the URL in Plex must be updated. ``progress`` (0..1) is set while the
    agent downloads. ``reason`` says what happened and ``fix`` what the user can do.
    """

    state: TunnelState
    public_url: str | None = None
    reason: str | None = None
    fix: str | None = None
    progress: float | None = None
    url_changed: bool = False


@dataclass
class TunnelConfig:
    """What the tunnel needs from the settings.

    ``authtoken`` falls back to ``NGROK_AUTHTOKEN``. ``domain`` is a static domain such as
    ``name.ngrok-free.dev`` (a scheme is tolerated). ``ngrok_path`` is an agent the user
    downloaded; without it the agent lives in (and is downloaded into) ``config_dir``,
    which also holds the private ``ngrok.yml``. ``previous_url`` is the URL Plex was last
    given, so that a new one can be flagged.
    """

    authtoken: str | None
    domain: str | None
    region: str | None
    ngrok_path: str | None
    config_dir: Path
    previous_url: str | None = None


_PYNGROK_LOGGERS = ("pyngrok", "pyngrok.process", "pyngrok.process.ngrok", "pyngrok.ngrok",
                    "pyngrok.installer", "pyngrok.conf", "pyngrok.agent", __name__)


class _Failure(Exception):
    """A start-up failure: ``fatal`` ends in ERROR, otherwise it is retried."""

    def __init__(self, reason: str, fix: str | None = None, *, fatal: bool = True) -> None:
        super().__init__(reason)
        self.reason = redact(reason)
        self.fix = fix
        self.fatal = fatal


class TunnelManager:
    """Runs one ngrok tunnel to ``local_host:local_port`` and keeps it up.

    ``start()`` returns once the tunnel is ONLINE, has failed (ERROR), or has failed
    transiently and is retrying (RECONNECTING); supervision continues in a background
    task until ``stop()``. Timing knobs are parameters so that tests can run fast.

    Two managers must not share one agent binary at the same time: pyngrok keys its
    process registry by ``ngrok_path``.
    """

    def __init__(
        self,
        config: TunnelConfig,
        local_port: int,
        on_change: Callable[[TunnelStatus], None],
        *,
        local_host: str = "127.0.0.1",
        poll_interval: float = 1.5,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        start_timeout: float = 20.0,
        download_timeout: float = 180.0,
        request_timeout: float = 4.0,
        session_grace: float = 30.0,
    ) -> None:
        self._config = config
        self._local_port = local_port
        self._local_host = local_host
        self._on_change = on_change
        self._poll_interval = poll_interval
        self._backoff_base = backoff_base
        self._backoff_cap = max(backoff_cap, backoff_base)
        self._start_timeout = start_timeout
        self._download_timeout = download_timeout
        self._request_timeout = request_timeout
        self._session_grace = session_grace

        self._config_dir = Path(config.config_dir)
        self._config_path = self._config_dir / "ngrok.yml"
        self._pidfile = self._config_dir / PIDFILE_NAME
        if config.ngrok_path:
            self._ngrok_path = Path(config.ngrok_path).expanduser()
        else:
            self._ngrok_path = self._config_dir / installer.get_ngrok_bin()

        self._status = TunnelStatus(TunnelState.OFF)
        self._last_url = config.previous_url
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._settled: asyncio.Event | None = None
        self._launch_future: asyncio.Future[Any] | None = None
        self._pyngrok_config: conf.PyngrokConfig | None = None
        self._agent: process.NgrokProcess | None = None
        self._tunnel: ngrok.NgrokTunnel | None = None
        self._generation = 0
        self._session_up = True
        self._last_agent_error: str | None = None
        protect(*_PYNGROK_LOGGERS)

    # -- public face ---------------------------------------------------------------------
    @property
    def status(self) -> TunnelStatus:
        """The latest published status."""
        return self._status

    @property
    def public_url(self) -> str | None:
        """The tunnel's public URL while ONLINE, else None."""
        return self._status.public_url if self._status.state is TunnelState.ONLINE else None

    @property
    def agent_pid(self) -> int | None:
        """The running agent's process id (for diagnostics)."""
        agent = self._agent
        return agent.proc.pid if agent is not None and agent.proc.poll() is None else None

    async def start(self) -> None:
        """Bring the tunnel up; returns when it is ONLINE, in ERROR, or retrying."""
        self._loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._settled = asyncio.Event()
            self._task = asyncio.create_task(self._supervise(), name="ngrok-tunnel")
        assert self._settled is not None
        settled = asyncio.ensure_future(self._settled.wait())
        try:
            await asyncio.wait({settled, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            settled.cancel()

    async def stop(self) -> None:
        """Close the tunnel and end the agent; no agent process of ours outlives this."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        future, self._launch_future = self._launch_future, None
        if future is not None and not future.done():
            self._hard_kill()  # frees pyngrok's start-up thread, which holds its lock
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(future), 15)
        await self._kill_agent(graceful=True)
        if self._status.state is not TunnelState.OFF:
            self._publish(TunnelState.OFF)

    # -- supervision ---------------------------------------------------------------------
    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            token = (self._config.authtoken or os.environ.get("NGROK_AUTHTOKEN") or "").strip()
            if not token:
                raise _Failure(
                    "No ngrok authtoken",
                    f"Copy your authtoken from {AUTHTOKEN_URL} into the tunnel settings.",
                )
            add_secret(token)
            await asyncio.to_thread(self._reap_orphan)
            await self._ensure_agent()
            self._publish(TunnelState.STARTING)
            delay = self._backoff_base
            while True:
                try:
                    await self._launch(token)
                except _Failure as failure:
                    await self._kill_agent()
                    if failure.fatal:
                        raise
                    self._publish(TunnelState.RECONNECTING,
                                  reason=f"{failure.reason} Retrying in {delay:g} s.", fix=failure.fix)
                    self._settle()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._backoff_cap)
                    continue
                assert self._tunnel is not None and self._tunnel.public_url
                url = self._tunnel.public_url
                self._go_online(url)
                self._settle()
                online_since = loop.time()
                lost = await self._watch()
                await self._kill_agent()
                if loop.time() - online_since >= self._backoff_cap:
                    delay = self._backoff_base  # it was stable: start the back-off afresh
                self._publish(TunnelState.RECONNECTING, reason=f"{lost} Reconnecting in {delay:g} s.")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_cap)
        except _Failure as failure:
            await self._kill_agent()
            self._publish(TunnelState.ERROR, reason=failure.reason, fix=failure.fix)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug, not a tunnel problem: say so and keep the app up
            log.error("Tunnel supervisor failed: %s", redact(repr(exc)))
            await self._kill_agent()
            self._publish(TunnelState.ERROR, reason=redact(f"Unexpected tunnel error: {exc}"))
        finally:
            self._settle()

    def _settle(self) -> None:
        if self._settled is not None:
            self._settled.set()

    def _go_online(self, url: str) -> None:
        changed = url != self._last_url
        self._last_url = url
        self._publish(TunnelState.ONLINE, public_url=url, url_changed=changed)

    async def _watch(self) -> str:
        """Return a reason once the agent died, the tunnel vanished or the session stayed down."""
        loop = asyncio.get_running_loop()
        agent = self._agent
        assert agent is not None
        unreachable = 0
        down_since: float | None = None
        while True:
            await asyncio.sleep(self._poll_interval)
            code = agent.proc.poll()
            if code is not None:
                detail = f" ({self._last_agent_error})" if self._last_agent_error else ""
                return f"The ngrok agent stopped unexpectedly (exit code {code}){detail}."
            if not self._session_up:
                # The agent is alive and redialling ngrok by itself; give it some time.
                if down_since is None:
                    down_since = loop.time()
                    detail = f" ({self._last_agent_error})" if self._last_agent_error else ""
                    self._publish(TunnelState.RECONNECTING,
                                  reason=f"Lost the connection to ngrok{detail}; the agent is reconnecting.")
                elif loop.time() - down_since > self._session_grace:
                    return "The ngrok agent could not reconnect."
                continue
            try:
                url = await asyncio.to_thread(self._listed_url_blocking, agent)
            except (PyngrokNgrokURLError, PyngrokNgrokHTTPError, OSError, ValueError):
                unreachable += 1
                if unreachable >= 3:
                    return "The ngrok agent stopped answering."
                continue
            unreachable = 0
            if url is None:
                return "The tunnel was closed."
            if down_since is not None or url != self._status.public_url:
                down_since = None
                self._go_online(url)

    def _listed_url_blocking(self, agent: process.NgrokProcess) -> str | None:
        """Our endpoint's public URL as the agent lists it, or None if it is gone."""
        data = ngrok.api_request(f"{agent.api_url}/api/endpoints", method="GET",
                                 timeout=self._request_timeout)
        items = data.get("endpoints") or data.get("tunnels") or []
        for item in items:
            if item.get("name") == TUNNEL_NAME:
                return item.get("public_url") or item.get("url")
        return None

    # -- the agent binary ----------------------------------------------------------------
    async def _ensure_agent(self) -> None:
        path = self._ngrok_path
        if self._config.ngrok_path:
            if not path.is_file():
                raise _Failure(f"No ngrok agent at {path}",
                               "Correct the agent path in the tunnel settings, or clear it so "
                               "that Scrobble Tray downloads the agent itself.")
            if os.name == "posix" and not os.access(path, os.X_OK):
                raise _Failure(f"The ngrok agent at {path} is not executable",
                               f"Make it executable (chmod +x {path}) or choose another agent.")
            return
        if path.is_file():
            return
        fix = (f"Check the network connection and try again, or download the agent from "
               f"{DOWNLOAD_URL} and set its path in the tunnel settings.")
        self._publish(TunnelState.INSTALLING, progress=0.0)
        try:
            await asyncio.wait_for(asyncio.to_thread(self._download_blocking), self._download_timeout)
        except asyncio.TimeoutError:
            raise _Failure(f"Downloading the ngrok agent timed out after {self._download_timeout:g} s",
                           fix) from None
        except (PyngrokError, OSError) as exc:
            raise _Failure(f"Downloading the ngrok agent failed: {_download_cause(exc)}", fix) from None
        if not path.is_file():
            raise _Failure("Downloading the ngrok agent failed: the archive held no agent", fix)
        self._on_progress(1.0)

    def _download_blocking(self) -> None:
        loop = self._loop
        assert loop is not None

        def progress(line: str) -> None:
            match = re.search(r"(\d+)%", line)
            if match:
                with contextlib.suppress(RuntimeError):  # loop closed: nobody is listening
                    loop.call_soon_threadsafe(self._on_progress, min(int(match.group(1)), 100) / 100)

        with _INSTALL_LOCK:
            saved = installer._print_progress, installer._clear_progress
            installer._print_progress = progress
            installer._clear_progress = lambda *args, **kwargs: None
            archive: str | None = None
            try:
                url = installer.get_ngrok_cdn_url("3")
                archive = os.path.join(tempfile.gettempdir(), url.split("/")[-1])
                installer.install_ngrok(str(self._ngrok_path), ngrok_version="3",
                                        timeout=_DOWNLOAD_IO_TIMEOUT)
            finally:
                installer._print_progress, installer._clear_progress = saved
                if archive:
                    with contextlib.suppress(OSError):
                        os.remove(archive)

    def _on_progress(self, fraction: float) -> None:
        current = self._status
        if current.state is TunnelState.INSTALLING and fraction > (current.progress or 0.0):
            self._publish(TunnelState.INSTALLING, progress=fraction)

    # -- the agent process ---------------------------------------------------------------
    def _make_pyngrok_config(self) -> conf.PyngrokConfig:
        self._generation += 1
        generation = self._generation
        self._session_up = True
        self._last_agent_error = None

        def on_agent_log(entry: NgrokLog) -> None:  # pyngrok's threads
            if generation == self._generation:
                self._note_agent_log(entry)

        cfg = conf.PyngrokConfig(
            ngrok_path=str(self._ngrok_path),
            config_path=str(self._config_path),
            region=self._config.region or None,
            monitor_thread=True,  # keeps draining the agent's stdout; the pipe must not fill up
            log_event_callback=on_agent_log,
            startup_timeout=max(1, int(self._start_timeout)),
            request_timeout=self._request_timeout,
        )
        cfg.auth_token = None  # the token is in our ngrok.yml, never on the command line
        cfg.api_key = None
        return cfg

    def _note_agent_log(self, entry: NgrokLog) -> None:
        message = entry.msg or ""
        if entry.lvl in ("ERROR", "CRITICAL"):
            self._last_agent_error = _clean_agent_error(entry.err or message)
            if any(marker in message for marker in _SESSION_LOST):
                self._session_up = False
        elif message in ("client session established", "tunnel session started"):
            self._session_up = True

    def _write_agent_config(self, token: str) -> None:
        """Our private ngrok.yml: token, a free web API port, nothing pyngrok cannot parse."""
        self._config_dir.mkdir(parents=True, exist_ok=True)
        data: dict[str, Any] = {}
        with contextlib.suppress(OSError, yaml.YAMLError):
            loaded = yaml.safe_load(self._config_path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                data = loaded
        agent = data.get("agent")
        if not isinstance(agent, dict):
            agent = {}
        if agent.get("log_format") == "json":
            agent.pop("log_format")
        if agent.get("log_level", "info") not in ("info", "debug"):
            agent.pop("log_level")
        agent["authtoken"] = token
        agent["web_addr"] = f"127.0.0.1:{_free_port()}"
        data["agent"] = agent
        data["version"] = "3"
        installer.validate_config(data)
        tmp = self._config_path.with_name(self._config_path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yaml.safe_dump(data, handle, default_flow_style=False)
        with installer.config_file_lock:
            os.replace(tmp, self._config_path)
            # pyngrok caches parsed configs by path; refresh its copy.
            installer.get_ngrok_config(str(self._config_path), use_cache=False)

    async def _launch(self, token: str) -> None:
        """Start a fresh agent and open the endpoint; raises :class:`_Failure`."""
        await self._kill_agent()
        try:
            await asyncio.to_thread(self._write_agent_config, token)
        except (OSError, PyngrokError) as exc:
            raise _Failure(f"Cannot write the ngrok configuration: {exc}",
                           f"Check that {self._config_dir} is writable.") from None
        cfg = self._make_pyngrok_config()
        self._pyngrok_config = cfg
        future = asyncio.ensure_future(asyncio.to_thread(self._launch_blocking, cfg))
        self._launch_future = future
        limit = self._start_timeout + 2
        try:
            agent, tunnel = await asyncio.wait_for(asyncio.shield(future), limit)
        except asyncio.TimeoutError:
            self._hard_kill()
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                await asyncio.wait_for(future, 10)
            raise _Failure(f"The ngrok agent did not come up within {limit:g} s.", fatal=False) from None
        except PyngrokNgrokError as exc:
            raise self._start_failure(exc) from None
        except PyngrokError as exc:
            raise _Failure(f"ngrok could not start: {exc}") from None
        except OSError as exc:
            raise _Failure(f"The ngrok agent at {self._ngrok_path} cannot be run: {exc.strerror or exc}",
                           "Choose a working ngrok agent in the tunnel settings, or clear the path "
                           "so that Scrobble Tray downloads one.") from None
        self._launch_future = None
        self._agent, self._tunnel = agent, tunnel
        with contextlib.suppress(OSError):
            self._pidfile.write_text(f"{agent.proc.pid}\n", encoding="ascii")

    def _launch_blocking(self, cfg: conf.PyngrokConfig) -> tuple[process.NgrokProcess, ngrok.NgrokTunnel]:
        agent = process.get_process(cfg)
        options: dict[str, Any] = {}
        domain = _bare_domain(self._config.domain)
        if domain:
            options["url"] = f"https://{domain}"  # v3 endpoints take a URL, not ``domain``
        tunnel = ngrok.connect(addr=f"http://{self._local_host}:{self._local_port}", proto="http",
                               name=TUNNEL_NAME, pyngrok_config=cfg, **options)
        return agent, tunnel

    def _start_failure(self, exc: PyngrokNgrokError) -> _Failure:
        if isinstance(exc, PyngrokNgrokHTTPError):
            detail = _api_error_text(exc.body) or f"HTTP {exc.status_code}"
            code = _error_code(detail)
            fix = _fix_for(code, detail)
            # 4xx: ngrok refused what we asked for (domain, plan); retrying will not help.
            return _Failure(f"ngrok refused the tunnel: {detail}", fix,
                            fatal=400 <= exc.status_code < 500 or code is not None)
        if isinstance(exc, PyngrokNgrokURLError):
            return _Failure(f"The ngrok agent did not answer: {exc.reason}.", fatal=False)
        if exc.ngrok_error:
            detail = _clean_agent_error(exc.ngrok_error)
            code = exc.ngrok_error_code or _error_code(detail)
            # Coded errors (authtoken, session limit, domain) need the user; uncoded ones
            # are network trouble that ngrok reports while it keeps redialling.
            return _Failure(f"ngrok could not connect: {detail}", _fix_for(code, detail),
                            fatal=code is not None)
        detail = self._last_agent_error
        return _Failure("The ngrok agent exited during start-up" + (f": {detail}" if detail else "."),
                        fatal=False)

    def _hard_kill(self) -> None:
        """Kill the agent without pyngrok's lock (held by a start-up that may be stuck)."""
        procs = []
        if self._agent is not None:
            procs.append(self._agent.proc)
        cfg = self._pyngrok_config
        if cfg is not None:
            registered = process._current_processes.get(cfg.ngrok_path)
            if registered is not None:
                procs.append(registered.proc)
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.kill()

    async def _kill_agent(self, graceful: bool = False) -> None:
        agent, tunnel, cfg = self._agent, self._tunnel, self._pyngrok_config
        self._agent = self._tunnel = None
        if cfg is None:
            return
        await asyncio.to_thread(self._kill_blocking, cfg, agent, tunnel, graceful)
        with contextlib.suppress(OSError):
            self._pidfile.unlink()

    def _kill_blocking(self, cfg: conf.PyngrokConfig, agent: process.NgrokProcess | None,
                       tunnel: ngrok.NgrokTunnel | None, graceful: bool) -> None:
        if graceful and agent is not None and agent.proc.poll() is None:
            if tunnel is not None and tunnel.public_url:
                with contextlib.suppress(Exception):
                    ngrok.disconnect(tunnel.public_url, cfg)
            with contextlib.suppress(OSError):
                agent.proc.terminate()  # lets ngrok close its session cleanly
            with contextlib.suppress(subprocess.TimeoutExpired):
                agent.proc.wait(3)
        ngrok.kill(cfg)  # SIGKILL and wait, then forget it in pyngrok's registry
        if agent is not None and agent.proc.poll() is None:
            with contextlib.suppress(OSError):
                agent.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                agent.proc.wait(5)

    def _reap_orphan(self) -> None:
        """End an agent left running by a crashed earlier run (it would hold the session)."""
        try:
            pid = int(self._pidfile.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return
        with contextlib.suppress(OSError):
            self._pidfile.unlink()
        if os.name != "posix" or pid <= 1:
            return  # no cheap way to be sure the pid is still ours
        if any(p.proc.pid == pid for p in list(process._current_processes.values())):
            return  # alive in this process: pyngrok kills it before the next start
        cmdline = _command_line(pid)
        if not cmdline or str(self._config_path) not in cmdline:
            return
        log.info("Ending an ngrok agent left over from an earlier run (pid %d)", pid)
        for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if not pid_alive(pid):
                    return
                time.sleep(0.05)

    # -- publishing ----------------------------------------------------------------------
    def _publish(self, state: TunnelState, *, public_url: str | None = None, reason: str | None = None,
                 fix: str | None = None, progress: float | None = None, url_changed: bool = False) -> None:
        status = TunnelStatus(state, public_url, reason and redact(reason), fix and redact(fix),
                              progress, url_changed)
        previous, self._status = self._status, status
        if state in (TunnelState.ERROR, TunnelState.RECONNECTING):
            log.warning("Tunnel %s: %s", state.value, status.reason)
        elif state is previous.state:
            log.debug("Tunnel %s %s", state.value, progress)
        else:
            log.info("Tunnel %s%s", state.value, f" at {public_url}" if public_url else "")
        try:
            self._on_change(status)
        except Exception:
            log.exception("Tunnel status listener failed")


# -- helpers -----------------------------------------------------------------------------
def pid_alive(pid: int) -> bool:
    """Whether ``pid`` names a live (non-zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _command_line(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        if sys.platform.startswith("linux"):
            return None
    except OSError:
        return None
    try:
        done = subprocess.run(["ps", "-p", str(pid), "-o", "command="], capture_output=True,
                              text=True, timeout=3, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bare_domain(domain: str | None) -> str | None:
    if not domain or not domain.strip():
        return None
    value = domain.strip()
    value = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", value)
    return value.strip("/") or None


def _clean_agent_error(text: str) -> str:
    """One readable line from an agent error (logfmt keeps ``\\n`` escaped), redacted."""
    text = text.replace("\\r", "\n").replace("\\n", "\n").replace("\\t", " ")
    text = " ".join(text.split())
    text = redact(text)
    return text if len(text) <= 400 else text[:399] + "…"


def _error_code(text: str) -> str | None:
    match = re.search(r"ERR_NGROK_\d+", text)
    return match.group(0) if match else None


def _fix_for(code: str | None, detail: str) -> str:
    if code in _AUTH_ERRORS or "authtoken" in detail.lower():
        return f"Check the ngrok authtoken in the tunnel settings; copy it again from {AUTHTOKEN_URL}."
    if code in _SESSION_LIMIT_ERRORS:
        return ("Another ngrok agent is online with this account. Close it (or end the session on "
                "https://dashboard.ngrok.com/agents) and start the tunnel again.")
    if "domain" in detail.lower() or "url" in detail.lower():
        return f"Check the static domain in the tunnel settings against {DOMAINS_URL}, or clear it."
    if code:
        return f"See https://ngrok.com/docs/errors/{code.lower()} for what ngrok means by {code}."
    return "Check the network connection; the tunnel retries by itself."


def _api_error_text(body: str | None) -> str | None:
    if not body:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return _clean_agent_error(body)
    if not isinstance(data, dict):
        return _clean_agent_error(str(data))
    parts = [str(data.get("msg") or "")]
    details = data.get("details")
    if isinstance(details, dict) and details.get("err"):
        parts.append(str(details["err"]))
    return _clean_agent_error(": ".join(p for p in parts if p)) or None


def _download_cause(exc: BaseException) -> str:
    text = str(exc)
    if " from " in text and ": " in text:
        text = text.split(": ", 1)[1] if text.startswith("An error occurred") else text
    match = re.match(r"<urlopen error (.*)>$", text)
    if match:
        text = match.group(1)
    text = re.sub(r"^\[Errno -?\d+\] ", "", text)
    return redact(text) or exc.__class__.__name__
