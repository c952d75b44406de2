"""A big import, then a start, run by hand: ``python tests/bench/big_import.py [--shows N] [--title-chars N]``.

Writes N shows (200,000 by default) with titles of random words as long as asked (470
characters by default: before the caps, 105 MB of them took each later start 208 s and
3 GB before the first webhook was processed), in files the importer takes (at most
``show_files.MAX_BYTES`` and ``store.shows.MAX_SHOWS`` each), imports them with
``scrobbletray shows import``, then starts ``scrobbletray serve`` and prints: the time
to listening, the time until a webhook posted then is processed (the match index is
built for it), and the server's resident memory then (VmRSS) and at its peak (VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.core.config import Paths, Settings, save_settings  # noqa: E402
from app.core.show_files import MAX_BYTES  # noqa: E402
from app.core.store.shows import MAX_SHOWS  # noqa: E402
from tests.bench.bench import free_port, wait_line  # noqa: E402
from tests.helpers import episode_payload, post  # noqa: E402


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid``, in MB."""
    found = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(found["VmRSS"].split()[0]) / 1024, int(found["VmHWM"].split()[0]) / 1024


def write_files(folder: Path, n: int, chars: int, rng: random.Random) -> list[Path]:
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(6000)]

    def title() -> str:
        out = ""
        while len(out) < chars:
            out += rng.choice(words) + " "
        return out[:chars].strip().title()
    shows = [{"title": title(), "year": rng.randint(1950, 2025), "tmdb_id": 10_000_000 + i} for i in range(n)]
    per_file = min(MAX_SHOWS, max(1, MAX_BYTES * 9 // 10 // (chars + 60)))
    files = []
    for start in range(0, n, per_file):
        path = folder / f"shows-{start // per_file + 1}.json"
        path.write_text(json.dumps(shows[start:start + per_file]), encoding="utf-8")
        files.append(path)
    return files


def last_action(db: Path) -> str | None:
    con = sqlite3.connect(db)
    try:
        row = con.execute("SELECT action FROM webhook_events ORDER BY id DESC LIMIT 1").fetchone()
        return row[0] if row else None
    finally:
        con.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shows", type=int, default=200_000)
    parser.add_argument("--title-chars", type=int, default=470)
    parser.add_argument("--post-after", type=float, default=0.0,
                        help="seconds after listening before the webhook (the index is built at start meanwhile)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp())
    paths = Paths(tmp / "data")
    save_settings(paths, Settings(rate_limit_per_minute=0, plex_location="this", auto_add_shows=False))
    cli = [sys.executable, "-m", "app", "--data-dir", str(paths.data_dir)]
    files = write_files(tmp, args.shows, args.title_chars, random.Random(7))
    size = sum(f.stat().st_size for f in files) / 2**20
    print(f"{args.shows:,} shows, titles of {args.title_chars} characters: {len(files)} file(s), {size:.0f} MB")
    started = time.perf_counter()
    for f in files:
        done = subprocess.run([*cli, "shows", "import", str(f)], capture_output=True, text=True, cwd=ROOT)
        print(f"  {f.name}: {(done.stdout or done.stderr).strip()}")
    print(f"import: {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    server = await asyncio.create_subprocess_exec(
        *cli, "serve", "--port", str(free_port()), "--no-tunnel",
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        url = (await wait_line(server, "Webhook URL")).split(": ", 1)[1].strip()
        listening = time.perf_counter() - started
        await asyncio.sleep(args.post_after)
        posted = time.perf_counter()
        status, _ = await post(url, episode_payload(1, 1, title="Nothing Like Any Of Them"))
        assert status == 200, status
        while last_action(paths.database_file) is None:
            await asyncio.sleep(0.05)
        processed = time.perf_counter() - posted
        rss, peak = memory_mb(server.pid)
    finally:
        server.terminate()
        await server.wait()
    print(f"start-up to listening: {listening:.1f} s")
    print(f"first webhook processed (the index built): {processed:.1f} s after it was posted, "
          f"{listening + args.post_after + processed:.1f} s after the start")
    print(f"server memory: {rss:.0f} MB resident, {peak:.0f} MB at its peak")


if __name__ == "__main__":
    asyncio.run(main())
