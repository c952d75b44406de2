"""``scrobbletray movies ...``: the tracker's movies."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.common import change, emit, read, text, whole
from app.core.config import Paths, Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    movies = sub.add_parser("movies", help="the tracker's movies").add_subparsers(dest="action", metavar="ACTION")
    movies.required = True
    a = movies.add_parser("add", help="add a movie")
    a.add_argument("title", type=text())
    a.add_argument("--year", type=whole(1900, 2100), required=True,
                   help="its year: remakes share titles, the year tells them apart")
    a.add_argument("--tmdb", type=whole(0, 10**11 - 1), dest="tmdb_id", help="TMDB id")
    a.add_argument("--imdb", dest="imdb_id", type=text(100), help="IMDb id (tt...)")
    i = movies.add_parser("import", help="add movies from a JSON list of {title, year, tmdb_id, imdb_id} "
                                         "or a CSV file with those columns")
    i.add_argument("file", type=Path)
    ls = movies.add_parser("list", help="list movies")
    ls.add_argument("--search", type=text(500), help="only titles containing this")
    ls.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    if args.action == "add":
        movie = change(paths, settings, "add_movie", title=args.title, year=args.year, tmdb_id=args.tmdb_id,
                       imdb_id=args.imdb_id)
        print(f"Added movie #{movie['id']}: {movie['title']} ({movie['year']})")
    elif args.action == "import":
        result = change(paths, settings, "import_movies", path=str(args.file.absolute()))
        print(f"Imported {result['added']} movies ({result['skipped']} already in the tracker).")
    else:
        emit(read(paths, settings, lambda core: core.list_movies(search=args.search)),
             ("id", "title", "year", "tmdb_id", "imdb_id", "watch_count", "last_watched_at"), args.json)
    return 0
