"""One door: whether the app runs or not, the CLI tells what the windows tell and changes
what the running app does (its destinations' state, their pauses, retry, conflicts), and
one core runs per data folder."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app import cli
from app.core.config import Paths, Settings, load_settings, save_settings
from app.core.destinations.sender import Timing
from app.core.facade import Core
from app.core.types import DestinationState
from tests.fake_tracker import FakeTracker
from tests.helpers import episode_payload, post, wait_for, webhook_url

ROOT = Path(__file__).parents[1]
SECRET = "cd" * 32
FAST = Timing(timeout=1.0, backoff_base=0.05, backoff_cap=0.3)


@pytest.fixture
async def tracker() -> AsyncIterator[FakeTracker]:
    t = FakeTracker(secret=SECRET, limit=0)
    await t.start()
    yield t
    await t.stop()


async def _cli(paths: Paths, capsys: Any, *args: str) -> tuple[int, str]:
    """The command line, in this process but on a thread of its own (as a second process
    would, it finds the running core by its lock, status file and local door)."""
    capsys.readouterr()
    code = await asyncio.to_thread(cli.main, ["--data-dir", str(paths.data_dir), *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


async def _relay(paths: Paths, capsys: Any) -> dict[str, Any]:
    code, out = await _cli(paths, capsys, "destinations", "list", "--json")
    assert code == 0, out
    return next(d for d in json.loads(out) if d["id"] == "relay-1")


async def test_a_wrong_secret_is_seen_from_the_cli_and_its_pause_outlives_a_restart(
        paths: Paths, tracker: FakeTracker, capsys: Any) -> None:
    wrong = tracker.url.replace(SECRET, "00" * 32)
    core = Core(paths, Settings(port=0, rate_limit_per_minute=0), timing=FAST)
    await core.start()
    try:
        await core.add_relay(wrong)
        for n in range(1, 6):
            assert (await post(webhook_url(core), episode_payload(1, n)))[0] == 200
        await wait_for(lambda: core.status.destinations_failing == 1, timeout=10)
        # The running app's senders, as the CLI tells them (it was "delivering", no reason).
        await wait_for(lambda: (paths.data_dir / "status.json").read_text().count('"paused"'), timeout=5)
        relay = await _relay(paths, capsys)
        assert relay["state"] == "paused" and "HTTP 403" in relay["reason"] and "secret" in relay["fix"]
        assert (relay["failed"], relay["pending"]) == (3, 2)
        code, out = await _cli(paths, capsys, "status")
        assert "relay-1 (" in out and "Paused: every event is refused" in out and "Fix: " in out
        assert "see the status window" not in out and SECRET not in out and "00" * 32 not in out
        code, out = await _cli(paths, capsys, "status", "--json")
        [row] = json.loads(out)["destinations"]
        assert row["state"] == "paused" and row["said"].startswith("Paused") and row["fix"]
    finally:
        await core.stop()

    # Not running: the pause is still there, with its reason and fix.
    relay = await _relay(paths, capsys)
    assert relay["state"] == "paused" and "HTTP 403" in relay["reason"]
    sent = len(tracker.requests)
    again = Core(paths, load_settings(paths), timing=FAST)  # (the relay is in the settings file)
    await again.start()
    try:
        [status] = [d for d in await again.destinations() if d.id == "relay-1"]
        assert status.state is DestinationState.PAUSED and again.status.destinations_failing == 1
        await asyncio.sleep(0.5)
        assert len(tracker.requests) == sent  # paused at start: nothing sent until Retry
        # Retry from the CLI reaches the running app: it sends again at once.
        code, out = await _cli(paths, capsys, "destinations", "retry", "relay-1")
        assert code == 0 and "queued again" in out
        await wait_for(lambda: len(tracker.requests) > sent, timeout=10)
    finally:
        await again.stop()


async def test_conflicts_on_the_cli_are_the_ones_the_dialog_shows(paths: Paths, capsys: Any) -> None:
    """With the built-in tracker on, its conflicts; resolving one from the CLI while the app
    runs goes through the running app (the dialog's count moves with it)."""
    core = Core(paths, Settings(port=0, rate_limit_per_minute=0, auto_add_shows=False))
    await core.start()
    try:
        assert (await post(webhook_url(core), episode_payload(1, 1, title="Nowhere Show")))[0] == 200
        await wait_for(lambda: core.status.conflicts_open == 1, timeout=10)
        code, out = await _cli(paths, capsys, "conflicts", "list", "--json")
        [conflict] = json.loads(out)
        assert [c.id for c in await core.conflicts()] == [conflict["id"]]
        code, out = await _cli(paths, capsys, "conflicts", "resolve", str(conflict["id"]), "--create")
        assert code == 0 and "marked" in out
        assert core.status.conflicts_open == 0  # the running app was told, not just its database
    finally:
        await core.stop()


async def _serve(paths: Paths, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "--data-dir", str(paths.data_dir), "serve", "--port", "0", "--no-tunnel",
        *extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)


async def test_one_core_per_data_folder_and_the_second_says_which_holds_it(paths: Paths) -> None:
    save_settings(paths, Settings(port=0))
    first = await _serve(paths)
    try:
        assert first.stdout is not None
        while b"Webhook URL" not in await asyncio.wait_for(first.stdout.readline(), 30):
            pass
        second = await _serve(paths)
        _, err = await asyncio.wait_for(second.communicate(), 30)
        assert second.returncode == 2
        assert f"already runs on the data folder {paths.data_dir} (process {first.pid})" in err.decode()
        assert "Traceback" not in err.decode()
        # The first still runs, and its status file is still there for 'scrobbletray status'.
        assert first.returncode is None and (paths.data_dir / "status.json").exists()
        status = subprocess.run([sys.executable, "-m", "app", "--data-dir", str(paths.data_dir), "status"],
                                capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert status.returncode == 0 and f"(pid {first.pid})" in status.stdout
    finally:
        first.send_signal(signal.SIGTERM)
        await asyncio.wait_for(first.wait(), 30)
    assert first.returncode == 0 and not (paths.data_dir / "status.json").exists()
    assert not (paths.data_dir / "control.json").exists()


def test_the_lock_is_released_by_a_process_that_dies(paths: Paths) -> None:
    from app.core.instance import AlreadyRunning, InstanceLock, holder

    script = ("import os, sys; from app.core.config import Paths; from app.core.instance import InstanceLock; "
              f"InstanceLock(Paths({str(paths.data_dir)!r})).acquire(); print('held', flush=True); "
              "sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            cwd=ROOT, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        assert holder(paths) == proc.pid
        with pytest.raises(AlreadyRunning):
            InstanceLock(paths).acquire()
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # no tidying up: the OS lets go of the lock
        proc.wait()
    assert holder(paths) is None
    lock = InstanceLock(paths)
    lock.acquire()
    lock.release()


async def test_a_stop_is_bounded_by_work_still_running(paths: Paths, monkeypatch: Any) -> None:
    """A batch still running on a loaded machine (here: 4 s of it on the database thread,
    more queued behind) never holds a quit: each step waits at most STOP_WAIT."""
    import threading
    import time

    from app.core import runtime

    monkeypatch.setattr(runtime, "STOP_WAIT", 0.5)
    core = Core(paths, Settings(port=0))
    await core.start()
    ran: list[int] = []
    holding = threading.Event()

    def batch(n: int) -> None:
        holding.set()
        time.sleep(4)
        ran.append(n)
    for n in range(5):  # the first holds the thread; the others would each take as long
        core.runtime._db_thread.submit(batch, n)
        if n == 0:  # (start-up's own work may be ahead of it: the first must be the one running)
            assert await asyncio.to_thread(holding.wait, 30)
    started = time.monotonic()
    await core.stop()
    took = time.monotonic() - started
    assert took < 10, f"stop took {took:.1f} s"  # (unbounded: 20 s, the five batches)
    await wait_for(lambda: ran, timeout=20)
    await asyncio.sleep(1)
    assert ran == [0]  # what was queued behind it was dropped, not run after the quit


def test_what_a_run_leaves_in_the_working_folder_is_never_committed() -> None:
    """A run from the checkout once left its database and state file at the root, and
    they were committed."""
    tracked = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert not [f for f in tracked.splitlines() if f.endswith((".sqlite3", ".db")) or
                Path(f).name in ("state.json", "status.json", "control.json", "settings.json")]
    names = ["scrobbletray.sqlite3", "scrobbletray.sqlite3-wal", "state.json", "status.json", "settings.json"]
    ignored = subprocess.run(["git", "check-ignore", *names], capture_output=True, text=True, cwd=ROOT).stdout
    assert ignored.split() == names


def test_the_windows_and_the_cli_use_the_facade_only() -> None:
    """No window or command reaches around the façade: not the runtime, not the database
    service, not the Plex link or the catch-up behind it (tests may)."""
    import re

    faces = [*ROOT.glob("app/ui/**/*.py"), *ROOT.glob("app/cli/**/*.py"), ROOT / "app/main.py",
             ROOT / "app/core/headless.py", *ROOT.glob("app/selftest/*.py")]
    around = re.compile(r"\.runtime\b|app\.core\.(runtime|store)\b|"
                        r"(?<!app\.)core\.((run|store|tracker)\b(?!_)|(plex|catch_up)\.)")
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}" for path in faces
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if around.search(line)]
    assert found == []


def test_every_change_the_cli_makes_can_reach_the_running_app() -> None:
    import re

    from app.core.facade import REMOTE

    asked = {m.group(1) for path in ROOT.glob("app/cli/*.py")
             for m in re.finditer(r'change\(paths, settings, "(\w+)"', path.read_text(encoding="utf-8"))}
    asked |= {m.group(1) for path in ROOT.glob("app/cli/*.py")
              for m in re.finditer(r'control\.call\(paths, "(\w+)"', path.read_text(encoding="utf-8"))}
    assert asked and asked <= set(REMOTE), asked - set(REMOTE)


async def test_changes_from_the_cli_take_effect_in_the_running_app(paths: Paths, tracker: FakeTracker,
                                                                   capsys: Any) -> None:
    core = Core(paths, Settings(port=0, rate_limit_per_minute=0), timing=FAST)
    await core.start()
    try:
        code, out = await _cli(paths, capsys, "shows", "add", "Breaking Bad", "--year", "2008", "--tmdb", "1396")
        assert code == 0, out
        code, out = await _cli(paths, capsys, "destinations", "add-relay", tracker.url, "--label", "Web tracker")
        assert code == 0 and "Added relay-1" in out, out
        assert [d.id for d in await core.destinations()] == ["builtin", "relay-1"]  # its sender runs now
        assert (await post(webhook_url(core), episode_payload(1, 1)))[0] == 200
        await wait_for(lambda: tracker.accepted, timeout=10)  # matched (the new show) and relayed at once
        assert [o.action for o in await core.scrobbles()] == ["marked"]
        code, out = await _cli(paths, capsys, "destinations", "remove", "relay-1")
        assert code == 0 and [d.id for d in await core.destinations()] == ["builtin"]
    finally:
        await core.stop()
