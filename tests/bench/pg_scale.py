"""PostgreSQL tracker at scale, run by hand: ``python tests/bench/pg_scale.py [--sizes 1000 200000]``.

For each size, a tracker database (the reference schema) holding that many ``tvshows``
rows (random-word titles, a ``tmdb_id`` each, two seasons of eight episodes in
``seasons``), then a fresh process that delivers 200 events into it, one by one as the
sender does: a quarter each by TMDB id, by exact title, by a title with a typo, and of a
show the tracker lacks (a conflict). It prints the process's memory (RSS after the
events, and its peak) and the time of the first event (which loads the shows) and of
the others (p50/p99). Starts its own throwaway PostgreSQL (tests/pg.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import string
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

EVENTS = 200


def _status(field: str) -> float:
    """A /proc/self/status memory field, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def titles(n: int, rng: random.Random) -> list[str]:
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(8000)]
    return [" ".join(rng.choices(words, k=rng.randint(1, 4))).title() for _ in range(n)]


def build(server: object, name: str, n: int) -> str:
    from tests.pg import PgServer
    from tests.pg_schema import create_reference_schema, seed_reference_data

    assert isinstance(server, PgServer)
    server.admin(f'CREATE DATABASE "{name}" OWNER {server.user}')
    episodes = [{"episode_number": e, "name": f"Episode {e}", "watched": False, "dateWatched": None}
                for e in range(1, 9)]
    seasons = json.dumps([{"season_number": s, "episodes": episodes} for s in (1, 2)])
    with server.connect(name, user=server.user) as conn:
        create_reference_schema(conn)
        seed_reference_data(conn)
        conn.execute("INSERT INTO tvshows (title, tmdb_id, seasons) SELECT t, 1000000 + o, %s::jsonb "
                     "FROM unnest(%s::text[]) WITH ORDINALITY AS x(t, o)", (seasons, titles(n, random.Random(n))))
        conn.execute("ANALYZE tvshows")
        conn.commit()
    return server.url(name)


def child(url: str, n: int) -> None:
    """Deliver the events (in this fresh process) and print what it measured, as JSON."""
    from sqlalchemy import create_engine, text

    from app.core.config import PostgresTarget, Settings
    from app.core.destinations.base import Delivery
    from app.core.destinations.postgres.tracker import PostgresTracker
    from tests.helpers import episode_payload

    engine = create_engine(url)
    with engine.connect() as c:
        rows = c.execute(text("SELECT id, title, tmdb_id FROM tvshows WHERE tmdb_id >= 1000000 "
                              "ORDER BY random() LIMIT :k"), {"k": EVENTS}).all()
    engine.dispose()
    rng = random.Random(3)
    payloads = []
    for i, (_, title, tmdb) in enumerate(rows):
        key = str(500000 + i)
        kind = i % 4
        if kind == 0:  # by TMDB id
            meta = {"grandparentGuid": f"com.plexapp.agents.themoviedb://{tmdb}?lang=en",
                    "guid": f"com.plexapp.agents.themoviedb://{tmdb}/1/1?lang=en"}
        else:  # by title only: exact, a typo, or a show the tracker lacks
            meta = {"grandparentGuid": f"local://{key}", "guid": f"local://{key}/1"}
            title = {1: title, 2: title[:-2] + "zz" if len(title) > 5 else title,
                     3: "".join(rng.choices(string.ascii_lowercase, k=12))}[kind]
        payloads.append(episode_payload(1, 1 + i % 8, title=title, grandparentRatingKey=key, **meta))
    dest = PostgresTracker(PostgresTarget("postgres-1", url), None, Settings())
    rss_start = _status("VmRSS")

    async def run() -> list[float]:
        times = []
        for i, payload in enumerate(payloads):
            t = time.perf_counter()
            attempt = await dest.send(Delivery(i + 1, i + 1, json.dumps(payload), 0, None))
            times.append(time.perf_counter() - t)
            assert attempt.verdict.value == "delivered", attempt
        await dest.close()
        return times

    times = asyncio.run(run())
    rest = sorted(times[1:])
    print(json.dumps({"rss_start": rss_start, "rss": _status("VmRSS"), "peak": _status("VmHWM"),
                      "first_ms": times[0] * 1000, "p50_ms": rest[len(rest) // 2] * 1000,
                      "p99_ms": rest[int(len(rest) * 0.99)] * 1000}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 200_000])
    parser.add_argument("--child", nargs=2, metavar=("URL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    from tests.pg import PgServer

    with PgServer.launch() as server:
        print(f"{EVENTS} events into a PostgreSQL tracker (PostgreSQL {server.binaries.version}), a process a size:")
        for n in args.sizes:
            t = time.perf_counter()
            url = build(server, f"scale_{n}", n)
            built = time.perf_counter() - t
            out = subprocess.run([sys.executable, __file__, "--child", url, str(n)], capture_output=True,
                                 text=True, check=False)
            if out.returncode:
                print(out.stdout, out.stderr)
                raise SystemExit(f"the run over {n:,} shows failed")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{n:>9,} shows (built in {built:.0f} s): RSS {r['rss']:.0f} MB (peak {r['peak']:.0f} MB, "
                  f"{r['rss_start']:.0f} MB before the first event); first event {r['first_ms']:.0f} ms; "
                  f"then p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms")


if __name__ == "__main__":
    main()
