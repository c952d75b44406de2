"""``scrobbletray accounts ...``: whose plays go where (each accepted account's route)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from app.cli.common import change, table, text
from app.core.config import Paths, Settings
from app.core.plain import plain


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    a = sub.add_parser("accounts", help="whose plays go where: each accepted account and its destinations"
                       ).add_subparsers(dest="action", metavar="ACTION")
    a.required = True
    al = a.add_parser("list", help="each accepted account (the owner first), its ids, its destinations")
    al.add_argument("--json", action="store_true", help="print JSON")
    ar = a.add_parser("route", help="send an account's plays to these destinations only "
                                    "(the built-in tracker keeps every accepted play, with whose it was)")
    ar.add_argument("account", type=text(200), help="an accepted account's name or id, or owner")
    ar.add_argument("destinations", nargs="+", type=text(100), metavar="DESTINATION_ID",
                    help="destination ids (see 'destinations list'), or all, or none")


def _line(row: dict[str, Any]) -> dict[str, Any]:
    where = "all" if row["everywhere"] else ", ".join(row["destinations"]) or "none (routed nowhere)"
    return {**row, "ids": ", ".join(row["ids"]), "destinations": where, "warning": row["warning"] or ""}


def run(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    if args.action == "list":  # (asked of the running app when it runs: it knows the servers' accounts)
        rows = plain(change(paths, settings, "accounts"))
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            print(table([_line(r) for r in rows], ("account", "ids", "destinations", "warning")))
        return 0
    row = change(paths, settings, "route_account", account=args.account, destinations=args.destinations)
    said = _line(plain(row))
    print(f"warning: {said['warning']}." if said["warning"] else
          f"{said['account']}: plays go to {said['destinations']}.")
    return 0
