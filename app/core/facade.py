"""The one object the CLI, the headless runner and the UI drive.

:class:`Core` owns the database, the webhook server, the pipeline worker, the
destinations' senders and the tunnel, publishes typed events on its :class:`EventBus`,
and runs every blocking database call on its own threads so the event loop never
stalls. What it returns is plain typed data (:mod:`app.core.types`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar

from sqlalchemy.exc import DBAPIError

from app.core import config, diagnostics, status_file
from app.core.config import Paths, Settings
from app.core.catchup import CatchUp
from app.core.conflicts import Conflicts
from app.core.credentials import get_authtoken, get_secret, set_authtoken, set_secret
from app.core.db import DatabaseError, open_database, trouble_words
from app.core.destinations import kinds
from app.core.destinations.base import Attempt, Kind, Live, OutboxDestination, Target
from app.core.destinations.manager import DestinationManager, outbox_destinations
from app.core.destinations.outbox import Outbox
from app.core.destinations.sender import Timing
from app.core.events import (ConflictsChanged, DestinationsChanged, EventBus, ScrobbleRecorded,
                             StatusChanged, WebhookReceived)
from app.core.inbox import Inbox
from app.core.logs import add_secret
from app.core.matching import Candidate
from app.core.payload import PlexEvent
from app.core.pipeline import server_show_key
from app.core.plex.http import PlexError
from app.core.plex.live import LiveFollower, LiveSessions
from app.core.plex.service import PlexLink
from app.core.tracker import Tracker, TrackerError
from app.core.tunnel import TunnelConfig, TunnelManager, TunnelStatus
from app.core.types import (CatchUpResult, Check, ConflictRow, CoreStatus, Counts, DestinationStatus,
                            Outcome, PlexStatus, ScrobbleRow, ServerState, ShowFacts, ShowRow, TunnelState,
                            WebhookStats)
from app.core.urls import labelled_urls, local_base, webhook_url
from app.core.webhooks import WebhookServer
from app.core.worker import Worker

log = logging.getLogger(__name__)
T = TypeVar("T")
WATCH_EVERY = 5.0  # seconds between looks at how long destinations have been failing


def _tunnel_settings(s: Settings) -> tuple[Any, ...]:
    return (s.tunnel_enabled, s.ngrok_domain, s.ngrok_region, s.ngrok_path)


def open_tracker(paths: Paths, settings: Settings, timing: Timing | None = None) -> Tracker:
    """A tracker on the configured database (migrated), for the CLI and the core."""
    paths.ensure()
    sessions = open_database(paths.database_url(settings), paths.backups_dir)
    return Tracker(sessions, settings, _destinations_of(paths, settings, timing))


def _destinations_of(paths: Paths, settings: Settings, timing: Timing | None) -> list[OutboxDestination]:
    """The outbox destinations the settings name (blocking: passwords come from the keyring)."""
    return outbox_destinations(settings, timing, functools.partial(get_secret, paths), config.install_id(paths))


class Core:
    """Scrobble Tray's engine: start it, subscribe to :attr:`events`, stop it."""

    def __init__(self, paths: Paths, settings: Settings | None = None, *,
                 timing: Timing | None = None) -> None:
        self.paths = paths
        self.settings = settings or config.load_settings(paths)
        self.events = EventBus()
        self.tracker: Tracker | None = None
        self.server: WebhookServer | None = None
        self.timing = timing or Timing()
        self._status = CoreStatus()
        self._status_moved = asyncio.Event()  # for the status file
        # The inbox and the pipeline each get a thread, so a commit that acknowledges
        # webhooks never queues behind a processing batch (which also waits for a lull in
        # arrivals: see worker.py). The outbox has a third (see DestinationManager).
        self._ingest_thread = ThreadPoolExecutor(1, thread_name_prefix="inbox")
        self._db_thread = ThreadPoolExecutor(1, thread_name_prefix="db")
        self._worker: Worker | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._secret = ""
        self._tunnel: TunnelManager | None = None
        self._tunnel_start: asyncio.Task[None] | None = None
        self._tunnel_options: dict[str, Any] = {}  # timing knobs, for tests
        self._destinations: DestinationManager | None = None
        self._conflicts: Conflicts | None = None
        self._known_url: str | None = None  # the public URL Plex was last given
        self._authtoken: str | None = None
        self.plex = PlexLink(paths, self.settings, self._plex_changed)
        self.catch_up = CatchUp(paths, self.plex, self._store, self._in_db, self._caught_up)
        self._background: set[asyncio.Task[Any]] = set()
        self._tunnel_lost = False  # since it was last online: catch up when it is back
        self._live = LiveFollower()
        self._inbox: Inbox | None = None

    # -- state ---------------------------------------------------------------------
    @property
    def status(self) -> CoreStatus:
        return self._status

    def _set_status(self, **changes: Any) -> None:
        new = dataclasses.replace(self._status, **changes)
        if new != self._status:
            self._status = new
            self._status_moved.set()
            self.events.publish(StatusChanged(new))

    @property
    def secret(self) -> str:
        return self._secret

    @property
    def local_webhook_url(self) -> str | None:
        """The webhook URL on this machine (for a Plex server on the same host)."""
        port = self._status.port
        return None if port is None else webhook_url(local_base(self._status.host, port), self._secret)

    @property
    def public_webhook_url(self) -> str | None:
        """The webhook URL through the tunnel, while it is online."""
        url = self._status.public_url
        return webhook_url(url, self._secret) if url and self._status.tunnel == TunnelState.ONLINE else None

    def webhook_urls(self) -> list[tuple[str, str]]:
        """Labelled URLs to paste into Plex, best first."""
        public = self._status.public_url if self._status.tunnel == TunnelState.ONLINE else None
        return labelled_urls(self._secret, self._status.host, self._status.port, public)

    def best_webhook_url(self) -> str | None:
        """The one URL to paste into Plex."""
        urls = self.webhook_urls()
        return urls[0][1] if urls else None

    def secrets(self) -> list[str]:
        """Values that must never appear in logs, reports or screenshots."""
        return [s for s in (self._secret, self.authtoken(), self.plex.token) if s]

    def webhook_stats(self) -> WebhookStats:
        """What the webhook server has seen since it started."""
        return self.server.stats.snapshot() if self.server else WebhookStats()

    # -- what the windows and the CLI read ------------------------------------------
    def _store(self) -> Tracker:
        if self.tracker is None:
            raise TrackerError("the database is not open")
        return self.tracker

    async def counts(self) -> Counts:
        return await self._in_db(self._store().counts)

    async def scrobbles(self, limit: int = 50, action: str | None = None,
                        search: str | None = None) -> list[ScrobbleRow]:
        """The log, newest first, with where each event was delivered."""
        return await self._in_db(self._store().scrobbles, limit, action, search)

    def _conflict_route(self) -> Conflicts:
        if self._conflicts is None:
            raise TrackerError("the database is not open")
        return self._conflicts

    async def conflicts(self, status: str | None = "open") -> list[ConflictRow]:
        """Open conflicts of the tracker that counts (see :mod:`app.core.conflicts`)."""
        return await self._conflict_route().conflicts(status)

    async def waiting_events(self, conflict_id: int) -> list[ScrobbleRow]:
        """The scrobbles a conflict holds."""
        return await self._conflict_route().waiting_events(conflict_id)

    async def search_shows(self, query: str, limit: int = 20) -> list[Candidate]:
        """Ranked tracker shows for a title (the conflicts dialog's search)."""
        return await self._conflict_route().search_shows(query, limit)

    async def candidate_details(self, show_ids: list[int]) -> dict[int, ShowRow]:
        """What tells conflict candidates apart: their ids and episode counts (built-in tracker)."""
        return await self._conflict_route().details(show_ids)

    async def rerun(self, event_id: int) -> Outcome:
        """Process a failed or ignored event again."""
        return await self.run(self._store().rerun, event_id)

    async def undo(self, event_id: int) -> Outcome:
        """Take back the watch an event counted."""
        return await self.run(self._store().undo, event_id)

    async def tunnel_checks(self) -> list[Check]:
        return await diagnostics.tunnel_checks(self._status, self.public_webhook_url)

    async def diagnostics(self) -> list[Check]:
        """Every connection check, in the order a person would look."""
        counts: Counts | None = None
        if self.tracker is not None:
            try:
                counts = await self.counts()
            except Exception as exc:  # the detail is what the user needs, not a traceback
                return [diagnostics.database_check(None, exc)]
        checks = [diagnostics.database_check(counts, None, self._status)]
        checks += await diagnostics.server_checks(self._status, self.local_webhook_url)
        checks += await self.tunnel_checks()
        checks.append(diagnostics.last_webhook_check(self.webhook_stats(), counts))
        if counts is not None:
            checks.append(diagnostics.conflicts_check(counts))
        if self._destinations is not None:
            checks += await self._destinations.checks()
        if self.plex.connected:  # Plex's own list says better whether the URL is there
            await self.plex.refresh(self.public_webhook_url)
            checks = [c for c in checks if c.name != "Webhook URL in Plex"]
        checks += self.plex.checks(self.public_webhook_url)
        checks += [live.check() for live in self._live.following]
        return checks

    def report(self, checks: list[Check]) -> str:
        """A Markdown report of ``checks``, with every secret redacted."""
        return diagnostics.report(checks, self.best_webhook_url())

    # -- Plex -------------------------------------------------------------------------
    async def plex_signed_in(self, token: str) -> str:
        """Keep a sign-in's token, read the account, and register the webhook URL when the
        user lets it happen by itself. Returns where the token was kept."""
        where = await self.plex.signed_in(token)
        await self._plex_refresh()
        self.catch_up.soon()
        if self.settings.plex_auto_register and self.public_webhook_url:
            await self._register_automatically()
        return where

    def _plex_changed(self, st: PlexStatus) -> None:
        self._set_status(plex=st)
        if not st.signed_in and self._live.following:
            self._later(self._follow_live())  # signed out, or the token revoked: stop following

    async def _caught_up(self, result: CatchUpResult, ids: list[int]) -> None:
        self.plex.caught_up(result)
        if ids and self._worker is not None:
            self._worker.wake()

    async def _plex_refresh(self) -> None:
        """The account afresh, and its servers' accounts (accepted accounts by any id)."""
        await self.plex.refresh(self.public_webhook_url)
        await self.plex.users()
        await self._follow_live()

    def live_wanted(self) -> bool:
        """Follow live sessions: when chosen, or (unset) when the account has no Plex Pass."""
        chosen = self.settings.plex_live
        return self.plex.connected and (self.status.plex.plex_pass is False if chosen is None else chosen)

    async def _follow_live(self) -> None:
        """Start or stop following the owned servers' live sessions, as wanted."""
        account = self.plex.account
        if not self.live_wanted() or account is None or self._inbox is None:
            await self._live.stop()
            self.plex.following(())
            return
        inbox = self._inbox
        for server in await self.plex.own_servers():
            if self._live.follows(server.uuid):
                continue
            try:
                base, token = await asyncio.to_thread(account.connection, server.uuid)
            except PlexError as exc:
                log.warning("Cannot follow live sessions on %s: %s", server.name, exc)
                continue
            add_secret(token)
            self._live.start(LiveSessions(base, token, server.uuid, server.name,
                                          lambda: self.settings.stop_threshold,
                                          functools.partial(self._put, inbox)))
        self.plex.following(tuple(live.server_name for live in self._live.following))

    async def plex_register(self) -> str:
        """Put the current public webhook URL in the Plex account's webhooks."""
        url = self.public_webhook_url
        if url is None:
            raise PlexError("There is no public webhook URL to register: the tunnel is not online",
                            "Turn the tunnel on (Settings > Tunnel); a Plex server elsewhere cannot "
                            "reach this computer without it.")
        note = await self.plex.register(url, self._secret)
        self._set_status(url_changed=False)
        return note

    async def _register_automatically(self, changed: bool = False) -> None:
        """Register the current URL; if that fails after a change, the user is told to."""
        url = self.public_webhook_url
        if url and await self.plex.url_changed(url, self._secret):
            self._set_status(url_changed=False)
        elif changed:
            self._set_status(url_changed=True)

    # -- destinations ---------------------------------------------------------------
    async def destinations(self) -> list[DestinationStatus]:
        """Every destination with its delivery state (the built-in tracker first)."""
        if self._destinations is None:
            return []
        return await self._destinations.statuses()

    async def add_destination(self, kind: str, url: str, label: str = "", **options: Any) -> str:
        """Add a destination of ``kind`` (a name in :data:`app.core.destinations.kinds.KINDS`)
        with its options (e.g. a relay's ``only_watched``); the secrets its kind takes out of
        the URL go to the keyring. Returns its id."""
        settings = dataclasses.replace(self.settings)
        target, secrets = config.add_destination(settings, kind, url, label, **options)
        for name, value in secrets.items():
            add_secret(value)
            await asyncio.to_thread(set_secret, self.paths, name, value)
        await self.apply_settings(settings)
        return target.id

    # The two kinds' own adds, as one-liners: the tests and the screenshot bench use them.
    async def add_relay(self, url: str, only_watched: bool = False, label: str = "") -> str:
        return await self.add_destination("relay", url, label, only_watched=only_watched)

    async def add_postgres(self, url: str, label: str = "") -> str:
        return await self.add_destination("postgres", url, label)

    async def update_destination(self, destination_id: str, **changes: Any) -> None:
        """Change a destination (url, label, enabled, its kind's options). A new URL or
        turning it on sends its failed events again."""
        _, old = self._target(destination_id)
        new = dataclasses.replace(old, **changes)  # type: ignore[type-var]
        await self.apply_settings(kinds.replaced(self.settings, new))
        if (new.url != old.url or (new.enabled and not old.enabled)) and self._destinations:
            await self._destinations.retry(destination_id)

    async def set_destination_enabled(self, destination_id: str, on: bool) -> None:
        """Turn a destination on or off (on: its failed events are sent again)."""
        await self.update_destination(destination_id, enabled=on)

    async def remove_destination(self, destination_id: str) -> None:
        """Remove a destination, the secrets its kind kept for it, and its deliveries."""
        kind, target = self._target(destination_id)
        await self.apply_settings(kinds.without(self.settings, destination_id))
        for name in kind.secrets(target):
            await asyncio.to_thread(set_secret, self.paths, name, None)
        if self._destinations is not None:
            await self._destinations.forget(destination_id)
        self.events.publish(DestinationsChanged())

    async def retry_destination(self, destination_id: str) -> int:
        """Send a destination's failed events again, and its waiting ones now; unpauses it."""
        if self._destinations is None:
            raise TrackerError("Scrobble Tray is not running")
        n = await self._destinations.retry(destination_id)
        self.events.publish(DestinationsChanged())
        return n

    async def test_destination(self, destination_id: str) -> Attempt:
        """Send a harmless test event to a destination (not through the outbox)."""
        if self._destinations is None:
            raise TrackerError("Scrobble Tray is not running")
        return await self._destinations.test(destination_id)

    def _target(self, destination_id: str) -> tuple[Kind, Target]:
        found = kinds.find(self.settings, destination_id)
        if found is None:
            raise TrackerError(f"there is no destination {destination_id!r}")
        return found

    def _destinations_changed(self) -> None:
        self._watch_destinations()
        self.events.publish(DestinationsChanged())

    def _watch_destinations(self) -> None:
        if self._destinations is not None:
            self._set_status(destinations_failing=self._destinations.wanting_attention())

    async def _watch_loop(self) -> None:
        """Failing turns into "wants attention" with time alone, and a PostgreSQL tracker's
        conflicts change in its own app: look now and then."""
        while True:
            await asyncio.sleep(WATCH_EVERY)
            self._watch_destinations()
            if self._conflicts is not None and await self._conflicts.sync():
                await self.refresh_conflicts()

    async def _start_destinations(self, rebuild: bool = True) -> None:
        """Start a sender per destination; ``rebuild`` after the settings changed (at start,
        open_tracker has just built them)."""
        tracker = self._store()
        if rebuild:
            tracker.destinations = await asyncio.to_thread(_destinations_of, self.paths, self.settings,
                                                           self.timing)
        if self._destinations is None:
            self._destinations = DestinationManager(Outbox(tracker.sessions), tracker.builtin, self.timing,
                                                    self._destinations_changed, self._arriving)
        else:
            await self._destinations.stop()
        live = Live(lambda: self.settings, self.server_show, self.plex.knows)
        for destination in tracker.destinations:
            destination.attach(live)
        self._destinations.start(tracker.destinations)
        self._destinations_changed()

    # -- lifecycle -----------------------------------------------------------------
    async def start(self, port: int | None = None, tunnel: bool = True) -> None:
        """Open the database, process what a crash left pending, start serving.

        The tunnel (when enabled) opens in the background: see :meth:`wait_tunnel`.
        """
        self._set_status(server=ServerState.STARTING, server_error=None)
        try:
            self._secret = config.webhook_secret(self.paths)
            add_secret(self._secret)
            # The keyring may block on a D-Bus call: read it once, off the loop.
            self._authtoken = await asyncio.get_running_loop().run_in_executor(
                None, get_authtoken, self.paths)
            add_secret(self._authtoken)
            self.tracker = await self._in_db(open_tracker, self.paths, self.settings, self.timing)
            await self.plex.load()
            inbox = self._inbox = Inbox(self.tracker.ingest, self._ingest_thread, health=self._database_health)
            self._worker = Worker(inbox, self._process, self._publish,
                                  lambda: self._status.paused or self._status.database_problem is not None,
                                  self._processing_health)
            self.server = WebhookServer(self.settings, lambda: self._secret,
                                        functools.partial(self._put, inbox))
            await self._start_destinations(rebuild=False)
            self._conflicts = Conflicts(self.tracker, self._in_db,
                                        lambda: self._destinations.wake() if self._destinations else None)
            conflicts_open = await self._conflicts.open_count()
            self._tasks = [asyncio.create_task(self._worker.run(), name="pipeline"),
                           asyncio.create_task(self._watch_loop(), name="destinations-watch"),
                           asyncio.create_task(self.catch_up.loop(), name="catch-up"),
                           asyncio.create_task(self._status_file_loop(), name="status-file")]
            self._worker.wake()  # rows left pending by a crash go first
            bound = await self.server.start(self.settings.host, self.settings.port if port is None else port)
        except Exception as exc:
            self._set_status(server=ServerState.ERROR, server_error=str(exc))
            await self.stop(final=False)
            raise
        self._set_status(server=ServerState.LISTENING, host=self.settings.host, port=bound,
                         conflicts_open=conflicts_open, plex_location=self.settings.plex_location,
                         database_notice=self.tracker.moved_aside)
        log.info("listening on %s:%d", self.settings.host, bound)
        # Lets 'scrobbletray webhook-url' print this instance's real address.
        await asyncio.to_thread(config.save_state, self.paths,
                                listening={"host": self.settings.host, "port": bound})
        if self.plex.connected:
            self._later(self._plex_refresh())
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
        if st.state in (TunnelState.RECONNECTING, TunnelState.ERROR):
            self._tunnel_lost = True
        elif online and self._tunnel_lost:
            self._tunnel_lost = False
            self.catch_up.soon()  # what Plex sent meanwhile went nowhere
        # The very first public URL is news, not a change: Plex has no URL to replace yet.
        changed = online and st.url_changed and self._known_url is not None
        if online:
            self._known_url = st.public_url
        automatic = self.plex.connected and self.settings.plex_auto_register
        if changed and not automatic:
            log.warning("The public webhook URL is now %s/webhook/...: update it in Plex "
                        "(Settings > Webhooks).", st.public_url)
        if online and automatic:
            if changed:
                log.info("The public webhook URL is now %s/webhook/...: registering it in Plex", st.public_url)
            self._later(self._register_automatically(changed))
        if online != (self._status.tunnel == TunnelState.ONLINE) or changed:
            # Lets 'scrobbletray webhook-url' print the running app's URL.
            config.save_state(self.paths, tunnel_online=online,
                              **({"public_url": st.public_url} if online else {}))
        self._set_status(tunnel=st.state, public_url=st.public_url, tunnel_reason=st.reason,
                         tunnel_fix=st.fix, tunnel_progress=st.progress,
                         url_changed=(changed and not automatic) or (self._status.url_changed and not online))

    async def stop(self, final: bool = True) -> None:
        """Stop the tunnel, serving, processing and delivering; accepted events stay in the inbox."""
        await self.stop_tunnel()
        if self.server is not None:
            await self.server.stop()
            self.server = None
        await self._live.stop()
        tasks, self._tasks = self._tasks + list(self._background), []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._destinations is not None:
            await self._destinations.close()
            self._destinations = None
        if self._inbox is not None:
            self._inbox.close()  # (logs any webhooks still held for a database that never came back)
        if final:
            await asyncio.get_running_loop().run_in_executor(None, self._shutdown_threads)
            if self.paths.data_dir.is_dir():  # (deleted while running: not made again here)
                await asyncio.to_thread(config.save_state, self.paths, listening=None)
                await asyncio.to_thread(status_file.remove, self.paths)
            if self._status.server != ServerState.ERROR:
                self._set_status(server=ServerState.STOPPED, port=None, tunnel=TunnelState.OFF,
                                 public_url=None)

    async def _status_file_loop(self) -> None:
        """Keep ``status.json`` current for ``scrobbletray status`` (written only on a change)."""
        written: dict[str, Any] | None = None
        while True:
            data = status_file.snapshot(self._status, self.webhook_stats())
            if data != written:
                await asyncio.to_thread(status_file.write, self.paths, data, self.secrets())
                written = data
            with contextlib.suppress(TimeoutError):  # a state change writes at once; figures can wait
                async with asyncio.timeout(status_file.EVERY):
                    await self._status_moved.wait()
            self._status_moved.clear()

    def _later(self, work: Any) -> None:
        """Run ``work`` in the background, kept referenced until it is done."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

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

    async def _process(self, limit: int = 200) -> list[Outcome]:
        """One processing batch; first, the Plex servers are asked what their webhooks left
        out: the ids of shows named only plex://show/..., how far a stop went (never on the
        acknowledgement path)."""
        tracker = self._store()
        tracker.plex = self.plex.knows()
        if self.plex.connected:
            ask = await self._in_db(tracker.plex_questions, limit)
            facts, progress = await asyncio.gather(self.plex.show_facts(ask.shows),
                                                   self.plex.progress(ask.stops))
            if facts:
                await self._in_db(tracker.save_server_shows, facts)
            if progress:
                await self._in_db(tracker.save_server_progress, progress)
        return await self._in_db(tracker.process_pending, limit)

    async def server_show(self, ev: PlexEvent) -> ShowFacts | None:
        """What the Plex server says about the show of ``ev`` (remembered, else asked)."""
        key = server_show_key(ev)
        if key is None:
            return None
        known = await self._in_db(self._store().server_show, *key)
        if known is None and self.plex.connected and (facts := await self.plex.show_facts([key])):
            await self._in_db(self._store().save_server_shows, facts)
            known = facts.get(key)
        return known

    async def _put(self, inbox: Inbox, payload: str, source: str | None) -> int:
        assert self._worker is not None
        self._worker.arrived()
        event_id = await inbox.put(payload, source)
        self.events.publish(WebhookReceived(event_id, source))
        self._worker.arrived()
        return event_id

    def _database_health(self, problem: Exception | None, held: int) -> None:
        """The inbox found the database taking no writes (or taking them again)."""
        if problem is None:
            self._set_status(database_problem=None, database_fix=None, database_since=None, database_held=0)
            if self._worker is not None:
                self._worker.wake()
            return
        said, fix = trouble_words(problem, self._store().sessions.kw["bind"])
        self._set_status(database_problem=said, database_fix=fix, database_held=held,
                         database_since=self._status.database_since or datetime.now(timezone.utc))

    def _processing_health(self, problem: Exception | None) -> None:
        """Processing failed (its batch is tried again), or goes on again."""
        if problem is None:
            self._set_status(processing_problem=None, processing_fix=None)
        elif isinstance(problem, (DBAPIError, DatabaseError)):
            said, fix = trouble_words(problem, self._store().sessions.kw["bind"])
            self._set_status(processing_problem=said, processing_fix=fix)
        else:  # a bug: the log has its traceback
            self._set_status(processing_problem=f"Processing fails: {type(problem).__name__}: {problem}",
                             processing_fix="See the log file")

    def _arriving(self) -> bool:
        return self._worker is not None and self._worker.busy()

    async def _publish(self, outcomes: list[Outcome]) -> None:
        if self._destinations is not None:
            self._destinations.wake()  # settling rows may have queued deliveries
        conflicts_touched = False
        for outcome in outcomes:
            self.events.publish(ScrobbleRecorded(outcome))
            conflicts_touched |= outcome.conflict_opened
        if conflicts_touched or any(o.conflict_id for o in outcomes):
            await self.refresh_conflicts(next((o for o in outcomes if o.conflict_opened), None))

    async def refresh_conflicts(self, opened: Outcome | None = None) -> None:
        """Recount open conflicts and tell subscribers."""
        n = await self._conflict_route().open_count()
        self._set_status(conflicts_open=n)
        self.events.publish(ConflictsChanged(n, opened.conflict_id if opened else None,
                                             opened.plex_title if opened else None))

    def set_paused(self, paused: bool) -> None:
        """Pause or resume processing; webhooks are still accepted and stored."""
        self._set_status(paused=paused)
        if not paused and self._worker is not None:
            self._worker.wake()

    async def apply_settings(self, settings: Settings) -> None:
        """Save new settings and apply them; the server restarts if its address changed."""
        problems = settings.validate()
        if problems:
            raise ValueError("; ".join(problems))
        old = self.settings
        config.save_settings(self.paths, settings)
        self.settings = settings
        self.plex.settings = settings
        self._set_status(plex_location=settings.plex_location)
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
                return
            if kinds.snapshot(old) != kinds.snapshot(settings):
                await self._start_destinations()
            if old.plex_live != settings.plex_live:
                await self._follow_live()
            if _tunnel_settings(old) != _tunnel_settings(settings) or not self._tunnel:
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
        outcomes = await self._conflict_route().resolve(conflict_id, **answer)
        await self._publish(outcomes)
        await self.refresh_conflicts()
        return outcomes
