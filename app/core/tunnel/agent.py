"""The ngrok agent process and its files, through pyngrok (and its private parts); Qt-free.

:class:`Agent` is the one agent of a :class:`~app.core.tunnel.supervisor.TunnelManager`:
it downloads the agent binary, writes the private ``ngrok.yml``, launches the agent with
one HTTP endpoint, reads its log, kills it, and ends an agent left over by a crashed run
(``agent.pid``). Everything that reaches into pyngrok's process registry or installer
internals is here. All of it is blocking unless ``async``; the manager runs it off the loop.

What the tunnel package does about pyngrok's sharp edges:

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pyngrok import conf, installer, ngrok, process
from pyngrok.exception import PyngrokError, PyngrokNgrokError
from pyngrok.log import NgrokLog

from app.core.tunnel.errors import _clean_agent_error, _Failure, _start_failure

# One logger for the whole package, named as the single module was: "app.core.tunnel".
log = logging.getLogger(__package__)

TUNNEL_NAME = "scrobble-tray"
PIDFILE_NAME = "agent.pid"

_SESSION_LOST = ("reconnect", "session closed", "session closing", "terminating session")
_DOWNLOAD_IO_TIMEOUT = 15.0  # per socket operation; the whole download has its own bound
_INSTALL_LOCK = threading.Lock()  # the installer's progress printer is module-global

_PYNGROK_LOGGERS = ("pyngrok", "pyngrok.process", "pyngrok.process.ngrok", "pyngrok.ngrok",
                    "pyngrok.installer", "pyngrok.conf", "pyngrok.agent", log.name)


class Agent:
    """One ngrok agent of ours: the binary at ``ngrok_path``, ``ngrok.yml`` and ``agent.pid``
    in ``config_dir``, and the running process with its endpoint (``process``, ``tunnel``).

    ``session_up`` and ``last_error`` follow the current agent's log (written on pyngrok's
    threads). Without ``ngrok_path`` the agent lives in (and is downloaded into) ``config_dir``.
    """

    def __init__(self, config_dir: Path, ngrok_path: str | None, *, start_timeout: float,
                 request_timeout: float) -> None:
        self._start_timeout = start_timeout
        self._request_timeout = request_timeout
        self.config_dir = Path(config_dir)
        self.config_path = self.config_dir / "ngrok.yml"
        self.pidfile = self.config_dir / PIDFILE_NAME
        if ngrok_path:
            self.ngrok_path = Path(ngrok_path).expanduser()
        else:
            self.ngrok_path = self.config_dir / installer.get_ngrok_bin()

        self.launch_future: asyncio.Future[Any] | None = None
        self.pyngrok_config: conf.PyngrokConfig | None = None
        self.process: process.NgrokProcess | None = None
        self.tunnel: ngrok.NgrokTunnel | None = None
        self._generation = 0
        self.session_up = True
        self.last_error: str | None = None

    @property
    def pid(self) -> int | None:
        """The running agent's process id, else None."""
        agent = self.process
        return agent.proc.pid if agent is not None and agent.proc.poll() is None else None

    # -- the agent binary ----------------------------------------------------------------
    def install(self, on_progress: Callable[[float], None]) -> None:
        """Download the agent to ``ngrok_path``; ``on_progress`` (0..1) is called on this thread."""

        def progress(line: str) -> None:
            match = re.search(r"(\d+)%", line)
            if match:
                on_progress(min(int(match.group(1)), 100) / 100)

        with _INSTALL_LOCK:
            saved = installer._print_progress, installer._clear_progress
            installer._print_progress = progress
            installer._clear_progress = lambda *args, **kwargs: None
            archive: str | None = None
            try:
                url = installer.get_ngrok_cdn_url("3")
                archive = os.path.join(tempfile.gettempdir(), url.split("/")[-1])
                installer.install_ngrok(str(self.ngrok_path), ngrok_version="3",
                                        timeout=_DOWNLOAD_IO_TIMEOUT)
            finally:
                installer._print_progress, installer._clear_progress = saved
                if archive:
                    with contextlib.suppress(OSError):
                        os.remove(archive)

    # -- the agent process ---------------------------------------------------------------
    def _make_pyngrok_config(self, region: str | None) -> conf.PyngrokConfig:
        self._generation += 1
        generation = self._generation
        self.session_up = True
        self.last_error = None

        def on_agent_log(entry: NgrokLog) -> None:  # pyngrok's threads
            if generation == self._generation:
                self._note_agent_log(entry)

        cfg = conf.PyngrokConfig(
            ngrok_path=str(self.ngrok_path),
            config_path=str(self.config_path),
            region=region or None,
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
            self.last_error = _clean_agent_error(entry.err or message)
            if any(marker in message for marker in _SESSION_LOST):
                self.session_up = False
        elif message in ("client session established", "tunnel session started"):
            self.session_up = True

    def _write_agent_config(self, token: str) -> None:
        """Our private ngrok.yml: token, a free web API port, nothing pyngrok cannot parse."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        data: dict[str, Any] = {}
        with contextlib.suppress(OSError, yaml.YAMLError):
            loaded = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
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
        tmp = self.config_path.with_name(self.config_path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yaml.safe_dump(data, handle, default_flow_style=False)
        with installer.config_file_lock:
            os.replace(tmp, self.config_path)
            # pyngrok caches parsed configs by path; refresh its copy.
            installer.get_ngrok_config(str(self.config_path), use_cache=False)

    async def launch(self, token: str, addr: str, *, domain: str | None,
                     region: str | None) -> str | None:
        """Start a fresh agent with an endpoint to ``addr``; its public URL. Raises :class:`_Failure`."""
        await self.kill()
        try:
            await asyncio.to_thread(self._write_agent_config, token)
        except (OSError, PyngrokError) as exc:
            raise _Failure(f"Cannot write the ngrok configuration: {exc}",
                           f"Check that {self.config_dir} is writable.") from None
        cfg = self._make_pyngrok_config(region)
        self.pyngrok_config = cfg
        future = asyncio.ensure_future(asyncio.to_thread(self._launch_blocking, cfg, addr, domain))
        self.launch_future = future
        limit = self._start_timeout + 2
        try:
            agent, tunnel = await asyncio.wait_for(asyncio.shield(future), limit)
        except TimeoutError:
            self.hard_kill()
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                await asyncio.wait_for(future, 10)
            raise _Failure(f"The ngrok agent did not come up within {limit:g} s.", fatal=False) from None
        except PyngrokNgrokError as exc:
            raise _start_failure(exc, self.last_error) from None
        except PyngrokError as exc:
            raise _Failure(f"ngrok could not start: {exc}") from None
        except OSError as exc:
            raise _Failure(f"The ngrok agent at {self.ngrok_path} cannot be run: {exc.strerror or exc}",
                           "Choose a working ngrok agent in the tunnel settings, or clear the path "
                           "so that Scrobble Tray downloads one.") from None
        self.launch_future = None
        self.process, self.tunnel = agent, tunnel
        with contextlib.suppress(OSError):
            self.pidfile.write_text(f"{agent.proc.pid}\n", encoding="ascii")
        return tunnel.public_url

    @staticmethod
    def _launch_blocking(cfg: conf.PyngrokConfig, addr: str,
                         domain: str | None) -> tuple[process.NgrokProcess, ngrok.NgrokTunnel]:
        agent = process.get_process(cfg)
        options: dict[str, Any] = {}
        domain = _bare_domain(domain)
        if domain:
            options["url"] = f"https://{domain}"  # v3 endpoints take a URL, not ``domain``
        tunnel = ngrok.connect(addr=addr, proto="http", name=TUNNEL_NAME, pyngrok_config=cfg, **options)
        return agent, tunnel

    def hard_kill(self) -> None:
        """Kill the agent without pyngrok's lock (held by a start-up that may be stuck)."""
        procs = []
        if self.process is not None:
            procs.append(self.process.proc)
        cfg = self.pyngrok_config
        if cfg is not None:
            registered = process._current_processes.get(cfg.ngrok_path)
            if registered is not None:
                procs.append(registered.proc)
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.kill()

    async def stop(self) -> None:
        """End the agent, also one still starting; no agent process of ours outlives this."""
        future, self.launch_future = self.launch_future, None
        if future is not None and not future.done():
            self.hard_kill()  # frees pyngrok's start-up thread, which holds its lock
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(future), 15)
        await self.kill(graceful=True)

    async def kill(self, graceful: bool = False) -> None:
        """End the current agent (``graceful``: close the endpoint and let it say goodbye first)."""
        agent, tunnel, cfg = self.process, self.tunnel, self.pyngrok_config
        self.process = self.tunnel = None
        if cfg is None:
            return
        await asyncio.to_thread(self._kill_blocking, cfg, agent, tunnel, graceful)
        with contextlib.suppress(OSError):
            self.pidfile.unlink()

    @staticmethod
    def _kill_blocking(cfg: conf.PyngrokConfig, agent: process.NgrokProcess | None,
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

    def reap_orphan(self) -> None:
        """End an agent left running by a crashed earlier run (it would hold the session)."""
        try:
            pid = int(self.pidfile.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return
        with contextlib.suppress(OSError):
            self.pidfile.unlink()
        if os.name != "posix" or pid <= 1:
            return  # no cheap way to be sure the pid is still ours
        if any(p.proc.pid == pid for p in list(process._current_processes.values())):
            return  # alive in this process: pyngrok kills it before the next start
        cmdline = _command_line(pid)
        if not cmdline or str(self.config_path) not in cmdline:
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


def listed_url(agent: process.NgrokProcess, timeout: float) -> str | None:
    """Our endpoint's public URL as the agent lists it, or None if it is gone (blocking)."""
    data = ngrok.api_request(f"{agent.api_url}/api/endpoints", method="GET", timeout=timeout)
    items = data.get("endpoints") or data.get("tunnels") or []
    for item in items:
        if item.get("name") == TUNNEL_NAME:
            url = item.get("public_url") or item.get("url")
            return str(url) if url else None
    return None


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
