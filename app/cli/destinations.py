"""``scrobbletray destinations ...``: where marks go, the built-in tracker and the relay
and PostgreSQL targets, over the settings file and the outbox (no running app needed)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from app.cli.common import CliError, emit
from app.core import config
from app.core.config import Paths, Settings
from app.core.tracker import Tracker


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    d = sub.add_parser("destinations", help="where marks go: the built-in tracker and relay targets"
                       ).add_subparsers(dest="action", metavar="ACTION")
    d.required = True
    dl = d.add_parser("list", help="every destination and what waits for it")
    dl.add_argument("--json", action="store_true", help="print JSON")
    da = d.add_parser("add-relay", help="relay Plex's webhooks to a web tracker's own webhook URL")
    da.add_argument("url", help="e.g. 'http://localhost:3000/api/plex/webhook?secret=...' (quote it)")
    da.add_argument("--only-watched", action="store_true",
                    help="only events Scrobble Tray counted as watched (default: every Plex event)")
    da.add_argument("--label", default="", help="a name to show for it")
    dk = d.add_parser("tmdb-key", help="a TMDB API key (or read access token): turns TheTVDB and IMDb "
                                       "ids into the tmdb_id a PostgreSQL tracker keys its shows on")
    dk.add_argument("key", nargs="?", help="the key (omit it with --clear)")
    dk.add_argument("--clear", action="store_true", help="forget the key")
    dp = d.add_parser("add-postgres", help="mark episodes straight in a tracker's PostgreSQL database")
    dp.add_argument("url", help="e.g. 'postgresql://user:password@localhost:5432/tracker' (the password "
                                "goes to the keyring)")
    dp.add_argument("--label", default="", help="a name to show for it")
    for verb, text in (("remove", "remove a relay target or PostgreSQL tracker, and its queue"),
                       ("test", "a relay: send a harmless test event; PostgreSQL: report the schema found"),
                       ("retry", "send the failed events again (and unpause)")):
        d.add_parser(verb, help=text).add_argument("id", help="see 'destinations list'")


def run(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    from app.core.facade import open_tracker

    tracker: Tracker = open_tracker(paths, settings)
    return _destinations(args, paths, settings, tracker)


def _destinations(args: argparse.Namespace, paths: Paths, settings: Settings, tracker: Tracker) -> int:
    """The destinations commands, over the settings file and the outbox (no running app needed)."""
    from app.core.destinations.manager import destination_rows
    from app.core.destinations.relay import Relay, redact_url

    if args.action == "list":
        emit(destination_rows(tracker), ("id", "kind", "state", "target", "pending", "delivered",
                                         "failed", "reason"), args.json)
        return 0
    if args.action == "add-relay":
        target = config.add_relay(settings, args.url, args.only_watched, args.label)
        if problems := settings.validate():
            raise CliError("; ".join(problems))
        config.save_settings(paths, settings)
        print(f"Added {target.id}: {redact_url(target.url)} "
              f"({'only watched episodes' if target.only_watched else 'every Plex event'}).")
        print("A running Scrobble Tray picks it up when restarted.")
        return 0
    if args.action == "tmdb-key":
        from app.core.credentials import set_secret
        from app.core.destinations.manager import TMDB_KEY

        if bool(args.key) == bool(args.clear):
            raise CliError("give the key, or --clear to forget it")
        where = set_secret(paths, TMDB_KEY, None if args.clear else args.key)
        print("TMDB key forgotten." if args.clear else f"TMDB key kept in {where}.")
        return 0
    if args.action == "add-postgres":
        from app.core.credentials import set_secret

        try:
            pg, password = config.add_postgres(settings, args.url, args.label)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        where = set_secret(paths, pg.secret_key, password) if password else None
        config.save_settings(paths, settings)
        print(f"Added {pg.id}: {pg.url}" + (f" (password kept in {where})" if where else ""))
        print(f"Check it: scrobbletray destinations test {pg.id}")
        return 0
    found = next((d for d in tracker.destinations if d.id == args.id), None)
    if found is None:
        raise CliError(f"there is no destination {args.id!r} (see 'destinations list')")
    if args.action == "remove":
        from app.core.credentials import set_secret

        settings.relays = [r for r in settings.relays if r.id != args.id]
        for pg in [p for p in settings.postgres if p.id == args.id]:
            set_secret(paths, pg.secret_key, None)
        settings.postgres = [p for p in settings.postgres if p.id != args.id]
        config.save_settings(paths, settings)
        tracker.forget_deliveries(args.id)
        print(f"Removed {args.id} and its queue.")
    elif args.action == "retry":
        n = tracker.retry_deliveries(args.id)
        print(f"{n} failed event(s) of {args.id} queued again; they are sent while Scrobble Tray runs.")
    elif isinstance(found, Relay):
        attempt = asyncio.run(_closing(found, found.test()))
        print(f"{found.shown_url}: {attempt.detail}" + (f"\n{attempt.fix}" if attempt.fix else ""))
        return 0 if attempt.verdict == "delivered" else 1
    else:
        checks = asyncio.run(_closing(found, found.checks()))
        for c in checks:
            print(f"{c.name}: {c.status.value}: {c.detail}" + (f"\n{c.fix}" if c.fix else ""))
        return 0 if all(c.status != "fail" for c in checks) else 1
    return 0


async def _closing(destination: Any, work: Any) -> Any:
    try:
        return await work
    finally:
        await destination.close()
