"""The ngrok tunnel's supervisor: its states, and the manager that keeps it up (Qt-free).

:class:`TunnelManager` owns one ngrok agent process for the app. It installs the agent
when it is missing, starts it, opens one HTTP endpoint to the local webhook port, watches
it, and restarts it with exponential back-off when the agent dies or the tunnel drops.
Every change is published as an immutable :class:`TunnelStatus` through ``on_change``,
always on the asyncio loop's thread.

pyngrok is blocking everywhere (``subprocess``, ``urllib``; even ``pyngrok.aio`` is only
``asyncio.to_thread`` around the same calls), so every pyngrok call runs in a worker
thread and the loop never waits on the agent. The agent itself (download, launch, kill,
pyngrok's sharp edges) is :class:`~app.core.tunnel.agent.Agent`; the texts of its
failures come from :mod:`app.core.tunnel.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pyngrok.exception import PyngrokError, PyngrokNgrokHTTPError, PyngrokNgrokURLError

from app.core.logs import add_secret, protect, redact
from app.core.tunnel.agent import _PYNGROK_LOGGERS, Agent, listed_url
from app.core.tunnel.errors import AUTHTOKEN_URL, DOWNLOAD_URL, _download_cause, _Failure
from app.core.types import TunnelState
from app.core.urls import http_base

# One logger for the whole package, named as the single module was: "app.core.tunnel".
log = logging.getLogger(__package__)


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

        self._agent = Agent(config.config_dir, config.ngrok_path, start_timeout=start_timeout,
                            request_timeout=request_timeout)

        self._status = TunnelStatus(TunnelState.OFF)
        self._last_url = config.previous_url
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._settled: asyncio.Event | None = None
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
        return self._agent.pid

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
        await self._agent.stop()
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
            await asyncio.to_thread(self._agent.reap_orphan)
            await self._ensure_agent()
            self._publish(TunnelState.STARTING)
            delay = self._backoff_base
            while True:
                try:
                    url = await self._agent.launch(
                        token, http_base(self._local_host, self._local_port),
                        domain=self._config.domain, region=self._config.region)
                except _Failure as failure:
                    await self._agent.kill()
                    if failure.fatal:
                        raise
                    self._publish(TunnelState.RECONNECTING,
                                  reason=f"{failure.reason} Retrying in {delay:g} s.", fix=failure.fix)
                    self._settle()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._backoff_cap)
                    continue
                assert url
                self._go_online(url)
                self._settle()
                online_since = loop.time()
                lost = await self._watch()
                await self._agent.kill()
                if loop.time() - online_since >= self._backoff_cap:
                    delay = self._backoff_base  # it was stable: start the back-off afresh
                self._publish(TunnelState.RECONNECTING, reason=f"{lost} Reconnecting in {delay:g} s.")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_cap)
        except _Failure as failure:
            await self._agent.kill()
            self._publish(TunnelState.ERROR, reason=failure.reason, fix=failure.fix)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug, not a tunnel problem: say so and keep the app up
            log.error("Tunnel supervisor failed: %s", redact(repr(exc)))
            await self._agent.kill()
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
        agent = self._agent.process
        assert agent is not None
        unreachable = 0
        down_since: float | None = None
        while True:
            await asyncio.sleep(self._poll_interval)
            code = agent.proc.poll()
            if code is not None:
                detail = f" ({self._agent.last_error})" if self._agent.last_error else ""
                return f"The ngrok agent stopped unexpectedly (exit code {code}){detail}."
            if not self._agent.session_up:
                # The agent is alive and redialling ngrok by itself; give it some time.
                if down_since is None:
                    down_since = loop.time()
                    detail = f" ({self._agent.last_error})" if self._agent.last_error else ""
                    self._publish(TunnelState.RECONNECTING,
                                  reason=f"Lost the connection to ngrok{detail}; the agent is reconnecting.")
                elif loop.time() - down_since > self._session_grace:
                    return "The ngrok agent could not reconnect."
                continue
            try:
                url = await asyncio.to_thread(listed_url, agent, self._request_timeout)
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

    # -- the agent binary ----------------------------------------------------------------
    async def _ensure_agent(self) -> None:
        path = self._agent.ngrok_path
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
        except TimeoutError:
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

        def progress(fraction: float) -> None:  # the installer's thread
            with contextlib.suppress(RuntimeError):  # loop closed: nobody is listening
                loop.call_soon_threadsafe(self._on_progress, fraction)

        self._agent.install(progress)

    def _on_progress(self, fraction: float) -> None:
        current = self._status
        if current.state is TunnelState.INSTALLING and fraction > (current.progress or 0.0):
            self._publish(TunnelState.INSTALLING, progress=fraction)

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
