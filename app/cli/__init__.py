"""The ``scrobbletray`` command line (also ``python -m app``): a thin layer over the core.
Without a command, :mod:`app.main` starts the tray app instead; this package never
imports the windows.

This root assembles the parser from the command modules and dispatches to them through
:data:`COMMANDS`. Each command module (a leaf) has ``add_parser(sub)`` and ``run(args,
paths, settings) -> int`` and imports only :mod:`app.cli.common`, the core and
:mod:`app.present`: never this root, never another leaf.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from app import __version__
from app.cli import (
    accounts,
    config,
    conflicts,
    database,
    destinations,
    movies,
    plex,
    scrobbles,
    serve,
    shows,
    status,
    webhook,
)
from app.cli.common import USER_ERRORS, error_exit, text
from app.core.config import Paths, Settings, load_settings

#: Each command and the module that adds its parser and runs it, in the order of the help.
COMMANDS: dict[str, ModuleType] = {
    "serve": serve,
    "shows": shows, "episodes": shows,
    "movies": movies,
    "scrobbles": scrobbles,
    "conflicts": conflicts,
    "destinations": destinations,
    "accounts": accounts,
    "webhook-url": webhook, "secret": webhook,
    "plex": plex,
    "config": config,
    "status": status,
    "database": database,
}

_GLOBAL_VALUES = ("--data-dir", "--database-url", "--ngrok-path")
_GLOBAL_FLAGS = ("-v", "--verbose")


def _globals_first(argv: Sequence[str]) -> list[str]:
    """The global options moved before the command, so that ``serve --data-dir X`` works
    as ``--data-dir X serve`` does (argparse only takes them there)."""
    front: list[str] = []
    rest: list[str] = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            rest += [arg, *args]
            break
        if arg.split("=", 1)[0] in _GLOBAL_VALUES:
            front += [arg] if "=" in arg or not args else [arg, args.pop(0)]
        elif arg in _GLOBAL_FLAGS:
            front.append(arg)
        else:
            rest.append(arg)
    return front + rest


def _folder(value: str) -> Path:
    if not text(4096)(value).strip():  # Path("") would quietly be the current folder
        raise argparse.ArgumentTypeError("is empty (leave it out for the default data folder)")
    return Path(value)


def _command_named(args: Sequence[str]) -> str | None:
    """The command ``args`` (the global options first) name, or None when they name none
    (or ask for the help, the version or the self-test before it)."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.split("=", 1)[0] in _GLOBAL_VALUES:
            i += 1 if "=" in arg else 2
        elif arg in _GLOBAL_FLAGS:
            i += 1
        else:
            return arg if arg in COMMANDS else None
    return None


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``command``, only that command's part is built (the
    whole costs ~50 ms of argparse, a third of a reading command's own work)."""
    p = argparse.ArgumentParser(
        prog="scrobbletray",
        description="Scrobble Tray: marks episodes watched when Plex says you watched them. "
                    "Without a command, the tray app starts.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--data-dir", type=_folder, help="keep all data here (default: $SCROBBLETRAY_HOME "
                                                 "or the user data folder)")
    p.add_argument("--database-url", type=text(2000),
                   help="SQLAlchemy database URL (default: SQLite in the data folder)")
    p.add_argument("--ngrok-path", type=text(4096), help="use this ngrok agent instead of downloading one")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    p.add_argument("--self-test", action="store_true",
                   help="check that this installation works (headless, offline, on temporary data) and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for leaf in dict.fromkeys([COMMANDS[command]] if command in COMMANDS else COMMANDS.values()):
        leaf.add_parser(sub)
    return p


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """The command line read (the global options may come after the command)."""
    args = _globals_first(argv)
    return parser(_command_named(args)).parse_args(args)


def paths_and_settings(args: argparse.Namespace) -> tuple[Paths, Settings]:
    """The data folder and the saved settings, with the global options of this run applied."""
    paths = Paths(args.data_dir)
    settings = load_settings(paths)
    if args.database_url:
        settings.database_url = args.database_url
    if args.ngrok_path:
        settings.ngrok_path = args.ngrok_path
    return paths, settings


def main(argv: Sequence[str] | None = None) -> int:
    """The command line alone (``app.main.main`` is the entry point); returns the exit code."""
    return dispatch(parse(sys.argv[1:] if argv is None else argv))


def dispatch(args: argparse.Namespace) -> int:
    """Run the command ``args`` names (or the self-test); its exit code."""
    if args.self_test:
        from app.selftest import run_self_test
        return run_self_test()
    if args.command is None:  # the tray app is started by app.main, which imports the windows
        parser().error("a command is needed here (without one, 'scrobbletray' starts the tray app)")
    paths, settings = paths_and_settings(args)
    try:
        return COMMANDS[args.command].run(args, paths, settings)
    except BrokenPipeError:  # (piped into head, say: the reader had enough; not an error)
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # (no second error at exit)
        return 0
    except USER_ERRORS as exc:
        return error_exit(exc, paths)
