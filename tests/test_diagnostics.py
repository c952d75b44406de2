"""Diagnostics against a running core: every check, and a report with no secrets."""

from __future__ import annotations

from app.core.diagnostics import FAIL, PASS, WARN
from app.core.facade import Core
from tests.helpers import post, sample, settled, webhook_url


async def test_checks_on_a_fresh_core_then_after_a_webhook(core: Core) -> None:
    checks = {c.name: c for c in await core.diagnostics()}
    assert checks["Database"].status == PASS and checks["Database"].detail == "1 show and 0 movies in the tracker"
    assert checks["Server listening"].status == PASS
    assert checks["Local self-test"].status == PASS and "ms" in checks["Local self-test"].detail
    assert checks["Open conflicts"].status == PASS

    await post(webhook_url(core), sample("scrobble-unknown-show"))
    await settled(core)
    checks = {c.name: c for c in await core.diagnostics()}
    assert checks["Last webhook"].status == PASS and "Living Room" in checks["Last webhook"].detail
    assert checks["Open conflicts"].status == WARN and checks["Open conflicts"].fix
    # The self-test events are ignored, never marked, and kept out of Recent scrobbles.
    await settled(core)
    rows = await core.runtime.run(core.runtime.store.scrobbles)
    assert [r.plex_title for r in rows] == ["NonExistent Show XYZ"]
    assert core.webhook_stats().accepted == 3  # the two self-tests and the webhook


async def test_report_is_markdown_with_the_secret_redacted(core: Core) -> None:
    checks = await core.diagnostics()
    text = core.report(checks)
    assert text.startswith("# Scrobble Tray diagnostics")
    assert "| Server listening | ✅ pass |" in text
    assert core.secret not in text and "redacted" in text


async def test_server_down_is_a_failure_with_a_fix(core: Core) -> None:
    await core.runtime.server.stop()
    core.runtime._set_status(server="error", server_error="port in use")
    checks = {c.name: c for c in await core.diagnostics()}
    assert checks["Server listening"].status == FAIL and checks["Server listening"].fix
