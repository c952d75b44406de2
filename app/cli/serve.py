"""``scrobbletray serve``: the webhook server and processing, headless (no window)."""

from __future__ import annotations

import argparse
import asyncio

from app.cli.common import CliError, text, whole
from app.core import config
from app.core.config import Paths, Settings, port_problem


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("serve", help="run headless: webhook server and processing, no window")
    s.add_argument("--port", type=whole(0, 65535), help=f"listen on this port (default {config.DEFAULT_PORT})")
    s.add_argument("--host", type=text(300), help="listen on this address (default 127.0.0.1; 0.0.0.0 for the LAN)")
    s.add_argument("--no-tunnel", action="store_true", help="do not open the ngrok tunnel")


def run(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
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
