"""Show-matching benchmark, run by hand: ``python tests/bench/matching.py [--set NAME] [--movies] [--no-pg]``.

100,000 synthetic tracker shows (by default random words, 1-4 per title, a first year
each) and 200 queries of each kind: the exact title, one typo (the last two letters become "zz", as in
tests/bench/postgres.py), two typos (two letters replaced, far apart), the words
reordered, a word missing and an extra word (titles of two words or more), and a random
string that matches nothing.

For each kind: p50/p99 of ``ShowIndex.resolve`` (each query's fastest of ``--repeat``
runs, 5 by default, for pg_trgm too: on a shared machine a single run's p99 is mostly
the scheduler's) and how often it *found* the intended
show (applied it, or offered it first); for "matches nothing", how often it offered
nothing at all. The query carries the show's year, as a Plex webhook does; the found
rate without a year is printed too. In the same run, when PostgreSQL is installed,
``pg_trgm`` on the same titles (GIN index, ``title % q ORDER BY similarity DESC LIMIT 5``;
found = the intended show's row comes first). Also the index's build time and its
memory (tracemalloc: what the index allocates, not the ShowRef objects given to it).

Random words repeat, so some titles are shared by several shows (a quarter of titles
are one word, from 6,000 words): no title matcher can tell those apart without the year.

``--set`` picks how the titles are built (``all``: each in turn, one table each):

- ``random``: words of 3-9 random letters (the default, as above).
- ``english``: English words with Zipf-like frequencies (``--words FILE``, one a line;
  default Debian's wamerican, /usr/share/dict/words, else a short built-in list): English
  letter patterns and common words make the gram lists long and uneven.
- ``syllables``: made-up names of 2-3 syllables from 45 (9 consonants x 5 vowels), and
  a third of the titles near-twins of another (one syllable changed): many titles look
  alike, so a typo easily lands nearer a twin.
- ``short``: one word of 3-7 random letters each; the word kinds are left out.
- ``nonlatin``: words of Cyrillic, Greek (some accented) or Japanese kana letters, one
  script a title; typos and the random strings use letters of the same script.

``--movies`` resolves them as movies (``MovieIndex``; a twentieth of the titles are
remakes, the same title another year), and pg_trgm breaks ties of similarity by the
nearest year. pg_trgm runs in a database of ``C.utf8`` character classes, so that it
counts non-Latin letters as letters (with the cluster's C locale it sees none).
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
from app.core.movie_matching import MovieIndex  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


# Per script: its letters, the letter a typo puts in ("zz"), the two letters of "two typos".
SCRIPTS = {
    "latin": (string.ascii_lowercase, "z", "qx"),
    "cyrillic": ("абвгдеёжзийклмнопрстуфхцчшщыьэюя", "я", "щю"),
    "greek": ("αβγδεζηθικλμνξοπρστυφχψωάέήίόύώ", "ω", "ψξ"),
    "kana": ("あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわん"
             "がぎぐげござじずぜぞだでどばびぶべぼぱぴぷぺぽ", "ん", "ぬぽ"),
}
BUILT_IN_WORDS = re.findall(r"\w+", """
time year people way day man thing woman life child world school state family student
group country problem hand part place case week company system program question work government
number night point home water room mother area money story fact month lot right study book eye job
word business issue side kind head house service friend father power hour game line end member law
car city community name president team minute idea kid body information back parent face others
level office door health person art war history party result change morning reason research girl
guy moment air teacher force education foot boy age policy music market sense nation plan college
interest death experience effect class control care field development role effort rate heart drug
show leader light voice wife police mind price report decision son view relationship town road arm
difference value building action model season society tax director position player record paper
space ground form event official matter center couple site project activity star table need court
oil situation cost industry figure street image phone data picture practice piece land product
doctor wall patient worker news test movie north love support technology step baby computer type
attention film tree source organization hair window evidence population truth song knowledge
summer island river winter ocean garden shadow dragon empire legend secret kingdom castle hunter""")


def _titles(words: list[str], n: int, rng: random.Random, sizes: tuple[int, ...] = (1, 2, 3, 4),
            weights: list[float] | None = None) -> list[ShowRef]:
    return [ShowRef(i + 1, " ".join(rng.choices(words, cum_weights=weights, k=rng.choice(sizes))).title(),
                    rng.randint(1950, 2025)) for i in range(n)]


def make_shows(n: int, rng: random.Random) -> list[ShowRef]:
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(6000)]
    return [ShowRef(i + 1, " ".join(rng.choices(words, k=rng.randint(1, 4))).title(),
                    rng.randint(1950, 2025)) for i in range(n)]


def make_shows_from(path: str | None, n: int, rng: random.Random) -> list[ShowRef]:
    """English words (FILE, else /usr/share/dict/words, else the built-in list), Zipf-like."""
    path = path or "/usr/share/dict/words"
    if Path(path).is_file():
        with open(path, encoding="utf-8") as lines:
            words = [w for line in lines if re.fullmatch(r"[a-z]{2,}", w := line.strip())]
    else:
        print(f"({path} not found: the built-in list of {len(BUILT_IN_WORDS)} words)")
        words = list(BUILT_IN_WORDS)
    rng.shuffle(words)
    weights = list(accumulate(1 / (rank + 10) for rank in range(len(words))))
    return _titles(words, n, rng, (1, 2, 2, 3, 3, 4), weights)


def make_syllable_shows(n: int, rng: random.Random) -> list[ShowRef]:
    """Names of 2-3 syllables from 45; a third of the titles are another's with one syllable changed."""
    syllables = [c + v for c in "bdklmnrst" for v in "aeiou"]
    words = sorted({"".join(rng.choices(syllables, k=rng.choice((2, 2, 3)))) for _ in range(6000)})
    shows = _titles(words, n, rng, (1, 2, 2, 3))
    for i in range(n // 3):  # a near-twin: one syllable of an earlier title changed
        words = rng.choice(shows[:n // 2]).title.lower().split()
        w = rng.randrange(len(words))
        at = 2 * rng.randrange(len(words[w]) // 2)
        words[w] = words[w][:at] + rng.choice(syllables) + words[w][at + 2:]
        shows[n - 1 - i] = ShowRef(n - i, " ".join(words).title(), rng.randint(1950, 2025))
    return shows


def make_short_shows(n: int, rng: random.Random) -> list[ShowRef]:
    """One word of 3-7 random letters."""
    return [ShowRef(i + 1, "".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 7))).title(),
                    rng.randint(1950, 2025)) for i in range(n)]


def make_nonlatin_shows(n: int, rng: random.Random) -> list[ShowRef]:
    """Titles of Cyrillic, Greek or kana words, one script a title."""
    per_script = []
    for name in ("cyrillic", "greek", "kana"):
        letters = SCRIPTS[name][0]
        size = (2, 5) if name == "kana" else (3, 9)
        words = ["".join(rng.choices(letters, k=rng.randint(*size))) for _ in range(4000)]
        per_script.append(words)
    shows = []
    for i in range(n):
        words = per_script[i % 3]
        shows.append(ShowRef(i + 1, " ".join(rng.choices(words, k=rng.randint(1, 4))).title(),
                             rng.randint(1950, 2025)))
    rng.shuffle(shows)
    return [ShowRef(i + 1, s.title, s.year) for i, s in enumerate(shows)]


def script_of(title: str) -> tuple[str, str, str]:
    """The :data:`SCRIPTS` entry of the title's letters."""
    first = next((c for c in title.lower() if c.isalpha()), "a")
    return next((v for v in SCRIPTS.values() if first in v[0]), SCRIPTS["latin"])


def with_remakes(shows: list[ShowRef], rng: random.Random) -> list[ShowRef]:
    """A twentieth of the titles again, as a remake of another year (movies)."""
    out = list(shows)
    for i in range(len(shows) // 20):
        original = rng.choice(shows)
        year = original.year + rng.choice((-1, 1)) * rng.randint(5, 40) if original.year else None
        out[len(shows) - 1 - i] = ShowRef(len(shows) - i, original.title, year)
    return out


SETS: dict[str, Callable[[int, random.Random, str | None], list[ShowRef]]] = {
    "random": lambda n, rng, _: make_shows(n, rng),
    "english": lambda n, rng, words: make_shows_from(words, n, rng),
    "syllables": lambda n, rng, _: make_syllable_shows(n, rng),
    "short": lambda n, rng, _: make_short_shows(n, rng),
    "nonlatin": lambda n, rng, _: make_nonlatin_shows(n, rng),
}


def make_queries(shows: list[ShowRef], count: int, rng: random.Random) -> dict[str, list[tuple[str, ShowRef | None]]]:
    sample = rng.sample(shows, count)
    long_titles = [s for s in shows if len(s.title.split()) >= 2]
    several = rng.sample(long_titles, count) if len(long_titles) >= count else []
    vocabulary = sorted({w for s in shows[:5000] for w in s.title.split()})

    def typo(title: str) -> str:
        z = script_of(title)[1]
        return title[:-2] + z + z if len(title) > 4 else title + z

    def two_typos(title: str) -> str:
        q, x = (c for c in script_of(title)[2])
        letters = [i for i, c in enumerate(title) if c.isalpha()]
        chars = list(title)
        for i in (letters[len(letters) // 4], letters[(3 * len(letters)) // 4]):
            chars[i] = q if chars[i].lower() != q else x
        return "".join(chars)

    def word_missing(title: str) -> str:
        words = title.split()
        del words[rng.randrange(len(words))]
        return " ".join(words)

    def extra_word(title: str) -> str:
        words = title.split()
        words.insert(rng.randrange(len(words) + 1), rng.choice(vocabulary))
        return " ".join(words)

    kinds: dict[str, list[tuple[str, ShowRef | None]]] = {
        "exact title": [(s.title, s) for s in sample],
        "one typo": [(typo(s.title), s) for s in sample],
        "two typos": [(two_typos(s.title), s) for s in sample],
        "words reordered": [(" ".join(reversed(s.title.split())), s) for s in sample],
        "a word missing": [(word_missing(s.title), s) for s in several],
        "an extra word": [(extra_word(s.title), s) for s in several],
        "matches nothing": [("".join(rng.choices(script_of(rng.choice(sample).title)[0], k=14)), None)
                            for _ in range(count)],
    }
    if not several:  # one-word titles: no word to leave out, nor a word order to change
        del kinds["a word missing"], kinds["an extra word"], kinds["words reordered"]
    return kinds


def run(queries: list[tuple[str, ShowRef | None]], ask: Callable[[str, ShowRef | None], int | None],
        repeat: int = 1) -> tuple[list[float], float]:
    """Latencies (ms; each query's fastest of ``repeat``) and the found rate; ``ask``
    returns the show id put first, or None."""
    gc.collect()  # the garbage of the previous block (SQLAlchemy rows) is not this one's to pay
    times, found = [], 0
    for q, show in queries:
        fastest = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            got = ask(q, show)
            fastest = min(fastest, (time.perf_counter() - t) * 1000)
        times.append(fastest)
        found += got is None if show is None else got == show.id
    return times, found / len(queries)


def ours(index: ShowIndex | MovieIndex, with_year: bool) -> Callable[[str, ShowRef | None], int | None]:
    def ask(q: str, show: ShowRef | None) -> int | None:
        year = show.year if (show and with_year) else None
        r = index.resolve(q, year, {})
        if r.show_id is not None:
            return r.show_id
        return r.candidates[0].show_id if r.candidates else None
    return ask


def pg_trgm(shows: list[ShowRef], movies: bool):  # -> (ask, close) or None
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
    # C.utf8 character classes: pg_trgm's words are letters and digits, and under the
    # cluster's C locale no letter outside ASCII is one.
    server.admin(f'CREATE DATABASE "bench_trgm" OWNER {server.user} TEMPLATE template0 '
                 "ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C.utf8'")
    engine = create_engine(server.url("bench_trgm"))
    with engine.begin() as c:
        c.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        c.execute(text("CREATE TABLE shows (id integer PRIMARY KEY, title text NOT NULL, year integer)"))
        c.execute(text("INSERT INTO shows (id, title, year) SELECT unnest(CAST(:i AS int[])), "
                       "unnest(CAST(:t AS text[])), unnest(CAST(:y AS int[]))"),
                  {"i": [s.id for s in shows], "t": [s.title for s in shows], "y": [s.year for s in shows]})
        c.execute(text("CREATE INDEX shows_title_trgm ON shows USING gin (title gin_trgm_ops)"))
        c.execute(text("ANALYZE shows"))
    conn = engine.connect()
    nearest_year = ", abs(year - :y)" if movies else ""
    sql = text("SELECT id, similarity(title, :q) AS s FROM shows WHERE title % :q "
               f"ORDER BY s DESC{nearest_year} LIMIT 5")

    def ask(q: str, show: ShowRef | None) -> int | None:
        rows = conn.execute(sql, {"q": q, "y": show.year if show else None}).all()
        return rows[0][0] if rows else None

    def close() -> None:
        conn.close()
        engine.dispose()
        server.close()
    return ask, close


def bench(name: str, args: argparse.Namespace) -> None:
    """One title set: built, indexed, and every query kind, ours beside pg_trgm's."""
    rng = random.Random(7)
    shows = SETS[name](args.shows, rng, args.words)
    if args.movies:
        shows = with_remakes(shows, rng)
    kinds = make_queries(shows, args.queries, rng)
    keys = {normalise(s.title)[0] for s in shows}
    make_index = MovieIndex if args.movies else ShowIndex

    t = time.perf_counter()
    index = make_index(shows)
    build = time.perf_counter() - t
    del index
    gc.collect()
    tracemalloc.start()
    index = make_index(shows)
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(f"\n== {name}{' movies' if args.movies else ''}: {args.shows:,} titles ({len(keys):,} distinct, "
          f"e.g. {', '.join(repr(s.title) for s in shows[:3])}): index built in {build:.2f} s, "
          f"{memory / 2**20:.1f} MiB (tracemalloc)")

    pg = None if args.no_pg else pg_trgm(shows, args.movies)
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
            times, found = run(queries, ours(index, True), args.repeat)
            _, found_no_year = run(queries, ours(index, False))
            line = (f"{kind:16s} {pct(times, 50):6.2f} ms {pct(times, 99):7.2f} {found:6.1%} "
                    f"{found_no_year:8.1%}")
            if pg:
                pg_times, pg_found = run(queries, pg[0], args.repeat)
                line += (f" | {pct(pg_times, 50):8.2f} ms {pct(pg_times, 99):7.2f} {pg_found:6.1%} | "
                         f"{pct(times, 99) / pct(pg_times, 99):9.3f}")
            print(line, flush=True)
    finally:
        if pg:
            pg[1]()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=[*SETS, "all"], default="random", help="how the titles are built")
    parser.add_argument("--movies", action="store_true", help="titles with years, resolved as movies")
    parser.add_argument("--shows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5,
                        help="time each query this many times, keep the fastest (ours and pg_trgm alike)")
    parser.add_argument("--no-pg", action="store_true", help="skip pg_trgm")
    parser.add_argument("--words", metavar="FILE", help="the english set's words (default /usr/share/dict/words)")
    args = parser.parse_args()
    for name in SETS if args.set == "all" else [args.set]:
        bench(name, args)
    print("found: the intended show applied or offered first; for 'matches nothing', "
          "nothing offered at all. 'no year': ours with no year in the query.")


if __name__ == "__main__":
    main()
