"""PostgreSQL tracker benchmark, run by hand: ``python tests/bench/postgres.py``.

- Marks per second into a real PostgreSQL tracker (the reference schema), one event per
  transaction as the sender delivers them.
- Show resolution over a 100,000-show ``tvshows`` table: Scrobble Tray's matcher against
  ``pg_trgm`` (GIN index, ``title % q ORDER BY similarity DESC LIMIT 5``) on the same
  titles, in the same run (the ratio is the figure).

Starts its own throwaway PostgreSQL (tests/pg.py) and removes it afterwards.
"""

from __future__ import annotations

import asyncio
import json
import random
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from app.core.config import PostgresTarget, Settings  # noqa: E402
from app.core.destinations.base import Delivery  # noqa: E402
from app.core.destinations.postgres.tracker import PostgresTracker  # noqa: E402
from app.core.matching import ShowIndex, ShowRef  # noqa: E402
from tests.bench.bench import pct  # noqa: E402
from tests.helpers import episode_payload  # noqa: E402
from tests.pg import PgServer  # noqa: E402
from tests.pg_schema import create_reference_schema, seed_reference_data  # noqa: E402


def database(server: PgServer, name: str) -> str:
    server.admin(f'CREATE DATABASE "{name}" OWNER {server.user}')
    with server.connect(name, user=server.user) as conn:
        create_reference_schema(conn)
        seed_reference_data(conn)
        conn.commit()
    return server.url(name)


async def bench_marks(url: str, n: int) -> None:
    dest = PostgresTracker(PostgresTarget("postgres-1", url), None, Settings())
    items = [Delivery(i, i, json.dumps(episode_payload(1 + i // 500, 1 + i % 500)), 0, None) for i in range(n)]
    await dest.send(items[0])  # connect, read the schema
    t = time.perf_counter()
    for item in items[1:]:
        await dest.send(item)
    elapsed = time.perf_counter() - t
    await dest.close()
    print(f"marks into PostgreSQL: {n - 1} events in {elapsed:.2f} s = {(n - 1) / elapsed:.0f} marks/s "
          "(one transaction each: lock the show's row, rewrite seasons, log, plex_config)")


def bench_matching(url: str, n: int = 100_000, queries: int = 200) -> None:
    rng = random.Random(7)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(6000)]
    titles = [" ".join(rng.choices(words, k=rng.randint(1, 4))).title() for _ in range(n)]
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        c.execute(text("CREATE TABLE shows (id serial PRIMARY KEY, title text NOT NULL)"))
        c.execute(text("INSERT INTO shows (title) SELECT unnest(CAST(:t AS text[]))"), {"t": titles})
        c.execute(text("CREATE INDEX shows_title_trgm ON shows USING gin (title gin_trgm_ops)"))
        c.execute(text("ANALYZE shows"))
    index = ShowIndex(ShowRef(i + 1, t) for i, t in enumerate(titles))
    sample = rng.sample(range(n), queries)
    kinds = {
        "exact title": [titles[i] for i in sample],
        "one typo": [titles[i][:-2] + "zz" if len(titles[i]) > 4 else titles[i] + "z" for i in sample],
        "words reordered": [" ".join(reversed(titles[i].split())) for i in sample],
        "matches nothing": ["".join(rng.choices(string.ascii_lowercase, k=14)) for _ in range(queries)],
    }
    print(f"show resolution over {n:,} titles, {queries} queries of each kind (p99):")
    with engine.connect() as c:
        for kind, qs in kinds.items():
            ours, theirs = [], []
            for q in qs:
                t = time.perf_counter()
                index.resolve(q, None, {})
                ours.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                c.execute(text("SELECT id, similarity(title, :q) AS s FROM shows WHERE title % :q "
                               "ORDER BY s DESC LIMIT 5"), {"q": q}).all()
                theirs.append((time.perf_counter() - t) * 1000)
            print(f"  {kind:16s} Scrobble Tray {pct(ours, 99):7.2f} ms   pg_trgm {pct(theirs, 99):7.2f} ms   "
                  f"ratio {pct(ours, 99) / pct(theirs, 99):.2f}")
    engine.dispose()


def main() -> None:
    with PgServer.launch() as server:
        asyncio.run(bench_marks(database(server, "bench_marks"), 1001))
        bench_matching(database(server, "bench_match"))


if __name__ == "__main__":
    main()
