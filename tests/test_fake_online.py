"""The Trakt and Simkl stand-ins behave as their contracts say (so tests against them mean
something): headers, history with ``not_found``, no de-duplication, limits, faults, scrobble."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from tests.fake_simkl import FakeSimkl
from tests.fake_trakt import FakeTrakt

WHEN = "2026-11-30T21:04:05.000Z"


def trakt_headers(t: FakeTrakt, token: str | None = None, **changes: str | None) -> dict[str, str]:
    headers = {"trakt-api-key": t.client_id, "trakt-api-version": "2", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    headers.update(changes)  # type: ignore[arg-type]
    return {k: v for k, v in headers.items() if v is not None}


async def call(method: str, url: str, headers: dict[str, str], body: Any = None,
               timeout: float = 5) -> tuple[int, Any, dict[str, str]]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s:
        data = None if body is None else json.dumps(body)
        async with s.request(method, url, headers=headers, data=data) as r:
            text = await r.text()
            is_json = r.content_type == "application/json" and text
            return r.status, (json.loads(text) if is_json else text or None), dict(r.headers)


def catalog(fake: FakeTrakt | FakeSimkl) -> tuple[Any, Any]:
    show = fake.add_show("Breaking Bad", {"tvdb": 81189, "imdb": "tt0903747", "tmdb": 1396}, {1: 7, 2: 13}, 2008)
    movie = fake.add_movie("Heat", 1995, {"imdb": "tt0113277", "tmdb": 949})
    return show, movie


BODY = {
    "shows": [{"ids": {"tvdb": 81189}, "seasons": [{"number": 1, "episodes": [{"number": 3, "watched_at": WHEN},
                                                                             {"number": 99, "watched_at": WHEN}]}]},
              {"ids": {"tvdb": 1}, "seasons": [{"number": 1, "episodes": [{"number": 1}]}]}],
    "movies": [{"ids": {"imdb": "tt0113277"}, "watched_at": WHEN}, {"ids": {"imdb": "tt0000001"}}],
}


# -- Trakt ---------------------------------------------------------------------------------
async def test_trakt_checks_every_header_and_keeps_oauth_on_its_own_host() -> None:
    async with FakeTrakt(post_interval=0) as t:
        token = t.sign_in().access_token
        url = f"{t.api_url}/sync/history"
        assert (await call("GET", url, trakt_headers(t, token)))[0] == 200
        assert (await call("GET", url, trakt_headers(t, token, **{"trakt-api-key": "other"})))[0] == 403
        assert (await call("GET", url, trakt_headers(t, token, **{"trakt-api-key": None})))[0] == 403
        assert (await call("GET", url, trakt_headers(t, token, **{"trakt-api-version": None})))[0] == 400
        assert (await call("GET", url, trakt_headers(t, token, **{"Content-Type": "text/plain"})))[0] == 412
        assert (await call("GET", url, trakt_headers(t)))[0] == 401
        assert (await call("GET", url, trakt_headers(t, "not-a-token")))[0] == 401
        assert (await call("POST", f"{t.api_url}/oauth/device/code", trakt_headers(t), {"client_id": t.client_id}))[
            0] == 404
        assert (await call("POST", f"{t.auth_url}/sync/history", trakt_headers(t, token), {}))[0] == 404
        assert [s.status for s in t.requests] == [200, 403, 403, 400, 412, 401, 401, 404, 404]


async def test_trakt_history_add_answers_not_found_and_never_deduplicates() -> None:
    async with FakeTrakt(post_interval=0) as t:
        show, _ = catalog(t)
        h = trakt_headers(t, t.sign_in().access_token)
        status, body, _ = await call("POST", f"{t.api_url}/sync/history", h, BODY)
        assert status == 201
        assert body["added"] == {"movies": 1, "episodes": 1} and body["updated"] == {"movies": 0, "episodes": 0}
        assert body["not_found"] == {
            "movies": [{"ids": {"imdb": "tt0000001"}}],
            "shows": [{"ids": {"tvdb": 81189}, "seasons": [{"number": 1, "episodes": [{"number": 99,
                                                                                      "watched_at": WHEN}]}]},
                      BODY["shows"][1]],
            "seasons": [], "episodes": []}
        episode = next(e for e in t.history if e["type"] == "episode")
        assert episode["watched_at"] == WHEN and episode["action"] == "watch"
        assert episode["show"]["ids"]["tvdb"] == 81189 and episode["show"]["ids"]["trakt"] == show.ids["trakt"]
        assert (episode["episode"]["season"], episode["episode"]["number"]) == (1, 3)
        assert episode["episode"]["ids"] == show.episode_ids[(1, 3)]
        # the same play again is a second play: Trakt does not verify item + watched_at
        assert (await call("POST", f"{t.api_url}/sync/history", h, BODY))[0] == 201
        assert len(t.history) == 4
        by_id = {"episodes": [{"ids": {"trakt": show.episode_ids[(2, 1)]["trakt"]}, "watched_at": WHEN}]}
        status, body, _ = await call("POST", f"{t.api_url}/sync/history", h, by_id)
        assert body["added"]["episodes"] == 1
        status, body, _ = await call("POST", f"{t.api_url}/sync/history", h, {"movies": "nope"})
        assert status == 400


async def test_trakt_history_read_for_one_item_in_a_time_window_with_pagination() -> None:
    async with FakeTrakt(post_interval=0) as t:
        show, movie = catalog(t)
        h = trakt_headers(t, t.sign_in().access_token)
        plays = [{"ids": {"tvdb": 81189}, "seasons": [{"number": 1, "episodes": [
            {"number": 3, "watched_at": WHEN}, {"number": 4, "watched_at": "2026-11-30T22:00:00.000Z"}]}]}]
        await call("POST", f"{t.api_url}/sync/history", h, {"shows": plays, "movies": BODY["movies"]})
        url = f"{t.api_url}/sync/history/shows/{show.ids['trakt']}"
        status, items, headers = await call("GET", f"{url}?start_at=2026-11-30T21:00:00Z&end_at=2026-11-30T21:30:00Z",
                                            h)
        assert status == 200 and [i["episode"]["number"] for i in items] == [3]
        assert headers["X-Pagination-Item-Count"] == "1"
        status, items, headers = await call("GET", f"{url}?limit=1&page=2", h)
        assert [i["episode"]["number"] for i in items] == [3]  # most recent first: 4 is on page 1
        assert (headers["X-Pagination-Page"], headers["X-Pagination-Page-Count"]) == ("2", "2")
        episode_trakt = show.episode_ids[(1, 4)]["trakt"]
        assert len((await call("GET", f"{t.api_url}/sync/history/episodes/{episode_trakt}", h))[1]) == 1
        assert len((await call("GET", f"{t.api_url}/sync/history/seasons/{show.season_ids[1]['trakt']}", h))[1]) == 2
        assert len((await call("GET", f"{t.api_url}/sync/history/movies/{movie.ids['trakt']}", h))[1]) == 1
        assert (await call("GET", f"{t.api_url}/sync/history/movies/1", h))[1] == []
        status, found, _ = await call("GET", f"{t.api_url}/search/tvdb/81189?type=show", trakt_headers(t))
        assert status == 200 and found[0]["show"]["ids"]["trakt"] == show.ids["trakt"]
        status, found, _ = await call("GET", f"{t.api_url}/search/tvdb/{show.episode_ids[(1, 4)]['tvdb']}",
                                      trakt_headers(t))
        assert found[0]["type"] == "episode" and found[0]["show"]["title"] == "Breaking Bad"


async def test_trakt_one_post_a_second_429_with_retry_after() -> None:
    async with FakeTrakt(block_on_limit=False) as t:
        catalog(t)
        h = trakt_headers(t, t.sign_in().access_token)
        url = f"{t.api_url}/sync/history"
        assert (await call("POST", url, h, BODY))[0] == 201
        status, _, headers = await call("POST", url, h, BODY)
        assert status == 429 and headers["Retry-After"] == "1"
        limit = json.loads(headers["X-Ratelimit"])
        assert (limit["name"], limit["period"], limit["limit"], limit["remaining"]) == (
            "AUTHED_API_POST_LIMIT", 1, 1, 0)
        assert (await call("GET", url, h))[0] == 200  # GETs have their own limit
        await asyncio.sleep(1.0)
        assert (await call("POST", url, h, BODY))[0] == 201
        assert len(t.history) == 4  # the refused POST recorded nothing


async def test_trakt_a_429_blocks_every_call_for_the_block_window() -> None:
    async with FakeTrakt(block_seconds=1.5) as t:
        h = trakt_headers(t, t.sign_in().access_token)
        url = f"{t.api_url}/sync/history"
        assert (await call("POST", url, h, {}))[0] == 201
        status, _, headers = await call("POST", url, h, {})
        assert status == 429 and headers["Retry-After"] == "2"
        await asyncio.sleep(1.1)  # past the one-second limit, still in the block
        status, _, headers = await call("GET", url, h)
        assert status == 429 and headers["Retry-After"] == "1"
        await asyncio.sleep(0.45)
        assert (await call("GET", url, h))[0] == 200
        assert (await call("POST", url, h, {}))[0] == 201
        assert t.statuses("/sync") == [201, 429, 429, 200, 201]


async def test_trakt_420_is_an_account_limit_with_its_headers() -> None:
    async with FakeTrakt(account_limit=True) as t:
        catalog(t)
        h = trakt_headers(t, t.sign_in().access_token)
        status, body, headers = await call("POST", f"{t.api_url}/sync/history", h, BODY)
        assert (status, body) == (420, None)
        assert headers["X-Upgrade-URL"] == "https://app.trakt.tv/vip" and headers["X-VIP-User"] == "false"
        assert headers["X-Account-Limit"] == "100" and t.history == []


async def test_trakt_faults_record_then_hang_fail_next_down_up() -> None:
    async with FakeTrakt(post_interval=0) as t:
        catalog(t)
        h = trakt_headers(t, t.sign_in().access_token)
        url = f"{t.api_url}/sync/history"
        t.record_then_hang = True
        with pytest.raises(TimeoutError):
            await call("POST", url, h, BODY, timeout=0.3)
        assert len(t.history) == 2 and t.requests[-1].status == 0  # recorded, never answered
        t.record_then_hang = False
        t.fail_next(503, n=2)
        t.fail_next(429)
        t.fail_next(420)
        answers = [await call("GET", url, h) for _ in range(5)]
        assert [status for status, _, _ in answers] == [503, 503, 429, 420, 200]
        assert answers[2][2]["Retry-After"] == "1" and answers[3][2]["X-Upgrade-URL"] == "https://app.trakt.tv/vip"
        port = t.api_url
        await t.down()
        with pytest.raises(aiohttp.ClientConnectionError):
            await call("GET", url, h)
        await t.up()
        assert t.api_url == port and (await call("GET", url, h))[0] == 200


async def test_trakt_scrobble_start_pause_stop() -> None:
    async with FakeTrakt(post_interval=0) as t:
        show, _ = catalog(t)
        token = t.sign_in().access_token
        h = trakt_headers(t, token)
        episode = {"show": {"ids": {"tvdb": 81189}}, "episode": {"season": 1, "number": 2}}
        status, body, _ = await call("POST", f"{t.api_url}/scrobble/start", h, {"progress": 10, **episode})
        assert status == 201 and body["action"] == "start" and body["episode"]["ids"] == show.episode_ids[(1, 2)]
        assert t.playing[token]["action"] == "start"
        _, body, _ = await call("POST", f"{t.api_url}/scrobble/pause", h, {"progress": 40, **episode})
        assert body["action"] == "pause"
        assert t.playing[token]["progress"] == 40
        assert (await call("POST", f"{t.api_url}/scrobble/stop", h, {"progress": 0.5, **episode}))[0] == 422
        status, body, _ = await call("POST", f"{t.api_url}/scrobble/stop", h, {"progress": 85, **episode})
        assert status == 201 and body["action"] == "scrobble" and token not in t.playing
        assert [e["action"] for e in t.history] == ["scrobble"]
        status, body, _ = await call("POST", f"{t.api_url}/scrobble/stop", h, {"progress": 90, **episode})
        assert status == 409 and body["watched_at"] == t.history[0]["watched_at"] and body["expires_at"]
        by_ids = {"progress": 50, "movie": {"title": "Heat", "year": 1995, "ids": {"imdb": "tt0113277"}}}
        assert (await call("POST", f"{t.api_url}/scrobble/stop", h, by_ids))[1]["action"] == "pause"
        assert (await call("POST", f"{t.api_url}/scrobble/start", h, {"progress": 1, "movie": {"ids": {"imdb": "x"}}}))[
            0] == 404
        assert len(t.history) == 1


async def test_trakt_device_poll_faster_than_the_interval_is_429() -> None:
    async with FakeTrakt(interval=0.3) as t:
        _, code, _ = await call("POST", f"{t.auth_url}/oauth/device/code", trakt_headers(t), {"client_id": t.client_id})
        form = {"code": code["device_code"], "client_id": t.client_id, "client_secret": t.client_secret}
        token_url = f"{t.auth_url}/oauth/device/token"
        assert [(await call("POST", token_url, trakt_headers(t), form))[0] for _ in range(2)] == [400, 429]
        await asyncio.sleep(0.3)
        t.approve(code["user_code"])
        status, token, _ = await call("POST", token_url, trakt_headers(t), form)
        assert status == 200 and set(token) == {"access_token", "token_type", "expires_in", "refresh_token", "scope",
                                                "created_at"}
        await asyncio.sleep(0.3)
        assert (await call("POST", token_url, trakt_headers(t), form))[0] == 409


# -- Simkl ---------------------------------------------------------------------------------
def simkl_headers(s: FakeSimkl, token: str | None) -> dict[str, str]:
    headers = {"simkl-api-key": s.client_id, "Content-Type": "application/json"}
    return {**headers, "Authorization": f"Bearer {token}"} if token else headers


async def test_simkl_headers_history_not_found_and_the_dedup_read() -> None:
    async with FakeSimkl() as s:
        show, _ = catalog(s)
        token = s.sign_in()
        url = f"{s.api_url}/sync/history"
        assert (await call("POST", url, {"simkl-api-key": "other", "Authorization": f"Bearer {token}"}, BODY))[0] == 412
        assert (await call("POST", url, simkl_headers(s, None), BODY))[0] == 401
        status, body, _ = await call("POST", url, simkl_headers(s, token), BODY)
        assert status == 201
        assert (body["added"]["movies"], body["added"]["shows"], body["added"]["episodes"]) == (1, 1, 1)
        assert body["not_found"]["movies"] == [{"ids": {"imdb": "tt0000001"}}] and len(body["not_found"]["shows"]) == 2
        assert body["not_found"]["episodes"] == []
        assert (await call("POST", url, simkl_headers(s, token), BODY))[0] == 201
        assert len(s.history) == 4  # the stand-in keeps every play it was sent
        items_url = f"{s.api_url}/sync/all-items/shows/?extended=full&episode_watched_at=yes&date_from="
        status, items, _ = await call("GET", items_url + "2000-01-01T00:00:00Z", simkl_headers(s, token))
        [item] = items["shows"]
        assert item["show"]["ids"]["simkl"] == show.ids["simkl"] and item["status"] == "watching"
        assert item["seasons"] == [{"number": 1, "episodes": [{"number": 3, "watched_at": "2026-11-30T21:04:05Z"}]}]
        assert (await call("GET", items_url + "2100-01-01T00:00:00Z", simkl_headers(s, token)))[1] is None
        status, items, _ = await call("GET", f"{s.api_url}/sync/all-items/movies/completed", simkl_headers(s, token))
        assert items["movies"][0]["movie"]["ids"]["imdb"] == "tt0113277"
        status, activities, _ = await call("GET", f"{s.api_url}/sync/activities", simkl_headers(s, token))
        assert activities["tv_shows"]["all"] and activities["anime"]["all"] is None


@pytest.mark.parametrize("limit_status", [429, 403])
async def test_simkl_pace_faults_and_scrobble(limit_status: int) -> None:
    async with FakeSimkl(min_interval=0.2, limit_status=limit_status) as s:
        catalog(s)
        token = s.sign_in()
        h = simkl_headers(s, token)
        episode = {"show": {"ids": {"tvdb": 81189}}, "episode": {"season": 1, "number": 2}}
        assert (await call("POST", f"{s.api_url}/scrobble/start", h, {"progress": 5, **episode}))[0] == 201
        assert (await call("POST", f"{s.api_url}/scrobble/stop", h, {"progress": 85, **episode}))[0] == limit_status
        assert s.playing[token]["action"] == "start"
        await asyncio.sleep(0.2)
        status, body, _ = await call("POST", f"{s.api_url}/scrobble/stop", h, {"progress": 85, **episode})
        assert status == 201 and body["action"] == "scrobble" and token not in s.playing
        await asyncio.sleep(0.2)
        status, body, _ = await call("POST", f"{s.api_url}/scrobble/pause", h, {"progress": 95, **episode})
        assert status == 409 and set(body) == {"watched_at", "expires_at"}
        await asyncio.sleep(0.2)
        s.record_then_hang = True
        with pytest.raises(TimeoutError):
            await call("POST", f"{s.api_url}/sync/history", h, {"movies": [{"ids": {"tmdb": 949}}]}, timeout=0.3)
        assert [e["type"] for e in s.history] == ["episode", "movie"] and s.hanging == 1
