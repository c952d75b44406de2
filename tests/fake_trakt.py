"""A stand-in for Trakt: two aiohttp apps on 127.0.0.1, the API host (:attr:`FakeTrakt.api_url`)
and the OAuth host (:attr:`FakeTrakt.auth_url`, ``tests/fake_trakt_auth.py``), so a client
calling the wrong one gets 404.

Built from Trakt's contracts, ``trakt/trakt-api`` at commit
586224bf1b7d7e24fef194ca3f1acfed59d536c7 (2026-07-30): ``projects/api/src/contracts/oauth/``
(device code/token, token refresh; "Use the https://auth.trakt.tv hostname for all OAuth
requests"), ``sync/index.ts`` (history add and get, ``start_at``/``end_at``; "We don't
verify the item + watched_at to ensure it's unique"), ``_internal/request/
bulkMediaRequestSchema.ts`` and ``idsRequestSchema.ts`` (body shapes, ids),
``sync/schema/response/historyResponseSchema.ts`` (``added, updated, not_found``),
``users/schema/response/activityHistoryResponseSchema.ts`` (history items),
``scrobble/index.ts`` (start/pause/stop, 80 %, 409 ``watched_at``/``expires_at``, 422
under 1 %), ``search/index.ts`` (``/search/:id_type/:id?type=``),
``projects/openapi/generate.ts`` (the two hosts); and from the API reference's
introduction (trakt.docs.apiary.io, as reproduced in generated clients): required headers,
status codes (403 bad API key, 412 not JSON, 420 account limit with ``X-Upgrade-URL``,
``X-VIP-User``, ``X-Account-Limit``), rate limits (``AUTHED_API_POST_LIMIT`` 1 a second,
GET 1,000 per 5 minutes, 429 with ``X-Ratelimit`` JSON and ``Retry-After`` seconds),
pagination headers ``X-Pagination-*``; ``X-Ratelimit`` as seen in python-pytrakt PR #63.

Where sources differ: the ts-rest contract lists ``200`` for ``POST /sync/history``, the
reference says a POST answers ``201`` (``history_status``, 201 by default; a client should
take either). The 5-minute block after a 429 is the reported 2026 rule (``block_on_limit``).
The contract's episode scrobble schema names ``episode.ids`` only; the stand-in also takes
``show`` + ``episode {season, number}``, the form clients send (jellyfin-plugin-trakt's
``TraktScrobbleEpisode``). The contract's history read needs ``:type/:id``; the stand-in
also serves ``/sync/history`` and ``/sync/history/:type`` (ids: Trakt ids only).
"""

from __future__ import annotations

import math
import time
from typing import Any

from aiohttp import web

from tests.fake_online import FakeOnline, bearer, now_iso, parse_time, read_json
from tests.fake_online_catalog import BadBody, Catalog, Movie, Play, Show
from tests.fake_trakt_auth import DeviceCode, Grant, TraktOAuth

UPGRADE_URL = "https://app.trakt.tv/vip"
HISTORY_KEYS = ("movies", "shows", "seasons", "episodes")


class AccountLimitExceeded(web.HTTPClientError):
    status_code = 420  # "Account Limit Exceeded - list count, item count, etc"


class FakeTrakt(FakeOnline, TraktOAuth):
    HOSTS = ("api", "auth")

    def __init__(self, client_id: str = "trakt-cid", client_secret: str = "trakt-secret", *,
                 token_lifetime: float = 7 * 86400, device_expires_in: float = 600, interval: float = 5,
                 post_interval: float = 1.0, block_seconds: float = 300, block_on_limit: bool = True,
                 get_limit: int = 1000, get_period: float = 300, account_limit: bool = False,
                 history_status: int = 201, scrobble_window: float = 3600, min_poll: float | None = None) -> None:
        super().__init__()
        self.min_poll = interval if min_poll is None else min_poll  # the gap required between device polls
        self.client_id, self.client_secret = client_id, client_secret
        self.token_lifetime, self.device_expires_in, self.interval = token_lifetime, device_expires_in, interval
        self.post_interval, self.block_seconds, self.block_on_limit = post_interval, block_seconds, block_on_limit
        self.get_limit, self.get_period = get_limit, get_period
        self.account_limit = account_limit
        self.account_limit_count = 100  # X-Account-Limit
        self.history_status = history_status
        self.scrobble_window = scrobble_window
        self.refreshes = 0
        self.on_refresh = None
        self.codes: dict[str, DeviceCode] = {}
        self.grants: dict[str, Grant] = {}
        self._refresh: dict[str, Grant] = {}
        self.catalog = Catalog("trakt")
        self.history: list[dict[str, Any]] = []
        self.playing: dict[str, dict[str, Any]] = {}  # access token -> what is playing now
        self._last_post: dict[str, float] = {}
        self._gets: dict[str, tuple[float, int]] = {}  # key -> (window start, count)
        self._blocked: dict[str, float] = {}  # key -> monotonic end of the block
        self._scrobbled: dict[tuple[str, str, int], tuple[str, float]] = {}  # -> (watched_at, expiry epoch)
        self._next_id = 1000

    @property
    def api_url(self) -> str:
        return self.url("api")

    @property
    def auth_url(self) -> str:
        return self.url("auth")

    def routes(self, host: str, app: web.Application) -> None:
        if host == "auth":
            self.auth_routes(app)
            return
        app.router.add_post("/sync/history", self._history_add)
        app.router.add_get("/sync/history", self._history_get)
        app.router.add_get("/sync/history/{type}", self._history_get)
        app.router.add_get("/sync/history/{type}/{id}", self._history_get)
        app.router.add_get("/search/{id_type}/{id}", self._search)
        app.router.add_post("/scrobble/{action}", self._scrobble)
        app.router.add_get("/users/settings", self._settings)

    # -- catalog and hooks -------------------------------------------------------------
    def add_show(self, title: str, ids: dict[str, Any], seasons: dict[int, int], year: int | None = None) -> Show:
        return self.catalog.add_show(title, ids, seasons, year)

    def add_movie(self, title: str, year: int | None, ids: dict[str, Any]) -> Movie:
        return self.catalog.add_movie(title, year, ids)

    def sign_in(self) -> Grant:
        """A token pair as if the user had signed in (for tests that start signed in)."""
        return self.issue()

    def fault_response(self, status: int) -> web.StreamResponse | web.HTTPException:
        if status == 429:
            return self._limited("AUTHED_API_POST_LIMIT", 1, 1, max(1.0, self.post_interval))
        if status == 420:
            return self._account_limited()
        return web.json_response(status=status)

    # -- the gate every API call passes -------------------------------------------------
    def _gate(self, request: web.Request, auth: str) -> str:
        """Checks headers, the token (``auth``: required/optional) and the limits; returns
        the limit key (the token, or "app"). Raises the answer when the call may not pass."""
        if request.headers.get("trakt-api-key") != self.client_id:
            raise web.HTTPForbidden(text="", content_type="application/json")
        if request.headers.get("trakt-api-version") != "2":
            raise web.HTTPBadRequest(text="", content_type="application/json")
        if not request.headers.get("Content-Type", "").startswith("application/json"):
            raise web.HTTPPreconditionFailed(text="", content_type="application/json")
        token = bearer(request)
        grant = self.grants.get(token or "")
        if (auth == "required" or token is not None) and (grant is None or not grant.alive()):
            raise web.HTTPUnauthorized(text='{"error": "invalid_token"}', content_type="application/json")
        key = token or "app"
        now = time.monotonic()
        if self._blocked.get(key, 0) > now:
            raise self._limited("AUTHED_API_POST_LIMIT", 1, 1, self._blocked[key] - now)
        if request.method in ("POST", "PUT", "DELETE"):
            last = self._last_post.get(key)
            if last is not None and now - last < self.post_interval:
                raise self._trip(key, "AUTHED_API_POST_LIMIT", 1, 1, self.post_interval - (now - last))
            self._last_post[key] = now
        else:
            start, count = self._gets.get(key, (now, 0))
            if now - start >= self.get_period:
                start, count = now, 0
            if count >= self.get_limit:
                name = "AUTHED_API_GET_LIMIT" if token else "UNAUTHED_API_GET_LIMIT"
                raise self._trip(key, name, self.get_period, self.get_limit, start + self.get_period - now)
            self._gets[key] = (start, count + 1)
        return key

    def _trip(self, key: str, name: str, period: float, limit: int, wait: float) -> web.HTTPException:
        if self.block_on_limit:
            self._blocked[key] = time.monotonic() + self.block_seconds
            wait = self.block_seconds
        return self._limited(name, period, limit, wait)

    def _limited(self, name: str, period: float, limit: int, wait: float) -> web.HTTPException:
        until = now_iso(millis=False, at=time.time() + wait)
        ratelimit = (f'{{"name":"{name}","period":{period:g},"limit":{limit},"remaining":0,'
                     f'"until":"{until}"}}')
        return web.HTTPTooManyRequests(text="", content_type="application/json", headers={
            "Retry-After": str(max(1, math.ceil(wait))), "X-Ratelimit": ratelimit})

    def _account_limited(self) -> web.HTTPException:
        return AccountLimitExceeded(text="", content_type="application/json", headers={
            "X-Upgrade-URL": UPGRADE_URL, "X-VIP-User": "false", "X-Account-Limit": str(self.account_limit_count)})

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # -- history ----------------------------------------------------------------------------
    def _entry(self, play: Play, action: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": self._new_id(), "watched_at": now_iso(at=play.watched_at), "action": action}
        if play.movie is not None:
            entry.update(type="movie", movie=play.movie.obj())
        else:
            assert play.show is not None
            entry.update(type="episode", episode=play.show.episode_obj(play.season, play.number),
                         show=play.show.obj())
        return entry

    async def _history_add(self, request: web.Request) -> web.StreamResponse:
        self._gate(request, "required")
        if self.account_limit:
            raise self._account_limited()
        try:
            plays, not_found = self.catalog.resolve(await read_json(request), HISTORY_KEYS)
        except BadBody as exc:
            return web.json_response({"error": str(exc)}, status=400)
        entries = [self._entry(play, "watch") for play in plays]
        self.history += entries  # no de-duplication, as the contract warns
        if self.record_then_hang:
            return await self.hang()
        movies = sum(e["type"] == "movie" for e in entries)
        return web.json_response({"added": {"movies": movies, "episodes": len(entries) - movies},
                                  "updated": {"movies": 0, "episodes": 0}, "not_found": not_found},
                                 status=self.history_status)

    def _selected(self, kind: str | None, trakt_id: str | None) -> list[dict[str, Any]]:
        def wanted(entry: dict[str, Any]) -> bool:
            if kind is None:
                return True
            if kind == "movies":
                return entry["type"] == "movie" and trakt_id in (None, str(entry["movie"]["ids"]["trakt"]))
            if entry["type"] != "episode":
                return False
            if trakt_id is None:
                return True
            if kind == "shows":
                return str(entry["show"]["ids"]["trakt"]) == trakt_id
            if kind == "episodes":
                return str(entry["episode"]["ids"]["trakt"]) == trakt_id
            season = self.catalog.find_season({"trakt": trakt_id})
            return season is not None and (season[0].ids["trakt"], season[1]) == (
                entry["show"]["ids"]["trakt"], entry["episode"]["season"])
        return [e for e in self.history if wanted(e)]

    async def _history_get(self, request: web.Request) -> web.Response:
        self._gate(request, "required")
        kind = request.match_info.get("type")
        if kind is not None and kind not in ("movies", "shows", "seasons", "episodes"):
            return web.json_response(status=404)
        entries = self._selected(kind, request.match_info.get("id"))
        start, end = parse_time(request.query.get("start_at")), parse_time(request.query.get("end_at"))
        if end is not None and len(request.query.get("end_at", "")) == 10:
            end += 86400  # a date alone ends with its day
        entries = [e for e in entries if (start is None or parse_time(e["watched_at"]) >= start)  # type: ignore[operator]
                   and (end is None or parse_time(e["watched_at"]) <= end)]  # type: ignore[operator]
        entries.sort(key=lambda e: (e["watched_at"], e["id"]), reverse=True)
        return paginated(request, entries)

    # -- search, scrobble, settings -------------------------------------------------------
    async def _search(self, request: web.Request) -> web.Response:
        self._gate(request, "optional")
        types = [t for t in request.query.get("type", "").split(",") if t]
        results = []
        for kind, item in self.catalog.find_by_id(request.match_info["id_type"], request.match_info["id"]):
            if types and kind not in types:
                continue
            if kind == "episode":
                show, season, number = item
                results.append({"type": kind, "score": 1000, "episode": show.episode_obj(season, number),
                                "show": show.obj()})
            else:
                results.append({"type": kind, "score": 1000, kind: item.obj()})
        return paginated(request, results)

    def _scrobble_item(self, body: dict[str, Any]) -> Play | None:
        if isinstance(body.get("movie"), dict):
            movie = self.catalog.find_movie(body["movie"])
            return None if movie is None else Play(time.time(), movie=movie)
        episode = body.get("episode")
        if not isinstance(episode, dict):
            return None
        if isinstance(body.get("show"), dict):
            show = self.catalog.find_show(body["show"])
            key = (episode.get("season"), episode.get("number"))
            if show is None or key not in show.episode_ids:
                return None
            return Play(time.time(), show=show, season=key[0], number=key[1])  # type: ignore[arg-type]
        found = self.catalog.find_episode(episode.get("ids"))
        return None if found is None else Play(time.time(), show=found[0], season=found[1], number=found[2])

    async def _scrobble(self, request: web.Request) -> web.StreamResponse:
        token = self._gate(request, "required")
        action = request.match_info["action"]
        if action not in ("start", "pause", "stop"):
            return web.json_response(status=404)
        body = await read_json(request)
        progress = body.get("progress") if isinstance(body, dict) else None
        if not isinstance(progress, int | float) or isinstance(progress, bool):
            return web.json_response({"error": "progress is required"}, status=422)
        if action == "stop" and progress < 1:
            return web.json_response(status=422)  # "If the progress is less than 1%, you'll get a 422"
        play = self._scrobble_item(body)
        if play is None:
            return web.json_response(status=404)
        shown = self._entry(play, "scrobble")
        shown.pop("watched_at")
        shown.pop("type")
        if action == "stop" and progress >= 80:
            item = shown["movie"] if play.movie else shown["episode"]
            key = (token, "movie" if play.movie else "episode", item["ids"]["trakt"])
            recent = self._scrobbled.get(key)
            if recent is not None and time.time() < recent[1]:
                return web.json_response({"watched_at": recent[0], "expires_at": now_iso(at=recent[1])}, status=409)
            entry = self._entry(play, "scrobble")
            self.history.append(entry)
            self._scrobbled[key] = (entry["watched_at"], time.time() + self.scrobble_window)
            self.playing.pop(token, None)
            if self.record_then_hang:
                return await self.hang()
            return web.json_response({**shown, "id": entry["id"], "action": "scrobble", "progress": progress},
                                     status=201)
        if action == "stop":
            self.playing.pop(token, None)
            return web.json_response({**shown, "action": "pause", "progress": progress}, status=201)
        self.playing[token] = {**shown, "action": action, "progress": progress}
        return web.json_response({**shown, "action": action, "progress": progress}, status=201)

    async def _settings(self, request: web.Request) -> web.Response:
        self._gate(request, "required")
        return web.json_response({"user": {"username": "stand-in", "private": False, "name": "Stand In",
                                           "vip": False, "vip_ep": False, "director": False,
                                           "ids": {"slug": "stand-in", "trakt": 1, "uuid": "0" * 32}},
                                  "account": {"timezone": "UTC"}})


def paginated(request: web.Request, items: list[Any]) -> web.Response:
    """One page (``?page=&limit=``, 1 and 10 by default) with the ``X-Pagination-*`` headers."""
    try:
        page, limit = max(1, int(request.query.get("page", 1))), max(1, int(request.query.get("limit", 10)))
    except ValueError:
        return web.json_response({"error": "page and limit are numbers"}, status=400)
    pages = max(1, math.ceil(len(items) / limit))
    return web.json_response(items[(page - 1) * limit:page * limit], headers={
        "X-Pagination-Page": str(page), "X-Pagination-Limit": str(limit),
        "X-Pagination-Page-Count": str(pages), "X-Pagination-Item-Count": str(len(items))})
