"""The one object the CLI, the headless runner and the UI drive.

:class:`Core` owns the database, the webhook server, the pipeline worker (and the
tunnel), publishes typed events on its :class:`EventBus`, and runs every blocking
database call on its own threads so the event loop never stalls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from app.core import config
from app.core.config import Paths, Settings
from app.core.credentials import get_authtoken, set_authtoken
from app.core.db import open_database
from app.core.diagnostics import FAIL, PASS, WARN, Check, run_checks, self_test
from app.core.logs import add_secret
from app.core.tunnel import TunnelConfig, TunnelManager, TunnelState, TunnelStatus
from app.core.events import ConflictsChanged, EventBus, ScrobbleRecorded, StatusChanged, WebhookReceived
from app.core.inbox import Inbox
from app.core.pipeline import Outcome
from app.core.tracker import Tracker
from app.core.webhooks import WebhookServer

log = logging.getLogger(__name__)
T = TypeVar("T")
BATCH = 20  # inbox rows per transaction: short, so the inbox seldom waits for the write lock
LULL = 0.02  # seconds without a new webhook before processing resumes...
MAX_DEFER = 0.5  # ...or at most this long


@dataclass(frozen=True)
class CoreStatus:
    """The state the tray icon and the status window show."""

    server: str = "stopped"  # stopped, starting, listening, error
    server_error: str | None = None
    host: str | None = None
    port: int | None = None
    paused: bool = False
    conflicts_open: int = 0
    tunnel: str = "off"  # off, installing, starting, online, reconnecting, error
    public_url: str | None = None
    tunnel_reason: str | None = None
    tunnel_fix: str | None = None
    tunnel_progress: float | None = None  # 0..1 while the ngrok agent downloads
    url_changed: bool = False  # the public URL moved: Plex must be given the new one

    @property
    def attention(self) -> bool:
        """Something wants the user: conflicts waiting, or the tunnel is not up."""
        return self.conflicts_open > 0 or self.tunnel in ("error", "reconnecting")


def _tunnel_settings(s: Settings) -> tuple[Any, ...]:
    return (s.tunnel_enabled, s.ngrok_domain, s.ngrok_region, s.ngrok_path)


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (no packet is sent)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    return sorted({str(i[4][0]) for i in infos if not str(i[4][0]).startswith("127.")})


def open_tracker(paths: Paths, settings: Settings) -> Tracker:
    """A tracker on the configured database (migrated), for the CLI and the core."""
    paths.ensure()
    sessions = open_database(paths.database_url(settings), paths.backups_dir)
    return Tracker(sessions, settings)


class Core:
    """Scrobble Tray's engine: start it, subscribe to :attr:`events`, stop it."""

    def __init__(self, paths: Paths, settings: Settings | None = None) -> None:
        self.paths = paths
        self.settings = settings or config.load_settings(paths)
        self.events = EventBus()
        self.tracker: Tracker | None = None
        self.server: WebhookServer | None = None
        self._status = CoreStatus()
        # The inbox and the pipeline each get a thread, so a commit that acknowledges
        # webhooks never queues behind a processing batch (which also waits for a lull in
        # arrivals: see _work).
        self._ingest_thread = ThreadPoolExecutor(1, thread_name_prefix="inbox")
        self._db_thread = ThreadPoolExecutor(1, thread_name_prefix="db")
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._secret = ""
        self._tunnel: TunnelManager | None = None
        self._tunnel_start: asyncio.Task[None] | None = None
        self._tunnel_options: dict[str, Any] = {}  # timing knobs, for tests
        self._last_ingest = 0.0
        self._inbox: Inbox | None = None
        self._known_url: str | None = None  # the public URL Plex was last given
        self._authtoken: str | None = None

    # -- state ---------------------------------------------------------------------
    @property
    def status(self) -> CoreStatus:
        return self._status

    def _set_status(self, **changes: Any) -> None:
        new = dataclasses.replace(self._status, **changes)
        if new != self._status:
            self._status = new
            self.events.publish(StatusChanged(new))

    @property
    def secret(self) -> str:
        return self._secret

    @property
    def local_webhook_url(self) -> str | None:
        """The webhook URL on this machine (for a Plex server on the same host)."""
        if self._status.port is None:
            return None
        host = self._status.host or "127.0.0.1"
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        return f"http://{host}:{self._status.port}/webhook/{self._secret}"

    @property
    def public_webhook_url(self) -> str | None:
        """The webhook URL through the tunnel, while it is online."""
        url = self._status.public_url
        return f"{url.rstrip('/')}/webhook/{self._secret}" if url and self._status.tunnel == "online" else None

    def webhook_urls(self) -> list[tuple[str, str]]:
        """Labelled URLs to paste into Plex, best first."""
        urls = []
        if public := self.public_webhook_url:
            urls.append(("Public (ngrok tunnel)", public))
        if self._status.port is not None and self._status.host in ("0.0.0.0", "::", ""):
            urls += [("Local network", f"http://{ip}:{self._status.port}/webhook/{self._secret}")
                     for ip in lan_addresses()]
        if local := self.local_webhook_url:
            urls.append(("This computer only", local))
        return urls

    def best_webhook_url(self) -> str | None:
        """The one URL to paste into Plex."""
        urls = self.webhook_urls()
        return urls[0][1] if urls else None

    def secrets(self) -> list[str]:
        """Values that must never appear in logs, reports or screenshots."""
        return [s for s in (self._secret, self.authtoken()) if s]

    async def tunnel_checks(self) -> list[Check]:
        """Diagnostics rows for the tunnel, with an end-to-end test through it."""
        st = self._status
        if st.tunnel == "off":
            return [Check("Tunnel", WARN, "off: only a Plex server that can reach this computer "
                          "directly can send webhooks", "Set an ngrok authtoken in Settings to open the tunnel.")]
        if st.tunnel != "online":
            return [Check("Tunnel", FAIL, f"{st.tunnel}: {st.tunnel_reason or ''}".rstrip(": "),
                          st.tunnel_fix or "Wait a moment and run the checks again.")]
        checks = [Check("Tunnel", PASS, f"online at {st.public_url}")]
        ok, detail, _ = await self_test(self.public_webhook_url or "")
        checks.append(Check("Public URL self-test", PASS if ok else FAIL,
                            f"through ngrok: {detail}",
                            "" if ok else "The tunnel is up but does not reach the app: restart the tunnel."))
        if st.url_changed:
            checks.append(Check("Webhook URL in Plex", WARN, "the public URL changed since Plex was last given it",
                                "Copy the webhook URL into Plex again, or set a static ngrok domain."))
        return checks

    async def diagnostics(self) -> list[Check]:
        """Run every connection check (see :mod:`app.core.diagnostics`)."""
        return await run_checks(self)

    # -- lifecycle -----------------------------------------------------------------
    async def start(self, port: int | None = None, tunnel: bool = True) -> None:
        """Open the database, process what a crash left pending, start serving.

        The tunnel (when enabled) opens in the background: see :meth:`wait_tunnel`.
        """
        self._set_status(server="starting", server_error=None)
        try:
            self._secret = config.webhook_secret(self.paths)
            # The keyring may block on a D-Bus call: read it once, off the loop.
            self._authtoken = await asyncio.get_running_loop().run_in_executor(
                None, get_authtoken, self.paths)
            add_secret(self._authtoken)
            self.tracker = await self._in_db(open_tracker, self.paths, self.settings)
            self._inbox = inbox = Inbox(self.tracker.ingest, self._ingest_thread)
            self.server = WebhookServer(self.settings, lambda: self._secret,
                                        functools.partial(self._store, inbox))
            counts = await self.run(self.tracker.counts)
            self._worker = asyncio.create_task(self._work(), name="pipeline")
            self._wake.set()  # rows left pending by a crash go first
            bound = await self.server.start(self.settings.host, self.settings.port if port is None else port)
        except Exception as exc:
            self._set_status(server="error", server_error=str(exc))
            await self.stop(final=False)
            raise
        self._set_status(server="listening", host=self.settings.host, port=bound,
                         conflicts_open=counts["conflicts_open"])
        log.info("listening on %s:%d", self.settings.host, bound)
        if tunnel and self.tunnel_wanted():
            await self.start_tunnel()

    def tunnel_wanted(self) -> bool:
        """The tunnel setting; unset means on once an authtoken is known."""
        enabled = self.settings.tunnel_enabled
        return bool(self.authtoken()) if enabled is None else enabled

    async def start_tunnel(self) -> None:
        """Open the ngrok tunnel to a port that serves the webhook route only."""
        assert self.server is not None
        await self.stop_tunnel()
        port = await self.server.add_forwarded_site()
        token = self.authtoken()
        self._known_url = config.load_state(self.paths).get("public_url")
        cfg = TunnelConfig(authtoken=token, domain=self.settings.ngrok_domain,
                           region=self.settings.ngrok_region, ngrok_path=self.settings.ngrok_path,
                           config_dir=self.paths.data_dir / "ngrok", previous_url=self._known_url)
        self._tunnel = TunnelManager(cfg, port, self._on_tunnel, **self._tunnel_options)
        self._tunnel_start = asyncio.create_task(self._tunnel.start(), name="tunnel-start")

    async def wait_tunnel(self) -> None:
        """Wait until the tunnel is online, failed, or retrying (no-op when off)."""
        if self._tunnel_start is not None:
            await asyncio.shield(self._tunnel_start)

    async def stop_tunnel(self) -> None:
        """Close the tunnel; no agent process is left behind."""
        tunnel, self._tunnel = self._tunnel, None
        if tunnel is not None:
            await tunnel.stop()
        self._tunnel_start = None

    def _on_tunnel(self, st: TunnelStatus) -> None:
        online = st.state is TunnelState.ONLINE
        # The very first public URL is news, not a change: Plex has no URL to replace yet.
        changed = online and st.url_changed and self._known_url is not None
        if online:
            self._known_url = st.public_url
        if changed:
            log.warning("The public webhook URL is now %s/webhook/...: update it in Plex "
                        "(Settings > Webhooks).", st.public_url)
        if online != (self._status.tunnel == "online") or changed:
            # Lets 'scrobbletray webhook-url' print the running app's URL.
            config.save_state(self.paths, tunnel_online=online,
                              **({"public_url": st.public_url} if online else {}))
        self._set_status(tunnel=st.state.value, public_url=st.public_url, tunnel_reason=st.reason,
                         tunnel_fix=st.fix, tunnel_progress=st.progress,
                         url_changed=changed or (self._status.url_changed and not online))

    async def stop(self, final: bool = True) -> None:
        """Stop the tunnel, serving and processing; accepted events stay in the inbox."""
        await self.stop_tunnel()
        if self.server is not None:
            await self.server.stop()
            self.server = None
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        if final:
            await asyncio.get_running_loop().run_in_executor(None, self._shutdown_threads)
            if self._status.server != "error":
                self._set_status(server="stopped", port=None, tunnel="off", public_url=None)

    def _shutdown_threads(self) -> None:
        self._ingest_thread.shutdown(wait=True)
        self._db_thread.shutdown(wait=True)

    # -- work ------------------------------------------------------------------------
    async def _in_db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db_thread, functools.partial(fn, *args, **kwargs))

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a tracker call on the database thread; publishes what it changed."""
        result = await self._in_db(fn, *args, **kwargs)
        outcomes = result if isinstance(result, list) and result and isinstance(result[0], Outcome) else (
            [result] if isinstance(result, Outcome) else [])
        if outcomes:
            await self._publish(outcomes)
        return result

    async def _store(self, inbox: Inbox, payload: str, source: str | None) -> int:
        self._last_ingest = asyncio.get_running_loop().time()
        event_id = await inbox.put(payload, source)
        self.events.publish(WebhookReceived(event_id, source))
        self._wake.set()
        return event_id

    async def _work(self) -> None:
        assert self.tracker is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while not self._status.paused:
                # Acknowledging comes first: while webhooks are arriving or waiting for
                # their commit, processing (which competes for the GIL and SQLite's one
                # write lock) waits for a lull, but never more than MAX_DEFER between
                # batches, so a backlog always moves.
                deferred_since = loop.time()
                while ((self._inbox is not None and self._inbox.busy)
                       or loop.time() - self._last_ingest < LULL) \
                        and loop.time() - deferred_since < MAX_DEFER:
                    await asyncio.sleep(LULL / 4)
                try:
                    outcomes = await self._in_db(self.tracker.process_pending, BATCH)
                except Exception:
                    log.exception("processing failed; will retry")
                    await asyncio.sleep(2)
                    continue
                if not outcomes:
                    break
                await self._publish(outcomes)

    async def _publish(self, outcomes: list[Outcome]) -> None:
        conflicts_touched = False
        for outcome in outcomes:
            self.events.publish(ScrobbleRecorded(outcome))
            conflicts_touched |= outcome.conflict_opened
        if conflicts_touched or any(o.conflict_id for o in outcomes):
            await self.refresh_conflicts(next((o for o in outcomes if o.conflict_opened), None))

    async def refresh_conflicts(self, opened: Outcome | None = None) -> None:
        """Recount open conflicts and tell subscribers."""
        assert self.tracker is not None
        n = (await self._in_db(self.tracker.counts))["conflicts_open"]
        self._set_status(conflicts_open=n)
        self.events.publish(ConflictsChanged(n, opened.conflict_id if opened else None,
                                             opened.plex_title if opened else None))

    def set_paused(self, paused: bool) -> None:
        """Pause or resume processing; webhooks are still accepted and stored."""
        self._set_status(paused=paused)
        if not paused:
            self._wake.set()

    async def apply_settings(self, settings: Settings) -> None:
        """Save new settings and apply them; the server restarts if its address changed."""
        problems = settings.validate()
        if problems:
            raise ValueError("; ".join(problems))
        old = self.settings
        config.save_settings(self.paths, settings)
        self.settings = settings
        if self.tracker is not None:
            self.tracker.settings = settings
        if self.server is None:  # it had failed to start: try again with the new settings
            await self.start()
        else:
            self.server.settings = settings
            self.server.limiter.per_minute = settings.rate_limit_per_minute
            if (old.host, old.port) != (settings.host, settings.port) or old.database_url != settings.database_url:
                await self.stop(final=False)
                await self.start()
            elif _tunnel_settings(old) != _tunnel_settings(settings) or not self._tunnel:
                await (self.start_tunnel() if self.tunnel_wanted() else self.stop_tunnel())

    async def set_authtoken(self, token: str | None) -> str:
        """Save (or forget) the ngrok authtoken and open or close the tunnel to match.

        Returns where the token was kept (the keyring, or a private file).
        """
        # The keyring may block on a D-Bus call: keep it off the loop.
        where = await asyncio.get_running_loop().run_in_executor(None, set_authtoken, self.paths, token)
        self._authtoken = await asyncio.get_running_loop().run_in_executor(None, get_authtoken, self.paths)
        add_secret(self._authtoken)
        if self.server is not None:
            await (self.start_tunnel() if self.tunnel_wanted() else self.stop_tunnel())
        return where

    def authtoken(self) -> str | None:
        """The ngrok authtoken, as read at start (or last set): no keyring call here,
        since the status window asks on every status change."""
        return self._authtoken

    async def resolve_conflict(self, conflict_id: int, **answer: Any) -> list[Outcome]:
        """Answer a conflict and apply its waiting scrobbles (see Tracker.resolve_conflict)."""
        assert self.tracker is not None
        outcomes = await self.run(self.tracker.resolve_conflict, conflict_id, **answer)
        await self.refresh_conflicts()
        return outcomes
