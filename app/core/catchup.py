"""Catch-up: plays that happened while no webhook could reach us, from the servers' history.

Plex sends each webhook once. What it sent while the app was closed, the laptop asleep,
the tunnel reconnecting or the URL stale is gone, but each server keeps its play history.
For each of the account's own servers the time of the last play seen is kept; catch-up
reads the history since then (paged) and puts each play that is not in the inbox yet
into it, as an event from "history": the same filters, de-duplication and matching.
It runs at start-up, when the tunnel comes back, after the machine wakes, and hourly.

A server's answers are not trusted blindly: a catch-up reads at most MAX_PAGES pages a
server and RUN_WAIT seconds in all, stops at a page of entries it has seen already, and
leaves out plays dated in the future or before 2000 (they never move "seen up to"); each
such limit is said once, in the log and in the result's notes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from app.core import config
from app.core.config import Paths, Settings
from app.core.handmarks import HandMarks
from app.core.payload import parse_payload
from app.core.pipeline import PlexKnows, filter_reason
from app.core.plex.history import SLACK, HistoryPlay, Reading, payload, plausible
from app.core.plex.http import PlexError
from app.core.plex.service import PlexLink
from app.core.plex.threads import on_plex_thread
from app.core.state_keys import StateKey
from app.core.store import Store
from app.core.types import CatchUpResult

log = logging.getLogger(__name__)
EVERY = 3600.0  # seconds between catch-ups while running
RETRY = 300.0  # after a server did not answer
RUN_WAIT = 600.0  # seconds one catch-up may read for, all servers together
SOON_GAP = 2.0  # seconds at least between catch-ups asked for at once (a burst of notifications)
TICK = 30.0  # how often the loop looks at the clock (a jump means the machine slept)
_SEEN_KEY = StateKey.PLEX_HISTORY_SEEN


class CatchUp:
    """Runs catch-ups for a core; :meth:`loop` is its background task."""

    def __init__(self, paths: Paths, plex: PlexLink, store: Callable[[], Store], in_db: Callable[..., Awaitable[Any]],
                 done: Callable[[CatchUpResult, list[int]], Awaitable[None]]) -> None:
        self.paths = paths
        self.plex = plex
        self._store = store
        self._in_db = in_db
        self._done = done
        self._lock = asyncio.Lock()
        self._due = asyncio.Event()
        self.last: CatchUpResult | None = None
        self.last_ids: list[int] = []  # the inbox rows the last catch-up added
        self._misdated: set[tuple[Any, ...]] = set()  # plays with a wrong date, said once
        self.marks = HandMarks(paths, plex, store, in_db)

    async def wait_idle(self) -> None:
        """Wait for a catch-up under way to finish."""
        async with self._lock:
            pass

    def soon(self) -> None:
        """Ask for a catch-up now (the tunnel came back, the user signed in)."""
        self._due.set()

    async def loop(self) -> None:
        """Catch up now, then hourly, after a wake, and whenever :meth:`soon` is called."""
        while True:
            self._due.clear()  # (before the run: a call to soon() during it is not lost)
            try:
                result = await self.run() if self.plex.connected else None
            except Exception:  # never let the loop die quietly: say it, and try again later
                log.exception("Catch-up failed")
                result = CatchUpResult(failed=("?",))
            wait = RETRY if result and result.failed else EVERY
            deadline = time.monotonic() + wait
            if self._due.is_set():  # asked again during the run: soon, not in a tight loop
                await asyncio.sleep(SOON_GAP)
            while time.monotonic() < deadline and not self._due.is_set():
                wall, mono = time.time(), time.monotonic()
                try:  # (not wait_for: on 3.11 it can swallow a cancel that meets a set())
                    async with asyncio.timeout(min(TICK, max(0.0, deadline - time.monotonic()))):
                        await self._due.wait()
                except TimeoutError:
                    pass
                if (time.time() - wall) - (time.monotonic() - mono) > 60:  # the wall clock ran on: asleep
                    log.info("The computer was asleep: catching up from the Plex servers' history")
                    break

    async def run(self, since: datetime | None = None,
                  progress: Callable[[int], None] | None = None) -> CatchUpResult:
        """One catch-up over the account's own servers. ``since`` (aware or naive UTC):
        import from then on; otherwise from each server's last play seen. The first time a
        server is seen, nothing older is imported unasked: :attr:`CatchUpResult.new_servers`."""
        async with self._lock:
            result, ids = await self._run(since, progress or (lambda n: None))
            self.last, self.last_ids = result, ids
        await self._done(result, ids)
        return result

    async def _run(self, since: datetime | None, progress: Callable[[int], None]) -> tuple[CatchUpResult, list[int]]:
        account = self.plex.account
        result = CatchUpResult(at=datetime.now(UTC).replace(tzinfo=None))
        if account is None:
            return result, []
        servers = await self.plex.own_servers()
        seen: dict[str, int] = dict((await asyncio.to_thread(config.load_state, self.paths)).get(_SEEN_KEY) or {})
        names = {u.server_id: u.name for u in self.plex.known_users if u.server_id is not None}
        store = self._store()
        window = timedelta(hours=store.settings.dedup_window_hours)
        knows = self.plex.knows()
        ids: list[int] = []
        read = 0
        until = time.monotonic() + RUN_WAIT
        now = int(time.time())
        for server in servers:
            start = int(since.replace(tzinfo=since.tzinfo or UTC).timestamp()) if since else seen.get(server.uuid)
            if start is None:  # a server new to us: from now on (older plays only when asked)
                seen[server.uuid] = now
                result = dataclasses.replace(result, new_servers=(*result.new_servers, server.name))
                continue
            if not since and not plausible(start, now):  # kept by an older version from a wrong clock
                log.warning("The last play seen on %s was dated %s: reading its history of the last day",
                            server.name, "in the future" if start > now else "before 2000")
                start = seen[server.uuid] = now - SLACK
            reading = Reading(server.name, start, until, told=self._misdated)
            newest = start if plausible(start, now) else 0
            pages = account.history(server.uuid, reading)
            try:
                while (page := await on_plex_thread(next, pages, None)) is not None:
                    newest = max([newest, *(play.viewed_at for play in page)])
                    wanted = await asyncio.to_thread(_counting, page, names, store.settings, knows)
                    added = await self._in_db(store.ingest_history, wanted, window)
                    ids += added
                    read += len(page)
                    result = dataclasses.replace(result, read=read, added=len(ids),
                                                 ignored=result.ignored + len(page) - len(wanted),
                                                 already=result.already + len(wanted) - len(added))
                    progress(read)
            except PlexError as exc:
                log.warning("Catch-up could not read the history of %s: %s (tried again in %d minutes)",
                            server.name, exc, RETRY // 60)
                result = dataclasses.replace(result, failed=(*result.failed, server.name))
            for note in reading.notes():  # once a catch-up, each
                log.warning("Catch-up: %s", note)
                result = dataclasses.replace(result, notes=(*result.notes, note))
            # Only plausible plays reach here (see Reading.take): a wrong clock never moves it.
            kept = seen.get(server.uuid, 0)
            seen[server.uuid] = max(kept if plausible(kept, now) else 0, newest)
            # After each server, so a later failure loses nothing.
            await asyncio.to_thread(config.save_state, self.paths, **{_SEEN_KEY: seen})
        await asyncio.to_thread(config.save_state, self.paths, **{_SEEN_KEY: seen})
        if ids:
            log.info("Caught up %d play(s) from the Plex servers' history (%d already here, %d not counted)",
                     len(ids), result.already, result.ignored)
        result, marked = await self.marks.look(servers, since, result, until)  # after the history: counted once
        return result, ids + marked


def _counting(page: list[HistoryPlay], names: dict[int, str], settings: Settings,
              knows: PlexKnows) -> list[tuple[HistoryPlay, str]]:
    """The plays of a page that would count (accounts, media), as webhook payloads; a thread's
    work: a page is up to 500 of them."""
    out = []
    for play in page:
        text = payload(play, names.get(play.account_id) if play.account_id is not None else None, True)
        if filter_reason(parse_payload(text), settings, plex=knows) is None:
            out.append((play, text))
    return out
