"""Shared test helpers: sample payloads and real multipart requests."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp

SAMPLES = Path(__file__).with_name("samples")
# A real JPEG header is enough for Plex's "thumb" part: the server must skip it unread.
THUMB = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 64 + b"\xff\xd9"

BREAKING_BAD = {"title": "Breaking Bad", "year": 2008, "tmdb_id": 1396, "tvdb_id": 81189,
                "imdb_id": "tt0903747"}


def sample(name: str) -> dict[str, Any]:
    """A sample payload as a dict (``name`` without ``.json``)."""
    return json.loads((SAMPLES / f"{name}.json").read_text())


def new_agent(title: str, server_uuid: str, show_key: str = "10000", event: str = "media.scrobble") -> dict[str, Any]:
    """A new-agent episode webhook (plex://show/..., Guid ids of the episode) from a server."""
    payload = copy.deepcopy(sample("scrobble-new-agent-episode"))
    payload["event"] = event
    payload["Server"]["uuid"] = server_uuid
    payload["Metadata"].update(grandparentTitle=title, grandparentRatingKey=show_key,
                               grandparentKey=f"/library/metadata/{show_key}",
                               grandparentGuid=f"plex://show/{int(show_key):024x}")
    return payload


def episode_payload(season: int, episode: int, title: str = "Breaking Bad",
                    event: str = "media.scrobble", **meta: Any) -> dict[str, Any]:
    """A legacy-TMDB scrobble of any episode of Breaking Bad (or another title)."""
    data = sample("scrobble-legacy-themoviedb")
    data["event"] = event
    m = data["Metadata"]
    m.update(parentIndex=season, index=episode, grandparentTitle=title,
             ratingKey=str(100000 + season * 1000 + episode), title=f"Episode {episode}")
    m.update(meta)
    return data


def form(payload: dict[str, Any] | str | bytes, thumb: bool = False) -> aiohttp.FormData:
    """The multipart body Plex sends."""
    fd = aiohttp.FormData()
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    fd.add_field("payload", body, content_type="application/json")
    if thumb:
        fd.add_field("thumb", THUMB, filename="thumb.jpg", content_type="image/jpeg")
    return fd


async def post(url: str, payload: dict[str, Any] | str | bytes, thumb: bool = False,
               session: aiohttp.ClientSession | None = None) -> tuple[int, str]:
    """POST a webhook; returns ``(status, body text)``."""
    own = session is None
    session = session or aiohttp.ClientSession()
    try:
        async with session.post(url, data=form(payload, thumb),
                                headers={"User-Agent": "PlexMediaServer/1.41.0"}) as resp:
            return resp.status, await resp.text()
    finally:
        if own:
            await session.close()


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll an async or plain predicate until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running(paths, settings, **tunnel_options: Any) -> AsyncIterator[Any]:  # type: ignore[no-untyped-def]
    """A started core (stopped afterwards); ``tunnel_options`` are the tunnel's timing knobs."""
    from app.core.facade import Core

    core = Core(paths, settings)
    core.runtime._tunnel_options = tunnel_options
    await core.start()
    try:
        yield core
    finally:
        await core.stop()


async def settled(core) -> None:  # type: ignore[no-untyped-def]
    """Wait until the core's inbox holds nothing pending."""
    async def done() -> bool:
        return await core.runtime.run(core.runtime.store.pending_count) == 0
    await wait_for(done)


def webhook_url(core) -> str:  # type: ignore[no-untyped-def]
    url = core.local_webhook_url
    assert url is not None
    return url


FAKE_NGROK = Path(__file__).with_name("fake_ngrok.py")
NGROK_TOKEN = "2fakeAuthTOKEN_9f8e7d6c5b4a_0123456789"


def write_agent(path: Path) -> Path:
    """An executable stand-in ngrok agent at ``path`` (runs tests/fake_ngrok.py)."""
    import sys

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_NGROK}" "$@"\n')
    path.chmod(0o755)
    return path


def agent_pids(marker: str) -> list[int]:
    """Live processes whose command line contains ``marker`` (from the process table)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state not in ("Z", "X"):
            pids.append(int(proc.name))
    return pids


def disk_full(engine) -> Callable[[], None]:  # type: ignore[no-untyped-def]
    """The disk full, as SQLite meets it: no page beyond those the file has (SQLITE_FULL).
    Returns what makes room again."""
    from sqlalchemy import event

    with engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    def limit(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

    def make_room() -> None:
        event.remove(engine, "connect", limit)
        engine.dispose()

    event.listen(engine, "connect", limit)
    engine.dispose()
    return make_room
