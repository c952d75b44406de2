"""Benchmarks, run by hand: ``python tests/bench/bench.py`` (figures go in the README).

- Webhooks: sustained requests/s and p50/p99 acknowledgement latency with 32 concurrent
  clients over loopback, for ``scrobbletray serve`` and, in the same run, a bare aiohttp
  handler that reads the same multipart body (the ratio is the figure).
- Matching: show resolution on a 100,000-show tracker (exact and fuzzy titles; the
  fuller comparison with pg_trgm is tests/bench/matching.py).
- A valid webhook every 0.2 s beside 300 connections sending their headers a byte a
  second (``--only slow``), and beside four gzip bombs (``--only bombs``).
- Webhooks at a steady 200 a second (p50/p99), SQLite's commit rate on the same disk
  with the inbox's group size, start-up to listening, and resident memory of the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import sqlite3
import statistics
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
from app.core.matching import ShowIndex, ShowRef  # noqa: E402
from app.core.runtime import open_store  # noqa: E402
from tests.helpers import THUMB, episode_payload  # noqa: E402

_DRAINING: set[asyncio.Task[bytes]] = set()  # the loop keeps only weak references to tasks


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


_senders = iter(range(2, 250))


def sender() -> tuple[str, int]:
    """A loopback address of its own for each load (127.0.0.2, .3, ...): the server's
    safety valve counts requests per address, and one address would trip it here."""
    return f"127.0.0.{next(_senders)}", 0


def bodies(total: int) -> list[aiohttp.FormData]:
    out = []
    for n in range(total):
        fd = aiohttp.FormData()
        fd.add_field("payload", json.dumps(episode_payload(1 + n // 1000, 1 + n % 1000)),
                     content_type="application/json")
        if n % 4 == 0:  # a quarter carry Plex's JPEG thumb, as media.play events do
            fd.add_field("thumb", THUMB, filename="thumb.jpg", content_type="image/jpeg")
        out.append(fd)
    return out


async def load(url: str, total: int, pid: int, clients: int = 32) -> dict[str, float]:
    """``total`` webhooks from ``clients`` concurrent clients; throughput, latency and the
    server's (process ``pid``) CPU time per request."""
    queue = iter(bodies(total))
    latencies: list[float] = []
    errors = 0

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        for body in queue:
            t = time.perf_counter()
            async with session.post(url, data=body) as r:
                await r.read()
                if r.status != 200:
                    errors += 1
            latencies.append((time.perf_counter() - t) * 1000)

    conn = aiohttp.TCPConnector(limit=clients, local_addr=sender())
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
            drain = asyncio.create_task(proc.stdout.read())
            _DRAINING.add(drain)
            drain.add_done_callback(_DRAINING.discard)
            return line


async def steady(url: str, rate: float, seconds: float) -> dict[str, float]:
    """Webhooks sent at a steady ``rate`` a second (open loop, as Plex servers would):
    p50/p99 acknowledgement."""
    latencies: list[float] = []
    errors = 0
    queue = bodies(int(rate * seconds))

    async def one(session: aiohttp.ClientSession, body: aiohttp.FormData) -> None:
        nonlocal errors
        t = time.perf_counter()
        async with session.post(url, data=body) as r:
            await r.read()
            errors += r.status != 200
        latencies.append((time.perf_counter() - t) * 1000)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, local_addr=sender())) as session:
        started = time.perf_counter()
        tasks = []
        for n, body in enumerate(queue):
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(session, body)))
        await asyncio.gather(*tasks)
    return {"p50": pct(latencies, 50), "p99": pct(latencies, 99), "errors": errors}


def commit_rate(folder: Path, group: int, seconds: float = 2.0) -> float:
    """Commits a second of ``group`` inbox-sized rows each, with the app's SQLite settings
    (WAL, synchronous=FULL) on the same disk: the ceiling the inbox's group commit has."""
    db = sqlite3.connect(folder / "commit-rate.sqlite3")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT, source TEXT, status TEXT, received_at TEXT)")
    row = (json.dumps(episode_payload(1, 1)), "127.0.0.1", "pending", "2026-01-01 00:00:00.000000")
    commits = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        db.executemany("INSERT INTO t (payload, source, status, received_at) VALUES (?, ?, ?, ?)", [row] * group)
        db.commit()
        commits += 1
    rate = commits / (time.perf_counter() - started)
    db.close()
    return rate


def groups(paths: Paths) -> tuple[int, int]:
    """(rows, commits) in the inbox so far: a commit's rows share their received_at."""
    db = sqlite3.connect(paths.data_dir / "scrobbletray.sqlite3")
    try:
        return db.execute("SELECT count(*), count(DISTINCT received_at) FROM webhook_events").fetchone()
    finally:
        db.close()


async def bench_webhooks(total: int, rounds: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    paths = Paths(tmp / "data")
    save_settings(paths, Settings(rate_limit_per_minute=0))
    open_store(paths, Settings()).add_show(title="Breaking Bad", year=2008, tmdb_id=1396)

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

    store = open_store(paths, Settings())

    async def drained() -> float:  # our pipeline's backlog would take the baseline's CPU
        t = time.perf_counter()
        while store.pending_count():
            await asyncio.sleep(0.05)
        return time.perf_counter() - t

    await load(url, 300, app.pid)  # warm-up
    await load(bare_url, 300, bare.pid)
    await drained()
    rows_before, commits_before = groups(paths)
    ours, base, drains = [], [], []
    for _ in range(rounds):  # alternating, so both see the same machine
        ours.append(await load(url, total, app.pid))
        drains.append(await drained())
        base.append(await load(bare_url, total, bare.pid))
    loaded = rss_mb(app.pid)
    rows, commits = groups(paths)
    group = (rows - rows_before) / max(1, commits - commits_before)
    calm = await steady(url, 200, 10)
    await drained()
    calm_bare = await steady(bare_url, 200, 10)
    for p in (app, bare):
        p.terminate()
        await p.wait()
    ceiling = commit_rate(tmp, round(group))

    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    print(f"webhooks ({rounds} rounds of {total} requests, 32 clients, loopback, a quarter with a JPEG thumb;"
          " medians):")
    for name, runs in (("scrobbletray serve", ours), ("bare aiohttp", base)):
        print(f"  {name + ':':19s} {median(runs, 'rps'):7.0f} req/s  p50 {median(runs, 'p50'):6.1f} ms  "
              f"p99 {median(runs, 'p99'):6.1f} ms  errors {sum(r['errors'] for r in runs)}  "
              f"server CPU {median(runs, 'cpu_us'):4.0f} us/request")
    print(f"  ratio (ours / bare): {median(ours, 'rps') / median(base, 'rps'):.2f} "
          "(rounds: " + ", ".join(f"{o['rps'] / b['rps']:.2f}" for o, b in zip(ours, base, strict=True)) + ")")
    print(f"  inbox: {group:.1f} webhooks a commit; SQLite on this disk (WAL, synchronous=FULL, groups of "
          f"{round(group)}): {ceiling:.0f} commits/s = {ceiling * round(group):.0f} webhooks/s at most")
    print(f"  pipeline backlog after each burst drained in {statistics.median(drains):.2f} s")
    print(f"steady 200 webhooks/s for 10 s: ours p50 {calm['p50']:.1f} ms p99 {calm['p99']:.1f} ms "
          f"(errors {calm['errors']}); bare p50 {calm_bare['p50']:.1f} ms p99 {calm_bare['p99']:.1f} ms")
    print(f"start-up to listening (python -m app serve): {startup * 1000:.0f} ms")
    print(f"server memory: idle {idle:.0f} MB RSS, after the bursts {loaded:.0f} MB RSS")


async def start_serve() -> tuple[asyncio.subprocess.Process, str, int]:
    """``scrobbletray serve`` on a fresh data folder, no limit on wrong secrets: (process,
    webhook URL, port)."""
    paths = Paths(Path(tempfile.mkdtemp()) / "data")
    save_settings(paths, Settings(rate_limit_per_minute=0))
    port = free_port()
    app = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "--data-dir", str(paths.data_dir), "serve", "--port", str(port),
        "--no-tunnel", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    return app, (await wait_line(app, "Webhook URL")).split(": ", 1)[1].strip(), port


async def paced(session: aiohttp.ClientSession, url: str, seconds: float) -> list[float]:
    """A valid webhook every 0.2 s for ``seconds``: each one's latency (ms)."""
    latencies = []
    for fd in bodies(int(seconds / 0.2)):
        t = time.perf_counter()
        async with session.post(url, data=fd) as r:
            await r.read()
            assert r.status == 200, r.status
        latencies.append((time.perf_counter() - t) * 1000)
        await asyncio.sleep(max(0.0, 0.2 - (time.perf_counter() - t)))
    return latencies


def _bombard(targets: list[str], bomb: bytes, seconds: float) -> None:
    """Post ``bomb`` to each target, over and over, for ``seconds`` (in a process of its own,
    so the load generator's own work does not show up as the server's latency)."""
    headers = {"Content-Type": "multipart/form-data; boundary=x", "Content-Encoding": "gzip"}
    end = time.perf_counter() + seconds

    async def one(target: str) -> None:
        async with aiohttp.ClientSession() as s:
            while time.perf_counter() < end:
                try:
                    async with s.post(target, data=bomb, headers=headers) as r:
                        await r.read()
                except aiohttp.ClientError:
                    pass

    async def all_of_them() -> None:
        await asyncio.gather(*(one(t) for t in targets))
    asyncio.run(all_of_them())


async def bench_bombs(seconds: float = 20.0) -> None:
    """Four gzip bombs at once to a wrong secret and a wrong path (3 MB each, 3 GB
    unpacked), a valid webhook every 0.2 s meanwhile: its p99."""
    import multiprocessing
    import zlib

    z = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b"".join(z.compress(bytes(1 << 20)) for _ in range(3072)) + z.flush()
    app, url, _ = await start_serve()
    base = url.split("/webhook/")[0]
    targets = [base + "/webhook/wrong-secret", base + "/nowhere", base + "/webhook/guess", base + "/"]
    bombers = multiprocessing.get_context("fork").Process(target=_bombard, args=(targets, bomb, seconds + 1))
    bombers.start()
    await asyncio.sleep(1)  # the bombs are on their way
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=sender())) as s:
        latencies = await paced(s, url, seconds)
    await asyncio.to_thread(bombers.join)
    app.terminate()
    await app.wait()
    print(f"4 gzip bombs ({len(bomb) / 2**20:.1f} MB each, 3 GiB unpacked) sent over and over for "
          f"{seconds:.0f} s, a valid webhook every 0.2 s ({len(latencies)}): p50 {pct(latencies, 50):.1f} ms, "
          f"p99 {pct(latencies, 99):.1f} ms, max {max(latencies):.1f} ms")


async def bench_slow(clients: int = 300, seconds: float = 8.0) -> None:
    """A valid webhook every 0.2 s, first alone, then while ``clients`` connections each send
    part of a request's headers and a byte now and then (cut off after 10 s): p50/p99."""
    app, url, port = await start_serve()

    async def dribble() -> bool:
        """True when the server cut the connection off."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST " + url.split(str(port), 1)[1].encode() + b" HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    if await asyncio.wait_for(reader.read(1), 1) == b"":
                        return True
                writer.write(b"a")
                await writer.drain()
        except ConnectionError:
            return True
        finally:
            writer.close()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=sender())) as s:
        alone = await paced(s, url, seconds)
        slow = [asyncio.create_task(dribble()) for _ in range(clients)]
        await asyncio.sleep(0.5)
        beside = await paced(s, url, seconds)
        cut = await asyncio.wait_for(asyncio.gather(*slow), 30)
    app.terminate()
    await app.wait()
    print(f"a valid webhook every 0.2 s for {seconds:.0f} s: alone p50 {pct(alone, 50):.1f} ms, p99 "
          f"{pct(alone, 99):.1f} ms; beside {clients} slow connections p50 {pct(beside, 50):.1f} ms, "
          f"p99 {pct(beside, 99):.1f} ms, max {max(beside):.1f} ms; {sum(cut)} of them cut off")


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
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["webhooks", "bombs", "slow", "matching"])
    args = parser.parse_args()
    if args.only in (None, "webhooks"):
        asyncio.run(bench_webhooks(args.requests, args.rounds))
    if args.only in (None, "bombs"):
        asyncio.run(bench_bombs())
    if args.only in (None, "slow"):
        asyncio.run(bench_slow())
    if args.only in (None, "matching"):
        bench_matching()


if __name__ == "__main__":
    main()
