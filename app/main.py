"""The entry point of ``scrobbletray`` and ``python -m app``: without a command the tray
app starts, with one the command line (:mod:`app.cli`) runs it.

The windows are started from here, not from :mod:`app.cli`, so that the command line
never imports :mod:`app.ui` (nor Qt): the one place that knows both faces is this one.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from app import cli
from app.cli.common import USER_ERRORS, CliError, error_exit


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = cli.parse(sys.argv[1:] if argv is None else argv)
    if args.command is not None or args.self_test:
        return cli.dispatch(args)
    paths, settings = cli.paths_and_settings(args)
    try:
        from app.display import display_problem

        if problem := display_problem():  # before Qt is loaded: Qt would abort with a message of its own
            raise CliError(problem)
        from app.ui.app import run

        return run(paths, settings, sys.argv)
    except USER_ERRORS as exc:
        return error_exit(exc, paths)
