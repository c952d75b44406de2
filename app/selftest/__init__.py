"""``scrobbletray --self-test``: proves that this installation (source or frozen) works.

It runs headless (Qt is never imported), offline (no tunnel; nothing leaves 127.0.0.1)
and on a temporary data folder that is removed afterwards: the user's data folder,
settings, keyring entries and tracker are never read or written. It starts the real
core, adds Breaking Bad to the tracker, posts a real Plex scrobble of S01E01 to its own
webhook over HTTP, waits until it is processed and checks that the episode was marked.
Each step is printed with its time; the exit code is 0 when every step passed, else 1.

``SCROBBLETRAY_SELFTEST_DATABASE_URL`` replaces the temporary SQLite database (the tests
use a broken URL to prove that the self-test can fail).

A windowed build has no stdout on Windows: the report then goes to the console of the
command prompt that started it (if any) and always to ``%TEMP%/scrobbletray-self-test.txt``.

The parts: :mod:`.report` (the steps as they finish, a timeout each), :mod:`.checks` (what
needs no running core: modules, bundled files, native libraries), :mod:`.end_to_end` (the
real core, a real scrobble over HTTP); here, where the report goes and the run itself.
"""

from __future__ import annotations

import asyncio
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

from app import __version__
from app.selftest.end_to_end import run
from app.selftest.report import Abort, Report, Stream

REPORT_FILE_NAME = "scrobbletray-self-test.txt"


def build_kind() -> str:
    """How this program runs: from source, or which kind of PyInstaller bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    if not getattr(sys, "frozen", False) or not bundle:
        return "from source"
    # One-file builds unpack into a fresh _MEIxxxxxx folder at every start.
    return "frozen, one-file" if Path(bundle).name.startswith("_MEI") else "frozen, one-folder"


def _open_output() -> tuple[Stream, Path | None]:
    """stdout; when a windowed Windows build has none, the parent console and a file."""
    if sys.stdout is not None:
        return sys.stdout, None
    file = Path(tempfile.gettempdir()) / REPORT_FILE_NAME
    streams: list[TextIO] = [open(file, "w", encoding="utf-8")]  # noqa: SIM115
    if sys.platform == "win32":
        try:
            import ctypes

            if ctypes.windll.kernel32.AttachConsole(-1):  # ATTACH_PARENT_PROCESS
                streams.append(open("CONOUT$", "w", encoding="utf-8"))  # noqa: SIM115
        except (OSError, AttributeError):
            pass
    return _Tee(streams), file


class _Tee:
    """A minimal text stream writing to several others."""

    def __init__(self, streams: list[TextIO]) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self) -> None:
        for s in self.streams:
            s.flush()


def run_self_test(out: TextIO | None = None) -> int:
    """Run the self-test, print the report; 0 if every step passed, else 1."""
    stream, copy = (out, None) if out is not None else _open_output()
    report = Report(stream)
    data_dir = Path(tempfile.mkdtemp(prefix="scrobbletray-selftest-"))
    report.line(f"Scrobble Tray {__version__} self-test")
    report.line(f"python {platform.python_version()} ({platform.python_implementation()}), "
                f"{sys.platform} {platform.machine()}, {build_kind()}")
    report.line(f"program: {sys.executable}")
    report.line(f"data folder: {data_dir} (temporary, removed afterwards)")
    started = time.perf_counter()
    failure: str | None = None
    try:
        asyncio.run(run(report, data_dir))
    except Abort as exc:
        failure = str(exc)
    except KeyboardInterrupt:
        failure = "interrupted"
    shutil.rmtree(data_dir, ignore_errors=True)
    if data_dir.exists():
        report.line(f"  warn  could not remove {data_dir}")
    total = (time.perf_counter() - started) * 1000
    failure = failure or (f"{report.failed[0].name}: {report.failed[0].detail}" if report.failed else None)
    if failure:
        report.line(f"SELF-TEST FAILED after {total:.0f} ms: {failure}")
    else:
        warned = sum(s.status == "warn" for s in report.steps)
        report.line(f"SELF-TEST PASSED: {len(report.steps)} steps in {total:.0f} ms"
                    + (f" ({warned} warning{'s' * (warned != 1)})" if warned else ""))
    if copy is not None:
        report.line(f"(this report is also in {copy})")
    stream.flush()
    return 1 if failure else 0
