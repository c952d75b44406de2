"""Benchmarks, run by hand: ``python tests/bench/bench.py`` (figures go in the README).

- Webhooks: sustained requests/s and p50/p99 acknowledgement latency with 32 concurrent
  clients over loopback, for ``scrobbletray serve`` and, in the same run, a bare aiohttp
  handler that reads the same multipart body (the ratio is the figure).
- Matching: show resolution on a 100,000-show tracker (exact and fuzzy titles; the
  fuller comparison with pg_trgm is tests/bench/matching.py).
- Start-up to listening, and resident memory of the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.core.config import Paths, Settings, save_settings  # noqa: E402
from app.core.facade import open_tracker  # noqa: E402
from app.core.matching import ShowIndex, ShowRef  # noqa: E402
from tests.helpers import THUMB, episode_payload  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """CPU seconds (user and system) the process has used: steadier than wall time here."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


async def load(url: str, total: int, pid: int, clients: int = 32) -> dict[str, float]:
    """``total`` webhooks from ``clients`` concurrent clients; throughput, latency and the
    server's (process ``pid``) CPU time per request."""
    bodies = []
    for n in range(total):
        fd = aiohttp.FormData()
        fd.add_field("payload", json.dumps(episode_payload(1 + n // 1000, 1 + n % 1000)),
                     content_type="application/json")
        if n % 4 == 0:  # a quarter carry Plex's JPEG thumb, as media.play events do
            fd.add_field("thumb", THUMB, filename="thumb.jpg", content_type="image/jpeg")
        bodies.append(fd)
    latencies: list[float] = []
    errors = 0
    queue = iter(bodies)

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        for body in queue:
            t = time.perf_counter()
            async with session.post(url, data=body) as r:
                await r.read()
                if r.status != 200:
                    errors += 1
            latencies.append((time.perf_counter() - t) * 1000)

    conn = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=conn) as session:
        started, cpu = time.perf_counter(), cpu_s(pid)
        await asyncio.gather(*(client(session) for _ in range(clients)))
        elapsed, cpu = time.perf_counter() - started, cpu_s(pid) - cpu
    return {"rps": total / elapsed, "p50": pct(latencies, 50), "p99": pct(latencies, 99),
            "errors": errors, "cpu_us": cpu / total * 1e6}


async def wait_line(proc: asyncio.subprocess.Process, prefix: str) -> str:
    assert proc.stdout is not None
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        if not line:
            raise RuntimeError("server exited")
        if line.startswith(prefix):
            asyncio.create_task(proc.stdout.read())
            return line


async def bench_webhooks(total: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    paths = Paths(tmp / "data")
    save_settings(paths, Settings(rate_limit_per_minute=0))
    open_tracker(paths, Settings()).add_show(title="Breaking Bad", year=2008, tmdb_id=1396)

    port = free_port()
    started = time.perf_counter()
    app = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "--data-dir", str(paths.data_dir), "serve", "--port", str(port),
        "--no-tunnel", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    line = await wait_line(app, "Webhook URL")
    startup = time.perf_counter() - started
    url = line.split(": ", 1)[1].strip()
    idle = rss_mb(app.pid)

    bare_port = free_port()
    bare = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).with_name("bare_server.py")), str(bare_port),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    await wait_line(bare, "ready")
    bare_url = f"http://127.0.0.1:{bare_port}/webhook/x"
    await asyncio.sleep(0.5)

    await load(url, 300, app.pid)  # warm-up
    await load(bare_url, 300, bare.pid)
    ours = await load(url, total, app.pid)
    loaded = rss_mb(app.pid)
    # Let our pipeline finish the backlog before the baseline runs: it would take CPU.
    tracker = open_tracker(paths, Settings())
    t = time.perf_counter()
    while tracker.pending_count():
        await asyncio.sleep(0.05)
    drain = time.perf_counter() - t
    base = await load(bare_url, total, bare.pid)
    for p in (app, bare):
        p.terminate()
        await p.wait()

    print(f"webhooks ({total} requests, 32 clients, loopback, a quarter with a JPEG thumb):")
    print(f"  scrobbletray serve: {ours['rps']:7.0f} req/s  p50 {ours['p50']:6.1f} ms  "
          f"p99 {ours['p99']:6.1f} ms  errors {ours['errors']}  CPU {ours['cpu_us']:4.0f} us/request")
    print(f"  bare aiohttp:       {base['rps']:7.0f} req/s  p50 {base['p50']:6.1f} ms  "
          f"p99 {base['p99']:6.1f} ms  errors {base['errors']}  CPU {base['cpu_us']:4.0f} us/request")
    print(f"  ratio (ours / bare): {ours['rps'] / base['rps']:.2f}")
    print(f"  pipeline backlog after the burst drained in {drain:.2f} s")
    print(f"start-up to listening (python -m app serve): {startup * 1000:.0f} ms")
    print(f"server memory: idle {idle:.0f} MB RSS, after the burst {loaded:.0f} MB RSS")


def bench_matching(n: int = 100_000, queries: int = 500) -> None:
    rng = random.Random(7)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(6000)]
    shows = [ShowRef(i, " ".join(rng.choices(words, k=rng.randint(1, 4))).title(),
                     rng.randint(1950, 2025)) for i in range(n)]
    t = time.perf_counter()
    index = ShowIndex(shows)
    build = time.perf_counter() - t
    sample = rng.sample(shows, queries)

    def timed(titles: list[str]) -> list[float]:
        out = []
        for title in titles:
            t = time.perf_counter()
            index.resolve(title, 2015, {})
            out.append((time.perf_counter() - t) * 1000)
        return out

    exact = timed([s.title.upper() for s in sample])
    typo = timed([s.title[:-2] + "zz" for s in sample])  # misses the dict: the fuzzy path
    unknown = timed(["".join(rng.choices(string.ascii_lowercase, k=14)) for _ in range(queries)])
    print(f"matching on {n:,} shows (index built in {build:.2f} s):")
    for name, values in (("exact title", exact), ("fuzzy title", typo), ("no match", unknown)):
        print(f"  {name:12s} p50 {pct(values, 50):6.2f} ms  p99 {pct(values, 99):6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--only", choices=["webhooks", "matching"])
    args = parser.parse_args()
    if args.only != "matching":
        asyncio.run(bench_webhooks(args.requests))
    if args.only != "webhooks":
        bench_matching()


if __name__ == "__main__":
    main()
