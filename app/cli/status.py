"""``scrobbletray status``: what the running app says about itself, as its status window does.

Exit codes: 0 running, 1 running but in trouble (the headline is an error), 3 not running.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from app.cli.common import read
from app.core.config import Paths, Settings
from app.core.plain import plain
from app.core.types import DestinationStatus
from app.present.state import destination_words

NOT_RUNNING = 3


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("status", help="is it running, can Plex reach it, what it received and refused "
                       "(exit 1: in trouble, 3: not running)")
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    from app.cli.common import running_state
    from app.core import status_file
    from app.core.timefmt import ago
    from app.present.formatting import plex_text
    from app.present.state import TrayState, summarize

    running = running_state(paths)
    found = status_file.read(paths) if running else None
    if not running or found is None:
        if args.json:
            print(json.dumps({"running": False}))
        else:
            print("Scrobble Tray is not running.")
        return NOT_RUNNING
    status, stats, written_at, pid = found
    summary = summarize(status, see="Destinations below")
    rows = [d for d in read(paths, settings, lambda core: core.destinations()) if d.kind != "builtin"]
    if args.json:
        print(json.dumps({"running": True, "pid": pid, "state": summary.state.value, "headline": summary.headline,
                          "details": summary.details, "fix": status.database_fix,
                          "host": status.host, "port": status.port, "public_url": running["public_url"],
                          "accepted": stats.accepted, "refused": dict(stats.refused),
                          "last_webhook_at": stats.last_webhook_at.isoformat() if stats.last_webhook_at else None,
                          "database_problem": status.database_problem, "database_held": status.database_held,
                          "conflicts_open": status.conflicts_open,
                          "destinations": [_destination(d) for d in rows]}, indent=2))
    else:
        lines = [f"Scrobble Tray is running (pid {pid}), listening on {status.host} port {status.port}.",
                 summary.headline, *(f"  {d}" for d in summary.details)]
        if status.database_problem:
            lines.append(f"  Fix: {status.database_fix}.")
        elif status.database_notice:
            lines.append(f"  {status.database_notice}")
        if running["public_url"]:
            lines.append(f"Public URL: {running['public_url']} (the webhook path: scrobbletray webhook-url)")
        last = (f"last {ago(stats.last_webhook_at)}" + (f" from {stats.last_server}" if stats.last_server else "")
                + (f" ({stats.last_source})" if stats.last_source else "")) if stats.last_webhook_at else "none yet"
        lines.append(f"Webhooks: {stats.accepted} accepted, {last}.")
        lines.append(f"Refused: {stats.rejected} (" + ", ".join(f"{n} {why}" for why, n in stats.refused) + ")."
                     if stats.rejected else "Refused: none.")
        lines.append(f"Plex: {plex_text(status.plex)}.")
        if rows:
            lines.append("Destinations:")
        for d in rows:
            _, said, fix = destination_words(d)
            lines.append(f"  {d.id} ({d.label}): {said}" + (f"\n    Fix: {fix}" if fix else ""))
        if written_at:
            lines.append(f"(as of {ago(written_at)})")
        print("\n".join(lines))
    return 1 if summary.state is TrayState.ERROR else 0


def _destination(d: DestinationStatus) -> dict[str, Any]:
    """One destination as ``status --json`` gives it: what the status window shows of it."""
    row = plain(d, local=False)
    _, row["said"], row["fix"] = destination_words(d)
    return dict(row)
