"""Idle memory of the tray app and of ``serve``, run by hand: ``python tests/bench/memory.py``.

Each process starts on a new data folder (Plex's place already said, so the set-up does
not open; its database made by a command first), is started once, then again (as at any
start after the first: the first also asks the keyring, ~9 MB; and a first start without
a database loads alembic to create it, ~11 MB), is left alone ``--settle`` seconds, then
its resident memory is read from ``/proc/PID/status``: VmRSS (all resident pages, shared libraries included) and RssAnon
(its own heap: what it alone costs). Then its CPU time over ``--idle`` more seconds, per
minute. The tray app runs with a tray (as on a desktop: ``tray_available=True``, the
status window hidden), on the display in ``$DISPLAY`` through xcb (e.g. ``Xvfb :77 &``,
``DISPLAY=:77``) and offscreen. ``--before DIR`` measures another checkout's app in the
same run (e.g. ``git archive <commit> app | tar -x -C DIR``).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Starts the tray app as ``python -m app`` does, but with a tray (a bare X server has none).
TRAY = """
import sys
from pathlib import Path
from app.core.config import Paths, load_settings
from app.ui.app import run
paths = Paths(Path(sys.argv[1]))
sys.exit(run(paths, load_settings(paths), sys.argv[:1], tray_available=True))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_folder() -> Path:
    """A data folder whose settings say where Plex is (no set-up wizard) on a free port."""
    folder = Path(tempfile.mkdtemp()) / "data"
    folder.mkdir()
    (folder / "settings.json").write_text(f'{{"plex_location": "this", "port": {free_port()}}}')
    subprocess.run([sys.executable, "-m", "app", "--data-dir", str(folder), "shows", "list"], cwd=ROOT,
                   stdout=subprocess.DEVNULL, check=True)
    return folder


def status(pid: int) -> dict[str, int]:
    """The kB figures of ``/proc/PID/status``."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if value.strip().endswith("kB"):
            found[key] = int(value.split()[0])
    return found


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(argv: list[str], cwd: Path, env: dict[str, str], settle: float, idle: float) -> str:
    """The figures of the second start of ``argv`` (the first asks the keyring once)."""
    first = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(settle)
    first.terminate()
    first.wait(15)
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(settle)
        if proc.poll() is not None:
            return f"exited {proc.returncode}: {proc.stderr.read().decode()[-300:] if proc.stderr else ''}"
        st = status(proc.pid)
        before = cpu_s(proc.pid)
        time.sleep(idle)
        per_minute = (cpu_s(proc.pid) - before) / idle * 60
        return (f"{st['VmRSS'] / 1024:6.1f} MB RSS  {st['RssAnon'] / 1024:5.1f} MB private (RssAnon)  "
                f"idle CPU {per_minute * 1000:4.0f} ms/min")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settle", type=float, default=7.0)
    ap.add_argument("--idle", type=float, default=30.0)
    ap.add_argument("--before", type=Path, help="a checkout of another version to measure in the same run")
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "QT_QPA_PLATFORM")}
    versions = [("this", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
    platforms = (["xcb"] if env.get("DISPLAY") else []) + ["offscreen"]
    print(f"idle memory after {args.settle:.0f} s, CPU over the next {args.idle:.0f} s "
          f"(python {sys.version.split()[0]}, a new data folder):")
    for name, where in versions:
        for platform in platforms:
            folder = fresh_folder()
            said = measure([sys.executable, "-c", TRAY, str(folder)], where,
                           {**env, "QT_QPA_PLATFORM": platform, "PYTHONPATH": str(where)}, args.settle, args.idle)
            print(f"  tray app ({platform:9s}, {name:6s}): {said}")
        folder = fresh_folder()
        said = measure([sys.executable, "-m", "app", "--data-dir", str(folder), "serve", "--no-tunnel"], where,
                       env, args.settle, args.idle)
        print(f"  serve    ({'':9s}  {name:6s}): {said}")


if __name__ == "__main__":
    main()
