"""The running core's local door: how a command (``scrobbletray destinations retry``,
``conflicts resolve``, ``plex catch-up``, a settings change) asks the running app instead
of working beside it.

The running core listens on 127.0.0.1, on a port of the OS's choosing (never the
tunnelled one), and writes the port and a fresh token to ``control.json``, readable by the
user only. A request names one façade call and its arguments as JSON; the answer is the
result as plain JSON, or ``{"error", "fix"}``.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web

from app.core.config import Paths, write_private
from app.core.errors import AppError
from app.core.plain import plain

log = logging.getLogger(__name__)
Call = Callable[..., Awaitable[Any]]
TIMEOUT = 600.0  # a catch-up of a long history may take minutes


def _path(paths: Paths) -> Any:
    return paths.data_dir / "control.json"


class ControlServer:
    """Serves ``calls`` to this user's commands while the core runs."""

    def __init__(self, paths: Paths, calls: Mapping[str, Call]) -> None:
        self.paths = paths
        self.calls = dict(calls)
        self._token = secrets.token_urlsafe(32)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_post("/call/{name}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        write_private(_path(self.paths), json.dumps({"port": port, "token": self._token, "pid": os.getpid()}))

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            if self.paths.data_dir.is_dir():
                _path(self.paths).unlink(missing_ok=True)

    async def _handle(self, request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode(), self._token.encode()):
            return web.json_response({"error": "not allowed"}, status=403)
        call = self.calls.get(request.match_info["name"])
        if call is None:
            return web.json_response({"error": "no such call"}, status=404)
        try:
            kwargs = await request.json()
            if not isinstance(kwargs, dict):
                raise ValueError("the arguments must be a JSON object")
        except ValueError as exc:
            return web.json_response({"error": f"bad arguments: {exc}"}, status=400)
        try:
            result = await call(**kwargs)
        except AppError as exc:
            return web.json_response({"error": str(exc), "fix": exc.fix}, status=409)
        except TypeError as exc:  # arguments the call does not take
            return web.json_response({"error": f"bad arguments: {exc}"}, status=400)
        except Exception as exc:  # the log has the traceback; the command gets a sentence
            log.exception("control call %s failed", request.match_info["name"])
            return web.json_response({"error": f"{type(exc).__name__}: {exc}", "fix": "See the log file."},
                                     status=500)
        return web.json_response({"result": plain(result, local=False)})


async def call(paths: Paths, name: str, **kwargs: Any) -> tuple[bool, Any]:
    """Ask the running core: ``(True, result)``, or ``(False, None)`` when none runs here.
    Raises :class:`AppError` with the running core's words when it refuses."""
    try:
        found = json.loads(_path(paths).read_text(encoding="utf-8"))
        port, token = int(found["port"]), str(found["token"])
    except (OSError, ValueError, KeyError, TypeError):
        return False, None
    timeout = aiohttp.ClientTimeout(total=TIMEOUT, sock_connect=2)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.post(f"http://127.0.0.1:{port}/call/{name}", json=kwargs,
                                    headers={"Authorization": f"Bearer {token}"}) as r:
                answer = await r.json(content_type=None)
    except aiohttp.ClientConnectionError:
        return False, None  # it stopped without tidying up (a crash): nobody listens
    if not isinstance(answer, dict):
        raise AppError("The running Scrobble Tray gave an answer that is not JSON", "See its log file.")
    if "error" in answer:
        raise AppError(str(answer["error"]), answer.get("fix"))
    return True, answer.get("result")
