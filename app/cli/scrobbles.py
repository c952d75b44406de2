"""``scrobbletray scrobbles``: recent webhooks and what became of them."""

from __future__ import annotations

import argparse

from app.cli.common import emit, read, whole
from app.core.config import Paths, Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sc = sub.add_parser("scrobbles", help="recent webhooks and what became of them")
    sc.add_argument("--limit", type=whole(1, 10_000), default=20)
    sc.add_argument("--action", choices=["marked", "rewatch", "counted", "duplicate", "ignored", "conflict",
                                         "failed", "undone"])
    sc.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    emit(read(paths, settings, lambda core: core.scrobbles(limit=args.limit, action=args.action)),
         ("id", "received_at", "kind", "account_title", "plex_title", "season", "episode", "action",
          "reason", "show_title"), args.json)
    return 0
