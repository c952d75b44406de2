"""The destinations of a running core: built from the settings, one sender per outbox
destination, their status for the windows, and the user's Retry and Test."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from app.core.config import Settings
from app.core.destinations import kinds
from app.core.destinations.base import Attempt, Context, OutboxDestination
from app.core.destinations.builtin import BuiltinTracker
from app.core.destinations.outbox import Outbox, QueueStats
from app.core.destinations.sender import Sender, Timing
from app.core.types import Check, CheckStatus, DestinationState, DestinationStatus, needs_attention

log = logging.getLogger(__name__)
T = TypeVar("T")


def outbox_destinations(settings: Settings, timing: Timing | None = None,
                        secret: Callable[[str], str | None] = lambda key: None,
                        install_id: str = "scrobbletray",
                        keep: Callable[[str, str | None], object] = lambda key, value: None) -> list[OutboxDestination]:
    """The destinations other than the built-in tracker that the settings name (enabled or not),
    every kind's (see :mod:`.kinds`).

    ``secret(key)`` reads a saved secret, ``keep(key, value)`` saves one (a refreshed token);
    both may block on the keyring: call off the loop.
    """
    return kinds.build(settings, Context(lambda: settings, secret, (timing or Timing()).timeout, install_id, keep))


def _status(d: OutboxDestination, q: QueueStats, state: DestinationState, reason: str | None = None,
            fix: str | None = None, failing_since: Any = None) -> DestinationStatus:
    if state is DestinationState.OK and q.pending:
        state = DestinationState.DELIVERING
    return DestinationStatus(
        d.id, d.kind, d.label, state, target=d.shown_url, only_watched=d.only_watched, enabled=d.enabled,
        exactly_once=d.exactly_once, pending=q.pending, oldest_pending_at=q.oldest_pending_at,
        delivered=q.delivered, failed=q.failed, last_delivered_at=q.last_delivered_at,
        reason=reason, fix=fix or (d.needs[1] if d.needs else None), failing_since=failing_since, note=d.note,
        late=d.late, needs=d.needs[0] if d.needs else None)


def _builtin_status(builtin: BuiltinTracker) -> DestinationStatus:
    state = DestinationState.OK if builtin.enabled else DestinationState.OFF
    return DestinationStatus(builtin.id, builtin.kind, builtin.label, state, target="this computer's database",
                             enabled=builtin.enabled, exactly_once=True)


Paused = Mapping[str, Mapping[str, Any]]  # id -> {"reason", "fix", "since"}: what a pause keeps


def _since(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def destination_rows(store: Any, running: Paused, paused: Paused) -> list[DestinationStatus]:
    """Destinations as another process's senders say (``running``: its status file), else
    as the settings, the outbox and the pauses kept across starts tell (none running)."""
    stats = store.delivery_stats()
    rows = [_builtin_status(store.builtin)]
    for d in store.destinations:
        q = stats.get(d.id, QueueStats())
        seen = running.get(d.id) or (paused.get(d.id) if d.enabled else None)
        if seen is None:
            rows.append(_status(d, q, DestinationState.OK if d.enabled else DestinationState.OFF))
            continue
        try:
            state = DestinationState(seen.get("state", DestinationState.PAUSED))
        except ValueError:
            state = DestinationState.PAUSED
        rows.append(_status(d, q, state, seen.get("reason"), seen.get("fix"), _since(seen.get("since"))))
    return rows


class DestinationManager:
    """Owns the senders; every blocking outbox call runs on its own thread."""

    def __init__(self, outbox: Outbox, builtin: BuiltinTracker, timing: Timing,
                 on_change: Callable[[], None], busy: Callable[[], bool] = lambda: False,
                 keep_paused: Callable[[dict[str, dict[str, Any]]], None] = lambda paused: None) -> None:
        self.outbox = outbox
        self._keep_paused = keep_paused  # saves the pauses (blocking; called on the outbox thread)
        self._kept: dict[str, dict[str, Any]] | None = None
        self._busy = busy
        self.builtin = builtin
        self.timing = timing
        self._on_change = on_change
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="outbox")
        self.senders: dict[str, Sender] = {}

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, functools.partial(fn, *args))

    def start(self, destinations: list[OutboxDestination], paused: Paused | None = None) -> None:
        """A sender for each destination; one ``paused`` when a previous run stopped paused."""
        for d in destinations:
            sender = Sender(d, self.outbox, self._db, self.timing, self._changed, self._busy)
            self.senders[d.id] = sender
            if not d.enabled:
                sender.paused = True
                sender.state = DestinationState.OFF
            elif (was := (paused or {}).get(d.id)) is not None:
                sender.restore_pause(was.get("reason"), was.get("fix"), _since(was.get("since")))
            sender.start()
            sender.wake()  # what a previous run left undelivered goes first

    async def stop(self) -> None:
        senders, self.senders = list(self.senders.values()), {}
        await asyncio.gather(*(s.stop() for s in senders))

    async def close(self) -> None:
        await self.stop()
        await asyncio.get_running_loop().run_in_executor(None, functools.partial(self._thread.shutdown, wait=True))

    def running(self) -> dict[str, dict[str, Any]]:
        """Each sender's state, reason, fix and since when (for the status file)."""
        return {i: {"state": s.state.value, "reason": s.reason, "fix": s.fix,
                    "since": s.failing_since.isoformat() if s.failing_since else None}
                for i, s in self.senders.items()}

    def kept_pauses(self) -> dict[str, dict[str, Any]]:
        """The pauses as last kept (what the state file holds, or is about to)."""
        return dict(self._kept or {})

    def _changed(self) -> None:
        """A sender's state moved: keep its pause across starts, and tell the runtime."""
        paused = {i: {k: v for k, v in row.items() if k != "state"} for i, row in self.running().items()
                  if row["state"] == DestinationState.PAUSED.value}
        if paused != self._kept:
            self._kept = paused
            self._thread.submit(self._keep_paused, paused)
        self._on_change()

    def wanting_attention(self) -> int:
        """How many destinations want the user (paused, or failing over 5 minutes)."""
        return sum(needs_attention(s.state, s.failing_since) for s in self.senders.values())

    def wake(self) -> None:
        """New deliveries were queued."""
        for s in self.senders.values():
            s.wake()

    def sender(self, destination_id: str) -> Sender:
        try:
            return self.senders[destination_id]
        except KeyError:
            raise KeyError(f"there is no destination {destination_id!r}") from None

    async def retry(self, destination_id: str) -> int:
        """Send the failed deliveries again and the waiting ones now; unpauses."""
        sender = self.sender(destination_id)
        n = await self._db(self.outbox.retry, destination_id)
        if sender.state is not DestinationState.OFF:
            sender.resume()
        return n

    async def reload(self, destination_id: str) -> None:
        """The destination's sign-in changed: it reads it again, and what waits goes now."""
        sender = self.sender(destination_id)
        await sender.destination.reload()
        if sender.state is not DestinationState.OFF:
            sender.resume()

    async def forget(self, destination_id: str) -> None:
        await self._db(self.outbox.forget, destination_id)

    async def test(self, destination_id: str) -> Attempt:
        return await self.sender(destination_id).destination.test()

    async def checks(self) -> list[Check]:
        """The built-in tracker's, then each destination's own (which hop failed), then its queue."""
        rows = await self.builtin.checks()
        stats = await self._db(self.outbox.stats)
        for s in self.senders.values():
            if s.state is DestinationState.OFF:
                continue
            if s.state is DestinationState.STOPPED:
                rows.append(Check(f"{s.destination.label}: sending", CheckStatus.FAIL,
                                  s.reason or "sending stopped unexpectedly", s.fix or ""))
            rows += await s.destination.checks()
            q = stats.get(s.destination.id, QueueStats())
            if q.pending or q.failed or s.paused:
                waiting = f"{q.pending} event(s) waiting" + (
                    f" since {q.oldest_pending_at:%Y-%m-%d %H:%M} UTC" if q.oldest_pending_at else "")
                rows.append(Check(f"{s.destination.label}: queue", CheckStatus.WARN,
                                  f"{waiting}, {q.failed} failed" + (f"; paused: {s.reason}" if s.paused else ""),
                                  s.fix or "Press Retry in the status window once the destination works."))
        return rows

    async def statuses(self) -> list[DestinationStatus]:
        stats = await self._db(self.outbox.stats)
        return [_builtin_status(self.builtin)] + [
            _status(s.destination, stats.get(s.destination.id, QueueStats()), s.state, s.reason, s.fix,
                    s.failing_since) for s in self.senders.values()]
