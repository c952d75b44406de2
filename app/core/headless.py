"""Headless mode: the core and its webhook server, no Qt, until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

from app.core.config import Paths, Settings
from app.core.events import ScrobbleRecorded
from app.core.facade import Core
from app.core.logs import add_secret


def _describe(event: Any) -> str | None:
    if isinstance(event, ScrobbleRecorded):
        o = event.outcome
        return f"event #{o.event_id}: {o.action.value}" + (f" ({o.reason})" if o.reason else "")
    return None


async def serve(paths: Paths, settings: Settings, port: int | None = None) -> int:
    """Run until a signal arrives; returns the process exit code."""
    core = Core(paths, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # Windows: Ctrl+C still raises KeyboardInterrupt
            pass
    core.events.subscribe(lambda e: (line := _describe(e)) and print(line, flush=True))
    await core.start(port)
    add_secret(core.secret)
    print("Scrobble Tray is running headless. Press Ctrl+C to stop.", flush=True)
    for label, url in core.webhook_urls():
        print(f"Webhook URL ({label}): {url}", flush=True)
    try:
        await stop.wait()
    finally:
        print("Stopping...", file=sys.stderr, flush=True)
        await core.stop()
    return 0
