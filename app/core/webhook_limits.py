"""Limits on who may knock at the webhook: a token bucket per client (:class:`RateLimiter`),
and for wrong secrets a lockout that grows (:class:`Backoff`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("scrobbletray.webhooks")

SAFETY_VALVE = 6000  # authenticated requests a minute per address: far beyond any Plex server


class RateLimiter:
    """A token bucket per client: ``per_minute`` requests, refilled continuously."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> float:
        """0 when allowed; otherwise the seconds to wait."""
        if self.per_minute <= 0:
            return 0.0
        now = self._clock()
        rate = self.per_minute / 60.0
        tokens, stamp = self._buckets.get(key, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - stamp) * rate)
        if len(self._buckets) > 10_000:  # forget clients whose bucket is full again
            self._buckets = {k: v for k, v in self._buckets.items()
                             if v[0] + (now - v[1]) * rate < self.per_minute}
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0


class Backoff:
    """Failed authentication per client: ``per_minute`` tries (a :class:`RateLimiter`), then
    none for a lockout that doubles with each one in a row (1 min, 2, 4, ... at most an
    hour), forgotten after an hour without one."""

    FIRST, LONGEST, FORGET = 60.0, 3600.0, 3600.0

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.bucket = RateLimiter(per_minute, clock)
        self._clock = clock
        self._locked: dict[str, tuple[float, int]] = {}  # client: (locked until, lockouts in a row)

    @property
    def per_minute(self) -> int:
        return self.bucket.per_minute

    @per_minute.setter
    def per_minute(self, value: int) -> None:
        self.bucket.per_minute = value

    def allow(self, key: str) -> float:
        """0 when allowed; otherwise the seconds to wait."""
        now = self._clock()
        until, lockouts = self._locked.get(key, (0.0, 0))
        if now < until:
            return until - now
        if now - until > self.FORGET:
            lockouts = 0
        if not self.bucket.allow(key):
            return 0.0
        if len(self._locked) > 10_000:  # forget the clients that are free again
            self._locked = {k: v for k, v in self._locked.items() if now - v[0] <= self.FORGET}
        lock = min(self.FIRST * 2.0 ** lockouts, self.LONGEST)
        self._locked[key] = (now + lock, lockouts + 1)
        log.warning("%s gave a wrong webhook secret too often: refused for %.0f s", key, lock)
        return lock
