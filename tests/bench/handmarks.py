"""Marks made by hand, benchmark, run by hand: ``python tests/bench/handmarks.py [--items 20000]``.

A stand-in Plex server (tests/fake_plex.py, in a process of its own so its memory is not
counted) holds a library of N items, nine in ten episodes of 100 shows and one in ten
movies, all marked viewed over the last 60 days. A real core, signed in through the
stand-in plex.tv, then:

1. looks for the first time (the server is new: it records where it stands);
2. looks at the whole library's watched state (``catch_up.run(since=61 days ago)``: every
   item read, pages of 500 through python-plexapi, de-duplicated against the inbox, the
   episodes put into it); time and peak memory (tracemalloc, and the process's peak RSS);
3. looks again an hour later with nothing changed: time, requests, bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"

from app.core.config import Paths, Settings, save_state  # noqa: E402
from app.core.credentials import set_secret  # noqa: E402
from app.core.facade import Core  # noqa: E402
from app.core.plex.service import TOKEN_KEY  # noqa: E402
from tests.fake_plex import FakePlexTv, FakePms  # noqa: E402


def serve(n: int, pipe: Connection) -> None:
    """The stand-ins, in a child process: answers "requests" with (count, bytes) so far."""
    async def run() -> None:
        from aiohttp import web

        tv, pms = FakePlexTv(), FakePms(name="NAS")
        sent = [0]

        @web.middleware
        async def count(request: web.Request, handler):  # type: ignore[no-untyped-def]
            response = await handler(request)
            sent[0] += len(response.body or b"") if isinstance(response, web.Response) else 0
            return response

        pms.app.middlewares.append(count)  # (before it starts: the app is frozen then)
        async with tv, pms:
            tv.servers.append(pms)
            token, _ = tv.add_user("alice")
            shows = [pms.add_show(str(100 + i), f"Show Number {i}", 2000 + i % 20, tmdb=str(5000 + i))
                     for i in range(100)]
            start = time.time() - 60 * 86_400
            for i in range(n):
                at = start + i * (60 * 86_400 / n)
                if i % 10 == 9:
                    pms.mark_movie_watched(str(500_000 + i), f"Movie {i}", 1990 + i % 30, viewed_at=at)
                else:
                    show = shows[i % 100]
                    pms.mark_watched(str(10_000 + i), show, 1 + (i // 100) // 50, 1 + (i // 100) % 50, viewed_at=at)
            pipe.send((tv.url, token))
            loop = asyncio.get_running_loop()
            while True:
                message = await loop.run_in_executor(None, pipe.recv)
                if message == "stop":
                    return
                pipe.send((len(pms.requests), sent[0]))

    asyncio.run(run())


async def bench(n: int, pipe: Connection) -> None:
    tv_url, token = pipe.recv()
    paths = Paths(Path(tempfile.mkdtemp(prefix="scrobbletray-handmarks-")))
    paths.ensure()
    set_secret(paths, TOKEN_KEY, token)
    core = Core(paths, Settings(port=0, plex_tv_url=tv_url))
    await core.start(tunnel=False)
    try:
        store = core.runtime.store
        assert store is not None
        await core.runtime.run(store.import_shows, [
            {"title": f"Show Number {i}", "year": 2000 + i % 20, "tmdb_id": 5000 + i} for i in range(100)])
        await core.runtime.catch_up.wait_idle()  # the look at start
        await asyncio.to_thread(save_state, paths, plex_marks_seen={}, plex_history_seen={})  # new again
        t0 = time.perf_counter()
        first = await core.runtime.catch_up.run()
        first_s = time.perf_counter() - t0

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        t0 = time.perf_counter()
        whole = await core.runtime.catch_up.run(since=datetime.now(UTC) - timedelta(days=61))
        whole_s = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        while await core.runtime.run(store.pending_count):
            await asyncio.sleep(0.05)
        outcomes = await core.runtime.run(store.actions_of, core.runtime.catch_up.last_ids)

        pipe.send("requests")
        before = pipe.recv()
        t0 = time.perf_counter()
        hourly = await core.runtime.catch_up.run()
        hourly_s = time.perf_counter() - t0
        pipe.send("requests")
        after = pipe.recv()
    finally:
        await core.stop()
    print(f"library: {n:,} items viewed (episodes and movies)")
    print(f"first look (records where it stands): {first_s * 1000:.0f} ms, {first.marks_read} read")
    print(f"whole library's watched state: {whole_s:.2f} s for {whole.marks_read:,} items "
          f"({whole.marks_read / whole_s:,.0f} items/s), {whole.marks_added:,} added; outcomes {outcomes}")
    print(f"  memory: peak {peak / 2**20:.1f} MiB (tracemalloc); process peak RSS "
          f"{rss_before / 1024:.0f} -> {rss_after / 1024:.0f} MB")
    print(f"hourly look, nothing changed: {hourly_s * 1000:.0f} ms, {after[0] - before[0]} requests, "
          f"{after[1] - before[1]:,} bytes (history and watched state), {hourly.marks_read} read")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    n = parser.parse_args().items
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.Process(target=serve, args=(n, theirs), daemon=True)
    child.start()
    try:
        asyncio.run(bench(n, ours))
    finally:
        ours.send("stop")
        child.join(5)


if __name__ == "__main__":
    main()
