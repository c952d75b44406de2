"""Movie benchmark, run by hand: ``python tests/bench/movies.py [N]``.

N synthetic tracker movies (random words, 1-4 per title, a year each; one in ten titles
remade under the same title another year) in a real SQLite file, then:
- ``movies import`` of them (the store's checks, duplicates, one transaction);
- the movie index's build time;
- ``MovieIndex.resolve`` p50/p99 for 1,000 queries of each kind: the exact title with its
  year, a remake's title with its year (found = the right year), and the title without a
  year where remakes share it (found = asked, not guessed);
- one webhook's processing through ``Store.process_pending`` (a movie matched by title and
  year among N), p50/p99 over 200 webhooks.
"""

from __future__ import annotations

import json
import random
import string
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.core.config import Settings  # noqa: E402
from app.core.db import open_database  # noqa: E402
from app.core.store import Store  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def make_movies(n: int, rng: random.Random) -> list[dict[str, object]]:
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(20_000)]
    movies: list[dict[str, object]] = []
    while len(movies) < n:
        title = " ".join(rng.choice(words) for _ in range(rng.randint(1, 4))).title()
        year = rng.randint(1930, 2025)
        movies.append({"title": title, "year": year})
        if rng.random() < 0.1 and len(movies) < n:  # a remake: same title, decades later
            movies.append({"title": title, "year": min(2026, year + rng.randint(10, 40))})
    return movies


def payload(title: str, year: int | None, key: int) -> str:
    meta: dict[str, object] = {"type": "movie", "librarySectionType": "movie", "ratingKey": str(key),
                               "guid": f"local://{key}", "title": title}
    if year is not None:
        meta["year"] = year
    return json.dumps({"event": "media.scrobble", "user": True, "owner": True,
                       "Account": {"id": 1, "title": "owner"}, "Server": {"uuid": "bench", "title": "Bench"},
                       "Metadata": meta})


def main(n: int) -> None:
    rng = random.Random(23)
    movies = make_movies(n, rng)
    with tempfile.TemporaryDirectory() as tmp:
        sessions = open_database(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", Path(tmp) / "backups")
        store = Store(sessions, Settings(auto_add_shows=False))
        t = time.perf_counter()
        result = store.import_movies(movies)
        print(f"import of {n:,} movies: {time.perf_counter() - t:.2f} s ({result.added:,} added, "
              f"{result.skipped:,} skipped)")
        with sessions() as session:
            t = time.perf_counter()
            index = store.builtin.movies.index(session)
            print(f"movie index build: {time.perf_counter() - t:.2f} s")
        rows = store.list_movies()
        by_title: dict[str, list[int | None]] = {}
        for m in rows:
            by_title.setdefault(m.title, []).append(m.year)
        remade = [(t, ys) for t, ys in by_title.items() if len(ys) > 1]
        single = [(t, ys[0]) for t, ys in by_title.items() if len(ys) == 1]

        def timed(queries: list[tuple[str, int | None]], ok) -> None:  # type: ignore[no-untyped-def]
            times, good = [], 0
            for title, year in queries:
                t = time.perf_counter()
                r = index.resolve(title, year, {})
                times.append(time.perf_counter() - t)
                good += bool(ok(r, title, year))
            print(f"  p50 {pct(times, 50) * 1e3:.3f} ms, p99 {pct(times, 99) * 1e3:.3f} ms, "
                  f"right {good / len(queries):.1%}")

        print("exact title with its year:")
        timed(rng.sample(single, 1000), lambda r, t, y: r.show_id is not None)
        picks = [(t, rng.choice(ys)) for t, ys in rng.sample(remade, min(1000, len(remade)))]
        print(f"a remade title with its year ({len(remade):,} titles remade):")
        timed(picks, lambda r, t, y: r.show_id is not None and index.get(r.show_id).year == y)  # type: ignore[union-attr]
        print("a remade title without a year (right = asked):")
        timed([(t, None) for t, _ in picks], lambda r, t, y: r.conflict == "ambiguous")

        times = []
        for i, (title, year) in enumerate(rng.sample(single, 200)):
            store.ingest([(payload(title, year, 100_000 + i), "127.0.0.1")])
            t = time.perf_counter()
            [outcome] = store.process_pending()
            times.append(time.perf_counter() - t)
            assert outcome.action == "marked", outcome
        print(f"  first three: {[round(x * 1e3, 1) for x in times[:3]]} ms, slowest: {round(max(times) * 1e3, 1)} ms")
        print(f"one movie webhook processed among {n:,}: p50 {pct(times, 50) * 1e3:.1f} ms, "
              f"p99 {pct(times, 99) * 1e3:.1f} ms")
        sessions.kw["bind"].dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
