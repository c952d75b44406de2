"""The ``scrobbletray`` command (also ``python -m app``): a thin layer over the core."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import errno
import json
import sys
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Sequence

from app import __version__
from app.core import config
from app.core.config import Paths, Settings, port_problem
from app.core.db import DatabaseError
from app.core.tracker import Tracker, TrackerError
from app.core.urls import labelled_urls


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit code 2."""


_GLOBAL_VALUES = ("--data-dir", "--database-url", "--ngrok-path")
_GLOBAL_FLAGS = ("-v", "--verbose")


def _globals_first(argv: Sequence[str]) -> list[str]:
    """The global options moved before the command, so that ``serve --data-dir X`` works
    as ``--data-dir X serve`` does (argparse only takes them there)."""
    front: list[str] = []
    rest: list[str] = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            rest += [arg, *args]
            break
        if arg.split("=", 1)[0] in _GLOBAL_VALUES:
            front += [arg] if "=" in arg or not args else [arg, args.pop(0)]
        elif arg in _GLOBAL_FLAGS:
            front.append(arg)
        else:
            rest.append(arg)
    return front + rest


def _folder(text: str) -> Path:
    if not text.strip():  # Path("") would quietly be the current folder
        raise argparse.ArgumentTypeError("is empty (leave it out for the default data folder)")
    return Path(text)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="scrobbletray",
        description="Scrobble Tray: marks episodes watched when Plex says you watched them. "
                    "Without a command, the tray app starts.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--data-dir", type=_folder, help="keep all data here (default: $SCROBBLETRAY_HOME "
                                                 "or the user data folder)")
    p.add_argument("--database-url", help="SQLAlchemy database URL (default: SQLite in the data folder)")
    p.add_argument("--ngrok-path", help="use this ngrok agent instead of downloading one")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    p.add_argument("--self-test", action="store_true",
                   help="check that this installation works (headless, offline, on temporary data) and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("serve", help="run headless: webhook server and processing, no window")
    s.add_argument("--port", type=int, help=f"listen on this port (default {config.DEFAULT_PORT})")
    s.add_argument("--host", help="listen on this address (default 127.0.0.1; 0.0.0.0 for the LAN)")
    s.add_argument("--no-tunnel", action="store_true", help="do not open the ngrok tunnel")

    shows = sub.add_parser("shows", help="the tracker's shows").add_subparsers(dest="action", metavar="ACTION")
    shows.required = True
    a = shows.add_parser("add", help="add a show")
    a.add_argument("title")
    a.add_argument("--year", type=int)
    for name in ("tmdb", "tvdb", "anidb"):
        a.add_argument(f"--{name}", type=int, dest=f"{name}_id", help=f"{name.upper()} id")
    a.add_argument("--imdb", dest="imdb_id", help="IMDb id (tt...)")
    i = shows.add_parser("import", help="add shows from a JSON list of {title, year, tmdb_id, tvdb_id, imdb_id} "
                                        "or a CSV file with those columns")
    i.add_argument("file", type=Path)
    ls = shows.add_parser("list", help="list shows")
    ls.add_argument("--search", help="only titles containing this")
    ls.add_argument("--json", action="store_true", help="print JSON")

    e = sub.add_parser("episodes", help="a show's episodes and their watched state")
    e.add_argument("--show", type=int, required=True, help="show id (see 'shows list')")
    e.add_argument("--json", action="store_true", help="print JSON")

    sc = sub.add_parser("scrobbles", help="recent webhooks and what became of them")
    sc.add_argument("--limit", type=int, default=20)
    sc.add_argument("--action", choices=["marked", "rewatch", "counted", "duplicate", "ignored", "conflict",
                                         "failed", "undone"])
    sc.add_argument("--json", action="store_true", help="print JSON")

    c = sub.add_parser("conflicts", help="Plex shows waiting for your decision").add_subparsers(
        dest="action", metavar="ACTION")
    c.required = True
    cl = c.add_parser("list", help="list open conflicts")
    cl.add_argument("--all", action="store_true", help="resolved ones too")
    cl.add_argument("--json", action="store_true", help="print JSON")
    cr = c.add_parser("resolve", help="answer a conflict; its waiting scrobbles are applied")
    cr.add_argument("id", type=int)
    how = cr.add_mutually_exclusive_group(required=True)
    how.add_argument("--show", type=int, dest="show_id", help="map to this tracker show")
    how.add_argument("--create", action="store_true", help="create a tracker show from the Plex data")
    how.add_argument("--ignore", action="store_true", help="ignore this Plex show from now on")

    from app.core.destinations.kinds import KINDS

    others = ", ".join(f"{k.label}s" for k in KINDS.values())
    d = sub.add_parser("destinations", help=f"where marks go: the built-in tracker and {others}"
                       ).add_subparsers(dest="action", metavar="ACTION")
    d.required = True
    dl = d.add_parser("list", help="every destination and what waits for it")
    dl.add_argument("--json", action="store_true", help="print JSON")
    for kind in KINDS.values():
        da = d.add_parser(f"add-{kind.name}", help=kind.add_help)
        da.set_defaults(kind=kind.name)
        da.add_argument("url", help=kind.url_help)
        for option in kind.options:
            da.add_argument(option.flag, dest=option.name, action="store_true", help=option.help)
        da.add_argument("--label", default="", help="a name to show for it")
    dk = d.add_parser("tmdb-key", help="a TMDB API key (or read access token): turns TheTVDB and IMDb "
                                       "ids into the tmdb_id a PostgreSQL tracker keys its shows on")
    dk.add_argument("key", nargs="?", help="the key (omit it with --clear)")
    dk.add_argument("--clear", action="store_true", help="forget the key")
    tests = "; ".join(f"a {k.label}: " + ("send a harmless test event" if k.test_sends else
                                          "check it, say what it found") for k in KINDS.values())
    for verb, text in (("remove", "remove a destination (not the built-in tracker), and its queue"),
                       ("test", tests),
                       ("retry", "send the failed events again (and unpause)")):
        d.add_parser(verb, help=text).add_argument("id", help="see 'destinations list'")

    w = sub.add_parser("webhook-url", help="print the URL to paste into Plex")
    w.add_argument("--all", action="store_true", help="every URL, labelled")
    sec = sub.add_parser("secret", help="the webhook secret").add_subparsers(dest="action", metavar="ACTION")
    sec.required = True
    sec.add_parser("rotate", help="make a new secret (the old URL stops working)")
    from app import cli_config, cli_plex, cli_status

    cli_plex.add_parser(sub)
    cli_config.add_parser(sub)
    cli_status.add_parser(sub)
    return p


def _plain(value: Any) -> Any:
    """Typed rows as JSON-ready dicts (enums as their values, times as ISO text)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):  # stored as naive UTC; shown in local time, with its offset
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return aware.astimezone().isoformat(sep=" ", timespec="seconds")
    return value


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    return "\n".join([line(list(columns)), *(line(r) for r in cells)])


def _emit(rows: Sequence[Any], columns: Sequence[str], as_json: bool) -> None:
    plain = _plain(list(rows))
    print(json.dumps(plain, indent=2, default=str) if as_json else _table(plain, columns))


def _run_command(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    if args.command == "secret":
        config.rotate_webhook_secret(paths)
        print("New webhook secret made. Paste the new URL into Plex (restart a running app first):")
        print(_webhook_urls(paths, settings)[0][1])
        return 0
    if args.command == "plex":
        from app import cli_plex

        return cli_plex.run(args, paths, settings)
    if args.command == "config":
        from app import cli_config

        return cli_config.run(args, paths, settings)
    if args.command == "status":
        from app import cli_status

        return cli_status.run(args, paths)
    if args.command == "webhook-url":
        urls = _webhook_urls(paths, settings)
        print("\n".join(f"{label}: {url}" for label, url in urls) if args.all else urls[0][1])
        if urls[0][0] == "This computer only":  # (on stderr: the URL alone stays on stdout for scripts)
            print("note: this URL works only for a Plex server on this computer. A Plex server elsewhere "
                  "needs the tunnel: set an ngrok authtoken in Settings, or run 'scrobbletray serve' "
                  "with NGROK_AUTHTOKEN set; on the same network, 'serve --host 0.0.0.0'.", file=sys.stderr)
        return 0

    from app.core.facade import open_tracker

    tracker: Tracker = open_tracker(paths, settings)
    if args.command == "shows":
        if args.action == "add":
            show = tracker.add_show(title=args.title, year=args.year, tmdb_id=args.tmdb_id,
                                    tvdb_id=args.tvdb_id, imdb_id=args.imdb_id, anidb_id=args.anidb_id)
            print(f"Added show #{show.id}: {show.title}")
        elif args.action == "import":
            from app.core.show_files import read_show_file

            result = tracker.import_shows(read_show_file(args.file))
            print(f"Imported {result.added} shows ({result.skipped} already in the tracker).")
        else:
            _emit(tracker.list_shows(search=args.search), ("id", "title", "year", "tmdb_id", "tvdb_id",
                                                           "imdb_id", "watched_episodes"), args.json)
    elif args.command == "episodes":
        _emit(tracker.episodes(args.show), ("season", "number", "title", "watched", "watch_count",
                                            "last_watched_at"), args.json)
    elif args.command == "scrobbles":
        if args.limit < 1:
            raise CliError("--limit must be 1 or more")
        _emit(tracker.scrobbles(limit=args.limit, action=args.action),
              ("id", "received_at", "account_title", "plex_title", "season", "episode", "action",
               "reason", "show_title"), args.json)
    elif args.command == "conflicts":
        if args.action == "list":
            _emit(tracker.conflicts(None if args.all else "open"),
                  ("id", "plex_title", "plex_year", "type", "waiting", "status"), args.json)
        else:
            outcomes = tracker.resolve_conflict(args.id, show_id=args.show_id, create=args.create,
                                                ignore=args.ignore)
            applied = ", ".join(f"#{o.event_id} {o.action.value}" for o in outcomes) or "none waiting"
            print(f"Conflict #{args.id} resolved. Waiting scrobbles: {applied}")
    elif args.command == "destinations":
        return _destinations(args, paths, settings, tracker)
    return 0


def _destinations(args: argparse.Namespace, paths: Paths, settings: Settings, tracker: Tracker) -> int:
    """The destinations commands, over the settings file and the outbox (no running app needed)."""
    from app.core.credentials import set_secret
    from app.core.destinations import kinds
    from app.core.destinations.base import OutboxDestination
    from app.core.destinations.manager import destination_rows

    if args.action == "list":
        _emit(destination_rows(tracker), ("id", "kind", "state", "target", "pending", "delivered",
                                                    "failed", "reason"), args.json)
        return 0
    if args.action.startswith("add-"):
        kind = kinds.kind(args.kind)
        try:
            target, secrets = config.add_destination(settings, kind.name, args.url, args.label,
                                                     **{o.name: getattr(args, o.name) for o in kind.options})
        except ValueError as exc:
            raise CliError(str(exc)) from None
        if problems := settings.validate():
            raise CliError("; ".join(problems))
        kept = dict.fromkeys(set_secret(paths, name, value) for name, value in secrets.items() if value)
        config.save_settings(paths, settings)
        said = ", ".join(filter(None, [kind.described(target)] + [f"password kept in {where}" for where in kept]))
        print(f"Added {target.id}: {kind.shown_url(target)}" + (f" ({said})." if said else "."))
        print(f"Check it: scrobbletray destinations test {target.id}")
        print("A running Scrobble Tray picks it up when restarted.")
        return 0
    if args.action == "tmdb-key":
        from app.core.tmdb import TMDB_KEY

        if bool(args.key) == bool(args.clear):
            raise CliError("give the key, or --clear to forget it")
        where = set_secret(paths, TMDB_KEY, None if args.clear else args.key)
        print("TMDB key forgotten." if args.clear else f"TMDB key kept in {where}.")
        return 0
    found = next((d for d in tracker.destinations if d.id == args.id and isinstance(d, OutboxDestination)), None)
    located = kinds.find(settings, args.id)
    if found is None or located is None:
        raise CliError(f"there is no destination {args.id!r} (see 'destinations list')")
    kind, target = located
    if args.action == "remove":
        settings = kinds.without(settings, args.id)
        for name in kind.secrets(target):
            set_secret(paths, name, None)
        config.save_settings(paths, settings)
        tracker.forget_deliveries(args.id)
        print(f"Removed {args.id} and its queue.")
    elif args.action == "retry":
        n = tracker.retry_deliveries(args.id)
        print(f"{n} failed event(s) of {args.id} queued again; they are sent while Scrobble Tray runs.")
    elif kind.test_sends:
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


def data_folder_problem(exc: OSError, paths: Paths) -> str | None:
    """The sentence for an error writing the data folder (with the fix), else None."""
    unwritable = (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR)
    if exc.errno in unwritable and exc.filename and Path(exc.filename).is_relative_to(paths.data_dir):
        return (f"cannot write to the data folder {paths.data_dir} ({exc.strerror}). Choose a folder "
                "you can write to with --data-dir DIR (or SCROBBLETRAY_HOME).")
    return None


def running_state(paths: Paths) -> dict[str, Any] | None:
    """What the running app left in its state file (its address, its tunnel), or None when
    none runs: it is trusted only if something answers on the port it names."""
    state = config.load_state(paths)
    running = state.get("listening")
    if not isinstance(running, dict) or not _answers(running.get("port")):
        return None  # not running, or it did not stop cleanly
    return {**running, "public_url": state.get("public_url") if state.get("tunnel_online") else None}


def _webhook_urls(paths: Paths, settings: Settings) -> list[tuple[str, str]]:
    """The running app's URLs (its tunnel's first, if online), else the configured ones."""
    running = running_state(paths)
    if running is None:
        print(f"note: Scrobble Tray is not running; these use the configured port ({settings.port}).",
              file=sys.stderr)
        return labelled_urls(config.webhook_secret(paths), settings.host, settings.port)
    return labelled_urls(config.webhook_secret(paths), running.get("host"), running.get("port"),
                         running["public_url"])


def _answers(port: Any) -> bool:
    """Whether something listens on this computer at ``port`` (portable, unlike a pid check)."""
    import socket

    try:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=0.5):
            return True
    except (OSError, TypeError, ValueError):
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = _parser().parse_args(_globals_first(sys.argv[1:] if argv is None else argv))
    if args.self_test:
        from app.selftest import run_self_test
        return run_self_test()
    paths = Paths(args.data_dir)
    settings = config.load_settings(paths)
    if args.database_url:
        settings.database_url = args.database_url
    if args.ngrok_path:
        settings.ngrok_path = args.ngrok_path
    try:
        if args.command is None:
            from app.display import display_problem

            if problem := display_problem():
                raise CliError(problem)
            from app.ui.app import run

            return run(paths, settings, sys.argv)
        if args.command == "serve":
            from app.core.headless import serve
            from app.core.logs import setup_logging

            if args.host:
                settings.host = args.host
            problems = settings.validate()
            if args.port is not None and (problem := port_problem(args.port)):
                problems.append(problem)
            if problems:
                raise CliError("; ".join(problems))
            setup_logging(paths.log_file, args.verbose)
            return asyncio.run(serve(paths, settings, args.port, tunnel=not args.no_tunnel))
        return _run_command(args, paths, settings)
    except (CliError, TrackerError, DatabaseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if getattr(exc, "fix", None):  # webhooks.ListenError: already a sentence with its fix
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if problem := data_folder_problem(exc, paths):
            print(f"error: {problem}", file=sys.stderr)
            return 2
        print(f"error: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}".rstrip(": "),
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
