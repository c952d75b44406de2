"""Catch-up benchmark, run by hand: ``python tests/bench/catchup.py [--plays 10000]``.

A stand-in Plex server (tests/fake_plex.py, on 127.0.0.1) holds N plays of 100 shows
over 60 days; a real core, signed in through the stand-in plex.tv, imports them with
``catch_up.run(since=...)`` (python-plexapi, pages of 500, de-duplication against the
inbox) and processes them (matching, marking). Reports plays/s for each part and the
peak memory the import adds (tracemalloc, and the process's peak RSS).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"

from app.core.config import Paths, Settings  # noqa: E402
from app.core.credentials import set_secret  # noqa: E402
from app.core.facade import Core  # noqa: E402
from app.core.plex.service import TOKEN_KEY  # noqa: E402
from tests.fake_plex import FakePlexTv, FakePms  # noqa: E402


async def bench(n: int) -> None:
    async with FakePlexTv() as tv, FakePms(name="NAS") as pms:
        tv.servers.append(pms)
        token, _ = tv.add_user("alice")
        shows = [pms.add_show(str(100 + i), f"Show Number {i}", 2000 + i % 20, tmdb=str(5000 + i))
                 for i in range(100)]
        start = time.time() - 60 * 86_400
        for i in range(n):
            show = shows[i % 100]
            pms.play(str(10_000 + i), show, 1 + (i // 100) // 50, 1 + (i // 100) % 50,
                     viewed_at=start + i * (60 * 86_400 / n))
        paths = Paths(Path(tempfile.mkdtemp(prefix="scrobbletray-catchup-")))
        paths.ensure()
        set_secret(paths, TOKEN_KEY, token)
        core = Core(paths, Settings(port=0, plex_tv_url=tv.url))
        await core.start(tunnel=False)
        try:
            assert core.runtime.store is not None
            await core.runtime.run(core.runtime.store.import_shows, [
                {"title": s.title, "year": s.year, "tmdb_id": int(s.ids["tmdb"])} for s in shows])
            await core.runtime.catch_up.wait_idle()
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            tracemalloc.start()
            t0 = time.perf_counter()
            result = await core.runtime.catch_up.run(since=datetime.now(UTC) - timedelta(days=61))
            t1 = time.perf_counter()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            while await core.runtime.run(core.runtime.store.pending_count):
                await asyncio.sleep(0.05)
            t2 = time.perf_counter()
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            outcomes = await core.runtime.run(core.runtime.store.actions_of, core.runtime.catch_up.last_ids)
        finally:
            await core.stop()
    print(f"{result.read:,} history plays read, {result.added:,} added: outcomes {outcomes}")
    print(f"import (read + de-duplicate + inbox): {t1 - t0:.2f} s, {result.read / (t1 - t0):,.0f} plays/s")
    print(f"processing (match + mark): {t2 - t1:.2f} s, {result.added / (t2 - t1):,.0f} plays/s")
    print(f"end to end: {result.added / (t2 - t0):,.0f} plays/s")
    print(f"memory: import peak {peak / 2**20:.1f} MiB (tracemalloc); process peak RSS "
          f"{rss_before / 1024:.0f} -> {rss_after / 1024:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plays", type=int, default=10_000)
    asyncio.run(bench(parser.parse_args().plays))


if __name__ == "__main__":
    main()
