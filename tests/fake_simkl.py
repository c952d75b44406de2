"""A stand-in for Simkl's API: one aiohttp app on 127.0.0.1 (:attr:`FakeSimkl.api_url`).

Built from Simkl's API description, ``SIMKL/API`` ``apiary.apib`` at commit
a1cabfd7080f4400abf8fb7aaf4cf1ff0ab08d2a (2026-03-19): "HTTP Status Codes" (401 missing or
wrong token; 403 refused, also "due to API limits"; 412 ``client_id_failed``, "incorrect
client_id or Total Requests Limit Exceeded"; 429 "Rate Limit Exceeded", marked in
development), "Required Headers" (``simkl-api-key``; ``Authorization: Bearer`` on
🔒 methods), "Authentication - PIN" (``GET /oauth/pin?client_id=&redirect=``; ``GET
/oauth/pin/{USER_CODE}?client_id=`` answering ``{result: "KO", message: "Authorization
pending" | "Slow down"}`` or ``{result: "OK", access_token}``; tokens never expire), "Add
Items to the history" (``POST /sync/history``; ``added``, ``not_found {movies, shows,
episodes}``), "Get All Items" (``/sync/all-items/{type}/{status}?date_from=`` with
``extended=full`` and ``episode_watched_at=yes``; ``null`` when empty), "Last Activities"
(``/sync/activities``) and "Scrobble" (start/pause/stop, 80 %, 409 ``watched_at``/
``expires_at`` for an hour).

What the description does not say, and the stand-in's choice:
- no answer for an expired PIN and no denial exist: a code past ``expires_in`` (or
  :meth:`expire`\\d) keeps answering "Authorization pending" and never yields a token, so a
  client must stop on its own clock, as the description asks. There is no ``deny`` hook.
- an unknown user code answers 404 ``{"error": "not_found"}``.
- the pace: calls closer than ``min_interval`` (0: no pace) answer ``limit_status`` (429 by
  default; 403 or 412 as documented) with ``{"error": ...}`` and no ``Retry-After`` (none
  is documented).
- history examples answer 200, the "Verbs" table says a POST answers 201: ``history_status``
  (201 by default; a client should take either). The one-scrobble-at-a-time lock is not
  modelled.
"""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fake_online import FakeOnline, bearer, now_iso, parse_time, read_json
from tests.fake_online_catalog import BadBody, Catalog, Movie, Play, Show

VERIFICATION_URL = "https://simkl.com/pin/"
HISTORY_KEYS = ("movies", "shows", "episodes")


@dataclass
class Pin:
    device_code: str
    user_code: str
    expires_at: float  # time.monotonic()
    state: str = "pending"  # pending / approved / expired
    last_poll: float | None = None
    token: str | None = None


class FakeSimkl(FakeOnline):
    def __init__(self, client_id: str = "simkl-cid", *, pin_expires_in: float = 900, interval: float = 5,
                 min_interval: float = 0.0, limit_status: int = 429, history_status: int = 201,
                 scrobble_window: float = 3600, min_poll: float | None = None) -> None:
        super().__init__()
        self.user_name = "Sam Simkl"  # POST /users/settings's user.name
        self.min_poll = interval if min_poll is None else min_poll  # the gap required between PIN polls
        self.client_id = client_id
        self.pin_expires_in, self.interval = pin_expires_in, interval
        self.min_interval, self.limit_status = min_interval, limit_status
        self.history_status = history_status
        self.scrobble_window = scrobble_window
        self.pins: dict[str, Pin] = {}  # by user code
        self.tokens: set[str] = set()
        self.catalog = Catalog("simkl")
        self.history: list[dict[str, Any]] = []
        self.playing: dict[str, dict[str, Any]] = {}  # token -> what is playing now
        self._last_call: dict[str, float] = {}
        self._scrobbled: dict[tuple[str, str, int], tuple[str, float]] = {}  # -> (watched_at, expiry epoch)
        self._next_id = 5000

    @property
    def api_url(self) -> str:
        return self.url("api")

    def routes(self, host: str, app: web.Application) -> None:
        app.router.add_get("/oauth/pin", self._pin)
        app.router.add_get("/oauth/pin/{user_code}", self._pin_status)
        app.router.add_post("/sync/history", self._history_add)
        for path in ("/sync/all-items", "/sync/all-items/", "/sync/all-items/{type}", "/sync/all-items/{type}/",
                     "/sync/all-items/{type}/{status}"):
            app.router.add_get(path, self._all_items)
        app.router.add_get("/sync/activities", self._activities)
        app.router.add_post("/users/settings", self._settings)
        app.router.add_post("/scrobble/{action}", self._scrobble)

    # -- hooks ----------------------------------------------------------------------------
    def add_show(self, title: str, ids: dict[str, Any], seasons: dict[int, int], year: int | None = None) -> Show:
        return self.catalog.add_show(title, ids, seasons, year)

    def add_movie(self, title: str, year: int | None, ids: dict[str, Any]) -> Movie:
        return self.catalog.add_movie(title, year, ids)

    def approve(self, user_code: str) -> None:
        """The user entered the PIN on simkl.com/pin and allowed the app (not once it expired)."""
        pin = self.pins[user_code]
        if pin.state != "expired" and time.monotonic() < pin.expires_at:
            pin.state = "approved"

    def expire(self, user_code: str) -> None:
        self.pins[user_code].state = "expired"

    def sign_in(self) -> str:
        """A token as if the user had signed in."""
        token = secrets.token_hex(32)
        self.tokens.add(token)
        return token

    # -- PIN ----------------------------------------------------------------------------
    def _client_ok(self, request: web.Request) -> bool:
        return self.client_id in (request.query.get("client_id"), request.headers.get("simkl-api-key"))

    async def _pin(self, request: web.Request) -> web.Response:
        if not self._client_ok(request):
            return web.json_response({"error": "client_id_failed"}, status=412)
        user_code = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(5))
        pin = Pin(secrets.token_hex(16), user_code, time.monotonic() + self.pin_expires_in)
        self.pins[user_code] = pin
        return web.json_response({"result": "OK", "device_code": pin.device_code, "user_code": user_code,
                                  "verification_url": VERIFICATION_URL, "expires_in": self.pin_expires_in,
                                  "interval": self.interval})

    async def _pin_status(self, request: web.Request) -> web.Response:
        if not self._client_ok(request):
            return web.json_response({"error": "client_id_failed"}, status=412)
        pin = self.pins.get(request.match_info["user_code"])
        if pin is None:
            return web.json_response({"error": "not_found"}, status=404)
        now = time.monotonic()
        too_fast = pin.last_poll is not None and now - pin.last_poll < self.min_poll - 0.002
        pin.last_poll = now
        if now >= pin.expires_at:
            pin.state = "expired"
        if too_fast:
            return web.json_response({"result": "KO", "message": "Slow down"})
        if pin.state == "approved":
            if pin.token is None:
                pin.token = self.sign_in()
            return web.json_response({"result": "OK", "access_token": pin.token})
        return web.json_response({"result": "KO", "message": "Authorization pending"})

    # -- the gate -----------------------------------------------------------------------
    def _gate(self, request: web.Request) -> str:
        if request.headers.get("simkl-api-key", request.query.get("client_id")) != self.client_id:
            raise web.HTTPPreconditionFailed(text='{"error": "client_id_failed"}', content_type="application/json")
        token = bearer(request)
        if token is None or token not in self.tokens:
            raise web.HTTPUnauthorized(text='{"error": "user_token_failed"}', content_type="application/json")
        now = time.monotonic()
        last = self._last_call.get(token)
        if self.min_interval and last is not None and now - last < self.min_interval:
            limited = type("Limited", (web.HTTPClientError,), {"status_code": self.limit_status})
            raise limited(text='{"error": "rate_limit"}', content_type="application/json")
        self._last_call[token] = now
        return token

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # -- history ------------------------------------------------------------------------
    def _entry(self, play: Play, action: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": self._new_id(), "watched_at": now_iso(millis=False, at=play.watched_at),
                                 "action": action, "recorded_at": time.time()}
        if play.movie is not None:
            entry.update(type="movie", movie=play.movie.obj())
        else:
            assert play.show is not None
            entry.update(type="episode", episode=play.show.episode_obj(play.season, play.number),
                         show=play.show.obj())
        return entry

    async def _history_add(self, request: web.Request) -> web.StreamResponse:
        self._gate(request)
        body = await read_json(request)
        try:
            plays, not_found = self.catalog.resolve(body, HISTORY_KEYS)
        except BadBody as exc:
            return web.json_response({"error": str(exc)}, status=400)
        entries = [self._entry(play, "watch") for play in plays]
        self.history += entries
        if self.record_then_hang:
            return await self.hang()
        shows = [item for item in body.get("shows") or [] if self.catalog.find_show(item) is not None]
        movies = sum(e["type"] == "movie" for e in entries)
        statuses = [{"request": item, "response": {"status": "watching", "simkl_type": "tv", "anime_type": None}}
                    for item in shows]
        return web.json_response({"added": {"movies": movies, "shows": len(shows), "episodes": len(entries) - movies,
                                            "statuses": statuses}, "not_found": not_found},
                                 status=self.history_status)

    async def _all_items(self, request: web.Request) -> web.Response:
        self._gate(request)
        kind, status = request.match_info.get("type") or None, request.match_info.get("status") or None
        since = parse_time(request.query.get("date_from"))
        full = request.query.get("extended", "").startswith("full")
        with_times = request.query.get("episode_watched_at") == "yes"
        answer: dict[str, list[Any]] = {}
        if kind in (None, "movies"):
            answer["movies"] = self._movie_items()
        if kind in (None, "shows"):
            answer["shows"] = self._show_items(full, with_times)

        def kept(item: dict[str, Any]) -> bool:
            changed = item.pop("_changed")  # when the service last changed it: what date_from compares
            return (status is None or item["status"] == status) and (since is None or changed > since)
        answer = {k: kept_items for k, v in answer.items() if (kept_items := [i for i in v if kept(i)])}
        return web.json_response(answer or None)

    def _movie_items(self) -> list[dict[str, Any]]:
        items: dict[int, dict[str, Any]] = {}
        for e in (e for e in self.history if e["type"] == "movie"):
            item = items.setdefault(e["movie"]["ids"]["simkl"], {
                "added_to_watchlist_at": now_iso(millis=False, at=e["recorded_at"]), "status": "completed",
                "user_rating": None, "movie": e["movie"], "last_watched_at": e["watched_at"], "_changed": 0.0})
            item["last_watched_at"] = max(item["last_watched_at"], e["watched_at"])
            item["_changed"] = max(item["_changed"], e["recorded_at"])
        return list(items.values())

    def _show_items(self, full: bool, with_times: bool) -> list[dict[str, Any]]:
        items: dict[int, dict[str, Any]] = {}
        watched: dict[int, dict[tuple[int, int], str]] = {}
        for e in (e for e in self.history if e["type"] == "episode"):
            sid = e["show"]["ids"]["simkl"]
            item = items.setdefault(sid, {"added_to_watchlist_at": now_iso(millis=False, at=e["recorded_at"]),
                                          "show": e["show"], "last_watched_at": e["watched_at"], "_changed": 0.0})
            item["last_watched_at"] = max(item["last_watched_at"], e["watched_at"])
            item["_changed"] = max(item["_changed"], e["recorded_at"])
            key = (e["episode"]["season"], e["episode"]["number"])
            episodes = watched.setdefault(sid, {})
            episodes[key] = max(episodes.get(key, ""), e["watched_at"])
        for sid, item in items.items():
            show = next(s for s in self.catalog.shows if s.ids["simkl"] == sid)
            episodes = watched[sid]
            item.update(status="completed" if len(episodes) == len(show.episode_ids) else "watching",
                        watched_episodes_count=len(episodes), total_episodes_count=len(show.episode_ids))
            if full:
                item["seasons"] = [{"number": season, "episodes": [
                    {"number": n, **({"watched_at": at} if with_times else {})}
                    for (s, n), at in sorted(episodes.items()) if s == season]}
                    for season in sorted({s for s, _ in episodes})]
        return list(items.values())

    async def _activities(self, request: web.Request) -> web.Response:
        self._gate(request)

        def last(kind: str) -> str | None:
            times = [e["recorded_at"] for e in self.history if e["type"] == kind]
            return now_iso(millis=False, at=max(times)) if times else None
        shows, movies = last("episode"), last("movie")
        every = max((t for t in (shows, movies) if t), default=None)
        return web.json_response({"all": every, "settings": {"all": None},
                                  "tv_shows": {"all": shows, "completed": shows, "watching": shows},
                                  "anime": {"all": None}, "movies": {"all": movies, "completed": movies}})

    async def _settings(self, request: web.Request) -> web.Response:
        """``POST /users/settings`` ("Receive settings", token required): the user and the account."""
        self._gate(request)
        return web.json_response({"user": {"name": self.user_name, "joined_at": "2020-01-02T03:04:05Z"},
                                  "account": {"id": 51, "timezone": "UTC", "type": "free"}, "connections": {}})

    # -- scrobble -----------------------------------------------------------------------
    def _scrobble_item(self, body: dict[str, Any]) -> Play | None:
        if isinstance(body.get("movie"), dict):
            movie = self.catalog.find_movie(body["movie"])
            return None if movie is None else Play(time.time(), movie=movie)
        parent, episode = body.get("show") or body.get("anime"), body.get("episode")
        if not isinstance(parent, dict) or not isinstance(episode, dict):
            return None
        show = self.catalog.find_show(parent)
        key = (episode.get("season"), episode.get("number"))
        if show is None or key not in show.episode_ids:
            return None
        return Play(time.time(), show=show, season=key[0], number=key[1])  # type: ignore[arg-type]

    async def _scrobble(self, request: web.Request) -> web.StreamResponse:
        token = self._gate(request)
        action = request.match_info["action"]
        if action not in ("start", "pause", "stop"):
            return web.json_response({"error": "not_found"}, status=404)
        body = await read_json(request)
        progress = body.get("progress") if isinstance(body, dict) else None
        if not isinstance(progress, int | float) or isinstance(progress, bool):
            return web.json_response({"error": "progress is required"}, status=400)
        play = self._scrobble_item(body)
        if play is None:
            return web.json_response({"error": "not_found"}, status=404)
        shown = {k: v for k, v in self._entry(play, "scrobble").items() if k in ("movie", "show", "episode")}
        item_id = (shown.get("movie") or shown["episode"])["ids"]["simkl"]
        key = (token, "movie" if play.movie else "episode", item_id)
        if action == "start":
            self.playing[token] = {**shown, "action": "start", "progress": progress}
            return web.json_response({"id": 0, "action": "start", "progress": progress, **shown}, status=201)
        recent = self._scrobbled.get(key)
        if progress >= 80 and recent is not None and time.time() < recent[1]:
            return web.json_response({"watched_at": recent[0], "expires_at": now_iso(at=recent[1])}, status=409)
        if action == "pause" or progress < 80:
            if action == "pause":
                self.playing[token] = {**shown, "action": "pause", "progress": progress}
            else:
                self.playing.pop(token, None)
            return web.json_response({"id": self._new_id(), "action": "pause", "progress": progress, **shown},
                                     status=201)
        entry = self._entry(play, "scrobble")
        self.history.append(entry)
        self._scrobbled[key] = (entry["watched_at"], time.time() + self.scrobble_window)
        self.playing.pop(token, None)
        if self.record_then_hang:
            return await self.hang()
        return web.json_response({"id": entry["id"], "action": "scrobble", "progress": progress, **shown},
                                 status=201)
