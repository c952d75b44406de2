"""What the Trakt and Simkl stand-ins share: aiohttp apps on 127.0.0.1, their life
(``start``/``close``, ``async with``, ``down``/``up`` on the same ports), the request log
and the faults a test switches on (``fail_next``, ``record_then_hang``).

The services' behaviour is in ``tests/fake_trakt.py`` and ``tests/fake_simkl.py`` (each
names the contract it follows); the catalog and the history bodies in
``tests/fake_online_catalog.py``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Seen(NamedTuple):
    """One request as the service saw it: ``status`` 0 when it was never answered."""

    at: float  # time.monotonic()
    method: str
    path: str
    status: int


def now_iso(millis: bool = True, at: float | None = None) -> str:
    """A UTC time as the services write it (Trakt ``…:11.000Z``, Simkl ``…:11Z``)."""
    moment = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{moment.microsecond // 1000:03d}Z" if millis else "Z")


def parse_time(text: Any) -> float | None:
    """Epoch seconds of an ISO 8601 date or datetime (``Z`` or an offset), else None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class FakeOnline:
    """Base of a stand-in: one aiohttp app per host in :attr:`HOSTS`."""

    HOSTS: tuple[str, ...] = ("api",)

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.record_then_hang = False
        self.hanging = 0  # requests held now by record_then_hang
        self._fail: list[int] = []
        self._ports: dict[str, int] = dict.fromkeys(self.HOSTS, 0)
        self._runners: dict[str, web.AppRunner] = {}
        self._release = asyncio.Event()

    # -- life --------------------------------------------------------------------------
    def routes(self, host: str, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        for host in self.HOSTS:
            app = web.Application(middlewares=[self._middleware])
            self.routes(host, app)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", self._ports[host], reuse_address=True)
            await site.start()
            self._ports[host] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._runners[host] = runner

    async def close(self) -> None:
        self._release.set()  # held requests end
        for runner in self._runners.values():
            await runner.cleanup()
        self._runners.clear()

    async def down(self) -> None:
        """Stop listening (connection refused) until :meth:`up`, on the same ports."""
        await self.close()

    async def up(self) -> None:
        self._release = asyncio.Event()
        await self.start()

    async def __aenter__(self) -> FakeOnline:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def url(self, host: str) -> str:
        return f"http://127.0.0.1:{self._ports[host]}"

    # -- faults --------------------------------------------------------------------------
    def fail_next(self, status: int, n: int = 1) -> None:
        """The next ``n`` requests (any host) answer ``status`` and change nothing."""
        self._fail.extend([status] * n)

    def fault_response(self, status: int) -> web.StreamResponse | web.HTTPException:
        """What a forced failure looks like (a service overrides it for its own codes)."""
        return web.json_response({"error": f"forced {status}"}, status=status)

    async def hang(self) -> web.Response:
        """Never answer (until the stand-in closes): the client's timeout decides."""
        self.hanging += 1
        try:
            await self._release.wait()
        finally:
            self.hanging -= 1
        return web.json_response({"error": "closing"}, status=503)

    # -- the request log -----------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        at = time.monotonic()
        entry = len(self.requests)
        self.requests.append(Seen(at, request.method, request.path, 0))
        try:
            if self._fail:
                forced = self.fault_response(self._fail.pop(0))
                if isinstance(forced, web.HTTPException):
                    raise forced  # aiohttp wants these raised, not returned
                response: web.StreamResponse = forced
            else:
                response = await handler(request)
        except web.HTTPException as exc:
            self.requests[entry] = Seen(at, request.method, request.path, exc.status)
            raise
        self.requests[entry] = Seen(at, request.method, request.path, response.status)
        return response

    def statuses(self, path_prefix: str = "/", method: str | None = None) -> list[int]:
        """The answered statuses of requests whose path starts with ``path_prefix``."""
        return [s.status for s in self.requests
                if s.path.startswith(path_prefix) and (method is None or s.method == method)]


async def read_json(request: web.Request) -> Any:
    """The request's JSON body; a body that does not parse answers 400 (as both services do)."""
    try:
        return json.loads(await request.text() or "null")
    except ValueError:
        raise web.HTTPBadRequest(text=json.dumps({"error": "invalid JSON"}),
                                 content_type="application/json") from None


def bearer(request: web.Request) -> str | None:
    value = request.headers.get("Authorization", "")
    return value[7:] if value[:7].lower() == "bearer " else None
