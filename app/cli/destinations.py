"""``scrobbletray destinations ...``: where marks go, the built-in tracker and each kind
of destination (:data:`app.core.destinations.kinds.KINDS`)."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from app.cli.common import CliError, change, emit, read, text, whole
from app.core.config import Paths, Settings
from app.core.destinations import kinds
from app.core.destinations.kinds import KINDS


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    others = " and ".join(f"{k.label}s" for k in KINDS.values())
    d = sub.add_parser("destinations", help=f"where marks go: the built-in tracker and {others}"
                       ).add_subparsers(dest="action", metavar="ACTION")
    d.required = True
    dl = d.add_parser("list", help="every destination, its state, what waits for it, why and the fix")
    dl.add_argument("--json", action="store_true", help="print JSON")
    for kind in KINDS.values():
        da = d.add_parser(f"add-{kind.name}", help=kind.add_help)
        da.set_defaults(kind=kind.name)
        named = any(o.name == "preset" for o in kind.options)  # a relay: its tracker's URL from its fields
        if kind.takes_url:
            da.add_argument("url", type=text(2000), nargs="?" if named else None, help=kind.url_help + (
                "; or --preset NAME with --host and --token" if named else ""))
        for f in kind.fields:
            if f.secret:  # (never on the command line, where other users' ps can read it)
                da.add_argument(f"{f.flag}-stdin", dest=f.name, action="store_true", required=f.required,
                                help=f"read {f.help} from standard input")
            else:
                da.add_argument(f.flag, dest=f.name, type=text(200), required=f.required, help=f.help)
        for option in kind.options:
            if option.choices:
                da.add_argument(option.flag, dest=option.name, choices=option.choices, default=option.default,
                                metavar="NAME", help=f"{option.help}: {', '.join(option.choices)}")
            else:
                da.add_argument(option.flag, dest=option.name, action="store_false" if option.default else "store_true",
                                help=option.help)
        da.add_argument("--label", type=text(200), default="", help="a name to show for it")
        if named:
            da.add_argument("--host", type=text(500), help="with --preset: where the tracker runs (e.g. nas.lan, "
                                                          "or https://nas.lan/prefix behind a proxy)")
            da.add_argument("--port", type=whole(1, 65535), help="with --host: its port (default: the tracker's own)")
            da.add_argument("--token", type=text(1000), help="with --host: its token, slug or id")
    dp = d.add_parser("presets", help="the self-hosted trackers a relay knows by name (add-relay --preset "
                                      "NAME): each one's URL, the events it takes and what it cannot do")
    dp.add_argument("--json", action="store_true", help="print JSON")
    dk = d.add_parser("tmdb-key", help="a TMDB API key (or read access token): turns TheTVDB and IMDb "
                                       "ids into the tmdb_id a PostgreSQL tracker keys its shows on")
    dk.add_argument("key", nargs="?", type=text(1000), help="the key (omit it with --clear)")
    dk.add_argument("--clear", action="store_true", help="forget the key")
    tests = "; ".join(f"a {k.label}: " + ("send a harmless test event" if k.test_sends else
                                          "check it, say what it found") for k in KINDS.values())
    for verb, words in (("remove", "remove a destination (not the built-in tracker), and its queue"),
                       ("test", tests),
                       ("retry", "send the failed events again (and unpause)"),
                       ("login", "sign a Trakt or Simkl destination in: prints a code and where to enter it, "
                                 "waits until you have"),
                       ("logout", "forget a Trakt or Simkl destination's sign-in (its events wait)")):
        d.add_parser(verb, help=words).add_argument("id", type=text(100), help="see 'destinations list'")


def run(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    """The destinations commands: questions go to the database, changes through the running
    app when there is one (it delivers at once), else to the settings file and the outbox."""
    from app.core.config import load_settings
    from app.core.credentials import get_secret, kept_in

    if args.action == "list":  # (a running app's senders say their state: its status file)
        emit(read(paths, settings, lambda core: core.destinations()),
             ("id", "kind", "state", "needs", "target", "pending", "delivered", "failed", "reason", "fix", "note"),
             args.json)
        return 0
    if args.action == "presets":
        from app.core.destinations.presets import PRESETS

        emit([{"name": p.name, "tracker": p.title, "url": p.shape, "token": p.token_name if p.path else "",
               "takes": p.takes, "cannot": p.cannot} for p in PRESETS.values()],
             ("name", "url", "takes", "cannot"), args.json)
        return 0
    if args.action.startswith("add-"):
        kind = KINDS[args.kind]
        fields = {f.name: _stdin_line(f.help) if f.secret and getattr(args, f.name) else getattr(args, f.name)
                  for f in kind.fields}
        did = change(paths, settings, "add_destination", kind=kind.name, url=_url(args) if kind.takes_url else "",
                     label=args.label, **{o.name: getattr(args, o.name) for o in kind.options},
                     **{k: v for k, v in fields.items() if v not in (None, False)})
        target = kinds.find(load_settings(paths), did)
        assert target is not None
        kept = dict.fromkeys(kept_in(paths, name) for name in kind.secrets(target[1]) if get_secret(paths, name))
        said = ", ".join(filter(None, [kind.described(target[1])] + [f"password kept in {where}" for where in kept]))
        print(f"Added {did}: {kind.shown_url(target[1])}" + (f" ({said})." if said else "."))
        print(f"Sign in: scrobbletray destinations login {did}" if kind.signs_in
              else f"Check it: scrobbletray destinations test {did}")
        return 0
    if args.action in ("login", "logout"):
        return _sign_in(args, paths, settings)
    if args.action == "tmdb-key":
        from app.core.credentials import set_secret
        from app.core.tmdb import TMDB_KEY

        if bool(args.key) == bool(args.clear):
            raise CliError("give the key, or --clear to forget it")
        where = set_secret(paths, TMDB_KEY, None if args.clear else args.key)
        print("TMDB key forgotten." if args.clear else f"TMDB key kept in {where}.")
        return 0
    if args.action == "remove":
        left = change(paths, settings, "remove_destination", destination_id=args.id)
        print(f"Removed {args.id} and its queue.")
        for words in left or ():
            print(f"warning: {words}. Route it again: scrobbletray accounts route ACCOUNT DESTINATION_ID...")
    elif args.action == "retry":
        n = change(paths, settings, "retry_destination", destination_id=args.id)
        print(f"{n} failed event(s) of {args.id} queued again; they are sent while Scrobble Tray runs.")
    else:
        attempt = read(paths, settings, lambda core: core.test_destination(args.id))
        print(f"{args.id}: {attempt.detail}" + (f"\n{attempt.fix}" if attempt.fix else ""))
        return 0 if attempt.verdict == "delivered" else 1
    return 0


def _url(args: argparse.Namespace) -> str:
    """The URL given, or a tracker's built from --host, --port and --token (add-relay --preset)."""
    host = getattr(args, "host", None)
    if host is None:
        if args.url is None:
            raise CliError("give the URL, or --preset NAME with --host and --token")
        return str(args.url)
    from app.core.destinations.presets import PRESETS

    preset = PRESETS[args.preset]
    if args.url or preset.name == "other" or not args.token:
        raise CliError("--host builds a tracker's URL: give --preset NAME (see 'destinations presets') and "
                       "--token, and no URL")
    return preset.url(host, args.port or preset.port, args.token)


def _stdin_line(what: str) -> str:
    """One line from standard input (a secret piped in, or typed without echo)."""
    import getpass
    import sys

    value = getpass.getpass(f"{what}: ") if sys.stdin.isatty() else sys.stdin.readline()
    if not value.strip():
        raise CliError(f"nothing was given on standard input for {what}")
    return value.strip()


def _sign_in(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    """``login``: the sign-in runs here (the code printed, the answer awaited), the tokens are
    kept with the secrets, and the running app, if any, is told; ``logout`` forgets them."""
    import asyncio

    from app.core.config import load_settings
    from app.core.credentials import kept_context

    found = kinds.find(load_settings(paths), args.id)
    if found is None or not found[0].signs_in:
        raise CliError(f"{args.id} is not a Trakt or Simkl destination (see 'scrobbletray destinations list')")
    kind, target = found
    if args.action == "logout":
        change(paths, settings, "sign_out", destination_id=args.id)
        print(f"Signed {args.id} out; its events wait until it signs in again.")
        return 0

    def prompt(p: Any) -> None:
        until = datetime.fromtimestamp(p.expires_at).strftime("%H:%M")
        print(f"Open {p.verification_url} and enter the code {p.user_code} (valid until {until}).", flush=True)
        print("Waiting for you to allow Scrobble Tray… (Ctrl+C to cancel)", flush=True)

    account = asyncio.run(kind.sign_in(target, kept_context(paths, lambda: settings), prompt))
    change(paths, settings, "sign_in_changed", destination_id=args.id, account=account)
    print(f"Signed in to {kind.label.split()[0]}" + (f" as {account}." if account else "."))
    return 0
