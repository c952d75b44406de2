"""How the database grows, run by hand: ``python tests/bench/growth.py [--events N] [--years Y]``.

Builds a heavy household's data folder: 2 Plex servers, 4 accounts (2 accepted), 3,000
tracker shows with 150,000 episodes, 10,000 movies, ``--events`` webhooks (400,000 by
default) of every kind spread over ``--years`` (5), 20,000 deliveries to each of two
destinations, and the conflicts of 300 shows the tracker does not have. Every webhook is a
real-shaped Plex payload (tests/samples, each field varied) stored by ``Store.ingest`` and
settled by the real pipeline, so each row has the outcome columns it would have.

Then it prints: bytes per event and the file size per year with every payload kept; the
one VACUUM that switches an older file to incremental auto-vacuum, timed on a copy; and a
retention round (``payload_retention_days``) run by the started core while webhooks keep
arriving (the longest step, the slowest 200), with the size after it.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import random
import shutil
import sqlite3
import statistics
import string
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.core.config import Paths, Settings  # noqa: E402
from app.core.facade import Core  # noqa: E402
from app.core.models import utcnow  # noqa: E402
from app.core.runtime import open_store  # noqa: E402
from app.core.store import Store  # noqa: E402
from tests.helpers import SAMPLES, post, webhook_url  # noqa: E402

SHOWS, EPISODES_PER_SHOW, MOVIES, UNKNOWN_SHOWS = 3_000, 50, 10_000, 300
DELIVERIES = 20_000  # per destination
SERVERS = [("Living Room", "8c1f0e2ab5d94c6f9e7d3b2a1c0f9e8d7c6b5a49"),
           ("Cabin", "0b7e6d5c4b3a29180f7e6d5c4b3a291807f6e5d4")]
ACCOUNTS = [(1, "homeowner", True), (2, "partner", False), (3, "kid", False), (4, "guest-friend", False)]
ACCEPTED = ["homeowner", "partner"]
OTHER_EVENTS = ["library.new", "library.on.deck", "admin.database.backup", "device.new", "media.rate",
                "playback.started"]


def sample(name: str) -> dict[str, Any]:
    return dict(json.loads((SAMPLES / f"{name}.json").read_text()))


class Household:
    """The webhooks a household's Plex servers send, session by session."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(4000)]
        self.shows = [(" ".join(rng.sample(words, rng.randint(1, 4))).title(), rng.randint(1960, 2025))
                      for _ in range(SHOWS + UNKNOWN_SHOWS)]
        self.movies = [(" ".join(rng.sample(words, rng.randint(1, 3))).title(), rng.randint(1930, 2025))
                       for _ in range(MOVIES)]
        self.episode = sample("scrobble-new-agent-episode")
        self.movie = sample("scrobble-movie")
        self.track = sample("scrobble-music-track")
        self.backup = sample("admin-database-backup")
        self.unknown_next = SHOWS  # the first sessions go to the shows the tracker lacks: 300 conflicts

    def _who(self, data: dict[str, Any]) -> dict[str, Any]:
        account_id, name, owner = self.rng.choices(ACCOUNTS, weights=(5, 3, 2, 1))[0]
        server = SERVERS[self.rng.random() < 0.3]
        data["Account"] = {**data["Account"], "id": account_id, "title": name}
        data["user"], data["owner"] = owner, True
        data["Server"] = {"title": server[0], "uuid": server[1]}
        return data

    def _episode(self, event: str) -> dict[str, Any]:
        if self.unknown_next < SHOWS + UNKNOWN_SHOWS:
            i = self.unknown_next
        else:
            i = self.rng.randrange(SHOWS + UNKNOWN_SHOWS)
        title, year = self.shows[i]
        season, number = self.rng.randint(1, 5), self.rng.randint(1, EPISODES_PER_SHOW // 5)
        data = copy.deepcopy(self.episode)
        key = 100_000 + i * 1000 + season * 100 + number
        data["event"] = event
        data["Metadata"].update(
            grandparentTitle=title, year=year, parentIndex=season, index=number, title=f"Episode {number}",
            ratingKey=str(key), key=f"/library/metadata/{key}", grandparentRatingKey=str(10_000 + i),
            grandparentKey=f"/library/metadata/{10_000 + i}", grandparentGuid=f"plex://show/{i:024x}",
            guid=f"plex://episode/{key:024x}", Guid=[{"id": f"imdb://tt{key:07d}"}, {"id": f"tvdb://{key}"}])
        return self._who(data)

    def _movie(self, event: str) -> dict[str, Any]:
        i = self.rng.randrange(MOVIES)
        title, year = self.movies[i]
        data = copy.deepcopy(self.movie)
        data["event"] = event
        data["Metadata"].update(title=title, year=year, ratingKey=str(500 + i), key=f"/library/metadata/{500 + i}",
                                guid=f"plex://movie/{i:024x}",
                                Guid=[{"id": f"imdb://tt{9_000_000 + i}"}, {"id": f"tmdb://{700_000 + i}"}])
        return self._who(data)

    def _track(self, event: str) -> dict[str, Any]:
        data = copy.deepcopy(self.track)
        data["event"] = event
        data["Metadata"]["ratingKey"] = str(self.rng.randrange(10**6))
        return self._who(data)

    def session(self) -> list[dict[str, Any]]:
        """One viewing: play, pauses and resumes, then a scrobble and a stop past 90 %, or a
        stop part-way; now and then a webhook that is not a playback."""
        r = self.rng.random()
        if r < 0.08:
            event = self.rng.choice(OTHER_EVENTS)
            return [self._who(copy.deepcopy(self.backup)) if event == "admin.database.backup"
                    else {**self._episode("media.play"), "event": event}]
        make = self._episode if r < 0.78 else self._movie if r < 0.92 else self._track
        first = make("media.play")
        meta = first["Metadata"]
        duration = int(meta.get("duration") or 3_000_000)
        out = [first]
        for _ in range(self.rng.choice((0, 0, 1, 1, 2, 3))):
            out += [{**first, "event": "media.pause"}, {**first, "event": "media.resume"}]
        if self.unknown_next < SHOWS + UNKNOWN_SHOWS or self.rng.random() < 0.7:
            self.unknown_next += make == self._episode and self.unknown_next < SHOWS + UNKNOWN_SHOWS
            out.append({**first, "event": "media.scrobble", "Metadata": {**meta, "viewOffset": int(duration * 0.92)}})
            out.append({**first, "event": "media.stop", "Metadata": {**meta, "viewOffset": int(duration * 0.97)}})
        else:
            out.append({**first, "event": "media.stop",
                        "Metadata": {**meta, "viewOffset": int(duration * self.rng.uniform(0.05, 0.8))}})
        return out


def build(store: Store, house: Household, events: int, years: float) -> dict[str, float]:
    """The tracker, the inbox (through the pipeline), the deliveries; the times it took."""
    times: dict[str, float] = {}
    started = time.perf_counter()
    store.import_shows([{"title": t, "year": y, "tvdb_id": 1_000_000 + i}
                        for i, (t, y) in enumerate(house.shows[:SHOWS])])
    engine = store.sessions.kw["bind"]
    now = utcnow()
    with engine.begin() as conn:
        show_ids = list(conn.exec_driver_sql("SELECT id FROM shows ORDER BY id").scalars())
        conn.exec_driver_sql(
            "INSERT INTO episodes (show_id, season, number, title, watch_count) VALUES (?, ?, ?, ?, 0)",
            [(s, 1 + n // 10, 1 + n % 10, f"Episode {1 + n % 10}") for s in show_ids for n in range(EPISODES_PER_SHOW)])
        conn.exec_driver_sql("INSERT INTO movies (title, year, tmdb_id, imdb_id, watch_count, created_at) "
                             "VALUES (?, ?, ?, ?, 0, ?)",
                             [(t, y, 700_000 + i, f"tt{9_000_000 + i}", now) for i, (t, y) in enumerate(house.movies)])
    store.builtin.forget_index()
    times["tracker"] = time.perf_counter() - started

    started = time.perf_counter()
    made = 0
    while made < events:
        batch: list[tuple[str, str | None]] = []
        while len(batch) < 1000 and made + len(batch) < events:
            batch += [(json.dumps(p), "192.168.1.20") for p in house.session()]
        batch = batch[:events - made]
        store.ingest(batch)
        made += len(batch)
        while store.process_pending(500):
            pass
        if made % 50_000 < 1000:
            print(f"  {made:,} webhooks stored and settled ({time.perf_counter() - started:.0f} s)", flush=True)
    times["inbox"] = time.perf_counter() - started

    started = time.perf_counter()
    span = timedelta(days=365.25 * years)
    first = now - span
    with engine.begin() as conn:  # spread over the years, oldest first
        ids = list(conn.exec_driver_sql("SELECT id FROM webhook_events ORDER BY id").scalars())
        step = span / max(1, len(ids))
        conn.exec_driver_sql("UPDATE webhook_events SET received_at = ? WHERE id = ?",
                             [((first + step * n).strftime("%Y-%m-%d %H:%M:%S.%f"), i) for n, i in enumerate(ids)])
        counted = list(conn.exec_driver_sql(
            "SELECT id FROM webhook_events WHERE action IN ('marked', 'rewatch', 'counted', 'duplicate') "
            "ORDER BY id DESC LIMIT ?", (DELIVERIES,)).scalars())
        for dest in ("trakt-1", "relay-1"):
            conn.exec_driver_sql(
                "INSERT INTO deliveries (destination, event_id, state, attempts, last_status, outcome, created_at, "
                "delivered_at) VALUES (?, ?, 'delivered', 1, 201, 'episode_marked', ?, ?)",
                [(dest, e, now, now) for e in counted])
    times["dates"] = time.perf_counter() - started
    return times


def figures(db: Path) -> dict[str, Any]:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        tables = dict(conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
        free = conn.execute("PRAGMA freelist_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
        events = conn.execute("SELECT COUNT(*) FROM webhook_events").fetchone()[0]
        payload = conn.execute("SELECT AVG(LENGTH(payload)), SUM(payload = '') FROM webhook_events").fetchone()
        actions = dict(conn.execute("SELECT COALESCE(action, 'pending'), COUNT(*) FROM webhook_events "
                                    "GROUP BY 1").fetchall())
        conflicts = conn.execute("SELECT COUNT(*) FROM conflicts WHERE status = 'open'").fetchone()[0]
        deliveries = conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]
    inbox = sum(v for k, v in tables.items() if k == "webhook_events" or k.startswith(("ix_webhook_events",
                                                                                       "sqlite_autoindex_webhook")))
    return {"file": db.stat().st_size, "free": free, "events": events, "inbox": inbox, "payload_avg": payload[0],
            "pruned": payload[1] or 0, "actions": actions, "conflicts": conflicts, "deliveries": deliveries,
            "tables": tables}


async def retention_round(paths: Paths, settings: Settings) -> dict[str, Any]:
    """Start the core on the folder, run one upkeep round while webhooks keep coming."""
    house = Household(random.Random(7))
    core = Core(paths, settings)
    await core.start()
    steps: dict[str, list[float]] = {"prune_payloads": [], "vacuum_step": []}
    store = core.runtime.store

    def timed(fn: Any, times: list[float]) -> Any:
        def step(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args)
            finally:
                times.append(time.perf_counter() - started)
        return step
    for name, times in steps.items():  # each step timed where it runs (on the database thread)
        setattr(store, name, timed(getattr(store, name), times))
    try:
        url = webhook_url(core)
        for payload in house.session():  # (the first request's connection and set-up: not the round's)
            await post(url, payload)
        baseline: list[float] = []  # the same pace without the round, for comparison
        while len(baseline) < 200:
            for payload in house.session():
                t = time.perf_counter()
                await post(url, payload)
                baseline.append(time.perf_counter() - t)
                await asyncio.sleep(random.uniform(0.02, 0.06))
        acks: list[float] = []
        started = time.perf_counter()
        round_ = asyncio.create_task(core.runtime.upkeep(quiet=0))
        while not round_.done():
            for payload in house.session():
                t = time.perf_counter()
                status, _ = await post(url, payload)
                acks.append(time.perf_counter() - t)
                assert status == 200, status
                await asyncio.sleep(random.uniform(0.02, 0.06))
        result = await round_
        took = time.perf_counter() - started
    finally:
        await core.stop()
    acks.sort()
    baseline.sort()
    return {"base_median": statistics.median(baseline), "base_p99": baseline[int(len(baseline) * 0.99)],
            "base_max": baseline[-1],"result": result, "took": took, "acks": len(acks), "ack_max": acks[-1],
            "ack_p99": acks[int(len(acks) * 0.99)], "ack_median": statistics.median(acks),
            "steps": {k: sorted(v) for k, v in steps.items()}}


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def report(label: str, f: dict[str, Any], years: float) -> None:
    per_event = f["file"] / f["events"]
    print(f"{label}: file {mb(f['file'])} ({mb(f['free'])} free pages) for {f['events']:,} webhooks: "
          f"{per_event:,.0f} bytes per event, {mb(f['file'] / years)} a year; the inbox (rows and indexes) "
          f"{mb(f['inbox'])} = {f['inbox'] / f['events']:,.0f} bytes per event; payload {f['payload_avg']:,.0f} "
          f"bytes on average, {f['pruned']:,} dropped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--retention-days", type=int, default=28)
    parser.add_argument("--keep", type=Path, help="build the data folder here (kept) instead of a temporary one")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="growth-"))
    paths = Paths(folder)
    settings = Settings(port=0, rate_limit_per_minute=0, plex_location="this", auto_add_shows=False,
                        accepted_accounts=ACCEPTED, payload_retention_days=args.retention_days)
    store = open_store(paths, settings)
    print(f"building {args.events:,} webhooks over {args.years:g} years in {folder}", flush=True)
    times = build(store, Household(random.Random(1)), args.events, args.years)
    store.sessions.kw["bind"].dispose()
    db = paths.database_file
    full = figures(db)
    print(f"built in {', '.join(f'{k} {v:.0f} s' for k, v in times.items())}")
    print(f"outcomes: {full['actions']}; {full['conflicts']} open conflicts, {full['deliveries']:,} deliveries")
    report("every payload kept", full, args.years)
    print("largest tables and indexes: " + ", ".join(
        f"{k} {mb(v)}" for k, v in sorted(full["tables"].items(), key=lambda kv: -kv[1])[:6]))

    copy_ = folder / "switch-copy.sqlite3"
    shutil.copyfile(db, copy_)
    conn = sqlite3.connect(copy_)
    try:
        conn.execute("PRAGMA auto_vacuum=NONE")
        conn.execute("VACUUM")  # (as a file made before auto-vacuum was on)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        t = time.perf_counter()
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("VACUUM")
        switch = time.perf_counter() - t
        size = copy_.stat().st_size
    finally:
        conn.close()
    for part in (copy_, Path(f"{copy_}-wal"), Path(f"{copy_}-shm")):
        part.unlink(missing_ok=True)
    print(f"switching a file of {mb(size)} to incremental auto-vacuum (one VACUUM): {switch:.1f} s "
          f"= {size / switch / 1e6:.0f} MB/s")

    r = asyncio.run(retention_round(paths, settings))
    res = r["result"]
    print(f"retention round ({args.retention_days} days) while webhooks kept coming: {res.pruned:,} payloads dropped, "
          f"{res.freed_pages:,} pages given back in {r['took']:.1f} s; longest step {res.longest_step * 1000:.0f} ms; "
          f"{r['acks']} webhooks acknowledged: median {r['ack_median'] * 1000:.0f} ms, "
          f"p99 {r['ack_p99'] * 1000:.0f} ms, slowest {r['ack_max'] * 1000:.0f} ms (without the round: "
          f"median {r['base_median'] * 1000:.0f} ms, p99 {r['base_p99'] * 1000:.0f} ms, "
          f"slowest {r['base_max'] * 1000:.0f} ms)")
    for name, times in r["steps"].items():
        if times:
            print(f"  {name}: {len(times)} steps, median {statistics.median(times) * 1000:.0f} ms, "
                  f"p99 {times[int(len(times) * 0.99)] * 1000:.0f} ms, longest {times[-1] * 1000:.0f} ms")
    after = figures(db)
    report("after retention + incremental vacuum", after, args.years)
    kept_days = args.retention_days / 365.25
    print(f"steady growth: about {mb(after['file'] / args.years)} a year "
          f"(the last {args.retention_days} days' payloads, {kept_days:.0%} of a year, kept whole)")
    print(f"started {datetime.now():%Y-%m-%d %H:%M}; data folder {folder}" + ("" if args.keep else " (temporary)"))


if __name__ == "__main__":
    main()
