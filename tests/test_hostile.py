"""Hostile traffic: a compressed bomb to a wrong secret or a wrong path costs a valid
webhook nothing, since a refused request's body is never read or unpacked."""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib

import aiohttp
import pytest

from app.core.facade import Core
from tests.helpers import episode_payload, form, post, settled, webhook_url


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """~256 KB of gzip that unpacks to 256 MB of zeros."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    return b"".join(z.compress(block) for _ in range(256)) + z.flush()


async def _send_bomb(url: str, body: bytes) -> int:
    headers = {"Content-Type": "multipart/form-data; boundary=x", "Content-Encoding": "gzip"}
    async with aiohttp.ClientSession() as s:
        try:
            async with s.post(url, data=body, headers=headers) as r:
                return r.status
        except aiohttp.ClientError:
            return -1  # closed on it: fine too


async def test_bombs_to_a_wrong_secret_and_path_do_not_slow_valid_webhooks(core: Core, bomb: bytes) -> None:
    url = webhook_url(core)
    targets = [url.rsplit("/", 1)[0] + "/wrong-secret", url.split("/webhook/")[0] + "/nowhere"] * 2
    latencies = []
    bombs = [asyncio.create_task(_send_bomb(t, bomb)) for t in targets]
    async with aiohttp.ClientSession() as s:
        for n in range(15):
            t = time.perf_counter()
            assert (await post(url, episode_payload(1, n + 1), session=s))[0] == 200
            latencies.append(time.perf_counter() - t)
            await asyncio.sleep(0.05)
    statuses = await asyncio.gather(*bombs)
    assert set(statuses) <= {403, 404, -1}, statuses
    assert max(latencies) < 0.25, latencies  # unpacking one would take seconds
    await settled(core)


async def test_a_compressed_body_with_the_right_secret_is_refused_unread(core: Core, bomb: bytes) -> None:
    assert await _send_bomb(webhook_url(core), bomb) == 415
    async with aiohttp.ClientSession() as s, s.post(webhook_url(core), data=form(episode_payload(1, 1)),
                      headers={"Content-Encoding": "identity"}) as r:
        assert r.status == 200  # "identity" is no compression


async def test_a_refused_body_still_coming_is_cut_off_after_its_answer(core: Core) -> None:
    from app.core.webhook_connections import LINGER

    reader, writer = await asyncio.open_connection("127.0.0.1", core.status.port)
    writer.write(b"POST /webhook/wrong-secret HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n"
                 b"Content-Type: multipart/form-data; boundary=b\r\n\r\n")
    assert (await reader.readuntil(b"\r\n")).startswith(b"HTTP/1.1 403")
    started = time.perf_counter()
    with contextlib.suppress(ConnectionError):  # (reset or closed: either way, cut off)
        while time.perf_counter() - started < 3 * LINGER and not reader.at_eof():
            writer.write(b"x" * 65536)  # 100 MB on its way, 640 KB a second
            await writer.drain()
            await asyncio.sleep(0.1)
    assert time.perf_counter() - started < LINGER + 1.0
    writer.close()


@pytest.mark.parametrize("line", [
    b"GET /webhook/{secret}\xff HTTP/1.1",  # raw non-ASCII in the path
    b"POST /webhook/{secret} HTTP/9.9",  # an HTTP version that does not exist
    b"GET /webhook/{secret}" + b"a" * 9000 + b" HTTP/1.1",  # an over-long path
    b"POST /webhook/{secret} HTTP/1.1\r\nX-Big: " + b"b" * 10000,  # an oversized header
])
async def test_aiohttps_own_400s_echo_nothing_and_name_no_version(core: Core, line: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", core.status.port)
    writer.write(line.replace(b"{secret}", core.secret.encode()) + b"\r\nHost: x\r\n\r\n")
    await writer.drain()
    answer = (await asyncio.wait_for(reader.read(4096), 5)).decode("latin-1")
    writer.close()
    assert answer.startswith("HTTP/1.0 400 Bad Request") and "Server: Scrobble Tray" in answer
    assert core.secret not in answer and "aiohttp" not in answer and "Python" not in answer
    assert answer.endswith("this is not a request Scrobble Tray can read.\n")


async def test_slow_clients_are_cut_off_and_hold_up_nothing(paths, settings, monkeypatch) -> None:
    from app.core import webhook_connections
    from tests.helpers import running

    monkeypatch.setattr(webhook_connections.GuardedRunner, "header_deadline", 1.0)
    async with running(paths, settings) as core:
        slow = []
        for _ in range(300):  # each sends part of its headers, then a byte now and then
            reader, writer = await asyncio.open_connection("127.0.0.1", core.status.port)
            writer.write(b"POST /webhook/" + core.secret.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append((reader, writer))
        latencies = []
        async with aiohttp.ClientSession() as s:
            for n in range(5):
                t = time.perf_counter()
                assert (await post(webhook_url(core), episode_payload(1, n + 1), session=s))[0] == 200
                latencies.append(time.perf_counter() - t)
        assert max(latencies) < 0.25, latencies
        await asyncio.sleep(1.5)
        for _, writer in slow:
            writer.write(b"a")  # still dribbling...
        closed = await asyncio.gather(*(asyncio.wait_for(r.read(), 3) for r, _ in slow))
        assert closed == [b""] * 300  # ...but cut off, unanswered
        for _, writer in slow:
            writer.close()


async def test_slow_headers_on_a_kept_alive_connection_are_cut_off_too(paths, settings, monkeypatch) -> None:
    from app.core import webhook_connections
    from tests.helpers import running

    monkeypatch.setattr(webhook_connections.GuardedRunner, "header_deadline", 0.5)
    async with running(paths, settings) as core:
        reader, writer = await asyncio.open_connection("127.0.0.1", core.status.port)
        path = f"/webhook/{core.secret}".encode()
        writer.write(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")  # kept alive after its answer
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        await reader.readuntil(b"Webhooks.\n")
        started = time.perf_counter()
        writer.write(b"POST " + path + b" HTTP/1.1\r\n")
        for _ in range(30):  # a header byte every 0.1 s, for up to 3 s
            await asyncio.sleep(0.1)
            if reader.at_eof():
                break
            writer.write(b"X")
        assert await asyncio.wait_for(reader.read(), 3) == b""  # cut off, unanswered
        assert time.perf_counter() - started < 1.5
        writer.close()


async def test_a_body_that_never_finishes_gets_408(paths, settings, monkeypatch) -> None:
    from app.core import webhooks
    from tests.helpers import running

    monkeypatch.setattr(webhooks, "BODY_DEADLINE", 0.5)
    async with running(paths, settings) as core:
        reader, writer = await asyncio.open_connection("127.0.0.1", core.status.port)
        writer.write(b"POST /webhook/" + core.secret.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 5000\r\n\r\n--b\r\n")
        answer = (await asyncio.wait_for(reader.read(400), 5)).decode()
        writer.close()
        assert answer.startswith("HTTP/1.1 408") and "Connection: close" in answer
        assert "did not arrive within 0.5 s" in answer
        assert core.webhook_stats().refused == (("too slow", 1),)


async def test_connections_over_the_cap_are_refused_and_the_server_goes_on(paths, settings, monkeypatch) -> None:
    from app.core import webhook_connections
    from tests.helpers import running

    monkeypatch.setattr(webhook_connections, "MAX_CONNECTIONS", 20)
    async with running(paths, settings) as core:
        held = [await asyncio.open_connection("127.0.0.1", core.status.port) for _ in range(25)]
        ends = await asyncio.gather(*(asyncio.wait_for(r.read(), 2) for r, _ in held[20:]))
        assert ends == [b""] * 5  # closed at once
        for _, w in held:
            w.close()
        await asyncio.sleep(0.1)
        assert (await post(webhook_url(core), episode_payload(1, 1)))[0] == 200
