"""When SQLite's write lock is free again, said the moment it is, for the inbox's commit.

A webhook's commit that finds the lock held (a processing batch flushing) is left to
SQLite's busy handler, which sleeps 1, 2, 5, 10 ms between tries: a lock freed 3 ms later
was taken after 8. Every write of this process's engine goes through SQLAlchemy, so its
events tell when a connection starts writing (its first INSERT, UPDATE or DELETE) and when
it commits or rolls back; the inbox waits on that, then writes at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
LONGEST = 0.05  # seconds the inbox waits on this at most (then SQLite's busy handler, as before)


class WriteTurn:
    """Which of the engine's connections are inside a write transaction."""

    def __init__(self, engine: Engine) -> None:
        self._writing: set[int] = set()
        self._lock = threading.Lock()
        self._free = threading.Event()
        self._free.set()
        event.listen(engine, "before_cursor_execute", self._executing)
        event.listen(engine.pool, "reset", self._reset)  # (returned to the pool mid-transaction)
        # The end is said once SQLite has committed (the engine's "commit" event comes before).
        dialect = engine.dialect
        for name in ("do_commit", "do_rollback"):
            setattr(dialect, name, self._then_free(getattr(dialect, name)))

    def free(self) -> bool:
        """Whether no connection of the engine is writing."""
        return self._free.is_set()

    def wait(self, timeout: float = LONGEST) -> None:
        """Until no connection of the engine is writing (at most ``timeout`` seconds)."""
        self._free.wait(timeout)

    def _executing(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip()[:7].upper().startswith(_WRITES):
            with self._lock:
                self._writing.add(id(conn.connection.dbapi_connection))
                self._free.clear()

    def _then_free(self, end: Callable[[Any], None]) -> Callable[[Any], None]:
        def ended(dbapi_conn: Any) -> None:
            try:
                end(dbapi_conn)
            finally:
                self._forget(id(dbapi_conn))
        return ended

    def _reset(self, dbapi_conn: Any, *_: Any) -> None:
        self._forget(id(dbapi_conn))

    def _forget(self, key: int) -> None:
        with self._lock:
            self._writing.discard(key)
            if not self._writing:
                self._free.set()
