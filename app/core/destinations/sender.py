"""One sender per outbox destination: drains its deliveries in event order, retries with
back-off, keeps to the pace the destination accepts, and pauses when it refuses everything.

A slow or dead destination only ever holds up its own sender: the webhook's ``200``, the
built-in tracker and the other destinations never wait for it. Every wait is bounded
(:meth:`Timing.bounded`), and a sender outlives any error of one event; should its task
end all the same, its state says so (:attr:`DestinationState.STOPPED`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.core.destinations.base import Attempt, Delivery, OutboxDestination, Verdict
from app.core.destinations.outbox import Outbox, backoff
from app.core.logs import URL_MASK, redact
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
    wait_floor: float = 1.0  # the shortest wait a destination may ask for (Retry-After: 0)
    wait_cap: float = 300.0  # the longest (the README's 5 minutes)
    pace_cap: float = 10.0  # the longest interval the pacer keeps between sends

    def bounded(self, seconds: float | None) -> float | None:
        """A wait the destination asked for, between the floor and the cap; None when it
        asked for none or for nonsense (inf, nan, negative)."""
        if seconds is None or not math.isfinite(seconds) or seconds < 0:
            return None
        return min(self.wait_cap, max(self.wait_floor, seconds))


class Pacer:
    """Spaces sends to what the destination accepts.

    Unlimited until the destination answers 429; then the interval is set from what it
    accepted in that window (plus a margin), so the rest of a backlog goes through without
    a storm of 429s. A long run without one lets the pace creep back up. The interval never
    exceeds ``cap``; a 429 that says nothing of when to come back teaches no pace (it only
    waits), so a target that recovers is not then held to a guess.
    """

    MARGIN = 1.15
    RELAX_AFTER = 300  # accepted sends without a 429 before the interval shrinks

    def __init__(self, clock: Callable[[], float] = time.monotonic, cap: float = 10.0, floor: float = 0.0) -> None:
        self.clock = clock
        self.cap = cap
        self.floor = floor  # the interval never goes below it (a limit the destination publishes)
        self.interval = floor
        self._next = 0.0
        self._window_start = 0.0  # the first send accepted since the last 429
        self._accepted = 0
        self._streak = 0

    def reset(self) -> None:
        """Forget the pace and any wait (the user's Retry)."""
        self.interval, self._next, self._accepted, self._streak = self.floor, 0.0, 0, 0

    def ready_in(self) -> float:
        """Seconds before the next send may go."""
        return max(0.0, self._next - self.clock())

    def sent(self) -> None:
        """A send goes now: the next one waits the interval."""
        self._next = max(self.clock(), self._next) + self.interval

    async def wait(self) -> None:
        if (delay := self.ready_in()) > 0:
            await asyncio.sleep(delay)
        self.sent()

    def accepted(self) -> None:
        if self._accepted == 0:
            self._window_start = self.clock()
        self._accepted += 1
        self._streak += 1
        if self.interval > self.floor and self._streak >= self.RELAX_AFTER:
            self.interval = max(self.floor, 0.0 if self.interval < 0.001 else self.interval * 0.9)
            self._streak = 0

    def limited(self, retry_after: float | None, guess: float = 1.0) -> float:
        """A 429: learn the pace; returns how long to wait before the next send (the
        destination's ``retry_after``, already bounded, else ``guess``)."""
        now = self.clock()
        wait = retry_after if retry_after is not None else guess
        window = (now - self._window_start if self._accepted else 0.0) + (retry_after or 0.0)
        learned = self.MARGIN * window / max(1, self._accepted)
        self.interval = min(self.cap, max(self.interval * 1.25, learned))
        self._accepted, self._streak = 0, 0
        self._next = now + wait
        return wait


def _clean(attempt: Attempt) -> Attempt:
    """``attempt`` with any secret in its words masked: it is stored and shown as it is."""
    def mask(text: str | None) -> str | None:
        return redact(text, mask=URL_MASK) if text else text
    return dataclasses.replace(attempt, detail=mask(attempt.detail) or "", fix=mask(attempt.fix),
                               answer=mask(attempt.answer))


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
        self.pacer = Pacer(cap=timing.pace_cap, floor=destination.min_interval)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.state = DestinationState.OK
        self.reason: str | None = None
        self.fix: str | None = None
        self.failing_since: datetime | None = None
        self.paused = False
        self._pause_reason: tuple[str, str | None] | None = None
        self._fresh = True  # the first attempt after a start goes at once, whatever was scheduled
        self._refusals: list[int | None] = []  # statuses of the refusals since the last delivery
        self._refused_one = False  # an event refused on its own since the last delivery (its words stay)
        self._limited = 0  # 429s in a row
        self._errors: set[str] = set()  # the kinds of unexpected error already logged with a traceback

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"sender-{self.destination.id}")
        self._task.add_done_callback(self._ended)

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    def _ended(self, task: asyncio.Task[None]) -> None:
        """The task ended without :meth:`stop`: say so, where it cannot be missed."""
        if self._stopping:
            return
        exc = None if task.cancelled() else task.exception()
        why = f"{type(exc).__name__}: {exc}" if exc is not None else "it was cancelled"
        log.error("%s: the sender stopped (%s); its events wait until Scrobble Tray is restarted "
                  "or Retry is pressed", self.destination.label, why, exc_info=exc)
        with contextlib.suppress(RuntimeError):  # (the app is closing: nobody to tell)
            self._set(DestinationState.STOPPED, redact(f"sending stopped unexpectedly ({why})", mask=URL_MASK),
                      "Press Retry to start sending again, or restart Scrobble Tray; the log has the details.")

    def wake(self) -> None:
        """New deliveries were queued (or the user asked to retry now)."""
        self._wake.set()

    def restore_pause(self, reason: str | None, fix: str | None, since: datetime | None) -> None:
        """Start paused, as a previous run left it (until the user's Retry)."""
        self.paused = True
        self.state, self.reason, self.fix = DestinationState.PAUSED, reason, fix
        self.failing_since = since

    def resume(self) -> None:
        """Unpause and send now, whatever the destination asked to wait (the user fixed the
        target, or pressed Retry); a sender that had stopped starts again."""
        self.paused = False
        self._pause_reason = None
        self._fresh = True  # the first attempt after a start goes at once, whatever was scheduled
        self._refusals.clear()
        self._refused_one = False
        self._limited = 0
        self.pacer.reset()
        self._set(DestinationState.DELIVERING)
        if not self.alive:
            self.start()
        self._wake.set()

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.destination.close()

    def _set(self, state: DestinationState, reason: str | None = None, fix: str | None = None) -> None:
        if state is DestinationState.FAILING and self.failing_since is None:
            self.failing_since = datetime.now(UTC)
        elif state not in (DestinationState.FAILING, DestinationState.PAUSED, DestinationState.STOPPED):
            self.failing_since = None
        changed = (state, reason, fix) != (self.state, self.reason, self.fix)
        self.state, self.reason, self.fix = state, reason, fix
        if changed:
            self._on_change()

    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if woken."""
        try:  # (not wait_for: on 3.11 it can swallow a cancel that meets a wake, and stop hangs)
            async with asyncio.timeout(max(0.0, min(seconds, self.timing.wait_cap))):
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
                await self._round()
            except Exception:  # never the end of the sender: its events wait, it tries again
                log.exception("%s: delivering failed; will try again", self.destination.label)
                await self._sleep(5)

    async def _round(self) -> None:
        """Read the queue once and send what is due."""
        try:
            batch = await self._db(self.outbox.due, self.destination.id, self.timing.batch)
        except Exception:
            log.exception("reading the outbox of %s failed; will retry", self.destination.id)
            await self._sleep(5)
            return
        if not batch:
            if self.state is not DestinationState.FAILING:
                # A refusal since the last delivery stays in view (its events are failed).
                self._set(DestinationState.OK, *((self.reason, self.fix) if self._refusals or self._refused_one
                                                 else ()))
            await self._wake.wait()
            return
        if self.state in (DestinationState.OK, DestinationState.STOPPED):
            self._set(DestinationState.DELIVERING)
        await self._send_all(batch)
        if self._pause_reason is not None:  # told only now, with its refusals on disk
            reason, self._pause_reason = self._pause_reason, None
            self._set(DestinationState.PAUSED, *reason)

    async def _yield(self) -> None:
        """Let a burst of webhooks be acknowledged first (as the pipeline does), but never
        wait more than ``max_defer``, so deliveries always move."""
        deadline = time.monotonic() + self.timing.max_defer
        while self._busy() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)

    async def _send_all(self, batch: list[Delivery]) -> None:
        """Send ``batch`` in order; returns early to re-read the queue after a wait.

        Each result is committed before the next event goes out, so a crash sends again
        at most the one event that was in flight (the event id header lets the target spot it).
        """
        for item in batch:
            if item.next_attempt_at is not None and not self._fresh:
                delay = (item.next_attempt_at - utcnow()).total_seconds()
                if 0 < delay <= self.timing.wait_cap:  # (longer: kept by an older version, not obeyed)
                    await self._sleep(delay)
                    return
            await self._yield()
            while (delay := self.pacer.ready_in()) > 0:
                self._wake.clear()  # new deliveries wait their turn; a Retry resets the pacer
                await self._sleep(delay)
            if not (self.destination.idempotent or self.destination.exactly_once):
                await self._db(self.outbox.sending, item.id)  # a crash from here on leaves it said
            self.pacer.sent()  # (after that commit: its time is not counted in the spacing)
            attempt = _clean(await self._attempt(item))
            self._fresh = False
            wait = self._judge(item, attempt)
            await self._db(self.outbox.record, [(item.id, attempt, wait)])
            if attempt.verdict is Verdict.RETRY or self.paused:
                return

    async def _attempt(self, item: Delivery) -> Attempt:
        """Send one event; an error of ours (or one a destination let through) fails this
        event with its reason, and the next one goes on."""
        try:
            return await self.destination.send(item)
        except Exception as exc:
            kind = type(exc).__name__
            if kind not in self._errors:  # its traceback once; each event's line follows (see _judge)
                self._errors.add(kind)
                log.exception("%s: event #%d could not be sent", self.destination.label, item.event_id)
            return Attempt(Verdict.REFUSED, f"could not be sent: {kind}: {exc}",
                           fix="An error in Scrobble Tray itself (the log has the details); "
                               "Retry sends the event again.")

    def _asked(self, wait: float) -> str:
        until = datetime.now().astimezone() + timedelta(seconds=wait)
        return f"the tracker asked to wait until {until:%H:%M:%S}"

    def _judge(self, item: Delivery, attempt: Attempt) -> float | None:
        """Update the state from one attempt; returns the wait before a retry."""
        if attempt.verdict is Verdict.DELIVERED:
            self.pacer.accepted()
            self._refusals.clear()
            self._refused_one = False
            self._limited = 0
            self._set(DestinationState.DELIVERING)
            return None
        if attempt.verdict is Verdict.RETRY:
            asked = self.timing.bounded(attempt.retry_after)
            if attempt.status == 429 or attempt.limited:
                self._limited += 1
                guess = backoff(self._limited, self.timing.backoff_base, self.timing.backoff_cap)
                wait = self.pacer.limited(asked, guess)
                # Being rate-limited is not failing; a wait the tracker asked for is said.
                self._set(DestinationState.DELIVERING,
                          f"{attempt.detail}: {self._asked(wait)}" if asked is not None else None,
                          attempt.fix if asked is not None else None)
                return wait
            wait = asked if asked is not None else backoff(
                item.attempts + 1, self.timing.backoff_base, self.timing.backoff_cap)
            if item.attempts == 0:
                log.warning("%s: %s; retrying", self.destination.label, attempt.detail)
            self._set(DestinationState.FAILING,
                      f"{attempt.detail}; {self._asked(wait)}" if asked is not None else attempt.detail,
                      attempt.fix)
            return wait
        log.warning("%s refused event #%d: %s", self.destination.label, item.event_id, attempt.detail)
        if attempt.event_only:  # (the next events may well go: no pause, whatever the run)
            self._refused_one = True
            self._set(DestinationState.DELIVERING, f"event #{item.event_id} {attempt.detail}", attempt.fix)
            return None
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
