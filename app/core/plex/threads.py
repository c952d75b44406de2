"""The threads Plex's blocking calls run on: a few, of their own, that never hold a quit.

python-plexapi blocks; a Plex server or plex.tv that answers slowly holds a thread until
its answer's deadline (see :mod:`.http`). On asyncio's default pool such threads would
leave nothing for the app's own work (the status file, the state, the keyring), and
``concurrent.futures`` joins its threads when the interpreter exits, so a quit would wait
for them. These are daemon threads: nothing else waits behind them, and they wait on
nothing else.
"""

from __future__ import annotations

import asyncio
import functools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

T = TypeVar("T")
THREADS = 4  # Plex calls at once, all servers and plex.tv together


class DaemonPool(Executor):
    """A bounded pool of daemon threads (started as needed); queued calls wait their turn."""

    def __init__(self, size: int, name: str) -> None:
        self.size, self.name = size, name
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]]] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put((future, functools.partial(fn, *args, **kwargs)))
        with self._lock:
            if len(self._threads) < self.size and self._queue.qsize() > self._idle:
                thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            future, call = self._queue.get()
            with self._lock:
                self._idle -= 1
            if future.set_running_or_notify_cancel():  # (a call cancelled while queued is dropped)
                try:
                    future.set_result(call())
                except BaseException as exc:  # handed to the caller, as concurrent.futures does
                    future.set_exception(exc)

    def busy(self) -> int:
        """Threads running a call now (for tests and diagnostics)."""
        with self._lock:
            return len(self._threads) - self._idle


PLEX = DaemonPool(THREADS, "plex")


async def on_plex_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on a Plex thread; cancelling the await drops it if not begun."""
    return await asyncio.get_running_loop().run_in_executor(PLEX, functools.partial(fn, *args, **kwargs))
