"""How long a reading command takes, run by hand: ``python tests/bench/cli_speed.py [--runs N]``.

Times ``python -c pass`` and each reading command (``shows list``, ``scrobbles``,
``status``, ``destinations list``) as fresh processes, best of N wall times, on a fresh
data folder and on one with a few thousand rows (``--shows`` shows, ``--events``
processed webhooks), alternating so both see the same machine; then prints the slowest
imports of ``shows list`` (``python -X importtime``, cumulative, top 15). The goal of
issue 26: each command at most 0.25 s more than ``python -c pass`` in the same run.

``--before DIR`` times the same commands run from another checkout too (e.g. ``git archive
<commit> app | tar -x -C DIR``), in the same run. The commands run with their bytecode
cached, as installed (``PYTHONDONTWRITEBYTECODE`` is dropped for them: with it, each run
compiles every module of the app again, ~0.1 s).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.core.config import Paths, Settings  # noqa: E402
from app.core.runtime import open_store  # noqa: E402
from tests.helpers import episode_payload  # noqa: E402

COMMANDS = (("shows", "list"), ("scrobbles",), ("status",), ("destinations", "list"))


def filled(folder: Path, shows: int, events: int) -> Paths:
    """A data folder with ``shows`` shows and ``events`` webhooks, processed."""
    paths = Paths(folder)
    store = open_store(paths, Settings())
    store.import_shows([{"title": f"Show number {n}", "year": 1990 + n % 30} for n in range(shows)])
    items: list[tuple[str, str | None]] = [
        (json.dumps(episode_payload(1 + n // 20 % 5, 1 + n % 20, title=f"Show number {n % shows}")), None)
        for n in range(events)]
    for start in range(0, len(items), 500):
        store.ingest(items[start:start + 500])
    while store.process_pending(limit=500):
        pass
    return paths


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def once(argv: list[str], cwd: Path) -> tuple[float, float]:
    """One run of ``argv`` in ``cwd`` (output thrown away): its wall time and its CPU time
    (user and system, steadier than wall time on a shared machine), in seconds."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, env=ENV)
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0  # (reaped here)
    return time.perf_counter() - t, usage.ru_utime + usage.ru_stime


def best(jobs: dict[str, tuple[list[str], Path]], runs: int) -> dict[str, tuple[float, float]]:
    """The best wall and CPU times of each job over ``runs`` rounds (after one to warm up),
    the jobs taking turns in each round so that all of them see the same machine."""
    seen: dict[str, list[tuple[float, float]]] = {name: [] for name in jobs}
    for round_ in range(runs + 1):
        for name, (argv, cwd) in jobs.items():
            took = once(argv, cwd)
            if round_:
                seen[name].append(took)
    return {name: (min(w for w, _ in times), min(c for _, c in times)) for name, times in seen.items()}


def slowest_imports(argv: list[str], top: int = 15) -> list[tuple[int, str]]:
    """The ``top`` imports of ``argv`` with the largest cumulative time (microseconds, name)."""
    err = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True, text=True,
                         cwd=ROOT, env=ENV, check=False).stderr
    rows = []
    for line in err.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = line.split("|")
            rows.append((int(cumulative), name.rstrip()))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--shows", type=int, default=3000)
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--before", type=Path, help="a checkout of another version to time in the same run")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    fresh = Paths(tmp / "fresh")
    open_store(fresh, Settings())  # migrated once, as after a first start
    full = filled(tmp / "full", args.shows, args.events)
    env_note = f"python {sys.version.split()[0]}, {os.cpu_count()} cores, best of {args.runs}, taking turns"
    py = sys.executable
    versions = [("this", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
    jobs = {"pass": ([py, "-c", "pass"], ROOT),
            "floor": ([py, "-c", "import asyncio, sqlalchemy.orm, app.core.models"], ROOT)}
    for command in COMMANDS:
        for name, where in versions:
            for label, paths in (("fresh", fresh), ("full", full)):
                jobs[f"{' '.join(command)} ({name}) {label}"] = (
                    [py, "-m", "app", "--data-dir", str(paths.data_dir), *command], where)
    found = best(jobs, args.runs)
    base, floor = found["pass"], found["floor"]
    print(f"reading commands ({env_note}); wall ms (+ over python -c pass), CPU ms")
    print(f"  {'python -c pass':31s} {base[0] * 1000:6.0f} ms        {base[1] * 1000:5.0f} ms CPU")
    print(f"  {'floor: ORM + tables imported':31s} {floor[0] * 1000:6.0f} ms {(floor[0] - base[0]) * 1000:+5.0f}  "
          f"{floor[1] * 1000:5.0f} ms CPU   (import asyncio, sqlalchemy.orm, app.core.models)")
    print(f"  {'command':31s} {'fresh folder':>28s}   {'full folder':>28s}")
    for command in COMMANDS:
        for name, _ in versions:
            cells = []
            for label in ("fresh", "full"):
                wall, cpu = found[f"{' '.join(command)} ({name}) {label}"]
                cells.append(f"{wall * 1000:6.0f} ms {(wall - base[0]) * 1000:+5.0f}  {cpu * 1000:5.0f} ms CPU")
            print(f"  {' '.join(command) + f' ({name})':31s} {cells[0]}   {cells[1]}")
    print(f"slowest imports of 'shows list' (cumulative, -X importtime, {args.shows} shows):")
    for micros, name in slowest_imports(["-m", "app", "--data-dir", str(full.data_dir), "shows", "list"]):
        print(f"  {micros / 1000:7.1f} ms {name}")


if __name__ == "__main__":
    main()
