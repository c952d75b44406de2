"""Does the UI stall under load? Also: start-up time and idle memory.

    python tests/bench/ui_stall.py [--webhooks 1000] [--senders 4]

1. Stall: the real core, the status window and the Recent scrobbles window (visible,
   updating live) run on one qasync loop, as in the app. A separate process posts N
   webhooks over HTTP; a 10 ms QTimer records when it fires. The longest gap between
   two ticks is how long the UI was frozen at worst (target: under 50 ms).
2. Start-up: the real app (``app.ui.app.run``) in a fresh process; time from starting
   the process to its tray icon (or, with no tray, its status window) being shown, and
   to the core listening.
3. Idle memory: that process's resident set size a few seconds after start.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"

import aiohttp  # noqa: E402
import qasync  # noqa: E402
from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QSystemTrayIcon  # noqa: E402

from app.core.config import Paths, Settings  # noqa: E402
from app.core.facade import Core  # noqa: E402
from app.ui.app import freeze_startup_objects, prefer_ui_thread  # noqa: E402
from app.ui.controller import UiController  # noqa: E402
from tests.helpers import BREAKING_BAD, episode_payload, post  # noqa: E402


class TickRecorder:
    """A 10 ms QTimer whose firing times show how long the event loop was blocked."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(lambda: self.times.append(time.perf_counter()))

    def start(self) -> None:
        self.times.clear()
        self.timer.start()

    def stop(self) -> list[float]:
        self.timer.stop()
        return [(b - a) * 1000 for a, b in pairwise(self.times)]


def sender(url: str, n: int, senders: int) -> dict[str, Any]:
    """Post ``n`` episode scrobbles from this process's own event loop (not the UI's)."""
    payloads = [episode_payload(1 + i // 100, 1 + i % 100) for i in range(n)]
    done: dict[str, Any] = {}

    async def go() -> None:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for p in payloads:
            queue.put_nowait(p)
        async with aiohttp.ClientSession() as session:
            async def worker() -> None:
                while not queue.empty():
                    status, body = await post(url, queue.get_nowait(), session=session)
                    if status != 200:
                        done.setdefault("errors", []).append((status, body[:100]))
            await asyncio.gather(*(worker() for _ in range(senders)))
    started = time.perf_counter()
    asyncio.run(go())
    done["seconds"] = time.perf_counter() - started
    return done


def sender_child(url: str, n: int, senders: int) -> int:
    done = sender(url, n, senders)
    print(f"POSTED {done['seconds']:.3f} {len(done.get('errors', []))}", flush=True)
    return 0


async def until(condition: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("timed out")
        await asyncio.sleep(0.05)


async def stall(n: int, senders: int) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="scrobbletray-stall-"))
    core = Core(Paths(data), Settings(port=0, rate_limit_per_minute=0))
    await core.start()
    assert core.runtime.store is not None
    await core.runtime.run(core.runtime.store.add_show, **BREAKING_BAD)
    ui = UiController(core, tray_available=QSystemTrayIcon.isSystemTrayAvailable())
    ui.show_status()
    window = ui.show_scrobbles()
    await until(lambda: not window.loading)
    freeze_startup_objects()  # as app.ui.app.main does once started

    url = core.best_webhook_url()
    assert url
    ticks = TickRecorder()
    ticks.start()
    started = time.perf_counter()
    # A separate process: the HTTP clients must not compete with the UI for this one's GIL.
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--sender-child", url, str(n), str(senders),
        stdout=asyncio.subprocess.PIPE)
    posted = asyncio.ensure_future(child.communicate())

    async def processed() -> int:
        counts = await core.counts()
        return counts.scrobbles_24h if counts.pending == 0 else -1

    while True:
        await asyncio.sleep(0.1)
        if posted.done() and await processed() == n:
            break
        if time.perf_counter() - started > 300:
            raise TimeoutError("webhooks not processed in 5 minutes")
    # Until the table shows the last one too.
    await until(lambda: window.model.rowCount() and window.model.row(0).action == "marked"
                and window.model.row(0).episode == 1 + (n - 1) % 100 and not window.loading)
    total = time.perf_counter() - started
    out = (await posted)[0].decode().split()
    done = {"seconds": float(out[1]), "errors": int(out[2])} if out[:1] == ["POSTED"] else {"errors": -1}
    gaps = ticks.stop()
    rows = window.model.rowCount()
    ui.close()
    await core.stop()
    gaps_sorted = sorted(gaps)
    return {
        "webhooks": n, "errors": done["errors"], "post_seconds": done.get("seconds", float("nan")),
        "total_seconds": total, "table_rows": rows, "ticks": len(gaps) + 1,
        "longest_gap_ms": max(gaps), "p99_gap_ms": gaps_sorted[int(len(gaps) * 0.99)],
        "median_gap_ms": statistics.median(gaps),
        "gaps_over_50ms": sum(g > 50 for g in gaps),
    }


# -- start-up and idle memory: the real app in a child process ------------------------------
def startup_child(data_dir: str) -> int:
    """Run the real app; report when it is shown, when it listens, and its idle RSS."""
    from app.core.config import load_settings
    from app.ui import app as ui_app
    from app.ui.status_window import StatusWindow

    app = QApplication(sys.argv[:1])  # run() reuses it; made here so the probe timer can exist
    marks: dict[str, float] = {}
    probe = QTimer()
    probe.setInterval(2)

    def check() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, StatusWindow)]
        if "shown" not in marks and windows:
            tray_shown = any(isinstance(o, QSystemTrayIcon) and o.isVisible()
                             for o in windows[0].parent().findChildren(QSystemTrayIcon)) \
                if windows[0].parent() else False
            if windows[0].isVisible() or tray_shown:
                marks["shown"] = time.time()
                print(f"SHOWN {marks['shown']:.6f} {'tray' if tray_shown else 'window'}", flush=True)
        if "shown" in marks and "listening" not in marks and windows[0].core.status.server == "listening":
            marks["listening"] = time.time()
            print(f"LISTENING {marks['listening']:.6f}", flush=True)
            QTimer.singleShot(4000, report_rss)
            probe.setInterval(200)

    def report_rss() -> None:
        rss_kb = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                      if line.startswith("VmRSS:"))
        print(f"RSS {rss_kb}", flush=True)
        app.quit()

    probe.timeout.connect(check)
    probe.start()
    paths = Paths(data_dir)
    return ui_app.run(paths, load_settings(paths) if paths.settings_file.exists() else Settings(port=0),
                      sys.argv[:1])


def startup(runs: int = 3) -> dict[str, Any]:
    results = []
    for _ in range(runs):
        data = tempfile.mkdtemp(prefix="scrobbletray-start-")
        started = time.time()
        out = subprocess.run([sys.executable, __file__, "--startup-child", data], capture_output=True,
                             text=True, timeout=60, env=os.environ | {"PYTHONDONTWRITEBYTECODE": "1"})
        marks = {line.split()[0]: line.split()[1:] for line in out.stdout.splitlines()
                 if line.split() and line.split()[0] in ("SHOWN", "LISTENING", "RSS")}
        if out.returncode != 0 or len(marks) != 3:
            raise SystemExit(f"start-up child failed ({out.returncode}):\n{out.stdout}\n{out.stderr[-2000:]}")
        results.append({"shown_ms": (float(marks["SHOWN"][0]) - started) * 1000,
                        "shown_as": marks["SHOWN"][1],
                        "listening_ms": (float(marks["LISTENING"][0]) - started) * 1000,
                        "rss_mb": int(marks["RSS"][0]) / 1024})
    return {"runs": results,
            "shown_ms_median": statistics.median(r["shown_ms"] for r in results),
            "listening_ms_median": statistics.median(r["listening_ms"] for r in results),
            "idle_rss_mb_median": statistics.median(r["rss_mb"] for r in results)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--startup-runs", type=int, default=3)
    parser.add_argument("--startup-child", metavar="DATA_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--sender-child", nargs=3, metavar=("URL", "N", "SENDERS"), help=argparse.SUPPRESS)
    parser.add_argument("--slow-callbacks", action="store_true",
                        help="log every loop callback that blocks for 20 ms or more (asyncio debug mode)")
    args = parser.parse_args()
    if args.startup_child:
        return startup_child(args.startup_child)
    if args.sender_child:
        return sender_child(args.sender_child[0], int(args.sender_child[1]), int(args.sender_child[2]))

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    prefer_ui_thread()  # as app.ui.app.run does
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app), debug=args.slow_callbacks) as runner:
        if args.slow_callbacks:
            import logging
            logging.basicConfig(level=logging.WARNING)
            runner.get_loop().slow_callback_duration = 0.02
        s = runner.run(stall(args.webhooks, args.senders))
    print(f"Stall test: {s['webhooks']} webhooks over HTTP ({s['errors']} errors) with the status and "
          f"Recent scrobbles windows open")
    print(f"  posted in {s['post_seconds']:.1f} s; all processed and shown in {s['total_seconds']:.1f} s "
          f"({s['table_rows']} rows in the table)")
    print(f"  10 ms timer: {s['ticks']} ticks; longest gap {s['longest_gap_ms']:.1f} ms "
          f"(target < 50 ms), p99 {s['p99_gap_ms']:.1f} ms, median {s['median_gap_ms']:.1f} ms, "
          f"{s['gaps_over_50ms']} gaps over 50 ms")
    st = startup(args.startup_runs)
    shown_as = st["runs"][0]["shown_as"]
    print(f"Start-up ({args.startup_runs} runs, median): {'tray icon' if shown_as == 'tray' else 'status window'} "
          f"shown {st['shown_ms_median']:.0f} ms after the process started; core listening at "
          f"{st['listening_ms_median']:.0f} ms")
    print(f"Idle memory 4 s after start: RSS {st['idle_rss_mb_median']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
