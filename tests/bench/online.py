"""Trakt and Simkl delivery benchmark, run by hand (figures go to the lead, not the README):
``python tests/bench/online.py [--service trakt|simkl|both] [--events N] [--seconds S] [--scale K]``
(``--only steady|drain``; ``--pace S`` tries another ``min_interval`` of ours)

Per service, a Core in this process (real SQLite, real HTTP over loopback) with one signed-in
account, against its stand-in (tests/fake_trakt.py, tests/fake_simkl.py):

- Steady: webhooks (real multipart POSTs to the webhook URL) at ``--load`` (0.85) of our own
  pace (``1 / min_interval``: Trakt 1.2 s, 0.71/s; Simkl 1.0 s, 0.85/s) for ``--seconds``,
  at the real pace. For each, the time from Plex's ``200`` to the stand-in recording the
  history entry: p50/p99/max, and the 429s.
- Drain: the stand-in down (connection refused) while ``--events`` webhooks arrive, then up.
  The back-off (from ``up`` to the first delivery), the drain (first to last recorded),
  events/s, 429s, and the ratio of that rate to the pace the service allows (Trakt: one POST
  a second; Simkl publishes none: the stand-in holds it to one call a second, our own pace)
  and to our own pace. At the real pace 1,000 events take 20 minutes, so the drain runs on a
  clock ``--scale`` (20) times faster: the stand-in's interval, our ``min_interval`` and
  Trakt's block after a 429 are divided by K; the sender's own back-off is not.

Each entry the stand-in records is timed by wrapping its ``/sync/history`` handler.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # never the user's keyring

from app.core.config import Paths, Settings  # noqa: E402
from app.core.credentials import set_secret  # noqa: E402
from app.core.destinations.online.signin import Tokens  # noqa: E402
from app.core.destinations.online.simkl import SimklTracker  # noqa: E402
from app.core.destinations.online.trakt import TraktTracker  # noqa: E402
from app.core.facade import Core  # noqa: E402
from tests.bench.bench import pct  # noqa: E402
from tests.fake_online import FakeOnline  # noqa: E402
from tests.fake_simkl import FakeSimkl  # noqa: E402
from tests.fake_trakt import FakeTrakt  # noqa: E402
from tests.helpers import episode_payload, form, webhook_url  # noqa: E402

CID, SECRET = "bench-cid", "bench-secret"
SHOW_GUID = "com.plexapp.agents.themoviedb://4242?lang=en"
TRACKERS: dict[str, type[TraktTracker] | type[SimklTracker]] = {"trakt": TraktTracker, "simkl": SimklTracker}
LIMIT = {"trakt": 1.0, "simkl": 1.0}  # seconds between POSTs the service (stand-in) allows


@dataclass
class Stack:
    fake: FakeOnline
    core: Core
    did: str
    recorded: dict[int, float]  # episode number -> monotonic time the stand-in recorded it

    def limited(self) -> int:
        return sum(r.status == 429 for r in self.fake.requests)

    async def pending(self) -> int:
        return next(d for d in await self.core.destinations() if d.id == self.did).pending


def timed(fake: FakeTrakt | FakeSimkl) -> dict[int, float]:
    """Wrap the stand-in's history handler (before it starts) to note when each entry is recorded."""
    recorded: dict[int, float] = {}
    inner = fake._history_add

    async def add(request: Any) -> Any:
        before = len(fake.history)
        try:
            return await inner(request)
        finally:
            now = time.monotonic()
            for entry in fake.history[before:]:
                recorded.setdefault(entry["episode"]["number"], now)
    fake._history_add = add  # type: ignore[method-assign]
    return recorded


@contextlib.asynccontextmanager
async def stack(service: str, scale: float, episodes: int) -> AsyncIterator[Stack]:
    """A stand-in and a Core with one signed-in account on it, on a clock ``scale`` times faster."""
    tracker = TRACKERS[service]
    pace = tracker.min_interval
    tracker.min_interval = pace / scale  # read when the sender starts
    fake: FakeTrakt | FakeSimkl
    if service == "trakt":
        fake = FakeTrakt(CID, SECRET, post_interval=LIMIT["trakt"] / scale, block_seconds=300 / scale)
    else:
        fake = FakeSimkl(CID, min_interval=LIMIT["simkl"] / scale)
    recorded = timed(fake)
    fake.add_show("Long Show", {"tmdb": 4242}, {1: episodes})
    await fake.start()
    os.environ["SCROBBLETRAY_TRAKT_API_URL" if service == "trakt" else "SCROBBLETRAY_SIMKL_API_URL"] = fake.url("api")
    if isinstance(fake, FakeTrakt):
        os.environ["SCROBBLETRAY_TRAKT_AUTH_URL"] = fake.auth_url
    paths = Paths(Path(tempfile.mkdtemp()) / "data")
    paths.ensure()
    core = Core(paths, Settings(port=0, rate_limit_per_minute=0, plex_location="this", auto_add_shows=False))
    await core.start()
    try:
        store = core.runtime.store
        assert store is not None
        await core.runtime.run(store.add_show, title="Long Show", year=2020, tmdb_id=4242)
        if isinstance(fake, FakeTrakt):
            did = await core.add_destination("trakt", "", client_id=CID, client_secret=SECRET)
            grant = fake.issue()
            tokens = Tokens(grant.access_token, grant.refresh_token, time.time() + 7 * 86400)
        else:
            did = await core.add_destination("simkl", "", client_id=CID)
            tokens = Tokens(fake.sign_in())
        set_secret(paths, f"{did}-tokens", tokens.to_json())
        await core.sign_in_changed(did)
        yield Stack(fake, core, did, recorded)
    finally:
        await core.stop()
        await fake.close()
        tracker.min_interval = pace
        shutil.rmtree(paths.data_dir.parent, ignore_errors=True)


async def post(session: aiohttp.ClientSession, url: str, n: int) -> float:
    """Webhook ``n`` (episode 1×n); returns the monotonic time of Plex's ``200``."""
    payload = episode_payload(1, n, "Long Show", grandparentGuid=SHOW_GUID, ratingKey=str(900000 + n))
    async with session.post(url, data=form(payload), headers={"User-Agent": "PlexMediaServer/1.41.0"}) as r:
        body = await r.text()
        assert r.status == 200, body
    return time.monotonic()


async def until(predicate: Callable[[], Any], timeout: float, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        await asyncio.sleep(interval)


def checked(s: Stack, n: int) -> str:
    """Each once, in order? Said in words for the table."""
    numbers = [e["episode"]["number"] for e in s.fake.history]  # type: ignore[attr-defined]
    if numbers == list(range(1, n + 1)):
        return "each once, in order"
    return f"{len(numbers)} entries for {n} events, {len(numbers) - len(set(numbers))} twice, " \
           f"{'in' if numbers == sorted(numbers) else 'out of'} order"


async def steady(service: str, seconds: float, load: float) -> dict[str, str]:
    pace = TRACKERS[service].min_interval
    rate = load / pace
    n = max(2, int(seconds * rate))
    async with stack(service, 1.0, n) as s:
        url = webhook_url(s.core)
        async with aiohttp.ClientSession() as session:
            start = time.monotonic()
            tasks = []
            for i in range(1, n + 1):
                await asyncio.sleep(max(0.0, start + (i - 1) / rate - time.monotonic()))
                tasks.append(asyncio.create_task(post(session, url, i)))
            acked = await asyncio.gather(*tasks)
        await until(lambda: len(s.recorded) >= n, 60 + n * pace * 2, 0.05)
        lat = [(s.recorded[i + 1] - t) * 1000 for i, t in enumerate(acked)]
        return {"service": service.capitalize(), "rate": f"{rate:.2f}/s (our pace {1 / pace:.2f}/s, "
                f"limit {1 / LIMIT[service]:.0f}/s)", "events": str(n), "p50": f"{pct(lat, 50):.0f} ms",
                "p99": f"{pct(lat, 99):.0f} ms", "max": f"{max(lat):.0f} ms", "429s": str(s.limited()),
                "history": checked(s, n)}


async def drain(service: str, n: int, scale: float) -> dict[str, str]:
    async with stack(service, scale, n) as s:
        await s.fake.down()
        url = webhook_url(s.core)
        async with aiohttp.ClientSession() as session:
            began = time.monotonic()
            sem = asyncio.Semaphore(8)

            async def one(i: int) -> float:
                async with sem:
                    return await post(session, url, i)
            await asyncio.gather(*(one(i) for i in range(1, n + 1)))
            posted = time.monotonic() - began

        async def queued() -> bool:
            return await s.pending() == n
        await until(queued, 120, 0.1)
        await s.fake.up()
        up = time.monotonic()
        allowed = scale / LIMIT[service]  # events/s the service allows, on the fast clock
        ours = 1 / TRACKERS[service].min_interval  # (already on the fast clock)
        await until(lambda: len(s.recorded) >= n, 120 + 3 * n / allowed, 0.05)
        first, last = min(s.recorded.values()), max(s.recorded.values())
        rate = (n - 1) / (last - first)

        async def done() -> bool:
            return await s.pending() == 0
        await until(done, 30, 0.1)
        return {"service": service.capitalize(), "events": str(n), "posted in": f"{posted:.1f} s",
                "back-off": f"{first - up:.1f} s", "drain": f"{last - first:.1f} s (= {(last - first) * scale / 60:.1f}"
                f" min real)", "events/s": f"{rate:.2f} (= {rate / scale:.2f}/s real)",
                "/ allowed": f"{rate / allowed:.2f}", "/ our pace": f"{rate / ours:.2f}",
                "429s": str(s.limited()), "history": checked(s, n)}


def table(rows: list[dict[str, str]]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    return "\n".join(lines + ["| " + " | ".join(r[k] for k in keys) + " |" for r in rows])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service", choices=("trakt", "simkl", "both"), default="both")
    parser.add_argument("--events", type=int, default=1000, help="the backlog to drain (1000)")
    parser.add_argument("--seconds", type=float, default=60, help="the steady test's length (60)")
    parser.add_argument("--load", type=float, default=0.85, help="the steady rate, a fraction of our pace (0.85)")
    parser.add_argument("--scale", type=float, default=20, help="the drain's clock, this many times faster (20)")
    parser.add_argument("--only", choices=("steady", "drain"), default=None)
    parser.add_argument("--pace", type=float, default=None,
                        help="an experiment: our min_interval, in real seconds, instead of the tracker's")
    args = parser.parse_args()
    services = ["trakt", "simkl"] if args.service == "both" else [args.service]
    for service in services if args.pace else ():
        TRACKERS[service].min_interval = args.pace
    steady_rows, drain_rows = [], []
    for service in services:
        if args.only != "drain":
            steady_rows.append(await steady(service, args.seconds, args.load))
            print(steady_rows[-1], flush=True)
        if args.only != "steady":
            drain_rows.append(await drain(service, args.events, args.scale))
            print(drain_rows[-1], flush=True)
    if steady_rows:
        print(f"\nSteady, real pace, {args.seconds:g} s: from Plex's 200 to the history entry\n")
        print(table(steady_rows))
    if drain_rows:
        print(f"\nDrain of a backlog after an outage, clock x{args.scale:g} (figures on that clock)\n")
        print(table(drain_rows))


if __name__ == "__main__":
    asyncio.run(main())
