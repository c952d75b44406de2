"""The PostgreSQL tracker's shows, kept compactly and narrowed to a few rows read back
(app/core/destinations/postgres/shows.py): the same answers as the full in-memory matcher,
on a real PostgreSQL table."""

from __future__ import annotations

import random
import string

from sqlalchemy import text

from app.core.destinations.postgres.shows import TrackerShows
from app.core.matching import ShowIndex, ShowRef

pytest_plugins = ["tests.conftest_pg"]


def test_the_narrowed_matcher_answers_as_the_full_index_does(pg_tracker_db) -> None:
    db = pg_tracker_db
    rng = random.Random(5)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 8))) for _ in range(400)]
    titles = [" ".join(rng.choices(words, k=rng.randint(1, 3))).title() for _ in range(3000)]
    with db.engine.begin() as c:
        c.execute(text("INSERT INTO tvshows (title, tmdb_id, seasons) SELECT t, 500000 + o, '[]' "
                       "FROM unnest(CAST(:t AS text[])) WITH ORDINALITY AS x(t, o)"), {"t": titles})
        c.execute(text("INSERT INTO tvshows (title, tmdb_id, seasons) VALUES ('Breaking Bad', 1396, '[]')"))
        rows = c.execute(text("SELECT id, title, tmdb_id FROM tvshows")).all()
    full = ShowIndex(ShowRef(i, t, None, m) for i, t, m in rows)
    shows = TrackerShows(has_tmdb=True)
    picked = rng.sample(titles, 60)
    queries = [*picked, *(t[:-2] + "zz" for t in picked[:20]), *(" ".join(reversed(t.split())) for t in picked[:20]),
               *("".join(rng.choices(string.ascii_lowercase, k=10)) for _ in range(10)), "Breaking Bad"]
    with db.engine.connect() as c:
        for q in queries:
            assert shows.resolve(c, q, None, {}) == full.resolve(q, None, {}), q
            assert shows.search(c, q, limit=8) == full.search(q, limit=8), q
        for tmdb in ("1396", "500007", "999"):
            assert shows.resolve(c, "x", None, {"tmdb": tmdb}) == full.resolve("x", None, {"tmdb": tmdb})
