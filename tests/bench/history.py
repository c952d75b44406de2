"""A heavy household's five years, run by hand: ``python tests/bench/history.py [--scale F]``.

Builds the data folder of issue 26 with ``tests/bench/growth.py`` (2 servers, 4 accounts,
3,000 shows with 150,000 episodes, 10,000 movies, 400,000 webhooks of every kind stored by
``Store.ingest`` and settled by the real pipeline, 20,000 deliveries per destination, 300
conflicts), every count times ``--scale`` (0.1 for a quick run). Then, in the same run, on
that folder and on a fresh one:

- ``scrobbles``, ``shows list``, ``conflicts list``, ``status``: fresh processes, best of 3;
- ``serve --no-tunnel --port 0``: from process start to its "Webhook URL" line, best of 3;
- each window (status, Recent scrobbles, Tracker, Conflicts, Diagnostics) opened offscreen
  on a started core: from construction to its data shown (its loading tasks done), and the
  longest gap of a 10 ms QTimer meanwhile (the worst UI stall).

Goals (issue 26): a window <= 300 ms and no stall over 50 ms, a command <= 100 ms more than
on the fresh folder, start-up within 10 % of the fresh folder's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.core.config import Paths, Settings, save_settings  # noqa: E402
from app.core.runtime import open_store  # noqa: E402
from tests.bench import growth  # noqa: E402

COMMANDS = (("scrobbles",), ("shows", "list"), ("conflicts", "list"), ("status",))
WINDOWS = ("status", "scrobbles", "tracker", "conflicts", "diagnostics")
FULL = {"SHOWS": growth.SHOWS, "MOVIES": growth.MOVIES, "UNKNOWN_SHOWS": growth.UNKNOWN_SHOWS,
        "DELIVERIES": growth.DELIVERIES}
EVENTS = 400_000


def settings() -> Settings:
    return Settings(port=0, rate_limit_per_minute=0, plex_location="this", auto_add_shows=False,
                    accepted_accounts=growth.ACCEPTED)


def scaled(scale: float) -> int:
    """Scale growth's household (its counts are module constants); the webhooks to send."""
    for name, full in FULL.items():
        setattr(growth, name, max(1, round(full * scale)))
    return max(50, round(EVENTS * scale))


def build_folder(folder: Path, scale: float, years: float = 5.0, seed: int = 1) -> dict[str, float]:
    """Fill ``folder`` with the household's ``years`` (see the module's docstring)."""
    events = scaled(scale)
    paths = Paths(folder)
    save_settings(paths, settings())
    store = open_store(paths, settings())
    try:
        return growth.build(store, growth.Household(random.Random(seed)), events, years)
    finally:
        store.sessions.kw["bind"].dispose()


def scrobbletray() -> list[str]:
    exe = Path(sys.executable).parent / "scrobbletray"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "app.main"]


def env(folder: Path) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out.update(SCROBBLETRAY_HOME=str(folder), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
               QT_QPA_PLATFORM="offscreen")
    return out


def run_once(argv: list[str], folder: Path) -> float:
    t = time.perf_counter()
    proc = subprocess.run(argv, env=env(folder), capture_output=True, text=True, check=False)
    took = time.perf_counter() - t
    if proc.returncode not in (0, 3):  # (3: status's "not running", as here)
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return took


def serve_once(folder: Path) -> float:
    """From process start to the line with the webhook URL."""
    t = time.perf_counter()
    proc = subprocess.Popen([*scrobbletray(), "serve", "--no-tunnel", "--port", "0"], env=env(folder),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("Webhook URL"):
                return time.perf_counter() - t
        raise RuntimeError(f"serve ended without a webhook URL ({proc.wait()})")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def best_of(runs: int, jobs: dict[str, Any]) -> dict[str, float]:
    """Each job's best time, the jobs taking turns (after one warm-up round)."""
    seen: dict[str, list[float]] = {name: [] for name in jobs}
    for round_ in range(runs + 1):
        for name, job in jobs.items():
            took = job()
            if round_:
                seen[name].append(took)
    return {name: min(times) for name, times in seen.items()}


async def open_windows(folder: Path) -> dict[str, tuple[float, float]]:
    """Each window on a started core: (ms to its data shown, longest 10 ms tick gap in ms)."""
    from app.core.facade import Core
    from app.ui.controller import UiController
    from app.ui.tasks import running_tasks
    from tests.bench.ui_stall import TickRecorder

    core = Core(Paths(folder), settings())
    await core.start()
    ui = UiController(core, tray_available=True)
    out: dict[str, tuple[float, float]] = {}
    try:
        for name in WINDOWS:
            ticks = TickRecorder()
            ticks.start()
            await asyncio.sleep(0.05)
            started = time.perf_counter()
            window = getattr(ui, f"show_{name}")()
            await asyncio.sleep(0)  # (its first tasks start)
            deadline = started + 60
            while (running_tasks() or getattr(window, "loading", False) or getattr(window, "running", False)):
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"{name}: still loading after 60 s: {running_tasks()}")
                await asyncio.sleep(0.001)
            took = time.perf_counter() - started
            await asyncio.sleep(0.03)
            gaps = ticks.stop()
            out[name] = (took * 1000, max(gaps, default=0.0))
            window.close()
    finally:
        ui.close()
        await core.stop()
    return out


def windows_child(folder: Path) -> None:
    import qasync
    from PySide6.QtWidgets import QApplication

    from app.ui.app import prefer_ui_thread

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    prefer_ui_thread()  # as app.ui.app.run does
    app.setQuitOnLastWindowClosed(False)  # (each window is closed after its turn)
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        result = runner.run(open_windows(folder))
    print("WINDOWS " + json.dumps(result), flush=True)


def windows(folder: Path) -> dict[str, tuple[float, float]]:
    """Run :func:`open_windows` in a fresh process (as a user opening the app would)."""
    proc = subprocess.run([sys.executable, __file__, "--windows-child", str(folder)], env=env(folder),
                          capture_output=True, text=True, check=False, timeout=600)
    for line in proc.stdout.splitlines():
        if line.startswith("WINDOWS "):
            return {k: (v[0], v[1]) for k, v in json.loads(line[8:]).items()}
    raise RuntimeError(f"windows child failed: {proc.stderr[-1500:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="every count times this (0.1: a quick run)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="the household's folder: built here if empty, else reused")
    parser.add_argument("--windows-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.windows_child:
        windows_child(args.windows_child)
        return
    heavy = args.keep or Path(tempfile.mkdtemp(prefix="history-"))
    fresh = Path(tempfile.mkdtemp(prefix="history-fresh-"))
    save_settings(Paths(fresh), settings())
    if not Paths(heavy).database_file.exists():
        print(f"building the household at scale {args.scale:g} in {heavy}", flush=True)
        times = build_folder(heavy, args.scale)
        print("built in " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()), flush=True)
    f = growth.figures(Paths(heavy).database_file)
    print(f"household: {f['events']:,} webhooks, {f['conflicts']} open conflicts, {f['deliveries']:,} deliveries, "
          f"file {growth.mb(f['file'])}", flush=True)

    jobs: dict[str, Any] = {}
    for cmd in COMMANDS:
        for label, folder in (("fresh", fresh), ("heavy", heavy)):
            jobs[f"{' '.join(cmd)} {label}"] = lambda c=cmd, d=folder: run_once([*scrobbletray(), *c], d)
    for label, folder in (("fresh", fresh), ("heavy", heavy)):
        jobs[f"serve {label}"] = lambda d=folder: serve_once(d)
    times = best_of(args.runs, jobs)
    print(f"\n| command (best of {args.runs}) | fresh | heavy | difference |\n|---|---|---|---|")
    for line in [*(" ".join(c) for c in COMMANDS), "serve"]:
        a, b = times[f"{line} fresh"], times[f"{line} heavy"]
        print(f"| `scrobbletray {line}` | {a * 1000:.0f} ms | {b * 1000:.0f} ms | "
              f"{(b - a) * 1000:+.0f} ms ({b / a - 1:+.0%}) |")

    w_fresh, w_heavy = windows(fresh), windows(heavy)
    print("\n| window | fresh: shown / longest stall | heavy: shown / longest stall |\n|---|---|---|")
    for name in WINDOWS:
        (a, sa), (b, sb) = w_fresh[name], w_heavy[name]
        print(f"| {name} | {a:.0f} ms / {sa:.0f} ms | {b:.0f} ms / {sb:.0f} ms |")
    print(f"\ndata folders: heavy {heavy}" + ("" if args.keep else " (temporary)") + f", fresh {fresh}")


if __name__ == "__main__":
    main()
