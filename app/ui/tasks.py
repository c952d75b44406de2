"""Running core calls from Qt without blocking: background tasks and coalesced refreshes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QTimer

log = logging.getLogger(__name__)

_RUNNING: set[asyncio.Task[Any]] = set()  # strong references: the loop keeps only weak ones


def spawn(coro: Coroutine[Any, Any, Any],
          on_error: Callable[[BaseException], None] | None = None,
          owner: QObject | None = None) -> asyncio.Task[Any]:
    """Run ``coro`` on the asyncio loop (the Qt thread) in the background.

    An exception goes to ``on_error`` (a window shows it inline); without one it is
    reported through ``sys.excepthook``, so that it is never silently lost. When
    ``owner`` (the window whose widgets the coroutine updates) is destroyed first, the
    task is cancelled and whatever it raises afterwards is dropped.
    """
    task = asyncio.ensure_future(coro)
    _RUNNING.add(task)
    def cancel(*_: Any) -> None:
        task.cancel()

    if owner is not None:
        owner.destroyed.connect(cancel)

    def done(t: asyncio.Task[Any]) -> None:
        _RUNNING.discard(t)
        exc = None if t.cancelled() else t.exception()  # (retrieved, so never "unretrieved")
        if owner is not None:
            if not shiboken6.isValid(owner):
                return  # its widgets are gone; so is anyone to tell
            with contextlib.suppress(RuntimeError, TypeError):
                owner.destroyed.disconnect(cancel)
        if exc is None:
            return
        if on_error is not None:
            log.info("background task failed: %s: %s", type(exc).__name__, exc)
            on_error(exc)
        else:
            sys.excepthook(type(exc), exc, exc.__traceback__)

    task.add_done_callback(done)
    return task


def running_tasks() -> set[asyncio.Task[Any]]:
    """Tasks started with :func:`spawn` that have not finished (for clean shut-down)."""
    return set(_RUNNING)


class Coalescer(QObject):
    """Runs an async refresh at most once per ``delay_ms``, and never twice at once.

    Many triggers in a burst (a thousand webhooks) become one refresh after the burst
    starts and one more after it ends; a trigger during a refresh schedules another.
    """

    def __init__(self, refresh: Callable[[], Coroutine[Any, Any, None]], delay_ms: int = 150,
                 parent: QObject | None = None,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        super().__init__(parent)
        self._refresh = refresh
        self._on_error = on_error
        self._delay = delay_ms
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._fire)
        self._task: asyncio.Task[Any] | None = None
        self._again: int | None = None  # the delay of one more refresh once this one ends

    def trigger(self) -> None:
        """Ask for a refresh soon."""
        if self._task is not None:
            self._queue(self._delay)
        elif not self._timer.isActive():
            self._timer.start(self._delay)

    def now(self) -> asyncio.Task[Any] | None:
        """Refresh at once (unless one is already running; then once more as soon as it
        ends: typing in a search box shows the last text's results without waiting)."""
        self._timer.stop()
        if self._task is not None:
            self._queue(0)
            return self._task
        self._fire()
        return self._task

    def _queue(self, delay: int) -> None:
        self._again = delay if self._again is None else min(self._again, delay)

    @property
    def busy(self) -> bool:
        return self._task is not None or self._timer.isActive()

    def _fire(self) -> None:
        self._again = None
        self._task = spawn(self._refresh(), self._on_error, owner=self)
        self._task.add_done_callback(self._finished)

    def _finished(self, _task: asyncio.Task[Any]) -> None:
        if not shiboken6.isValid(self):
            return
        self._task = None
        if self._again is not None:
            self._timer.start(self._again)
            self._again = None
