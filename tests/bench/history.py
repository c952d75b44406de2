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

``--pipeline``: the pipeline's cost per event on a copy of that folder and on a fresh one
with the same tracker (its 3,000 shows, 150,000 episodes and 10,000 movies, 1,000 webhooks):
the same new webhooks stored in each, then processed in the worker's batches of 20; CPU
and wall time per event, the folders taking turns.

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
#: The search boxes, by window: typed into once the window has loaded (a word found in many
#: titles, one in few, and one in none), from the keystroke to the results shown.
SEARCHES = {"scrobbles": lambda w: w.search, "tracker": lambda w: w.search, "movies": lambda w: w.movies.search,
            "conflicts": lambda w: w.search}
TYPED = ("the", "sky", "zqxv")
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


async def open_windows(folder: Path, after: float) -> dict[str, tuple[float, float]]:
    """Each window on a started core, ``after`` seconds after its start (the match index is
    built on the database thread meanwhile): (ms to its data shown, longest 10 ms tick gap
    in ms)."""
    from app.core.facade import Core
    from app.ui.app import freeze_startup_objects
    from app.ui.controller import UiController
    from app.ui.tasks import running_tasks
    from tests.bench.ui_stall import TickRecorder

    core = Core(Paths(folder), settings())
    await core.start()
    freeze_startup_objects()  # (as app.ui.app.main does after the start)
    await asyncio.sleep(after)
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
            if name == "tracker":
                window.tabs.setCurrentWidget(window.movies)
                await settle(window.movies, deadline)
            for box, search in SEARCHES.items():
                if box == name or (box == "movies" and name == "tracker"):
                    out[f"search {box}"] = await typing(search(window), window.movies if box == "movies" else window)
            window.close()
    finally:
        ui.close()
        await core.stop()
    return out


async def settle(window: Any, deadline: float) -> None:
    """Until every task the UI started has ended and ``window`` has loaded."""
    from app.ui.tasks import running_tasks

    def busy() -> bool:
        timers = [getattr(window, name, None) for name in ("_loader", "_searcher")]  # (Coalescers)
        return bool(running_tasks() or getattr(window, "loading", False)
                    or any(t is not None and t.busy for t in timers))

    await asyncio.sleep(0)
    while busy():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{window}: still loading after 60 s: {running_tasks()}")
        await asyncio.sleep(0.001)


async def typing(box: Any, window: Any) -> tuple[float, float]:
    """Each of :data:`TYPED` typed a character at a time (every 80 ms, a quick typist):
    ms from the last keystroke to its results shown, and the longest UI stall meanwhile
    (the worst over the words)."""
    from tests.bench.ui_stall import TickRecorder

    worst, stall = 0.0, 0.0
    for word in TYPED:
        box.clear()
        await settle(window, time.perf_counter() + 60)
        ticks = TickRecorder()
        ticks.start()
        for i in range(1, len(word) + 1):
            box.setText(word[:i])
            started = time.perf_counter()
            await asyncio.sleep(0.08 if i < len(word) else 0)
        await settle(window, started + 60)
        worst = max(worst, (time.perf_counter() - started) * 1000)
        stall = max(stall, *ticks.stop(), 0.0)
    box.clear()
    await settle(window, time.perf_counter() + 60)
    return worst, stall


def windows_child(folder: Path, settle: float) -> None:
    import qasync
    from PySide6.QtWidgets import QApplication

    from app.ui.app import prefer_ui_thread

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    prefer_ui_thread()  # as app.ui.app.run does
    app.setQuitOnLastWindowClosed(False)  # (each window is closed after its turn)
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        result = runner.run(open_windows(folder, settle))
    print("WINDOWS " + json.dumps(result), flush=True)


def windows(folder: Path, settle: float) -> dict[str, tuple[float, float]]:
    """Run :func:`open_windows` in a fresh process (as a user opening the app would)."""
    proc = subprocess.run([sys.executable, __file__, "--windows-child", str(folder), "--settle", str(settle)],
                          env=env(folder), capture_output=True, text=True, check=False, timeout=600)
    for line in proc.stdout.splitlines():
        if line.startswith("WINDOWS "):
            return {k: (v[0], v[1]) for k, v in json.loads(line[8:]).items()}
    raise RuntimeError(f"windows child failed: {proc.stderr[-1500:]}")


def pipeline(heavy: Path, rounds: int = 4, per_round: int = 1500) -> None:
    """Per-event processing cost, five years against a fresh folder with the same tracker."""
    import shutil
    import statistics

    from app.core.worker import BATCH

    work = Path(tempfile.mkdtemp(prefix="history-pipeline-"))
    copy, fresh = work / "heavy", work / "fresh"
    print(f"copying {heavy} for the pipeline run", flush=True)
    shutil.copytree(heavy, copy)
    scaled(1.0)
    paths = Paths(fresh)
    save_settings(paths, settings())
    store = open_store(paths, settings())
    growth.build(store, growth.Household(random.Random(1)), 1000, 0.01)
    store.sessions.kw["bind"].dispose()
    stores = {"fresh": open_store(Paths(fresh), settings()), "heavy": open_store(Paths(copy), settings())}
    house = growth.Household(random.Random(1))  # (the same titles as both trackers'...)
    house.rng, house.unknown_next = random.Random(7), growth.SHOWS + growth.UNKNOWN_SHOWS  # (...new sessions)
    seen: dict[str, list[tuple[float, float]]] = {name: [] for name in stores}
    try:
        for _ in range(rounds):
            batch: list[tuple[str, str | None]] = []
            while len(batch) < per_round:
                batch += [(json.dumps(p), "192.168.1.20") for p in house.session()]
            for name, store in stores.items():
                store.ingest(batch)
                cpu, wall, done = time.process_time(), time.perf_counter(), 0
                while outcomes := store.process_pending(BATCH):
                    done += len(outcomes)
                seen[name].append(((time.process_time() - cpu) / done * 1e6, (time.perf_counter() - wall) / done * 1e6))
    finally:
        for store in stores.values():
            store.sessions.kw["bind"].dispose()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n| per event ({rounds} rounds of {per_round:,} webhooks, median) | fresh | heavy | ratio |")
    print("|---|---|---|---|")
    for i, what in enumerate(("CPU", "wall")):
        a, b = (statistics.median(r[i] for r in seen[n]) for n in ("fresh", "heavy"))
        print(f"| {what} | {a:.0f} µs | {b:.0f} µs | {b / a:.2f} |")


def show_windows(fresh: Path, heavy: Path, settle: float) -> None:
    w_fresh, w_heavy = windows(fresh, settle), windows(heavy, settle)
    print(f"\n| window ({settle:g} s after start) | fresh: shown / longest stall | heavy: shown / longest stall |")
    print("|---|---|---|")
    for name in w_fresh:
        (a, sa), (b, sb) = w_fresh[name], w_heavy[name]
        print(f"| {name} | {a:.0f} ms / {sa:.0f} ms | {b:.0f} ms / {sb:.0f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="every count times this (0.1: a quick run)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="the household's folder: built here if empty, else reused")
    parser.add_argument("--only-windows", action="store_true", help="the windows and their searches only")
    parser.add_argument("--pipeline", action="store_true", help="the pipeline's cost per event only")
    parser.add_argument("--settle", type=float, default=0.0,
                        help="seconds between the core's start and the first window (0: at once)")
    parser.add_argument("--windows-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.windows_child:
        windows_child(args.windows_child, args.settle)
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

    if args.pipeline:
        pipeline(heavy)
        return
    if args.only_windows:
        show_windows(fresh, heavy, args.settle)
        return
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

    show_windows(fresh, heavy, args.settle)
    print(f"\ndata folders: heavy {heavy}" + ("" if args.keep else " (temporary)") + f", fresh {fresh}")


if __name__ == "__main__":
    main()
