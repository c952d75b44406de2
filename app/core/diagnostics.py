"""Connection diagnostics: each check passes, warns or fails, with the detail and the fix."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import aiohttp

from app import __version__
from app.core.logs import redact
from app.core.pipeline import SELF_TEST_EVENT
from app.core.timefmt import ago

if TYPE_CHECKING:
    from app.core.facade import Core

PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass(frozen=True)
class Check:
    """One row of the diagnostics window."""

    name: str
    status: str  # pass, warn, fail
    detail: str
    fix: str = ""


async def self_test(url: str, timeout: float = 10.0) -> tuple[bool, str, float]:
    """POST a self-test event to ``url``; ``(ok, detail, round trip ms)``.

    The pipeline records the event and ignores it, so it is safe to send any time.
    """
    payload = json.dumps({"event": SELF_TEST_EVENT, "user": True, "owner": True,
                          "Account": {"id": 0, "title": "Scrobble Tray self-test"}})
    form = aiohttp.FormData()
    form.add_field("payload", payload, content_type="application/json")
    started = time.perf_counter()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s:
            async with s.post(url, data=form, headers={"User-Agent": "ScrobbleTray-selftest"}) as r:
                body = (await r.text())[:200]
                ms = (time.perf_counter() - started) * 1000
                if r.status == 200:
                    return True, f"answered in {ms:.0f} ms", ms
                return False, f"HTTP {r.status}: {body.strip()}", ms
    except asyncio.TimeoutError:
        return False, f"no answer within {timeout:.0f} s", timeout * 1000
    except aiohttp.ClientError as exc:
        return False, f"cannot connect: {exc}", (time.perf_counter() - started) * 1000


async def run_checks(core: Core) -> list[Check]:
    """Every check of the connection, in the order a person would look."""
    checks: list[Check] = []
    status = core.status
    counts = None
    if core.tracker is None:
        checks.append(Check("Database", FAIL, status.server_error or "not open",
                            "Check the database URL in Settings."))
    else:
        try:
            counts = await core.run(core.tracker.counts)
            checks.append(Check("Database", PASS, f"{counts['shows']} shows in the tracker"))
        except Exception as exc:  # the detail is what the user needs, not a traceback
            checks.append(Check("Database", FAIL, f"{type(exc).__name__}: {exc}",
                                "Check the database URL in Settings and that the file is writable."))

    if status.server == "listening" and core.local_webhook_url:
        checks.append(Check("Server listening", PASS, f"{status.host} port {status.port}"))
        ok, detail, _ = await self_test(core.local_webhook_url)
        checks.append(Check("Local self-test", PASS if ok else FAIL, detail,
                            "" if ok else "Restart Scrobble Tray; if it persists, see the log file."))
    else:
        checks.append(Check("Server listening", FAIL, status.server_error or status.server,
                            "Pick a free port in Settings, or close the program that uses it."))

    checks.extend(await core.tunnel_checks())

    stats = core.server.stats if core.server else None
    if stats and stats.last_webhook_at:
        checks.append(Check("Last webhook", PASS,
                            f"{ago(stats.last_webhook_at)} from {stats.last_server or 'an unknown server'}"
                            f" ({stats.last_source})"))
    elif counts and counts["last_webhook_at"]:
        checks.append(Check("Last webhook", PASS, f"at {counts['last_webhook_at']} UTC (before this start)"))
    else:
        checks.append(Check("Last webhook", WARN, "none received yet",
                            "In Plex: Settings > Webhooks > Add Webhook, paste the webhook URL, "
                            "save, then play something."))
    if counts is not None:
        n = counts["conflicts_open"]
        checks.append(Check("Open conflicts", WARN if n else PASS,
                            f"{n} Plex show(s) waiting for your decision" if n else "none",
                            "Open Conflicts and choose a show for each." if n else ""))
    return checks


def report(core: Core, checks: list[Check]) -> str:
    """A Markdown report of ``checks``, with every secret redacted."""
    icon = {PASS: "✅", WARN: "⚠️", FAIL: "❌"}
    lines = ["# Scrobble Tray diagnostics", "",
             f"- Version: {__version__}",
             f"- Time: {datetime.now(timezone.utc).isoformat(timespec='seconds')}",
             f"- Webhook URL: {core.best_webhook_url() or 'none'}", "",
             "| Check | Result | Detail | Fix |", "|---|---|---|---|"]
    for c in checks:
        lines.append(f"| {c.name} | {icon.get(c.status, c.status)} {c.status} | {c.detail} | {c.fix} |")
    return redact("\n".join(lines) + "\n", *core.secrets())
