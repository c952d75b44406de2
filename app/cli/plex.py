"""``scrobbletray plex ...``: sign in, sign out, status, register (no running app needed)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import webbrowser
from datetime import datetime
from typing import TYPE_CHECKING

from app.core import config
from app.core.config import Paths, Settings
from app.core.types import PlexStatus
from app.core.urls import webhook_url

if TYPE_CHECKING:
    from app.core.plex.service import PlexLink


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("plex", help="your Plex account: sign in, register the webhook URL")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    login = actions.add_parser("login", help="sign in with Plex (prints a link and a code, then waits)")
    login.add_argument("--browser", action="store_true", help="open Plex's sign-in page in a browser instead")
    actions.add_parser("logout", help="forget the Plex sign-in on this computer")
    actions.add_parser("status", help="the account, its Plex Pass and servers, and whether the URL is registered")
    actions.add_parser("register", help="put the running app's public webhook URL in the account's webhooks")
    cu = actions.add_parser("catch-up", help="add plays from your servers' history that Scrobble Tray never got")
    cu.add_argument("--since", type=_date, help="from this day on (YYYY-MM-DD); default: since the last play seen")


def _date(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").astimezone()  # that day, local time
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-01") from None


def run(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    """What Plex refuses (PlexError) ends the command as any error does: common.error_exit."""
    from app.core.plex.service import PlexLink

    try:
        if args.action == "catch-up":
            return asyncio.run(_catch_up(paths, settings, args.since))
        link = PlexLink(paths, settings, lambda _: None)
        return asyncio.run(_run(args.action, link, args.browser if args.action == "login" else False))
    except KeyboardInterrupt:
        print("\nCancelled.", file=sys.stderr)
        return 130


def _public_url(paths: Paths) -> str | None:
    """The running app's public webhook URL, while its tunnel is online."""
    from app.cli.common import running_state

    public = (running_state(paths) or {}).get("public_url")
    return webhook_url(public, config.webhook_secret(paths)) if public else None


async def _run(action: str, link: PlexLink, browser: bool) -> int:
    from app.core.plex.http import PlexError
    from app.core.plex.signin import WAIT

    await link.load()
    url = _public_url(link.paths)
    if action == "login":
        sign_in = await link.begin_sign_in(browser=browser)
        if browser:
            print(f"Sign in on the page that opened (or open it yourself):\n{sign_in.url}")
            webbrowser.open(sign_in.url)
        else:
            print(f"Open {sign_in.url} on any device, sign in, and enter the code:  {sign_in.code}")
        print(f"Waiting (up to {WAIT / 60:.0f} minutes; Ctrl+C to cancel)...")
        where = await link.signed_in(await sign_in.token())
        _print(await link.refresh(url))
        print(f"Signed in; the sign-in is kept in {where}. A running Scrobble Tray uses it after a restart.")
        if url and link.settings.plex_auto_register and link.status.plex_pass:
            print(await link.register(url, config.webhook_secret(link.paths)))
        return 0
    if action == "logout":
        await link.sign_out()
        print("Signed out of Plex on this computer (the account keeps its webhook URLs).")
        return 0
    if not link.connected:
        raise PlexError("Not signed in to Plex", "Sign in first: scrobbletray plex login")
    if action == "status":
        st = await link.refresh(url)
        _print(st)
        if st.problem:
            print(f"Problem: {st.problem}" + (f"\n{st.fix}" if st.fix else ""))
        return 0 if st.signed_in and not st.problem else 1
    if url is None:
        raise PlexError("There is no public webhook URL to register: Scrobble Tray is not running "
                        "with its tunnel online", "Start it (with an ngrok authtoken set), then run this again.")
    print(await link.register(url, config.webhook_secret(link.paths)))
    return 0


async def _catch_up(paths: Paths, settings: Settings, since: datetime | None) -> int:
    """The running app reads the history and processes what it added; when none runs, a
    core of this command's own (loopback, no tunnel) does."""
    from app.core import control
    from app.core.facade import Core
    from app.core.plain import plain

    ran, answer = await control.call(paths, "catch_up", since=since.isoformat() if since else None)
    if not ran:
        core = Core(paths, settings)
        await core.start(port=0, tunnel=False)
        try:
            answer = plain(await core.catch_up(since, lambda n: print(f"\r{n} play(s) read...", end="", flush=True)))
        finally:
            await core.stop()
    result, outcomes = answer
    print(f"\rRead {result['read']} play(s) from the history: {result['added']} added, {result['already']} "
          f"already here, {result['ignored']} not counted.")
    if result.get("marks_read"):
        print(f"Marked viewed in Plex since the last look: {result['marks_read']}, of which "
              f"{result['marks_added']} marked by hand (no play of theirs came any other way); "
              f"looked at for {', '.join(result.get('marks_accounts') or ()) or 'no account'}.")
    for said in result.get("unmarked") or ():
        print(f"{said}.")
    if outcomes:
        print("Of those added: " + ", ".join(f"{n} {action}" for action, n in sorted(outcomes.items())))
    for name in result["new_servers"]:
        print(f"{name} is new here: add --since DATE to import its older plays.")
    for name in result["failed"]:
        print(f"Could not read the history of {name}: is it on?", file=sys.stderr)
    for note in result.get("notes") or ():
        print(f"{note}.", file=sys.stderr)
    return 1 if result["failed"] else 0


def _print(st: PlexStatus) -> None:
    if not st.signed_in:
        return
    print(f"Account: {st.username or '?'}")
    print(f"Plex Pass: {'yes' if st.plex_pass else 'no (Plex sends webhooks only with Plex Pass)'}")
    print(f"Servers: {', '.join(st.servers) or '(none)'}")
    if st.registered is not None:
        print(f"Webhook URL registered: {'yes' if st.registered else 'no'}")
