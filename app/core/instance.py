"""One running core per data folder.

Two cores on one folder would share one inbox and one status file: the second logs
"database locked" and whichever stops first deletes the other's ``status.json``. The
first core to start holds an OS lock on ``core.lock`` (released by the OS if the process
dies, so a crash never leaves a stale lock); a second is refused, naming the first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from app.core.config import Paths
from app.core.errors import AppError


class AlreadyRunning(AppError):
    """Another process runs a core on this data folder."""

    def __init__(self, folder: Path, pid: int | None) -> None:
        who = f"process {pid}" if pid else "another process"
        super().__init__(f"Scrobble Tray already runs on the data folder {folder} ({who})",
                         "Use the running one, stop it first, or give this one another folder with --data-dir.")
        self.pid = pid


def _path(paths: Paths) -> Path:
    return paths.data_dir / "core.lock"


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, 4096, os.SEEK_SET)  # a byte past the pid: Windows' locks keep others from reading
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="ascii").strip() or 0) or None
    except (OSError, ValueError):
        return None


class InstanceLock:
    """Held by the running core from start to stop."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`AlreadyRunning`."""
        if self._fd is not None:
            return
        self.paths.ensure()
        path = _path(self.paths)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if not _try_lock(fd):
            os.close(fd)
            raise AlreadyRunning(self.paths.data_dir, _pid_in(path))
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, str(os.getpid()).encode("ascii"))
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # (closing releases the lock)
            self._fd = None


def holder(paths: Paths) -> int | None:
    """The pid of the process running a core on this folder (0 if unknown), or None."""
    path = _path(paths)
    if not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        if _try_lock(fd):
            return None
        return _pid_in(path) or 0
    finally:
        os.close(fd)
