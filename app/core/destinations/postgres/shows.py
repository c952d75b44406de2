"""The tracker's shows for matching, kept compactly: PostgreSQL keeps the rows.

A tracker may hold hundreds of thousands of shows. Only what narrows a match is kept in
memory: each title's normalised key in an n-gram index (:class:`~app.core.ngram_index.NgramIndex`),
the show ids of each key's CRC and of each ``tmdb_id``, in sorted arrays. A match then reads
the few candidate rows (at most ~30 keys' worth) from PostgreSQL by primary key and runs
the usual matcher (:class:`~app.core.matching.ShowIndex`) over them, scoring exactly the
keys the full index chose, so its answer is the one a full in-memory index would give.

Shows added since are read by id (``id > the highest known``) at each match; renamed or
deleted shows are seen at the next full reload (every :data:`RELOAD_EVERY` seconds), and a
deleted show is never offered meanwhile (its row is no longer found).
"""

from __future__ import annotations

import threading
import time
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any
from zlib import crc32

from sqlalchemy import text

from app.core.matching import MatchResult, ShowIndex, ShowRef, normalise
from app.core.ngram_index import NgramIndex
from app.core.types import Candidate

RELOAD_EVERY = 300.0  # seconds: titles renamed (or shows deleted) in the tracker's own app show up by then
_BATCH = 5_000  # rows read at a time while loading (never the whole table at once)


class _GivenKeys(NgramIndex):
    """The fuzzy candidates the full index chose, handed to a small :class:`ShowIndex`."""

    def __init__(self, keys: Iterable[str]) -> None:
        super().__init__()
        self._given = list(dict.fromkeys(keys))

    def candidates(self, key: str, limit: int = 0) -> list[str]:
        return self._given


class _Pairs:
    """Show ids by a 32-bit number (a ``tmdb_id``, a title's CRC), in one sorted array of
    ``number << 32 | show id``: 8 bytes a show, where a dict takes about ten times that."""

    def __init__(self) -> None:
        self._items = array("q")
        self._sorted = 0  # how many at the start are in order (the rest were added since)

    def add(self, number: int, show_id: int) -> None:
        if 0 <= number < 1 << 31 and 0 <= show_id < 1 << 32:
            self._items.append(number << 32 | show_id)

    def seal(self) -> None:
        """Put what was added in order (once per load, not once per show)."""
        if self._sorted != len(self._items):
            self._items = array("q", sorted(self._items))
            self._sorted = len(self._items)

    def get(self, number: int) -> list[int]:
        items = self._items
        at = bisect_left(items, number << 32, hi=self._sorted)
        out = []
        while at < self._sorted and items[at] >> 32 == number:
            out.append(items[at] & 0xFFFFFFFF)
            at += 1
        return out


def _crc(key: str) -> int:
    return crc32(key.encode()) >> 1  # 31 bits: a title shared by chance only costs a row read for nothing


class TrackerShows:
    """The tracker's ``tvshows``, compactly, for matching and searching (blocking calls)."""

    def __init__(self, has_tmdb: bool) -> None:
        self._tmdb_column = "tmdb_id" if has_tmdb else "NULL"
        self._loaded_at: float | None = None
        self._lock = threading.Lock()  # a delivery and the dialog's search may come at once
        self._clear()

    def _clear(self) -> None:
        self._grams = NgramIndex()
        self._titles = _Pairs()  # by the CRC of the normalised title
        self._tmdb = _Pairs()
        self._max_id = 0

    # -- keeping up with the table --------------------------------------------------------
    def refresh(self, conn: Any) -> None:
        """Load everything (first time, or every RELOAD_EVERY), else only the shows added since."""
        if self._loaded_at is None or time.monotonic() - self._loaded_at > RELOAD_EVERY:
            self._clear()
            self._loaded_at = time.monotonic()
        newest = conn.execute(text("SELECT max(id) FROM tvshows")).scalar()
        if newest is None or newest <= self._max_id:
            return
        rows = conn.execute(text(
            f"SELECT id, title, {self._tmdb_column} FROM tvshows WHERE id > :m AND title IS NOT NULL ORDER BY id")
            .execution_options(yield_per=_BATCH), {"m": self._max_id})
        for show_id, title, tmdb_id in rows:
            key, _ = normalise(str(title))
            self._grams.add(key)
            self._titles.add(_crc(key), show_id)
            if isinstance(tmdb_id, int):
                self._tmdb.add(tmdb_id, show_id)
        self._titles.seal()
        self._tmdb.seal()
        self._max_id = max(self._max_id, int(newest))

    # -- matching ---------------------------------------------------------------------------
    def _narrowed(self, conn: Any, key: str, ids: dict[str, str]) -> ShowIndex:
        """A small matcher over the shows that can answer for ``key`` and ``ids``."""
        fuzzy = self._grams.candidates(key) if key else []
        tmdb = ids.get("tmdb", "").strip()
        show_ids = self._tmdb.get(int(tmdb)) if tmdb.isdigit() and len(tmdb) < 10 else []
        for k in [key, *fuzzy]:
            show_ids += self._titles.get(_crc(k))
        rows = conn.execute(text(f"SELECT id, title, {self._tmdb_column} FROM tvshows "
                                 "WHERE id = ANY(:ids) AND title IS NOT NULL"), {"ids": show_ids}).all()
        index = ShowIndex(ShowRef(int(i), str(t), None, m if isinstance(m, int) else None) for i, t, m in rows)
        # Score exactly these titles (their keys as they are now), as the full index would have.
        index._grams = _GivenKeys(normalise(str(t))[0] for _, t, _ in rows)
        return index

    def resolve(self, conn: Any, title: str | None, year: int | None, ids: dict[str, str]) -> MatchResult:
        """:meth:`ShowIndex.resolve` over the tracker's shows."""
        with self._lock:
            self.refresh(conn)
            index = self._narrowed(conn, normalise(title)[0] if title else "", ids)
        return index.resolve(title, year, ids)

    def search(self, conn: Any, query: str, limit: int = 20) -> list[Candidate]:
        """:meth:`ShowIndex.search` over the tracker's shows."""
        with self._lock:
            self.refresh(conn)
            index = self._narrowed(conn, normalise(query)[0], {})
        return index.search(query, limit=limit)

