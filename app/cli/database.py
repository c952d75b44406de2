"""``scrobbletray database compact``: drop the old raw webhooks nothing needs and shrink the
SQLite file, for good, while Scrobble Tray is not running (the running app does the same
in idle time, in small steps; a file made by an older version and too large to convert
while webhooks may arrive is converted here, with one VACUUM)."""

from __future__ import annotations

import argparse

from app.cli.common import read
from app.core.config import Paths, Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("database", help="the database file: compact it (while Scrobble Tray is not running)")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    actions.add_parser("compact", help="drop the old raw webhooks nothing needs (payload_retention_days) and "
                                       "shrink the file; from then on it gives freed space back by itself")


def run(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    done = read(paths, settings, lambda core: core.compact())  # (running: AlreadyRunning says so, with its fix)
    days = settings.payload_retention_days
    dropped = (f"{done.pruned:,} raw webhooks older than {days} days dropped (events that never count)" if days
               else "every raw webhook kept (payload_retention_days is 0)")
    print(f"{paths.database_file if not settings.database_url else 'The database'}: "
          f"{done.before_bytes / 1e6:,.1f} MB -> {done.after_bytes / 1e6:,.1f} MB; {dropped}. "
          "Freed space now goes back to the disk by itself.")
    return 0
