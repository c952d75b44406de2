"""The running house: builds, starts and stops every part, and reacts to them.

:class:`Runtime` owns the database, the webhook server, the pipeline worker, the
destinations' senders, the tunnel and the Plex link; its parts (how Plex reaches us,
the Plex side, deliveries) are mixins in this package. Only :mod:`app.core.facade` (the
API every face drives) and tests reach it; it runs every blocking database call on its
own threads so the event loop never stalls.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import DBAPIError

from app.core import config, status_file
from app.core.catchup import CatchUp
from app.core.config import Paths, Settings
from app.core.conflicts import Conflicts
from app.core.credentials import get_authtoken
from app.core.db import DatabaseError, open_database, trouble_words
from app.core.destinations import kinds
from app.core.destinations.sender import Timing
from app.core.errors import SettingsInvalid
from app.core.events import ConflictsChanged, EventBus, ScrobbleRecorded, StatusChanged, WebhookReceived
from app.core.instance import InstanceLock
from app.core.logs import add_secret, redact
from app.core.payload import PlexEvent
from app.core.pipeline import server_show_key
from app.core.plex.live import LiveFollower
from app.core.plex.service import PlexLink
from app.core.runtime.delivery import Delivery
from app.core.runtime.parts import destinations_of
from app.core.runtime.plex import PlexSide
from app.core.runtime.reach import Reach
from app.core.runtime.upkeep import Upkeep
from app.core.store import Store, StoreError
from app.core.types import CoreStatus, Outcome, ServerState, ShowFacts, TunnelState, WebhookStats

if TYPE_CHECKING:  # (what only serving needs is imported by start: a command's read goes without)
    from app.core.destinations.manager import DestinationManager
    from app.core.inbox import Inbox
    from app.core.tunnel import TunnelManager
    from app.core.webhooks import WebhookServer
    from app.core.worker import Worker

log = logging.getLogger(__name__)
T = TypeVar("T")
STOP_WAIT = 5.0  # seconds a whole stop may take, whatever a peer does
STOP_OWN = 1.0  # of which kept for the app's own last writes (its state, the status file)
_TASK_WORDS = {"pipeline": "Processing webhooks", "destinations-watch": "Watching the destinations",
               "catch-up": "Catching up from Plex", "status-file": "Writing the status file",
               "upkeep": "Keeping the database small"}
STEP_LEAST = 0.1  # seconds each step of a stop gets even when the others took all the time


def _tunnel_settings(s: Settings) -> tuple[Any, ...]:
    return (s.tunnel_enabled, s.ngrok_domain, s.ngrok_region, s.ngrok_path)


def open_store(paths: Paths, settings: Settings, timing: Timing | None = None) -> Store:
    """The database service on the configured database (migrated), for the façade."""
    paths.ensure()
    sessions = open_database(paths.database_url(settings), paths.backups_dir)
    return Store(sessions, settings, destinations_of(paths, settings, timing))


async def _bounded(what: str, work: Awaitable[Any], deadline: float) -> None:
    """Wait for one step of a stop until ``deadline`` (the loop's time); a step always gets
    a moment (STEP_LEAST), so one that overran leaves the others a chance to end cleanly."""
    try:
        async with asyncio.timeout_at(max(deadline, asyncio.get_running_loop().time() + STEP_LEAST)):
            await work
    except TimeoutError:
        log.warning("Stopping %s took too long; going on without it", what)


class Runtime(Reach, PlexSide, Delivery, Upkeep):
    """Scrobble Tray's engine: start it, subscribe to :attr:`events`, stop it."""

    def __init__(self, paths: Paths, settings: Settings | None = None, *,
                 timing: Timing | None = None) -> None:
        self.paths = paths
        self.settings = settings or config.load_settings(paths)
        self.events = EventBus()
        self.store: Store | None = None
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
        self._lock = InstanceLock(paths)
        self._command = False  # opened for a command (see open), not started

    def _set_status(self, **changes: Any) -> None:
        new = dataclasses.replace(self._status, **changes)
        if new != self._status:
            self._status = new
            self._status_moved.set()
            self.events.publish(StatusChanged(new))

    @property
    def secret(self) -> str:
        return self._secret

    def webhook_stats(self) -> WebhookStats:
        """What the webhook server has seen since it started."""
        return self.server.stats.snapshot() if self.server else WebhookStats()

    async def start(self, port: int | None = None, tunnel: bool = True) -> None:
        """Open the database, process what a crash left pending, start serving.

        The tunnel (when enabled) opens in the background: see :meth:`wait_tunnel`.
        """
        from app.core.inbox import Inbox
        from app.core.webhooks import WebhookServer
        from app.core.worker import Worker

        self._set_status(server=ServerState.STARTING, server_error=None)
        try:
            await asyncio.to_thread(self._lock.acquire)
            self._secret = config.webhook_secret(self.paths)
            add_secret(self._secret)
            # The keyring may block on a D-Bus call: read it once, off the loop.
            self._authtoken = await asyncio.get_running_loop().run_in_executor(
                None, get_authtoken, self.paths)
            add_secret(self._authtoken)
            self.store = await self._in_db(open_store, self.paths, self.settings, self.timing)
            await self.plex.load()
            inbox = self._inbox = Inbox(self.store.ingest, self._ingest_thread, health=self._database_health)
            self._worker = Worker(inbox, self._process, self._publish,
                                  lambda: self._status.paused or self._status.database_problem is not None,
                                  self._processing_health)
            self.server = WebhookServer(self.settings, lambda: self._secret,
                                        functools.partial(self._put, inbox))
            await self._start_destinations(rebuild=False)
            self._conflicts = Conflicts(self.store, self._in_db,
                                        lambda: self._destinations.wake() if self._destinations else None)
            conflicts_open = await self._conflicts.open_count()
            self._tasks = [asyncio.create_task(self._worker.run(), name="pipeline"),
                           asyncio.create_task(self._watch_loop(), name="destinations-watch"),
                           asyncio.create_task(self.catch_up.loop(), name="catch-up"),
                           asyncio.create_task(self._status_file_loop(), name="status-file"),
                           asyncio.create_task(self._upkeep_loop(), name="upkeep")]
            for task in self._tasks:
                task.add_done_callback(self._task_ended)
            self._worker.wake()  # rows left pending by a crash go first
            bound = await self.server.start(self.settings.host, self.settings.port if port is None else port)
        except Exception as exc:
            self._set_status(server=ServerState.ERROR, server_error=str(exc))
            await self.stop(final=False)
            self._lock.release()  # (a start that failed holds nothing; the next start takes it again)
            raise
        self._set_status(server=ServerState.LISTENING, host=self.settings.host, port=bound,
                         conflicts_open=conflicts_open, plex_location=self.settings.plex_location,
                         database_notice=self.store.moved_aside)
        log.info("listening on %s:%d", self.settings.host, bound)
        # Lets 'scrobbletray webhook-url' print this instance's real address.
        await asyncio.to_thread(config.save_state, self.paths,
                                listening={"host": self.settings.host, "port": bound})
        if self.plex.connected:
            self._later(self._plex_refresh())
        # A large tracker's index takes seconds to build: before the first webhook, not on it.
        self._later(self._warm_index())
        if tunnel and self.tunnel_wanted():
            await self.start_tunnel()

    @property
    def serving(self) -> bool:
        """Whether this process runs the core on its data folder (it holds the lock)."""
        return self._lock.held

    async def open(self) -> None:
        """Open the database (and the trackers whose conflicts count) for a command, without
        the lock, the server or the senders: another process may be running the core."""
        self._command = True
        self._secret = config.webhook_secret(self.paths)
        self.store = await self._in_db(open_store, self.paths, self.settings, self.timing)
        self._conflicts = Conflicts(self.store, self._in_db, lambda: None)

    async def stop(self, final: bool = True) -> None:
        """Stop the tunnel, serving, processing and delivering; accepted events stay in the inbox.

        The whole stop is bounded (:data:`STOP_WAIT`): a peer that does not answer, or a
        batch still running on a loaded machine, never holds a quit for long. Work cut off here
        was not committed, so it is done again at the next start.
        """
        end = asyncio.get_running_loop().time() + STOP_WAIT
        peers = end - STOP_OWN  # the steps that may wait on a peer share what is left before it
        await _bounded("the tunnel", self.stop_tunnel(), peers)
        if self.server is not None:
            await _bounded("the webhook server", self.server.stop(), peers)
            self.server = None
        await _bounded("live sessions", self._live.stop(), peers)
        tasks, self._tasks = self._tasks + list(self._background), []
        for task in tasks:
            task.cancel()
        await _bounded("background work", asyncio.gather(*tasks, return_exceptions=True), peers)
        if self._destinations is not None:
            await _bounded("the destinations", self._destinations.close(), peers)
            self._destinations = None
        elif final and self.store is not None:  # opened for a command: no senders owned them
            await _bounded("the destinations", asyncio.gather(*(d.close() for d in self.store.destinations)), peers)
        if self._inbox is not None:
            self._inbox.close()  # (logs any webhooks still held for a database that never came back)
        if final:
            await _bounded("the database threads",
                           asyncio.get_running_loop().run_in_executor(None, self._shutdown_threads), peers)
            if self.store is not None:
                self.store.sessions.kw["bind"].dispose()  # the SQLite file is free to move or delete
            if self._lock.held and self.paths.data_dir.is_dir():  # (deleted while running: not made again)
                await _bounded("the state file", asyncio.to_thread(self._forget_listening), end)
            self._lock.release()
            if self._status.server != ServerState.ERROR:
                self._set_status(server=ServerState.STOPPED, port=None, tunnel=TunnelState.OFF,
                                 public_url=None)

    def _forget_listening(self) -> None:
        config.save_state(self.paths, listening=None)
        status_file.remove(self.paths)

    async def _status_file_loop(self) -> None:
        """Keep ``status.json`` current for ``scrobbletray status`` (written only on a change)."""
        written: dict[str, Any] | None = None
        while True:
            data = status_file.snapshot(self._status, self.webhook_stats(),
                                        self._destinations.running() if self._destinations else None)
            if data != written:
                try:
                    await asyncio.to_thread(status_file.write, self.paths, data, self.secrets())
                    written = data
                except Exception:  # (OSError is handled by write itself) never the end of the loop
                    log.exception("writing the status file failed; trying again")
            with contextlib.suppress(TimeoutError):  # a state change writes at once; figures can wait
                async with asyncio.timeout(status_file.EVERY):
                    await self._status_moved.wait()
            self._status_moved.clear()

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        """A background task ended without :meth:`stop` (which cancels them): say so, in the
        status the windows, ``status`` and Diagnostics show, instead of going on half alive."""
        if task.cancelled() or task not in self._tasks:
            return
        exc = task.exception()
        why = f"{type(exc).__name__}: {exc}" if exc is not None else "it returned"
        what = _TASK_WORDS.get(task.get_name(), task.get_name())
        log.error("%s stopped unexpectedly (%s)", what, why, exc_info=exc)
        self._set_status(stopped_work=redact(f"{what} stopped unexpectedly ({why})"))

    def _shutdown_threads(self) -> None:
        self._ingest_thread.shutdown(wait=True)  # acknowledging commits: short, and owed
        self._db_thread.shutdown(wait=True, cancel_futures=True)  # queued processing waits for the next start

    async def _warm_index(self) -> None:
        """The match index built at start off the database thread, whose queries (the
        windows' first) go on meanwhile; it takes the index unless it built one itself."""
        store = self._store()
        built = await asyncio.to_thread(store.warm_index)
        if built is not None:
            await self._in_db(store.builtin.install_index, *built)

    async def _in_db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db_thread, functools.partial(fn, *args, **kwargs))

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a call of the database service on its thread; publishes what it changed."""
        result = await self._in_db(fn, *args, **kwargs)
        outcomes: list[Outcome] = []
        if isinstance(result, Outcome):
            outcomes = [result]
        elif isinstance(result, list) and result and isinstance(result[0], Outcome):
            outcomes = result
        if outcomes:
            await self._publish(outcomes)
        return result

    async def _process(self, limit: int = 200) -> list[Outcome]:
        """One processing batch; first, the Plex servers are asked what their webhooks left
        out: the ids of shows named only plex://show/..., how far a stop went (never on the
        acknowledgement path)."""
        store = self._store()
        store.plex = self.plex.knows()
        up_to, parsed = None, None
        if self.plex.connected:
            ask = await self._in_db(store.plex_questions, limit)
            up_to, parsed = ask.up_to, ask.parsed
            facts, progress = await asyncio.gather(self.plex.show_facts(ask.shows),
                                                   self.plex.progress(ask.stops))
            if facts:
                await self._in_db(store.save_server_shows, facts)
            if progress:
                await self._in_db(store.save_server_progress, progress)
        give_way = self._worker.give_way if self._worker is not None else lambda: None
        return await self._in_db(store.process_pending, limit, up_to, parsed, give_way)

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
                         database_since=self._status.database_since or datetime.now(UTC))

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
        if self._conflicts is None:
            return
        n = await self._conflicts.open_count()
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
        if problems := settings.validate():
            raise SettingsInvalid(problems)
        old = self.settings
        config.save_settings(self.paths, settings)
        self.settings = settings
        self.plex.settings = settings
        self._set_status(plex_location=settings.plex_location)
        if self.store is not None:
            self.store.settings = settings
        if self._command:  # opened for a command: the running app (if any) applies them itself
            return
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

    def _store(self) -> Store:
        if self.store is None:
            raise StoreError("the database is not open")
        return self.store
