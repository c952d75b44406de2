"""One sender per outbox destination: drains its deliveries in event order, retries with
back-off, keeps to the pace the destination accepts, and pauses when it refuses everything.

A slow or dead destination only ever holds up its own sender: the webhook's ``200``, the
built-in tracker and the other destinations never wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.core.destinations.base import Attempt, Delivery, OutboxDestination, Verdict
from app.core.destinations.outbox import Outbox, backoff
from app.core.models import utcnow
from app.core.types import DestinationState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timing:
    """Delivery knobs (tests shorten them)."""

    timeout: float = 10.0  # one attempt, connect to last byte
    backoff_base: float = 2.0
    backoff_cap: float = 300.0
    pause_after: int = 3  # this many events in a row refused the same way: paused
    batch: int = 50
    max_defer: float = 0.5  # while webhooks are arriving, a send waits for a lull at most this long


class Pacer:
    """Spaces sends to what the destination accepts.

    Unlimited until the destination answers 429; then the interval is set from what it
    accepted in that window (plus a margin), so the rest of a backlog goes through without
    a storm of 429s. A long run without one lets the pace creep back up.
    """

    MARGIN = 1.15
    RELAX_AFTER = 300  # accepted sends without a 429 before the interval shrinks

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.interval = 0.0
        self._next = 0.0
        self._window_start = 0.0  # the first send accepted since the last 429
        self._accepted = 0
        self._streak = 0

    async def wait(self) -> None:
        now = self.clock()
        if self._next > now:
            await asyncio.sleep(self._next - now)
        self._next = max(self.clock(), self._next) + self.interval

    def accepted(self) -> None:
        if self._accepted == 0:
            self._window_start = self.clock()
        self._accepted += 1
        self._streak += 1
        if self.interval and self._streak >= self.RELAX_AFTER:
            self.interval = 0.0 if self.interval < 0.001 else self.interval * 0.9
            self._streak = 0

    def limited(self, retry_after: float | None) -> float:
        """A 429: learn the pace; returns how long to wait before the next send."""
        now = self.clock()
        wait = retry_after if retry_after is not None else max(1.0, self.interval * 4)
        window = (now - self._window_start if self._accepted else 0.0) + wait
        learned = self.MARGIN * window / max(1, self._accepted)
        self.interval = max(self.interval * 1.25, learned)
        self._accepted, self._streak = 0, 0
        self._next = now + wait
        return wait


class Sender:
    """Drains one destination's outbox."""

    def __init__(self, destination: OutboxDestination, outbox: Outbox,
                 db: Callable[..., Awaitable[Any]], timing: Timing,
                 on_change: Callable[[], None], busy: Callable[[], bool] = lambda: False) -> None:
        self.destination = destination
        self._busy = busy  # webhooks are arriving: acknowledging them comes first
        self.outbox = outbox
        self._db = db  # runs a blocking outbox call on the outbox thread
        self.timing = timing
        self._on_change = on_change
        self.pacer = Pacer()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.state = DestinationState.OK
        self.reason: str | None = None
        self.fix: str | None = None
        self.failing_since: datetime | None = None
        self.paused = False
        self._results: list[tuple[int, Attempt, float | None]] = []  # sent, not yet committed
        self._flushing: asyncio.Task[None] | None = None
        self._pause_reason: tuple[str, str | None] | None = None
        self._fresh = True  # the first attempt after a start goes at once, whatever was scheduled
        self._refusals: list[int | None] = []  # statuses of the refusals since the last delivery

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"sender-{self.destination.id}")

    def wake(self) -> None:
        """New deliveries were queued (or the user asked to retry now)."""
        self._wake.set()

    def restore_pause(self, reason: str | None, fix: str | None, since: datetime | None) -> None:
        """Start paused, as a previous run left it (until the user's Retry)."""
        self.paused = True
        self.state, self.reason, self.fix = DestinationState.PAUSED, reason, fix
        self.failing_since = since

    def resume(self) -> None:
        """Unpause (the user fixed the target, or pressed Retry)."""
        self.paused = False
        self._results = []  # sent, not yet committed
        self._flushing = None
        self._pause_reason = None
        self._fresh = True  # the first attempt after a start goes at once, whatever was scheduled
        self._refusals.clear()
        self._set(DestinationState.DELIVERING)
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.destination.close()

    def _set(self, state: DestinationState, reason: str | None = None, fix: str | None = None) -> None:
        if state is DestinationState.FAILING and self.failing_since is None:
            self.failing_since = datetime.now(UTC)
        elif state is not DestinationState.FAILING and state is not DestinationState.PAUSED:
            self.failing_since = None
        changed = (state, reason, fix) != (self.state, self.reason, self.fix)
        self.state, self.reason, self.fix = state, reason, fix
        if changed:
            self._on_change()

    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if woken."""
        try:  # (not wait_for: on 3.11 it can swallow a cancel that meets a wake, and stop hangs)
            async with asyncio.timeout(max(0.0, seconds)):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            if self.paused:
                await self._wake.wait()
                continue
            try:
                batch = await self._db(self.outbox.due, self.destination.id, self.timing.batch)
            except Exception:
                log.exception("reading the outbox of %s failed; will retry", self.destination.id)
                await self._sleep(5)
                continue
            if not batch:
                if self.state is not DestinationState.FAILING:
                    # A refusal since the last delivery stays in view (its events are failed).
                    self._set(DestinationState.OK, *((self.reason, self.fix) if self._refusals else ()))
                await self._wake.wait()
                continue
            if self.state is DestinationState.OK:
                self._set(DestinationState.DELIVERING)
            await self._drain(batch)

    async def _yield(self) -> None:
        """Let a burst of webhooks be acknowledged first (as the pipeline does), but never
        wait more than ``max_defer``, so deliveries always move."""
        deadline = time.monotonic() + self.timing.max_defer
        while self._busy() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)

    async def _commit(self) -> None:
        """Store the results sent so far; the next send need not wait for it."""
        while self._results:
            results, self._results = self._results, []
            await self._db(self.outbox.record, results)

    async def _settle(self) -> None:
        """Wait until every result is committed (before the queue is read again)."""
        if self._flushing is not None:
            await self._flushing
        await self._commit()

    async def _drain(self, batch: list[Delivery]) -> None:
        """Send ``batch`` in order; returns early to re-read the queue after a wait.

        Results are committed in groups while the next events go out (fewer disk syncs,
        and none of them in the way of the next send); a crash before that commit means
        those events are sent again, which the event id header lets the target spot.
        """
        try:
            await self._send_all(batch)
        finally:
            await self._settle()
        if self._pause_reason is not None:  # told only now, with its refusals on disk
            reason, self._pause_reason = self._pause_reason, None
            self._set(DestinationState.PAUSED, *reason)

    async def _send_all(self, batch: list[Delivery]) -> None:
        for item in batch:
            if item.next_attempt_at is not None and not self._fresh:
                delay = (item.next_attempt_at - utcnow()).total_seconds()
                if delay > 0:
                    await self._sleep(delay)
                    return
            await self._yield()
            await self.pacer.wait()
            attempt = await self.destination.send(item)
            self._fresh = False
            wait = self._judge(item, attempt)
            self._results.append((item.id, attempt, wait))
            if attempt.verdict is Verdict.RETRY or self.paused:
                return
            if self._flushing is None or self._flushing.done():
                self._flushing = asyncio.create_task(self._commit())

    def _judge(self, item: Delivery, attempt: Attempt) -> float | None:
        """Update the state from one attempt; returns the wait before a retry."""
        if attempt.verdict is Verdict.DELIVERED:
            self.pacer.accepted()
            self._refusals.clear()
            self._set(DestinationState.DELIVERING)
            return None
        if attempt.verdict is Verdict.RETRY:
            if attempt.status == 429:
                wait = self.pacer.limited(attempt.retry_after)
                self._set(DestinationState.DELIVERING)  # being rate-limited is not failing
                return wait
            wait = attempt.retry_after if attempt.retry_after is not None else backoff(
                item.attempts + 1, self.timing.backoff_base, self.timing.backoff_cap)
            if item.attempts == 0:
                log.warning("%s: %s; retrying", self.destination.label, attempt.detail)
            self._set(DestinationState.FAILING, attempt.detail, attempt.fix)
            return wait
        log.warning("%s refused event #%d: %s", self.destination.label, item.event_id, attempt.detail)
        self._refusals.append(attempt.status)
        recent = self._refusals[-self.timing.pause_after:]
        if len(recent) >= self.timing.pause_after and len(set(recent)) == 1:
            self.paused = True
            log.warning("%s: paused, every event is refused the same way (%s)",
                        self.destination.label, attempt.detail)
            self._pause_reason = (f"every event is refused: {attempt.detail}", attempt.fix)
        else:
            self._set(DestinationState.DELIVERING, f"event #{item.event_id} {attempt.detail}", attempt.fix)
        return None
