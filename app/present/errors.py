"""Errors into words, one way for the CLI and the windows."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.errors import AppError

if TYPE_CHECKING:
    from app.core.config import Paths


def error_text(exc: BaseException, with_fix: bool = True, fix_apart: bool = False) -> str:
    """``exc`` as a sentence for the user, with its fix when it carries one (after it, or
    with ``fix_apart`` on a line of its own, as the CLI prints it). An error not meant for
    the user (a bug) says so, with its type, and points at the log."""
    if not isinstance(exc, (AppError, OSError)) and not getattr(exc, "fix", None):
        return f"Something went wrong: {type(exc).__name__}: {exc}".rstrip(": ") + " (see the log file)"
    said = str(exc).strip() or type(exc).__name__
    fix = getattr(exc, "fix", None) if with_fix else None
    if fix and fix not in said:
        said = f"{said}\n{fix}" if fix_apart else f"{said.rstrip('.')}. {fix}"
    return said


def data_folder_problem(exc: OSError, paths: Paths) -> str | None:
    """The sentence for an error writing the data folder (with the fix), else None."""
    unwritable = (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR)
    if exc.errno in unwritable and exc.filename and Path(exc.filename).is_relative_to(paths.data_dir):
        return (f"cannot write to the data folder {paths.data_dir} ({exc.strerror}). Choose a folder "
                "you can write to with --data-dir DIR (or SCROBBLETRAY_HOME).")
    return None
