"""Soak run, by hand (not part of the tests): ``python tests/bench/soak.py``.

``scrobbletray serve`` takes 50,000 webhooks at a steady rate from four Plex servers
(loopback addresses of their own), 5 % of them malformed or with a wrong secret from a
fifth address. Every few seconds the server's resident memory and open handles (files,
and sockets) are sampled. At the end, once processing has caught up: every valid webhook was answered
200, stored once and marked once; every bad one got its 4xx and left no row; and memory
open files stayed flat (the second half's against the first half's), and no socket is left
open once the clients are gone (at the end against after a warm-up of 1,000; under load
they follow the clients' connection pools). Exits 1 when any of that fails.

Whether processing keeps pace: ``--rate 200 --seconds 60`` sends the warm-up, then that rate
for that long; the inbox's backlog (rows still pending) is sampled every 0.1 s: its most and
its last before the last send (against one second's worth of webhooks), and how long after
the last webhook's 200 it was gone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.core.config import Paths, Settings, save_settings
from app.core.runtime import open_store
from tests.bench.bench import ROOT, free_port, pct, rss_mb, wait_line
from tests.helpers import episode_payload

SERVERS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]  # valid webhooks come from these
STRANGER = "127.0.0.9"  # the malformed ones and the wrong secrets


def bad_request(n: int, url: str) -> tuple[str, bytes, dict[str, str], tuple[int, ...]]:
    """One of six kinds of bad request: (url, body, headers, the statuses it may get)."""
    form = {"Content-Type": "multipart/form-data; boundary=b"}
    part = b'--b\r\nContent-Disposition: form-data; name="payload"\r\n\r\n'
    kinds = [
        (url.rsplit("/", 1)[0] + "/wrong-secret", part + b"{}\r\n--b--\r\n", form, (403, 429)),
        (url, b"payload=%7B%7D", {"Content-Type": "application/x-www-form-urlencoded"}, (415,)),
        (url, part + b"{not json\r\n--b--\r\n", form, (400,)),
        (url, part + b'{"event": "media.scrobble"', form, (400,)),  # truncated: no closing boundary
        (url, b'--b\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n--b--\r\n', form, (400,)),
        (url, part + json.dumps({"event": 7, "Metadata": []}).encode() + b"\r\n--b--\r\n", form, (400,)),
    ]
    return kinds[n % len(kinds)]


def valid_body(n: int) -> aiohttp.FormData:
    fd = aiohttp.FormData()
    fd.add_field("payload", json.dumps(episode_payload(1 + n // 1000, 1 + n % 1000)), content_type="application/json")
    return fd


def handles(pid: int) -> tuple[int, int]:
    """The process's open (files, sockets): files must stay flat; sockets follow the clients."""
    kinds = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile
            kinds.append(os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"))
    return kinds.count(False), kinds.count(True)


def inbox(db: Path) -> tuple[int, int, int]:
    """(rows, distinct episodes among them, rows still pending)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*), count(DISTINCT season * 10000 + episode), "
                           "sum(status = 'pending') FROM webhook_events").fetchone()
    finally:
        con.close()


def pending(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*) FROM webhook_events WHERE status = 'pending'").fetchone()[0]
    finally:
        con.close()


def watched(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(DISTINCT episode_id) FROM watches").fetchone()[0]
    finally:
        con.close()


async def soak(total: int, rate: float, bad_share: float, sample_every: float) -> int:
    tmp = Path(tempfile.mkdtemp())
    paths = Paths(tmp / "data")
    save_settings(paths, Settings(plex_location="this"))  # the default limits, as a user has them
    open_store(paths, Settings()).add_show(title="Breaking Bad", year=2008, tmdb_id=1396)
    port = free_port()
    app = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "--data-dir", str(paths.data_dir), "serve", "--port", str(port),
        "--no-tunnel", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    url = (await wait_line(app, "Webhook URL")).split(": ", 1)[1].strip()
    samples: list[tuple[float, float, tuple[int, int]]] = []  # (seconds in, RSS MB, (files, sockets))
    latencies: list[float] = []
    wrong: list[str] = []
    valid_ok = bad_ok = 0
    every = round(1 / bad_share)

    backlog: list[tuple[float, int]] = []  # (seconds into the steady run, rows pending)
    backlog_sampler: asyncio.Task[None] | None = None  # (started after the warm-up)

    async def sample_backlog() -> None:
        while True:
            backlog.append((time.perf_counter() - started, pending(paths.database_file)))
            await asyncio.sleep(0.1)

    async def sample() -> None:
        start = time.perf_counter()
        while True:
            samples.append((time.perf_counter() - start, rss_mb(app.pid), handles(app.pid)))
            await asyncio.sleep(sample_every)

    def connect() -> dict[str, aiohttp.ClientSession]:
        return {addr: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, local_addr=(addr, 0)))
                for addr in [*SERVERS, STRANGER]}

    async def idle_handles() -> tuple[int, int]:
        """Open handles once every client has gone (the server has seen them close)."""
        await asyncio.gather(*tasks)
        for session in sessions.values():
            await session.close()
        await asyncio.sleep(1.5)
        return handles(app.pid)

    sessions = connect()
    tasks: set[asyncio.Task[None]] = set()

    async def one(n: int) -> None:
        nonlocal valid_ok, bad_ok
        t = time.perf_counter()
        try:
            if n % every == every - 1:
                where, body, headers, expect = bad_request(n // every, url)
                async with sessions[STRANGER].post(where, data=body, headers=headers) as r:
                    await r.read()
                    if r.status in expect:
                        bad_ok += 1
                    else:
                        wrong.append(f"bad #{n}: {r.status}, expected {expect}")
                return
            async with sessions[SERVERS[n % len(SERVERS)]].post(url, data=valid_body(n)) as r:
                await r.read()
                if r.status == 200:
                    valid_ok += 1
                else:
                    wrong.append(f"valid #{n}: {r.status}")
            latencies.append((time.perf_counter() - t) * 1000)
        except aiohttp.ClientError as exc:
            wrong.append(f"#{n}: {exc!r}")

    sampler = asyncio.create_task(sample())
    started = time.perf_counter()
    warm_up = min(1000, total // 10)  # then the database's connections are all open
    idle = [(0, 0), (0, 0)]  # open (files, sockets) with no client, after the warm-up and at the end
    for n in range(total):
        if n == warm_up:
            idle[0] = await idle_handles()
            sessions = connect()
            started = time.perf_counter() - n / rate
            backlog_sampler = asyncio.create_task(sample_backlog())
        await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
        task = asyncio.create_task(one(n))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        if n and n % 5000 == 0:
            s = samples[-1]
            print(f"  {n:>6} sent, {time.perf_counter() - started:5.0f} s: RSS {s[1]:.1f} MB, {s[2][0]} files, "
                  f"{s[2][1]} sockets",
                  flush=True)
    await asyncio.gather(*tasks)
    sent_for = time.perf_counter() - started
    db = paths.database_file
    while pending(db):
        await asyncio.sleep(0.02)
    caught_up = time.perf_counter() - started
    if backlog_sampler is not None:
        backlog_sampler.cancel()
    sampler.cancel()
    idle[1] = await idle_handles()
    status = subprocess.run([sys.executable, "-m", "app", "--data-dir", str(paths.data_dir), "status", "--json"],
                            capture_output=True, text=True, cwd=ROOT)
    reported = json.loads(status.stdout)
    app.terminate()
    await app.wait()

    valid = total - total // every
    rows, distinct, _ = inbox(db)
    marked = watched(db)
    half = len(samples) // 2
    first, second = samples[1:half], samples[half:]  # (the first sample is before any load)
    rss = (statistics.median(s[1] for s in first), statistics.median(s[1] for s in second))
    files = (max(s[2][0] for s in first), max(s[2][0] for s in second))
    sockets = (statistics.median(s[2][1] for s in first), statistics.median(s[2][1] for s in second))
    print(f"{total} webhooks at {rate:g}/s ({total // every} bad) sent in {sent_for:.0f} s; processing caught "
          f"up at {caught_up:.0f} s")
    steady_from = warm_up / rate  # (seconds in: the steady run's backlog, after the warm-up's)
    during = [b for t, b in backlog if steady_from <= t <= sent_for]
    print(f"backlog: most {max(during, default=0)} rows pending, {during[-1] if during else 0} at the last send "
          f"(one second's worth: {rate:g}); gone {caught_up - sent_for:.2f} s after the last 200")
    print(f"valid: {valid_ok}/{valid} answered 200; p50 {pct(latencies, 50):.1f} ms, p99 {pct(latencies, 99):.1f} ms, "
          f"max {max(latencies):.0f} ms")
    print(f"bad: {bad_ok}/{total // every} got their 4xx; status reports {reported['accepted']} accepted, "
          f"refused {reported['refused']}")
    print(f"inbox: {rows} rows, {distinct} distinct episodes; {marked} episodes marked watched")
    print(f"RSS median, first half / second half: {rss[0]:.1f} / {rss[1]:.1f} MB "
          f"(min {min(s[1] for s in samples[1:]):.1f}, max {max(s[1] for s in samples):.1f}); "
          f"{len(samples)} samples")
    print(f"open files, most: {files[0]} / {files[1]}; sockets, median: {sockets[0]:g} / {sockets[1]:g}; "
          f"with no client, after the warm-up / at the end: {idle[0][0]} / {idle[1][0]} files, "
          f"{idle[0][1]} / {idle[1][1]} sockets")
    failures = wrong[:10]
    if not valid_ok == valid == rows == distinct == marked == reported["accepted"]:
        failures.append("not every valid webhook was stored and marked exactly once")
    if rss[1] > rss[0] * 1.10:
        failures.append("memory grew by more than 10 % from the first half to the second")
    if files[1] > files[0] or idle[1][0] > idle[0][0]:
        failures.append("open files grew")
    if idle[1][1] > idle[0][1]:
        failures.append("sockets were left open")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--total", type=int, default=50_000)
    p.add_argument("--seconds", type=float, help="send for this long after the warm-up (instead of --total)")
    p.add_argument("--rate", type=float, default=100.0, help="requests a second")
    p.add_argument("--bad", type=float, default=0.05, help="share of malformed requests")
    p.add_argument("--sample-every", type=float, default=5.0, help="seconds")
    a = p.parse_args()
    total = 1000 + round(a.rate * a.seconds) if a.seconds else a.total
    sys.exit(asyncio.run(soak(total, a.rate, a.bad, a.sample_every)))


if __name__ == "__main__":
    main()
