"""The tracker's shows for matching, kept compactly: PostgreSQL keeps the rows.

A tracker may hold hundreds of thousands of shows. Only what narrows a match is kept in
memory: each title's normalised key in an n-gram index (:class:`~app.core.ngram_index.NgramIndex`),
the show ids of each key, and the ``tmdb_id``s in two sorted arrays. A match then reads
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


class TrackerShows:
    """The tracker's ``tvshows``, compactly, for matching and searching (blocking calls)."""

    def __init__(self, has_tmdb: bool) -> None:
        self._tmdb_column = "tmdb_id" if has_tmdb else "NULL"
        self._loaded_at: float | None = None
        self._lock = threading.Lock()  # a delivery and the dialog's search may come at once
        self._clear()

    def _clear(self) -> None:
        self._grams = NgramIndex()
        self._ids: dict[str, int | tuple[int, ...]] = {}  # normalised title -> show id(s)
        self._tmdb = array("q")  # sorted tmdb ids...
        self._tmdb_show = array("q")  # ...and the show of each
        self._max_id = 0

    def __len__(self) -> int:
        return sum(1 if isinstance(v, int) else len(v) for v in self._ids.values())

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
        pairs: list[tuple[int, int]] = []
        for show_id, title, tmdb_id in rows:
            self._add_title(int(show_id), str(title))
            if isinstance(tmdb_id, int):
                pairs.append((tmdb_id, int(show_id)))
        self._add_tmdb(pairs)
        self._max_id = max(self._max_id, int(newest))

    def forget(self) -> None:
        """Read everything again at the next match (the tracker changed under us)."""
        self._loaded_at = None

    def _add_title(self, show_id: int, title: str) -> None:
        key, _ = normalise(title)
        have = self._ids.get(key)
        if have is None:
            self._ids[key] = show_id
            self._grams.add(key)
        elif isinstance(have, int):
            self._ids[key] = (have, show_id)
        else:
            self._ids[key] = (*have, show_id)

    def _add_tmdb(self, pairs: list[tuple[int, int]]) -> None:
        if len(pairs) > 100:  # a load: sort once
            merged = sorted([*zip(self._tmdb, self._tmdb_show, strict=True), *pairs])
            self._tmdb = array("q", (t for t, _ in merged))
            self._tmdb_show = array("q", (s for _, s in merged))
            return
        for tmdb_id, show_id in pairs:
            at = bisect_left(self._tmdb, tmdb_id)
            self._tmdb.insert(at, tmdb_id)
            self._tmdb_show.insert(at, show_id)

    # -- matching ---------------------------------------------------------------------------
    def _by_tmdb(self, tmdb: str | None) -> list[int]:
        if tmdb is None or not tmdb.strip().isdigit():
            return []
        value = int(tmdb)
        at = bisect_left(self._tmdb, value)
        out = []
        while at < len(self._tmdb) and self._tmdb[at] == value:
            out.append(self._tmdb_show[at])
            at += 1
        return out

    def _narrowed(self, conn: Any, key: str, ids: dict[str, str]) -> ShowIndex:
        """A small matcher over the shows that can answer for ``key`` and ``ids``."""
        fuzzy = self._grams.candidates(key) if key else []
        show_ids: list[int] = self._by_tmdb(ids.get("tmdb"))
        for k in [key, *fuzzy]:
            have = self._ids.get(k)
            show_ids += [have] if isinstance(have, int) else list(have or ())
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

