"""TMDB's ``/find``: a show's TheTVDB or IMDb id (or one of its episodes') to its TMDB id.

For trackers that key their shows on ``tmdb_id`` only. Answers are cached for the life
of the process, misses too, so a library replays at no cost. Any failure means "not
found": matching then falls back to titles, and nothing waits on TMDB.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from app.core.lazy import lazy
from app.core.logs import add_secret

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = lazy("aiohttp")  # (loaded when first used: see app.core.lazy)

log = logging.getLogger(__name__)
DEFAULT_BASE_URL = "https://api.themoviedb.org/3"
TMDB_KEY = "tmdb-api-key"  # the key's name among the secrets (see app.core.credentials)
_SOURCES = {"tvdb": "tvdb_id", "imdb": "imdb_id"}
ANSWER_CAP = 1024 * 1024  # bytes: a /find answer is a few KB


class Tmdb:
    """A small client: an API key (v3) or a read access token (v4, a JWT), and a cache."""

    def __init__(self, key: str, base_url: str | None = None, timeout: float = 5.0) -> None:
        self.key = key
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = timeout
        self._cache: dict[tuple[str, str, bool], int | None] = {}
        add_secret(key)

    async def show_id(self, show_ids: dict[str, str], episode_ids: dict[str, str]) -> int | None:
        """The TMDB id of the show that these ids name, strongest first; None if unknown."""
        for ids, episode in ((show_ids, False), (episode_ids, True)):
            for name, source in _SOURCES.items():
                if value := ids.get(name):
                    found = await self._find(source, value, episode)
                    if found is not None:
                        return found
        return None

    async def _find(self, source: str, value: str, episode: bool) -> int | None:
        key = (source, value, episode)
        if key in self._cache:
            return self._cache[key]
        headers, params = {}, {"external_source": source}
        if self.key.startswith("eyJ"):  # a v4 read access token
            headers["Authorization"] = f"Bearer {self.key}"
        else:
            params["api_key"] = self.key
        found: int | None = None
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as s:
                async with s.get(f"{self.base_url}/find/{value}", params=params, headers=headers) as r:
                    if r.status != 200:
                        log.warning("TMDB /find answered HTTP %d for a %s", r.status, source)
                        return None  # not cached: a wrong key or a hiccup may be fixed
                    body = bytearray()
                    async for chunk in r.content.iter_chunked(65536):  # (total: the whole answer's time)
                        body += chunk
                        if len(body) > ANSWER_CAP:
                            raise ValueError("the answer is too big")
                    data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("the answer is not an object")
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            log.warning("TMDB /find failed (%s): matching by title instead", type(exc).__name__)
            return None
        results = data.get("tv_episode_results" if episode else "tv_results") or []
        if results and isinstance(results[0], dict):
            raw = results[0].get("show_id" if episode else "id")
            found = int(raw) if isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit()) else None
        self._cache[key] = found
        return found
