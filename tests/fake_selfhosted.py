"""Stand-ins for the self-hosted trackers' own Plex webhook endpoints
(``../shared/TRACKERS.md`` section 3), each built from that project's code, read at the
commit named in its docstring; :mod:`tests.fake_selfhosted_raw` has the three that read
the raw body (Ryot, CrossWatch, goplaxt).

Each is an aiohttp app on 127.0.0.1 that does with a request what its code does: the path
and where the secret goes, how it parses the body, which events it acts on, whose plays it
keeps, what it answers, and what it records (so a test can see a movie counted or an
episode never sent). Where the real one asks TMDB or Trakt, a stand-in keys the item on
Plex's own ids instead. Every request is kept in :attr:`SelfHosted.requests`.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web


@dataclass
class Seen:
    """One request as the tracker saw it."""

    path: str
    query: str
    headers: dict[str, str]
    status: int
    event: str | None = None  # Plex's event, when the tracker read one
    media: str | None = None  # its Metadata.type


def guid_ids(meta: dict[str, Any]) -> dict[str, str]:
    """Plex's ``Metadata.Guid`` list as {"tmdb": ..., "imdb": ..., "tvdb": ...}."""
    found: dict[str, str] = {}
    for g in meta.get("Guid") or []:
        provider, _, value = str(g.get("id", "")).partition("://")
        found.setdefault(provider, value)
    return found


class SelfHosted:
    """What every stand-in shares: its port, its life, its record of requests."""

    routes: tuple[tuple[str, str], ...] = ()  # (method, path) -> self.handle

    def __init__(self) -> None:
        self.port = 0
        self.requests: list[Seen] = []
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        for method, path in self.routes:
            app.router.add_route(method, path, self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Any:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def host(self) -> str:
        return "127.0.0.1"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self._event: str | None = None
        self._media: str | None = None
        response = await self.handle(request)
        self.requests.append(Seen(request.path, request.query_string, dict(request.headers),
                                  response.status, self._event, self._media))
        return response

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError

    def read(self, text: str) -> Any:
        """Plex's JSON, its event noted for :attr:`requests`."""
        data = json.loads(text)
        if isinstance(data, dict):
            self._event = data.get("event")
            self._media = (data.get("Metadata") or {}).get("type")
        return data

    @property
    def events(self) -> list[str | None]:
        """The events that reached the tracker's own code (past its token check)."""
        return [r.event for r in self.requests if r.event is not None]


async def form_field(request: web.Request, name: str) -> str | None:
    """A form field of a multipart or urlencoded body (as Django's request.POST and PHP's
    $_POST read it); None when the body has no such field."""
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        value = None
        while (part := await reader.next()) is not None:
            data = await part.read()  # type: ignore[union-attr]
            if part.name == name:  # type: ignore[union-attr]
                value = data.decode("utf-8", "replace")
        return value
    if request.content_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl((await request.read()).decode("utf-8", "replace"))).get(name)
    return None


class Yamtrack(SelfHosted):
    """Yamtrack's Plex webhook, from FuzzyGrim/Yamtrack: ``src/integrations/views.py``
    (``plex_webhook``, commit 4eb29fdd8ac6254c9096b3c094cf5e8a60fc2847), ``urls.py``
    (``webhook/plex/<str:token>``), ``webhooks/plex.py`` and ``webhooks/base.py`` (commit
    77b4d1bf0b2d4223150643e161dd06798fc23dd9).

    ``POST /webhook/plex/<token>``: 401 (empty) for a token no user has; form field
    ``payload`` (400 ``Missing payload`` without it); acts on ``media.scrobble`` and
    ``media.play`` only, of the Plex user names set for the user (lower-cased, comma
    separated), for an item with a tmdb, imdb or tvdb id; else 200. A played episode is
    recorded with ``end_date`` = the time of receipt cut to the minute, unless the same
    episode's latest one is less than 5 s from it (its de-duplication); a movie played goes
    to completed, a movie started to in progress.
    """

    routes = (("POST", "/webhook/plex/{token}"),)

    def __init__(self, token: str = "yt" * 16, plex_usernames: str = "homeowner") -> None:
        super().__init__()
        self.users = {token: plex_usernames}
        self.episodes: list[tuple[tuple[str, ...], dt.datetime]] = []  # (show ids, season, episode), end_date
        self.movies: dict[str, str] = {}  # movie id -> Completed / In progress
        self.token = token

    def url(self, token: str | None = None) -> str:
        return f"http://{self.host}:{self.port}/webhook/plex/{token or self.token}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        user = self.users.get(request.match_info["token"])
        if user is None:
            return web.Response(status=401)
        data = await form_field(request, "payload")
        if not data:
            return web.Response(status=400, text="Missing payload")
        payload = self.read(data)
        if payload.get("event") not in ("media.scrobble", "media.play"):
            return web.Response(status=200)
        names = [u.strip().lower() for u in user.split(",") if u.strip()]
        if payload["Account"]["title"].strip().lower() not in names:
            return web.Response(status=200)
        meta = payload["Metadata"]
        ids = guid_ids(meta)
        if not any(ids.get(k) for k in ("tmdb", "imdb", "tvdb")):
            return web.Response(status=200)
        played = payload["event"] == "media.scrobble"
        now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        key = tuple(sorted(ids.items()))
        if meta.get("type") == "episode" and played:
            item = (repr(key), str(meta.get("parentIndex")), str(meta.get("index")))
            latest = max((end for i, end in self.episodes if i == item), default=None)
            if latest is None or abs((now - latest).total_seconds()) >= 5:
                self.episodes.append((item, now))
        elif meta.get("type") == "movie" and self.movies.get(repr(key)) != "Completed":
            self.movies[repr(key)] = "Completed" if played else "In progress"
        return web.Response(status=200)


class MediaTracker(SelfHosted):
    """MediaTracker's Plex webhook, from bonukai/MediaTracker at commit
    22aedac26329893b6441d74d12be9a48e190ca9c: ``server/src/controllers/plexController.ts``,
    ``server/src/middlewares/token.ts``, ``server/src/server.ts``, ``server/src/auth.ts``
    and ``server/src/middlewares/errorLoggerMiddleware.ts``.

    ``POST /api/plex``; the token from ``Authorization: Bearer``, ``Access-Token`` or
    ``?token=`` when the query holds one string (Express makes a second ``token=`` a list,
    which the check skips); without a user: ``res.redirect(401, '/#login')``. busboy reads
    the multipart field ``payload`` (no field: 500). Only ``media.scrobble`` is acted on:
    ``Metadata.Guid.map(...)...reduce(...)`` throws for a missing Guid list (500
    ``TypeError: Cannot read properties of undefined (reading 'map')``) or one without an
    imdb, tmdb or tvdb id (500 ``TypeError: Reduce of empty array ...``); else a seen entry
    dated ``Date.now()``. Answers 200 ``OK``.
    """

    routes = (("POST", "/api/plex"),)

    def __init__(self, token: str = "mt" * 16) -> None:
        super().__init__()
        self.token = token
        self.seen: list[tuple[str, dict[str, str], float]] = []  # (type, ids, date received)

    def url(self, token: str | None = None) -> str:
        return f"http://{self.host}:{self.port}/api/plex?token={token or self.token}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        token = token or request.headers.get("Access-Token")
        given = request.query.getall("token", [])
        if not token and len(given) == 1:  # typeof req.query.token === 'string'
            token = given[0]
        if token != self.token:
            return web.Response(status=401, text="Unauthorized. Redirecting to /#login",
                                headers={"Location": "/#login"})
        data = await form_field(request, "payload")
        if data is None:
            return web.Response(status=500, text='Error: No "payload" filed on Plex webhook body')
        payload = self.read(data)
        if payload.get("event") == "media.scrobble":
            guids = payload["Metadata"].get("Guid")
            if guids is None:
                return web.Response(status=500, text="TypeError: Cannot read properties of undefined "
                                                     "(reading 'map')")
            ids = {k: v for k, v in guid_ids(payload["Metadata"]).items() if k in ("imdb", "tmdb", "tvdb")}
            if not ids:
                return web.Response(status=500, text="TypeError: Reduce of empty array with no initial value")
            self.seen.append((payload["Metadata"].get("type"), ids, time.time()))
        return web.Response(status=200, text="OK")


class Movary(SelfHosted):
    """Movary's Plex webhook, from leepeuker/movary at commit
    c5ec0309a97fb7ffc5b2c8688727305ddfdc302e: ``settings/routes.php`` (the ``/api`` group,
    ``POST /webhook/plex/{id:.+}``), ``src/HttpController/Api/PlexController.php``
    (``handlePlexWebhook``) and ``src/Service/Plex/PlexScrobbler.php``.

    ``POST /api/webhook/plex/<id>``: 404 (empty) for an id no user has; form field
    ``payload`` (none: 200). Acts on ``media.scrobble`` and ``media.rate`` when ``user`` is
    not false and ``Metadata.librarySectionType`` is ``movie``, for a movie with a tmdb id
    (else 200, ignored): a scrobble adds a play on the day of ``Metadata.lastViewedAt``
    (none: a RuntimeException, 500), a rate sets the rating. Always 200 otherwise.
    """

    routes = (("POST", "/api/webhook/plex/{id}"),)

    def __init__(self, webhook_id: str = "3f2b8c1e-0d4a-4c6b-9e7f-5a1d2c3b4e5f") -> None:
        super().__init__()
        self.webhook_id = webhook_id
        self.plays: dict[tuple[int, str], int] = {}  # (tmdb id, watch date) -> plays
        self.ratings: dict[int, int] = {}

    def url(self, webhook_id: str | None = None) -> str:
        return f"http://{self.host}:{self.port}/api/webhook/plex/{webhook_id or self.webhook_id}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["id"] != self.webhook_id:
            return web.Response(status=404)
        data = await form_field(request, "payload")
        if data is None:
            return web.Response(status=200)
        hook = self.read(data)
        meta = hook.get("Metadata") or {}
        if (hook.get("event") not in ("media.scrobble", "media.rate") or hook.get("user") is False
                or meta.get("librarySectionType") != "movie"):
            return web.Response(status=200)
        tmdb = guid_ids(meta).get("tmdb")
        if tmdb is None:
            return web.Response(status=200)  # "Could not extract tmdb id from webhook" (logged)
        if hook["event"] == "media.scrobble":
            if not meta.get("lastViewedAt"):
                return web.Response(status=500, text="RuntimeException: Could not build date time from: ")
            day = dt.datetime.fromtimestamp(int(meta["lastViewedAt"]), dt.UTC).strftime("%Y-%m-%d")
            self.plays[(int(tmdb), day)] = self.plays.get((int(tmdb), day), 0) + 1
        elif "rating" in hook:
            self.ratings[int(tmdb)] = int(hook["rating"])
        return web.Response(status=200)


@dataclass
class Recorded:
    """What a stand-in kept of one play (for the raw-body trackers)."""

    event: str
    media: str | None
    detail: dict[str, Any] = field(default_factory=dict)
