"""Headless mode: the core, its webhook server and tunnel, no Qt, until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import Any

from app.core.config import Paths, Settings
from app.core.events import ScrobbleRecorded, StatusChanged
from app.core.facade import Core
from app.core.logs import add_secret


class _Printer:
    """One line on stdout per outcome, and whenever the public URL changes."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.public: str | None = None
        self.database_problem: str | None = None

    def __call__(self, event: Any) -> None:
        if isinstance(event, ScrobbleRecorded):
            o = event.outcome
            print(f"event #{o.event_id}: {o.action.value}" + (f" ({o.reason})" if o.reason else ""),
                  flush=True)
        elif isinstance(event, StatusChanged):
            st = event.status
            if st.database_problem != self.database_problem:
                if st.database_problem:
                    print(f"Database: {st.database_problem}. {st.database_fix}. Webhooks get 503 and are held "
                          "in memory until then.", file=sys.stderr, flush=True)
                else:
                    print("Database: it takes writes again; held webhooks are stored.", file=sys.stderr, flush=True)
                self.database_problem = st.database_problem
            url = self.core.public_webhook_url
            if url and url != self.public:
                self.public = url
                print(f"Webhook URL (Public, ngrok tunnel): {url}", flush=True)
                if event.status.url_changed:
                    print("The public URL changed: paste it into Plex again (Settings > Webhooks).",
                          flush=True)
            elif event.status.tunnel == "error" and self.public != "error":
                self.public = "error"
                print(f"Tunnel error: {event.status.tunnel_reason}. {event.status.tunnel_fix or ''}",
                      file=sys.stderr, flush=True)


async def serve(paths: Paths, settings: Settings, port: int | None = None, tunnel: bool = True) -> int:
    """Run until a signal arrives; returns the process exit code."""
    core = Core(paths, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl+C still raises KeyboardInterrupt
            loop.add_signal_handler(sig, stop.set)
    printer = _Printer(core)
    await core.start(port, tunnel=False)
    add_secret(core.secret)
    print("Scrobble Tray is running headless. Press Ctrl+C to stop.", flush=True)
    for label, url in core.webhook_urls():
        print(f"Webhook URL ({label}): {url}", flush=True)
    core.events.subscribe(printer)
    try:
        if tunnel and core.tunnel_wanted():
            await core.start_tunnel()
        elif tunnel:
            print("No ngrok authtoken is set, so there is no public URL (see the README).",
                  file=sys.stderr, flush=True)
        await stop.wait()
    finally:
        print("Stopping...", file=sys.stderr, flush=True)
        await core.stop()
    return 0
