"""``scrobbletray webhook-url`` (the URL to paste into Plex) and ``secret rotate``."""

from __future__ import annotations

import argparse
import sys

from app.cli.common import running_state
from app.core import config
from app.core.config import Paths, Settings
from app.core.urls import labelled_urls


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    w = sub.add_parser("webhook-url", help="print the URL to paste into Plex")
    w.add_argument("--all", action="store_true", help="every URL, labelled")
    sec = sub.add_parser("secret", help="the webhook secret").add_subparsers(dest="action", metavar="ACTION")
    sec.required = True
    sec.add_parser("rotate", help="make a new secret (the old URL stops working)")


def run(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    if args.command == "secret":
        config.rotate_webhook_secret(paths)
        print("New webhook secret made. Paste the new URL into Plex (restart a running app first):")
        print(_webhook_urls(paths, settings)[0][1])
        return 0
    urls = _webhook_urls(paths, settings)  # webhook-url
    print("\n".join(f"{label}: {url}" for label, url in urls) if args.all else urls[0][1])
    if urls[0][0] == "This computer only":  # (on stderr: the URL alone stays on stdout for scripts)
        print("note: this URL works only for a Plex server on this computer. A Plex server elsewhere "
              "needs the tunnel: set an ngrok authtoken in Settings, or run 'scrobbletray serve' "
              "with NGROK_AUTHTOKEN set; on the same network, 'serve --host 0.0.0.0'.", file=sys.stderr)
    return 0


def _webhook_urls(paths: Paths, settings: Settings) -> list[tuple[str, str]]:
    """The running app's URLs (its tunnel's first, if online), else the configured ones."""
    running = running_state(paths)
    if running is None:
        print(f"note: Scrobble Tray is not running; these use the configured port ({settings.port}).",
              file=sys.stderr)
        return labelled_urls(config.webhook_secret(paths), settings.host, settings.port)
    return labelled_urls(config.webhook_secret(paths), running.get("host"), running.get("port"),
                         running["public_url"])
