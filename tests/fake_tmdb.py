"""A stand-in for TMDB's ``/find/{external_id}`` on 127.0.0.1 (the shape of the real answer:
``tv_results`` for a show's id, ``tv_episode_results`` with ``show_id`` for an episode's)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

SHOWS = {("tvdb_id", "81189"): (1396, "Breaking Bad"), ("imdb_id", "tt0903747"): (1396, "Breaking Bad"),
         ("tvdb_id", "79126"): (1438, "The Wire")}
EPISODES = {("tvdb_id", "349232"): 1396}  # Breaking Bad S01E01's TheTVDB id


class FakeTmdb:
    def __init__(self, key: str = "0123456789abcdef0123456789abcdef") -> None:
        self.key = key
        self.requests: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _find(self, request: web.Request) -> web.Response:
        self.requests.append({"id": request.match_info["id"], **request.query})
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.key not in (request.query.get("api_key"), token):
            return web.json_response({"status_code": 7, "status_message": "Invalid API key: You must be "
                                      "granted a valid key.", "success": False}, status=401)
        key = (request.query.get("external_source", ""), request.match_info["id"])
        tv = [{"id": SHOWS[key][0], "name": SHOWS[key][1], "media_type": "tv"}] if key in SHOWS else []
        eps = [{"id": 62085, "show_id": EPISODES[key], "media_type": "tv_episode"}] if key in EPISODES else []
        return web.json_response({"movie_results": [], "person_results": [], "tv_results": tv,
                                  "tv_episode_results": eps, "tv_season_results": []})

    async def __aenter__(self) -> FakeTmdb:
        app = web.Application()
        app.router.add_get("/3/find/{id}", self._find)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/3"
