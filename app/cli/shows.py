"""``scrobbletray shows ...`` and ``episodes``: the tracker's shows and their episodes."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.common import change, emit, read, text, whole
from app.core.config import Paths, Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    shows = sub.add_parser("shows", help="the tracker's shows").add_subparsers(dest="action", metavar="ACTION")
    shows.required = True
    a = shows.add_parser("add", help="add a show")
    a.add_argument("title", type=text())
    a.add_argument("--year", type=whole(1900, 2100))
    for name in ("tmdb", "tvdb", "anidb"):
        a.add_argument(f"--{name}", type=whole(0, 10**11 - 1), dest=f"{name}_id",
                       help=f"{name.upper()} id")
    a.add_argument("--imdb", dest="imdb_id", type=text(100), help="IMDb id (tt...)")
    i = shows.add_parser("import", help="add shows from a JSON list of {title, year, tmdb_id, tvdb_id, imdb_id} "
                                        "or a CSV file with those columns")
    i.add_argument("file", type=Path)
    ls = shows.add_parser("list", help="list shows")
    ls.add_argument("--search", type=text(500), help="only titles containing this")
    ls.add_argument("--json", action="store_true", help="print JSON")

    e = sub.add_parser("episodes", help="a show's episodes and their watched state")
    e.add_argument("--show", type=whole(), required=True, help="show id (see 'shows list')")
    e.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    if args.command == "shows":
        if args.action == "add":
            show = change(paths, settings, "add_show", title=args.title, year=args.year, tmdb_id=args.tmdb_id,
                          tvdb_id=args.tvdb_id, imdb_id=args.imdb_id, anidb_id=args.anidb_id)
            print(f"Added show #{show['id']}: {show['title']}")
        elif args.action == "import":
            result = change(paths, settings, "import_shows", path=str(args.file.absolute()))
            print(f"Imported {result['added']} shows ({result['skipped']} already in the tracker).")
        else:
            emit(read(paths, settings, lambda core: core.list_shows(search=args.search)),
                 ("id", "title", "year", "tmdb_id", "tvdb_id", "imdb_id", "watched_episodes"), args.json)
    elif args.command == "episodes":
        emit(read(paths, settings, lambda core: core.episodes(args.show)),
             ("season", "number", "title", "watched", "watch_count", "last_watched_at"), args.json)
    return 0
