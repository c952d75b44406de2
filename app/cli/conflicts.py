"""``scrobbletray conflicts ...``: the Plex shows and movies waiting for the user's decision."""

from __future__ import annotations

import argparse

from app.cli.common import change, emit, read, whole
from app.core.config import Paths, Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    c = sub.add_parser("conflicts", help="Plex shows and movies waiting for your decision").add_subparsers(
        dest="action", metavar="ACTION")
    c.required = True
    cl = c.add_parser("list", help="list open conflicts")
    cl.add_argument("--all", action="store_true", help="resolved ones too")
    cl.add_argument("--json", action="store_true", help="print JSON")
    cr = c.add_parser("resolve", help="answer a conflict; its waiting scrobbles are applied")
    cr.add_argument("id", type=whole())
    how = cr.add_mutually_exclusive_group(required=True)
    how.add_argument("--show", type=whole(), dest="show_id", help="map to this tracker show")
    how.add_argument("--movie", type=whole(), dest="movie_id", help="map to this tracker movie (a movie's conflict)")
    how.add_argument("--create", action="store_true", help="create a tracker show (or movie) from the Plex data")
    how.add_argument("--ignore", action="store_true", help="ignore this Plex show (or movie) from now on")


def run(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    if args.action == "list":  # (the tracker that counts: the built-in one, or a PostgreSQL tracker's)
        emit(read(paths, settings, lambda core: core.conflicts(None if args.all else "open")),
             ("id", "kind", "plex_title", "plex_year", "type", "waiting", "status"), args.json)
    else:
        kind = "movie" if args.movie_id is not None else "show" if args.show_id is not None else None
        outcomes = change(paths, settings, "resolve_conflict", conflict_id=args.id,
                          show_id=args.show_id if args.movie_id is None else args.movie_id,
                          create=args.create, ignore=args.ignore, kind=kind)
        applied = ", ".join(f"#{o['event_id']} {o['action']}" for o in outcomes) or "none waiting"
        print(f"Conflict #{args.id} resolved. Waiting scrobbles: {applied}")
    return 0
