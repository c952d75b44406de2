"""Relay benchmark, run by hand: ``python tests/bench/relay.py`` (figures go in the README).

- Throughput: a backlog of N webhooks relayed to a local target (events/s, from the first
  acknowledgement to the last delivery).
- Latency: webhooks at a steady 20/s; for each, the time from Plex's ``200`` to the
  target receiving it (p50/p99).
- A backlog of 1,000 after an outage, into a rate-limited target: drain time and 429s.
- The acknowledgement path with a relay target configured, against the same server with
  none, in the same run (32 clients): a relay must not slow the ``200`` down.

The target is an aiohttp app in this process that reads the multipart body and answers
200, like a web tracker with no rate limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.core.config import Paths, RelayTarget, Settings, save_settings  # noqa: E402
from app.core.destinations.relay import EVENT_ID_HEADER  # noqa: E402
from app.core.runtime import open_store  # noqa: E402
from tests.bench.bench import free_port, load, pct, wait_line  # noqa: E402
from tests.helpers import episode_payload, form  # noqa: E402


class Target:
    """Records when each event id arrived."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            await part.read()
        self.arrived.setdefault(int(request.headers[EVENT_ID_HEADER]), time.perf_counter())
        return web.json_response({"status": "success"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/plex/webhook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/api/plex/webhook?secret={'ab' * 32}"

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


async def serve(relays: list[RelayTarget]) -> tuple[asyncio.subprocess.Process, str, Paths]:
    paths = Paths(Path(tempfile.mkdtemp()) / "data")
    save_settings(paths, Settings(rate_limit_per_minute=0, relays=relays))
    open_store(paths, Settings()).add_show(title="Breaking Bad", year=2008, tmdb_id=1396)
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "--data-dir", str(paths.data_dir), "serve", "--port", str(port),
        "--no-tunnel", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    line = await wait_line(proc, "Webhook URL")
    return proc, line.split(": ", 1)[1].strip(), paths


async def stop(proc: asyncio.subprocess.Process) -> None:
    proc.terminate()
    await proc.wait()


async def post(session: aiohttp.ClientSession, url: str, n: int) -> tuple[int, float]:
    async with session.post(url, data=form(episode_payload(1 + n // 1000, 1 + n % 1000))) as r:
        body = await r.text()
        assert r.status == 200, body
        return int(json.loads(body)["id"]), time.perf_counter()


async def until(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise RuntimeError("timed out")
        await asyncio.sleep(0.01)


async def bench_throughput(target: Target, n: int) -> None:
    target.arrived = {}  # every run has a new database: event ids start again
    proc, url, _ = await serve([RelayTarget("relay-1", target.url)])
    try:
        async with aiohttp.ClientSession() as session:
            sem = asyncio.Semaphore(32)

            async def one(i: int) -> tuple[int, float]:
                async with sem:
                    return await post(session, url, i)
            sent = await asyncio.gather(*(one(i) for i in range(n)))
        first = min(t for _, t in sent)
        await until(lambda: all(e in target.arrived for e, _ in sent), 600)
        elapsed = max(target.arrived[e] for e, _ in sent) - first
        print(f"relay throughput: {n} webhooks relayed in {elapsed:.2f} s = {n / elapsed:.0f} events/s")
    finally:
        await stop(proc)


async def bench_latency(target: Target, seconds: float, rate: float = 20.0) -> None:
    target.arrived = {}
    proc, url, _ = await serve([RelayTarget("relay-1", target.url)])
    try:
        sent: list[tuple[int, float]] = []
        async with aiohttp.ClientSession() as session:
            start = time.perf_counter()
            tasks = []
            for i in range(int(seconds * rate)):
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
                tasks.append(asyncio.create_task(post(session, url, 5000 + i)))
            sent = await asyncio.gather(*tasks)
        await until(lambda: all(e in target.arrived for e, _ in sent), 60)
        lat = [(target.arrived[e] - t) * 1000 for e, t in sent]
        print(f"delivery latency at a steady {rate:.0f} webhooks/s ({len(sent)} events), "
              f"from Plex's 200 to the target: p50 {pct(lat, 50):.1f} ms  p99 {pct(lat, 99):.1f} ms")
    finally:
        await stop(proc)


async def bench_backlog(n: int) -> None:
    """A backlog after an outage, into a tracker that allows 100 requests per window (the
    reference's 100 a minute, on a 1-second window): how many 429s, how long."""
    from tests.fake_tracker import FakeTracker

    async with FakeTracker(secret="ab" * 32, limit=100, window=1.0) as tracker:
        tracker.mode = "refuse"
        proc, url, paths = await serve([RelayTarget("relay-1", tracker.url)])
        try:
            async with aiohttp.ClientSession() as session:
                for i in range(n):
                    await post(session, url, i)
            store = open_store(paths, Settings())
            await until(lambda: store.delivery_stats().get("relay-1") is not None
                        and store.delivery_stats()["relay-1"].pending == n, 60)
            tracker.mode = "ok"
            up = time.monotonic()
            await until(lambda: store.delivery_stats()["relay-1"].pending == 0, 600)
        finally:
            await stop(proc)
        ok = [r for r in tracker.requests if r.status == 200]
        limited = sum(1 for r in tracker.requests if r.status == 429)
        drain = ok[-1].at - ok[0].at
        print(f"backlog of {n} after an outage, into a target allowing 100 a second: first delivery "
              f"{ok[0].at - up:.1f} s after it came back (the back-off), then drained in {drain:.1f} s "
              f"({n / drain:.0f}/s), {limited} answers of 429, {len(ok)} delivered")


async def bench_ack(target: Target, total: int, rounds: int = 3) -> None:
    """Alternate the two servers ``rounds`` times (the machine is shared): median figures."""
    runs: dict[str, list[dict[str, float]]] = {"no relay": [], "one relay": []}
    for _ in range(rounds):
        for name, relays in (("no relay", []), ("one relay", [RelayTarget("relay-1", target.url)])):
            proc, url, paths = await serve(relays)
            try:
                await load(url, 300)  # warm-up
                runs[name].append(await load(url, total))
                store = open_store(paths, Settings())
                while store.pending_count():
                    await asyncio.sleep(0.05)
            finally:
                await stop(proc)
    med = {name: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p99")}
           for name, rs in runs.items()}
    for name, m in med.items():
        print(f"  {name:9s}: {m['rps']:7.0f} req/s  p50 {m['p50']:6.1f} ms  p99 {m['p99']:6.1f} ms  "
              f"(median of {rounds})")
    ratios = sorted(b["rps"] / a["rps"] for a, b in zip(runs["no relay"], runs["one relay"], strict=True))
    print(f"  ratio (one relay / none): median {statistics.median(ratios):.2f}, "
          f"range {ratios[0]:.2f}-{ratios[-1]:.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    target = Target()
    await target.start()
    try:
        await bench_throughput(target, args.events)
        await bench_latency(target, args.seconds)
        await bench_backlog(1000)
        print(f"webhook acknowledgement ({args.requests} requests, 32 clients, alternating):")
        await bench_ack(target, args.requests)
    finally:
        await target.stop()


if __name__ == "__main__":
    asyncio.run(main())
