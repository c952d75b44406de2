"""A stand-in for a web tracker's own Plex webhook endpoint (``../shared/TRACKERS.md`` §1).

An aiohttp app on 127.0.0.1 that behaves like the reference endpoint:
``POST /api/plex/webhook?secret=...`` with Plex's JSON in the multipart field
``payload``; 403 for a wrong secret; a fixed-window rate limit per client address (100
a minute by default) answered with 429 and ``Retry-After``; only ``media.scrobble`` of
an episode is processed, everything else is ``ignored`` (200); the same episode by the
same account within 5 minutes (show title, season, episode) is a ``duplicate`` (200).

Switches a test flips at any time (:attr:`FakeTracker.mode`): ``ok``; ``refuse`` (the
port is closed: connection refused, as when ``npm run dev`` is not running); ``error``
(500, its database is down); ``hang`` (the request is read, never answered);
``forbidden`` (403 for everything). :meth:`restart` closes and reopens the same port.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PATH = "/api/plex/webhook"


@dataclass
class Request:
    """One request as the tracker saw it."""

    at: float
    status: int
    headers: dict[str, str]
    payload: str | None = None
    payload_event: str | None = None


@dataclass
class FakeTracker:
    secret: str = "s3cret"
    limit: int = 100  # requests per window per client address (0: no limit)
    window: float = 60.0
    dedup_seconds: float = 300.0
    port: int = 0
    requests: list[Request] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)  # processed scrobbles, in order
    hanging: int = 0  # requests being held by "hang"

    def __post_init__(self) -> None:
        self._mode = "ok"
        self._runner: web.AppRunner | None = None
        self._windows: dict[str, tuple[float, int]] = {}  # address -> (window start, count)
        self._seen: dict[tuple[Any, ...], float] = {}
        self._release = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- life --------------------------------------------------------------------
    async def start(self) -> None:
        await self._listen()

    async def _listen(self) -> None:
        app = web.Application()
        app.router.add_post(PATH, self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _close_port(self) -> None:
        """Like a dev server that stops: the port closes and open connections drop."""
        self._release.set()  # hung requests end
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def restart(self, down_for: float = 0.2) -> None:
        """Stop listening, stay down a moment, listen again on the same port."""
        await self._close_port()
        await asyncio.sleep(down_for)
        self._release = asyncio.Event()
        await self._listen()

    async def stop(self) -> None:
        await self._close_port()

    async def __aenter__(self) -> FakeTracker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}{PATH}?secret={self.secret}"

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        assert value in ("ok", "refuse", "error", "hang", "forbidden"), value
        old, self._mode = self._mode, value
        if value == "refuse" and old != "refuse":
            self._spawn(self._close_port())
        elif old == "refuse" and value != "refuse":
            self._release = asyncio.Event()
            self._spawn(self._listen())
        if old == "hang" and value != "hang":
            self._release.set()
            self._release = asyncio.Event()

    # -- the endpoint ---------------------------------------------------------------
    def _answer(self, request: web.Request, status: int, body: dict[str, Any],
                payload: str | None = None, event: str | None = None, **headers: str) -> web.Response:
        self.requests.append(Request(time.monotonic(), status, dict(request.headers), payload, event))
        return web.json_response(body, status=status, headers=headers)

    def _rate_limited(self, address: str) -> float | None:
        if not self.limit:
            return None
        now = time.monotonic()
        start, count = self._windows.get(address, (now, 0))
        if now - start >= self.window:
            start, count = now, 0
        if count >= self.limit:
            return self.window - (now - start)
        self._windows[address] = (start, count + 1)
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self._mode == "hang":
            await request.read()
            self.hanging += 1
            try:
                await self._release.wait()
            finally:
                self.hanging -= 1
            raise web.HTTPServiceUnavailable()  # the connection is usually gone by now
        if (wait := self._rate_limited(request.remote or "?")) is not None:
            return self._answer(request, 429, {"error": "Too many requests"},
                                **{"Retry-After": str(max(1, int(wait + 0.999)))})
        if self._mode == "forbidden" or request.query.get("secret") != self.secret:
            return self._answer(request, 403, {"error": "Invalid webhook secret"})
        if self._mode == "error":
            return self._answer(request, 500, {"error": "database unavailable"})
        if not request.content_type.startswith("multipart/"):
            return self._answer(request, 400, {"error": "expected multipart/form-data"})
        payload = None
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            data = await part.read()  # type: ignore[union-attr]
            if part.name == "payload":  # type: ignore[union-attr]
                payload = data.decode("utf-8", "replace")
        try:
            event = json.loads(payload or "")
            assert isinstance(event, dict)
        except (ValueError, AssertionError):
            return self._answer(request, 400, {"error": "missing or invalid payload"}, payload)
        name = event.get("event")
        meta = event.get("Metadata") or {}
        if name != "media.scrobble" or meta.get("type") != "episode":
            return self._answer(request, 200, {"status": "ignored"}, payload, name)
        key = (meta.get("grandparentTitle"), meta.get("parentIndex"), meta.get("index"),
               (event.get("Account") or {}).get("id"))
        now = time.monotonic()
        if now - self._seen.get(key, -1e9) < self.dedup_seconds:
            return self._answer(request, 200, {"status": "duplicate"}, payload, name)
        self._seen[key] = now
        self.accepted.append(event)
        return self._answer(request, 200, {"status": "success"}, payload, name)
