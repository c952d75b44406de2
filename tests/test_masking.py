"""Credentials are masked by their place, never by replacing an ordinary word everywhere:
the user slot, the values of secret query keys, a relay's path tokens (Yamtrack, Ryot,
Movary); errors are stored masked; status.json always parses."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator

import pytest

from app.core import status_file
from app.core.config import RelayTarget
from app.core.destinations.relay import RELAY
from app.core.logs import redact, url_secrets
from app.core.types import CoreStatus, DestinationState, WebhookStats
from app.present.state import destination_words
from tests.helpers import wait_for
from tests.test_relay import burst, relay_status, started
from tests.test_relay_misbehaving import OK, Scripted

SECRET = "c0ffee" * 8


@pytest.mark.parametrize(("url", "shown"), [
    ("http://localhost:8000/webhook/plex/9f8e7d6c5b4a", "http://localhost:8000/webhook/plex/•••"),  # Yamtrack
    ("http://localhost:8000/_i/my-ryot-slug", "http://localhost:8000/_i/•••"),  # Ryot
    ("http://localhost:8000/backend/_i/my-ryot-slug", "http://localhost:8000/backend/_i/•••"),
    ("http://movary.lan/api/webhook/plex/1b2c3d4e", "http://movary.lan/api/webhook/plex/•••"),  # Movary
    ("http://me:pw123456@host:3000/hook", "http://•••:•••@host:3000/hook"),
    ("http://tok123456789abcdefghij@host/hook", "http://•••@host/hook"),
    ("http://h/api/plex/webhook?secret=abcd&debug=false&format=json",
     "http://h/api/plex/webhook?secret=•••&debug=false&format=json"),
    ("http://h/hook?apiKey=k3y-k3y&X-Plex-Token=tok-tok&page=2", "http://h/hook?apiKey=•••&X-Plex-Token=•••&page=2"),
])
def test_credentials_are_masked_in_their_place_and_nothing_else(url: str, shown: str) -> None:
    target = RelayTarget("relay-1", url)
    assert RELAY.shown_url(target) == shown
    secrets = url_secrets(url, RELAY.secret_segments(url))
    assert secrets and not {"false", "json", "2", "host", "hook", "me"} & set(secrets)


def test_status_json_stays_json_whatever_a_secret_looks_like(paths) -> None:
    status = CoreStatus(paused=False)
    status_file.write(paths, status_file.snapshot(status, WebhookStats()), ["false", "true", '": 0'])
    read = status_file.read(paths)
    assert read is not None and read[0] == dataclasses.replace(status, plex=read[0].plex)


@pytest.fixture
async def not_http() -> AsyncIterator[int]:
    """A port where another program answers, not in HTTP (an SSH server, say)."""
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_an_answer_that_is_not_http_is_said_without_the_secret(paths, settings, not_http) -> None:
    core = await started(paths, settings, f"http://127.0.0.1:{not_http}/api/plex/webhook?secret={SECRET}")
    try:
        attempt = await core.test_destination("relay-1")  # what 'destinations test' prints
        assert SECRET not in attempt.detail and "not HTTP" in attempt.detail
        await burst(core, 1, clients=1)
        await wait_for(lambda: _failing(core), timeout=5)
        d = await relay_status(core)
        rows = await core.scrobbles()  # Recent scrobbles, 'scrobbles --json'
        shown = [attempt.detail, attempt.fix, repr(d), *destination_words(d), repr(rows),
                 core.report(await core.diagnostics())]
        assert all(SECRET not in text for text in shown if text)
        assert "not HTTP" in (rows[0].deliveries[0].detail or "")
    finally:
        await core.stop()


async def _failing(core) -> bool:  # type: ignore[no-untyped-def]
    return (await relay_status(core)).state is DestinationState.FAILING


async def test_a_token_in_the_path_is_never_shown(paths, settings, caplog) -> None:
    caplog.set_level(logging.INFO)
    target = Scripted(lambda n, t: (403, {}) if n == 0 else OK)
    await target.start()
    token = "yamtrack-" + SECRET
    core = await started(paths, settings, f"http://127.0.0.1:{target.port}/webhook/plex/{token}")
    try:
        await burst(core, 1, clients=1)
        await wait_for(lambda: target.seen, timeout=5)
        d = await relay_status(core)
        assert d.target == f"http://127.0.0.1:{target.port}/webhook/plex/•••"
        report = core.report(await core.diagnostics())
        for text in (repr(d), report, caplog.text, redact(f"posting to .../{token}")):
            assert token not in text
    finally:
        await core.stop()
        assert target.runner is not None
        await target.runner.cleanup()


async def test_ordinary_query_values_are_not_secrets_and_status_json_parses(paths, settings) -> None:
    target = Scripted(lambda n, t: OK)
    await target.start()
    core = await started(paths, settings, f"http://127.0.0.1:{target.port}/hook?secret={SECRET}&debug=false&format=json")
    try:
        # 'status' finds the app running, and its destination ('destinations list')
        await wait_for(lambda: status_file.read(paths) is not None and "relay-1" in status_file.destinations(paths),
                       timeout=5)
        d = await relay_status(core)
        assert d.target == f"http://127.0.0.1:{target.port}/hook?secret=•••&debug=false&format=json"
        assert redact("debug: false, format: json") == "debug: false, format: json"
        await burst(core, 1, clients=1)
        await wait_for(lambda: target.seen, timeout=5)
        await asyncio.sleep(status_file.EVERY + 0.5)  # written again, with the delivery
        assert status_file.read(paths) is not None
    finally:
        await core.stop()
        assert target.runner is not None
        await target.runner.cleanup()
