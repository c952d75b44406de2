"""``scrobbletray destinations ...``: where marks go, the built-in tracker and the relay
and PostgreSQL targets, over the settings file and the outbox (no running app needed)."""

from __future__ import annotations

import argparse
from app.cli.common import CliError, change, emit, read
from app.core.config import Paths, Settings


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
    """The destinations commands: questions go to the database, changes through the running
    app when there is one (it delivers at once), else to the settings file and the outbox."""
    from app.core.destinations.relay import redact_url

    if args.action == "list":  # (a running app's senders say their state: its status file)
        emit(read(paths, settings, lambda core: core.destinations()),
             ("id", "kind", "state", "target", "pending", "delivered", "failed", "reason", "fix"), args.json)
        return 0
    if args.action == "add-relay":
        rid = change(paths, settings, "add_relay", url=args.url, only_watched=args.only_watched, label=args.label)
        print(f"Added {rid}: {redact_url(args.url.strip())} "
              f"({'only watched episodes' if args.only_watched else 'every Plex event'}).")
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
        from app.core.config import load_settings
        from app.core.credentials import kept_in

        pid = change(paths, settings, "add_postgres", url=args.url, label=args.label)
        pg = next(p for p in load_settings(paths).postgres if p.id == pid)
        print(f"Added {pid}: {pg.url}" + (f" (password kept in {kept_in(paths, pg.secret_key)})"
                                          if pg.url != args.url.strip() else ""))
        print(f"Check it: scrobbletray destinations test {pid}")
        return 0
    if args.action == "remove":
        change(paths, settings, "remove_destination", destination_id=args.id)
        print(f"Removed {args.id} and its queue.")
    elif args.action == "retry":
        n = change(paths, settings, "retry_destination", destination_id=args.id)
        print(f"{n} failed event(s) of {args.id} queued again; they are sent while Scrobble Tray runs.")
    else:
        attempt = read(paths, settings, lambda core: core.test_destination(args.id))
        print(f"{args.id}: {attempt.detail}" + (f"\n{attempt.fix}" if attempt.fix else ""))
        return 0 if attempt.verdict == "delivered" else 1
    return 0
