"""Show-matching benchmark, run by hand: ``python tests/bench/matching.py [--no-pg]``.

100,000 synthetic tracker shows (random words, 1-4 per title, a first year each) and 200
queries of each kind: the exact title, one typo (the last two letters become "zz", as in
tests/bench/postgres.py), two typos (two letters replaced, far apart), the words
reordered, a word missing and an extra word (titles of two words or more), and a random
string that matches nothing.

For each kind: p50/p99 of ``ShowIndex.resolve`` and how often it *found* the intended
show (applied it, or offered it first); for "matches nothing", how often it offered
nothing at all. The query carries the show's year, as a Plex webhook does; the found
rate without a year is printed too. In the same run, when PostgreSQL is installed,
``pg_trgm`` on the same titles (GIN index, ``title % q ORDER BY similarity DESC LIMIT 5``;
found = the intended show's row comes first). Also the index's build time and its
memory (tracemalloc: what the index allocates, not the ShowRef objects given to it).

Random words repeat, so some titles are shared by several shows (a quarter of titles
are one word, from 6,000 words): no title matcher can tell those apart without the year.

``--words FILE`` draws the words from FILE instead (one a line, e.g. Debian's
wamerican: /usr/share/dict/words), with Zipf-like frequencies: English letter patterns
and common words make the gram lists long and uneven, the harder case for the index.
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import string
import sys
import time
import tracemalloc
from collections.abc import Callable
from itertools import accumulate
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.core.matching import ShowIndex, ShowRef, normalise  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def make_shows(n: int, rng: random.Random) -> list[ShowRef]:
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(6000)]
    return [ShowRef(i + 1, " ".join(rng.choices(words, k=rng.randint(1, 4))).title(),
                    rng.randint(1950, 2025)) for i in range(n)]


def make_shows_from(path: str, n: int, rng: random.Random) -> list[ShowRef]:
    with open(path, encoding="utf-8") as lines:
        words = [w for line in lines if re.fullmatch(r"[a-z]{2,}", w := line.strip())]
    rng.shuffle(words)
    weights = list(accumulate(1 / (rank + 10) for rank in range(len(words))))
    return [ShowRef(i + 1, " ".join(rng.choices(words, cum_weights=weights, k=rng.choice((1, 2, 2, 3, 3, 4)))).title(),
                    rng.randint(1950, 2025)) for i in range(n)]


def make_queries(shows: list[ShowRef], count: int, rng: random.Random) -> dict[str, list[tuple[str, ShowRef | None]]]:
    sample = rng.sample(shows, count)
    several = rng.sample([s for s in shows if len(s.title.split()) >= 2], count)
    vocabulary = sorted({w for s in shows[:5000] for w in s.title.split()})

    def typo(title: str) -> str:
        return title[:-2] + "zz" if len(title) > 4 else title + "z"

    def two_typos(title: str) -> str:
        letters = [i for i, c in enumerate(title) if c.isalpha()]
        chars = list(title)
        for i in (letters[len(letters) // 4], letters[(3 * len(letters)) // 4]):
            chars[i] = "q" if chars[i].lower() != "q" else "x"
        return "".join(chars)

    def word_missing(title: str) -> str:
        words = title.split()
        del words[rng.randrange(len(words))]
        return " ".join(words)

    def extra_word(title: str) -> str:
        words = title.split()
        words.insert(rng.randrange(len(words) + 1), rng.choice(vocabulary))
        return " ".join(words)

    return {
        "exact title": [(s.title, s) for s in sample],
        "one typo": [(typo(s.title), s) for s in sample],
        "two typos": [(two_typos(s.title), s) for s in sample],
        "words reordered": [(" ".join(reversed(s.title.split())), s) for s in sample],
        "a word missing": [(word_missing(s.title), s) for s in several],
        "an extra word": [(extra_word(s.title), s) for s in several],
        "matches nothing": [("".join(rng.choices(string.ascii_lowercase, k=14)), None) for _ in range(count)],
    }


def run(queries: list[tuple[str, ShowRef | None]], ask: Callable[[str, ShowRef | None], int | None]
        ) -> tuple[list[float], float]:
    """Latencies (ms) and the found rate; ``ask`` returns the show id put first, or None."""
    gc.collect()  # the garbage of the previous block (SQLAlchemy rows) is not this one's to pay
    times, found = [], 0
    for q, show in queries:
        t = time.perf_counter()
        got = ask(q, show)
        times.append((time.perf_counter() - t) * 1000)
        found += got is None if show is None else got == show.id
    return times, found / len(queries)


def ours(index: ShowIndex, with_year: bool) -> Callable[[str, ShowRef | None], int | None]:
    def ask(q: str, show: ShowRef | None) -> int | None:
        year = show.year if (show and with_year) else None
        r = index.resolve(q, year, {})
        if r.show_id is not None:
            return r.show_id
        return r.candidates[0].show_id if r.candidates else None
    return ask


def pg_trgm(shows: list[ShowRef]):  # -> (context manager, ask) or None
    try:
        from sqlalchemy import create_engine, text

        from tests.pg import PgServer, PostgresNotAvailable
    except ImportError as e:
        print(f"(pg_trgm skipped: {e})")
        return None
    try:
        server = PgServer.launch()
    except PostgresNotAvailable as e:
        print(f"(pg_trgm skipped: {str(e).splitlines()[0]})")
        return None
    server.admin(f'CREATE DATABASE "bench_trgm" OWNER {server.user}')
    engine = create_engine(server.url("bench_trgm"))
    with engine.begin() as c:
        c.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        c.execute(text("CREATE TABLE shows (id integer PRIMARY KEY, title text NOT NULL)"))
        c.execute(text("INSERT INTO shows (id, title) SELECT unnest(CAST(:i AS int[])), unnest(CAST(:t AS text[]))"),
                  {"i": [s.id for s in shows], "t": [s.title for s in shows]})
        c.execute(text("CREATE INDEX shows_title_trgm ON shows USING gin (title gin_trgm_ops)"))
        c.execute(text("ANALYZE shows"))
    conn = engine.connect()
    sql = text("SELECT id, similarity(title, :q) AS s FROM shows WHERE title % :q ORDER BY s DESC LIMIT 5")

    def ask(q: str, show: ShowRef | None) -> int | None:
        rows = conn.execute(sql, {"q": q}).all()
        return rows[0][0] if rows else None

    def close() -> None:
        conn.close()
        engine.dispose()
        server.close()
    return ask, close


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-pg", action="store_true", help="skip pg_trgm")
    parser.add_argument("--words", metavar="FILE", help="title words from FILE, not random letters")
    args = parser.parse_args()

    rng = random.Random(7)
    shows = make_shows_from(args.words, args.shows, rng) if args.words else make_shows(args.shows, rng)
    kinds = make_queries(shows, args.queries, rng)
    keys = {normalise(s.title)[0] for s in shows}

    t = time.perf_counter()
    index = ShowIndex(shows)
    build = time.perf_counter() - t
    del index
    gc.collect()
    tracemalloc.start()
    index = ShowIndex(shows)
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(f"{args.shows:,} shows ({len(keys):,} distinct titles): index built in {build:.2f} s, "
          f"{memory / 2**20:.1f} MiB (tracemalloc)")

    pg = None if args.no_pg else pg_trgm(shows)
    for q, s in kinds["one typo"][:20]:  # warm up both
        ours(index, True)(q, s)
        if pg:
            pg[0](q, s)
    head = f"{'':16s} {'ours p50':>9s} {'p99':>7s} {'found':>6s} {'no year':>8s}"
    if pg:
        head += f" | {'pg_trgm p50':>11s} {'p99':>7s} {'found':>6s} | {'p99 ratio':>9s}"
    print(head)
    try:
        for kind, queries in kinds.items():
            times, found = run(queries, ours(index, True))
            _, found_no_year = run(queries, ours(index, False))
            line = (f"{kind:16s} {pct(times, 50):6.2f} ms {pct(times, 99):7.2f} {found:6.1%} "
                    f"{found_no_year:8.1%}")
            if pg:
                pg_times, pg_found = run(queries, pg[0])
                line += (f" | {pct(pg_times, 50):8.2f} ms {pct(pg_times, 99):7.2f} {pg_found:6.1%} | "
                         f"{pct(times, 99) / pct(pg_times, 99):9.3f}")
            print(line)
    finally:
        if pg:
            pg[1]()
    print("found: the intended show applied or offered first; for 'matches nothing', "
          "nothing offered at all. 'no year': ours with no year in the query.")


if __name__ == "__main__":
    main()
