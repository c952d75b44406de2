"""``scrobbletray scrobbles``: recent webhooks and what became of them."""

from __future__ import annotations

import argparse

from app.cli.common import emit, read, table, whole
from app.core.config import Paths, Settings
from app.core.plain import plain
from app.present.formatting import delivered_text


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sc = sub.add_parser("scrobbles", help="recent webhooks and what became of them")
    sc.add_argument("--limit", type=whole(1, 10_000), default=20)
    sc.add_argument("--action", choices=["marked", "rewatch", "counted", "duplicate", "ignored", "conflict",
                                         "failed", "undone"])
    sc.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    rows = read(paths, settings, lambda core: core.scrobbles(limit=args.limit, action=args.action))
    if args.json:  # (each row's deliveries say where it went)
        emit(rows, (), True)
        return 0
    shown = [{**plain(r), "delivered": delivered_text(r)} for r in rows]  # whose play, and where it went
    print(table(shown, ("id", "received_at", "kind", "account_title", "plex_title", "season", "episode", "action",
                        "delivered", "reason", "show_title")))
    return 0
