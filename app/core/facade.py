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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from app.core import config
from app.core.config import Paths, Settings
from app.core.credentials import get_authtoken, set_authtoken
from app.core.db import open_database
from app.core.diagnostics import WARN, Check, run_checks
from app.core.events import ConflictsChanged, EventBus, ScrobbleRecorded, StatusChanged, WebhookReceived
from app.core.inbox import Inbox
from app.core.pipeline import Outcome
from app.core.tracker import Tracker
from app.core.webhooks import WebhookServer

log = logging.getLogger(__name__)
T = TypeVar("T")


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
        # Writes from the inbox and from the pipeline each get a thread, so a batch of
        # processing never holds up the commit that acknowledges a webhook.
        self._ingest_thread = ThreadPoolExecutor(1, thread_name_prefix="inbox")
        self._db_thread = ThreadPoolExecutor(1, thread_name_prefix="db")
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._secret = ""

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

    def webhook_urls(self) -> list[tuple[str, str]]:
        """Labelled URLs to paste into Plex, best first."""
        url = self.local_webhook_url
        return [("This computer", url)] if url else []

    def best_webhook_url(self) -> str | None:
        """The one URL to paste into Plex."""
        urls = self.webhook_urls()
        return urls[0][1] if urls else None

    def secrets(self) -> list[str]:
        """Values that must never appear in logs, reports or screenshots."""
        return [s for s in (self._secret, self.authtoken()) if s]

    async def tunnel_checks(self) -> list[Check]:
        """Diagnostics rows for the tunnel."""
        return [Check("Tunnel", WARN, "not available in this version",
                      "Plex must run on this computer to reach the webhook.")]

    async def diagnostics(self) -> list[Check]:
        """Run every connection check (see :mod:`app.core.diagnostics`)."""
        return await run_checks(self)

    # -- lifecycle -----------------------------------------------------------------
    async def start(self, port: int | None = None) -> None:
        """Open the database, process what a crash left pending, start serving."""
        self._set_status(server="starting", server_error=None)
        try:
            self._secret = config.webhook_secret(self.paths)
            self.tracker = await self._in_db(open_tracker, self.paths, self.settings)
            inbox = Inbox(self.tracker.ingest, self._ingest_thread)
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

    async def stop(self, final: bool = True) -> None:
        """Stop serving and processing; accepted events stay in the inbox."""
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
                self._set_status(server="stopped", port=None)

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
        event_id = await inbox.put(payload, source)
        self.events.publish(WebhookReceived(event_id, source))
        self._wake.set()
        return event_id

    async def _work(self) -> None:
        assert self.tracker is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while not self._status.paused:
                try:
                    outcomes = await self._in_db(self.tracker.process_pending, 100)
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
        self.events.publish(ConflictsChanged(n, opened.conflict_id if opened else None))

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
        if self.server is not None:
            self.server.settings = settings
            self.server.limiter.per_minute = settings.rate_limit_per_minute
            if (old.host, old.port) != (settings.host, settings.port) or old.database_url != settings.database_url:
                await self.stop(final=False)
                await self.start()

    def set_authtoken(self, token: str | None) -> str:
        """Save the ngrok authtoken (keyring where possible); returns where it went."""
        return set_authtoken(self.paths, token)

    def authtoken(self) -> str | None:
        return get_authtoken(self.paths)

    async def resolve_conflict(self, conflict_id: int, **answer: Any) -> list[Outcome]:
        """Answer a conflict and apply its waiting scrobbles (see Tracker.resolve_conflict)."""
        assert self.tracker is not None
        outcomes = await self.run(self.tracker.resolve_conflict, conflict_id, **answer)
        await self.refresh_conflicts()
        return outcomes
