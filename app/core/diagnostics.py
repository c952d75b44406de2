"""Connection diagnostics: each check passes, warns or fails, with the detail and the fix.

Plain functions over the core's typed data; :meth:`app.core.facade.Core.diagnostics`
puts them in the order a person would look.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from app import __version__
from app.core.lazy import lazy
from app.core.logs import redact
from app.core.timefmt import ago
from app.core.types import (
    SELF_TEST_EVENT,
    Check,
    CheckStatus,
    CoreStatus,
    Counts,
    ServerState,
    TunnelState,
    WebhookStats,
)

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = lazy("aiohttp")  # (loaded when first used: see app.core.lazy)

PASS, WARN, FAIL = CheckStatus.PASS, CheckStatus.WARN, CheckStatus.FAIL


def self_test_payload() -> str:
    """A harmless event: Scrobble Tray records and ignores it, a web tracker ignores it
    (it is not a scrobble)."""
    return json.dumps({"event": SELF_TEST_EVENT, "user": True, "owner": True,
                       "Account": {"id": 0, "title": "Scrobble Tray self-test"}})


async def self_test(url: str, timeout: float = 10.0) -> tuple[bool, str, float]:
    """POST a self-test event to ``url``; ``(ok, detail, round trip ms)``; safe any time."""
    form = aiohttp.FormData()
    form.add_field("payload", self_test_payload(), content_type="application/json")
    started = time.perf_counter()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s:
            async with s.post(url, data=form, headers={"User-Agent": "ScrobbleTray-selftest"}) as r:
                body = (await r.text())[:200]
                ms = (time.perf_counter() - started) * 1000
                if r.status == 200:
                    return True, f"answered in {ms:.0f} ms", ms
                return False, f"HTTP {r.status}: {body.strip()}", ms
    except TimeoutError:
        return False, f"no answer within {timeout:.0f} s", timeout * 1000
    except aiohttp.ClientError as exc:
        return False, f"cannot connect: {exc}", (time.perf_counter() - started) * 1000


def database_check(counts: Counts | None, error: Exception | None, status: CoreStatus | None = None) -> Check:
    status = status or CoreStatus()
    if error is not None:
        return Check("Database", FAIL, f"{type(error).__name__}: {error}",
                     "Check the database URL in Settings and that the file is writable.")
    if counts is None:
        return Check("Database", FAIL, status.server_error or "not open", "Check the database URL in Settings.")
    if status.database_problem:  # it reads, but takes no writes
        held = f"; {status.database_held} webhooks held in memory" if status.database_held else ""
        return Check("Database", FAIL, f"{status.database_problem}: webhooks get 503{held}",
                     f"{status.database_fix}.")
    if status.processing_problem:
        return Check("Database", WARN, f"{status.processing_problem}: processing waits, tried again every 2 s",
                     f"{status.processing_fix}." if status.processing_fix else "")
    held = (f"{counts.shows} show{'s' if counts.shows != 1 else ''} and "
            f"{counts.movies} movie{'s' if counts.movies != 1 else ''} in the tracker")
    if status.database_notice:
        return Check("Database", WARN, f"{held}. {status.database_notice}")
    return Check("Database", PASS, held)


async def server_checks(status: CoreStatus, local_url: str | None) -> list[Check]:
    if status.server != ServerState.LISTENING or not local_url:
        return [Check("Server listening", FAIL, status.server_error or status.server.value,
                      "Pick a free port in Settings, or close the program that uses it.")]
    ok, detail, _ = await self_test(local_url)
    checks = [Check("Server listening", PASS, f"{status.host} port {status.port}"),
              Check("Local self-test", PASS if ok else FAIL, detail,
                    "" if ok else "Restart Scrobble Tray; if it persists, see the log file.")]
    if status.stopped_work:
        checks.append(Check("Background work", FAIL, status.stopped_work,
                            "Quit and start Scrobble Tray again; the log file has the details."))
    return checks


async def tunnel_checks(status: CoreStatus, public_url: str | None) -> list[Check]:
    """The tunnel's rows, with an end-to-end test through it."""
    if status.tunnel == TunnelState.OFF:
        return [Check("Tunnel", WARN, "off: only a Plex server that can reach this computer "
                      "directly can send webhooks", "Set an ngrok authtoken in Settings to open the tunnel.")]
    if status.tunnel != TunnelState.ONLINE:
        return [Check("Tunnel", FAIL, f"{status.tunnel.value}: {status.tunnel_reason or ''}".rstrip(": "),
                      status.tunnel_fix or "Wait a moment and run the checks again.")]
    checks = [Check("Tunnel", PASS, f"online at {status.public_url}")]
    ok, detail, _ = await self_test(public_url or "")
    checks.append(Check("Public URL self-test", PASS if ok else FAIL, f"through ngrok: {detail}",
                        "" if ok else "The tunnel is up but does not reach the app: restart the tunnel."))
    if status.url_changed:
        checks.append(Check("Webhook URL in Plex", WARN, "the public URL changed since Plex was last given it",
                            "Copy the webhook URL into Plex again, or set a static ngrok domain."))
    return checks


def last_webhook_check(stats: WebhookStats, counts: Counts | None) -> Check:
    refused = f"; {stats.refused_text()} since start" if stats.rejected else ""
    if stats.last_webhook_at:
        return Check("Last webhook", PASS, f"{ago(stats.last_webhook_at)} from "
                     f"{stats.last_server or 'an unknown server'} ({stats.last_source}){refused}")
    if counts is not None and counts.last_webhook_at:
        return Check("Last webhook", PASS,
                     f"at {counts.last_webhook_at:%Y-%m-%d %H:%M:%S} UTC (before this start)")
    return Check("Last webhook", WARN, f"none received yet{refused}",
                 "In Plex: Settings > Webhooks > Add Webhook, paste the webhook URL, save, then play something.")


def conflicts_check(counts: Counts) -> Check:
    n = counts.conflicts_open
    return Check("Open conflicts", WARN if n else PASS,
                 f"{n} Plex show(s) waiting for your decision" if n else "none",
                 "Open Conflicts and choose a show for each." if n else "")


def report(checks: list[Check], webhook_url: str | None) -> str:
    """A Markdown report of ``checks``, with every secret redacted."""
    icon = {PASS: "✅", WARN: "⚠️", FAIL: "❌"}
    lines = ["# Scrobble Tray diagnostics", "",
             f"- Version: {__version__}",
             f"- Time: {datetime.now(UTC).isoformat(timespec='seconds')}",
             f"- Webhook URL: {webhook_url or 'none'}", "",
             "| Check | Result | Detail | Fix |", "|---|---|---|---|"]
    lines += [f"| {c.name} | {icon.get(c.status, c.status)} {c.status.value} | {c.detail} | {c.fix} |" for c in checks]
    return redact("\n".join(lines) + "\n")
