"""Stand-ins for plex.tv and a Plex Media Server, on 127.0.0.1, for python-plexapi.

They answer the endpoints Scrobble Tray uses in the XML python-plexapi parses (the
shapes of plex.tv's ``/api/v2`` and a server's ``/library``), check tokens the way the
real ones do (401), and refuse webhooks without Plex Pass the way plex.tv does (403,
error 1043). Tests drive the state: approve a PIN, expire it, revoke a token.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

from aiohttp import web

XML = "application/xml"


def _attrs(**values: object) -> str:
    return " ".join(f"{k}={quoteattr(str(v))}" for k, v in values.items() if v is not None)


def _error(status: int, code: int, message: str) -> web.Response:
    body = f'<errors><error code="{code}" message={quoteattr(message)} status="{status}"/></errors>'
    return web.Response(status=status, text=body, content_type=XML)


class _Served:
    """An aiohttp app on an ephemeral 127.0.0.1 port; ``async with`` starts and stops it."""

    def __init__(self, port: int = 0) -> None:
        self.app = web.Application()
        self.runner: web.AppRunner | None = None
        self.port = port  # 0: any free one; a fixed one to come back at the same address
        self.requests: list[tuple[str, str]] = []  # (method, path) in order

        @web.middleware
        async def record(request: web.Request, handler):  # type: ignore[no-untyped-def]
            self.requests.append((request.method, request.path_qs))
            return await handler(request)

        self.app.middlewares.append(record)
        self.dribble: dict[str, float] = {}  # path prefix -> seconds between the bytes of its answers
        self.dribbling = 0  # answers being dribbled now
        self._closing = False
        self.app.middlewares.append(self._dribbled)

    @web.middleware
    async def _dribbled(self, request: web.Request, handler):  # type: ignore[no-untyped-def]
        """An answer sent a byte at a time (Content-Length said up front), as a server on a
        failing link or a proxy that trickles can: each read gets a byte, none times out."""
        response = await handler(request)
        gap = next((g for prefix, g in self.dribble.items() if request.path.startswith(prefix)), None)
        if gap is None or not isinstance(response, web.Response) or response.body is None:
            return response
        body = bytes(response.body)  # type: ignore[arg-type]
        out = web.StreamResponse(status=response.status, headers={"Content-Type": response.content_type})
        out.content_length = len(body)
        self.dribbling += 1
        try:
            await out.prepare(request)
            for i in range(len(body)):
                if self.runner is None or self._closing:
                    break  # (its own stop: no waiting out a dribble)
                await out.write(body[i:i + 1])
                await asyncio.sleep(gap)
        except ConnectionError:
            pass  # the client gave up
        finally:
            self.dribbling -= 1
        return out

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self):  # type: ignore[no-untyped-def]
        self.runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        self._closing = False


@dataclass
class FakeShow:
    rating_key: str
    title: str
    year: int | None
    ids: dict[str, str] = field(default_factory=dict)  # tmdb/tvdb/imdb
    guid: str = ""


class FakePms(_Served):
    """A Plex Media Server: its identity, shows with their Guid ids, its accounts."""

    def __init__(self, name: str = "NAS", token: str = "server-token", owner: str = "alice",
                 uuid: str | None = None, port: int = 0) -> None:
        super().__init__(port)
        self.name, self.token, self.owner = name, token, owner
        self.uuid = uuid or secrets.token_hex(20)
        self.shows: dict[str, FakeShow] = {}
        self.episodes: dict[str, dict[str, object]] = {}  # rating key -> its attributes
        self.accounts: dict[int, str] = {1: owner}  # server-local id -> name (plex.tv ids for friends)
        self.history: list[dict[str, object]] = []  # plays, as /status/sessions/history/all lists them
        self.delay = 0.0  # seconds before each answer
        # Misbehaviours a real server (or what stands between) can show:
        self.history_repeats = False  # ignores X-Plex-Container-Start: page one, for ever
        self.history_endless = False  # each page new plays, and a totalSize that keeps ahead
        self.history_bytes = 0  # one history answer this big, streamed (nothing held)
        self.history_unfiltered = False  # ignores viewedAt> (its whole history, every time)
        self.sent_bytes = 0  # of that answer, what went out before the client let go
        r = self.app.router
        r.add_get("/status/sessions/history/all", self._history)
        r.add_get("/status/sessions", self._sessions)
        r.add_get("/:/websockets/notifications", self._notifications)
        self.sessions: dict[str, dict[str, object]] = {}  # session key -> what plays, by whom
        self.sockets: list[web.WebSocketResponse] = []
        self.websocket = True  # False: answers the websocket with 404, as a server without one
        self.movies: dict[str, FakeShow] = {}  # rating key -> a movie (its Guid ids, its year)
        r.add_get("/", self._identity)
        r.add_get("/library/metadata/{key}", self._metadata)
        r.add_get("/accounts", self._accounts)
        # Libraries with watched state (the owner's), as /library/sections/<id>/all lists them.
        self.sections: dict[str, tuple[str, str]] = {"1": ("movie", "Movies"), "2": ("show", "TV Shows")}
        self.library: dict[str, dict[str, object]] = {}  # rating key -> the item's attributes
        self.views: dict[int, dict[str, tuple[int, int]]] = {}  # account id -> rating key -> (viewCount, lastViewedAt)
        self.user_tokens: dict[str, int] = {}  # another account's token for this server -> its id here
        self.sections_broken = False  # /library/sections answers 500 (a database being repaired)
        self.library_repeats = False  # a section's items ignore X-Plex-Container-Start: page one, for ever
        r.add_get("/library", self._library_root)
        r.add_get("/library/sections", self._sections)
        r.add_get("/library/sections/{key}/all", self._section_items)

    def add_show(self, rating_key: str, title: str, year: int | None, **ids: str) -> FakeShow:
        show = FakeShow(rating_key, title, year, ids, f"plex://show/{secrets.token_hex(12)}")
        self.shows[rating_key] = show
        return show

    def add_movie(self, rating_key: str, title: str, year: int | None, **ids: str) -> FakeShow:
        """A movie in a library section, new agent: plex://movie/..., its ids in Guid lines."""
        movie = FakeShow(rating_key, title, year, ids, f"plex://movie/{secrets.token_hex(12)}")
        self.movies[rating_key] = movie
        return movie

    def add_episode(self, rating_key: str, duration: int = 3_480_000, **attrs: object) -> None:
        """An episode as the server keeps it: viewOffset (ms) while partly watched, or
        viewCount and lastViewedAt (unix time) once watched."""
        self.episodes[rating_key] = {"duration": duration, **attrs}

    def play(self, rating_key: str, show: FakeShow, season: int, episode: int, *, account_id: int = 1,
             viewed_at: float | None = None, title: str | None = None) -> None:
        """An episode watched to the end: the server adds it to its history."""
        self.history.append({"type": "episode", "ratingKey": rating_key, "key": f"/library/metadata/{rating_key}",
                             "grandparentKey": f"/library/metadata/{show.rating_key}",
                             "grandparentTitle": show.title, "title": title or f"Episode {episode}",
                             "parentIndex": season, "index": episode, "accountID": account_id,
                             "viewedAt": int(viewed_at if viewed_at is not None else time.time()),
                             "historyKey": f"/status/sessions/history/{len(self.history) + 1}", "deviceID": 3})

    def play_movie(self, rating_key: str, title: str, released: str, *, account_id: int = 1,
                   viewed_at: float | None = None) -> None:
        """A movie watched to the end. A history entry names a movie as a real server does:
        its title and release date (``originallyAvailableAt``), no guid and no year."""
        self.history.append({"type": "movie", "ratingKey": rating_key, "key": f"/library/metadata/{rating_key}",
                             "librarySectionID": 1, "title": title, "originallyAvailableAt": released,
                             "accountID": account_id,
                             "viewedAt": int(viewed_at if viewed_at is not None else time.time()),
                             "historyKey": f"/status/sessions/history/{len(self.history) + 1}", "deviceID": 3})

    # -- watched state -----------------------------------------------------------------------
    def mark_watched(self, rating_key: str, show: FakeShow, season: int, episode: int,
                     viewed_at: float | None = None, title: str | None = None, account_id: int = 1) -> None:
        """"Mark as played" on an episode by an account (PMS 1.40+): its viewCount and
        lastViewedAt change; no history entry, no webhook."""
        self.library.setdefault(rating_key, {
            "type": "episode", "ratingKey": rating_key, "key": f"/library/metadata/{rating_key}",
            "guid": f"plex://episode/{rating_key:0>24}", "librarySectionID": "2",
            "grandparentRatingKey": show.rating_key, "grandparentKey": f"/library/metadata/{show.rating_key}",
            "grandparentGuid": show.guid, "grandparentTitle": show.title, "title": title or f"Episode {episode}",
            "parentIndex": season, "index": episode, "duration": 3_480_000})
        self._viewed(account_id, rating_key, viewed_at)

    def _viewed(self, account_id: int, rating_key: str, viewed_at: float | None) -> None:
        views = self.views.setdefault(account_id, {})
        count = views.get(rating_key, (0, 0))[0]
        views[rating_key] = (count + 1, int(viewed_at if viewed_at is not None else time.time()))

    def mark_movie_watched(self, rating_key: str, title: str, year: int, viewed_at: float | None = None,
                           account_id: int = 1, **ids: str) -> None:
        self.library.setdefault(rating_key, {
            "type": "movie", "ratingKey": rating_key, "key": f"/library/metadata/{rating_key}",
            "guid": f"plex://movie/{rating_key:0>24}", "librarySectionID": "1", "title": title, "year": year,
            "duration": 7_200_000, "_guids": ids})
        self._viewed(account_id, rating_key, viewed_at)

    def unmark(self, rating_key: str, account_id: int = 1) -> None:
        """"Mark as unplayed": the view count and the time go."""
        self.views.get(account_id, {}).pop(rating_key, None)

    @staticmethod
    def _seen(item: dict[str, object], views: dict[str, tuple[int, int]]) -> dict[str, object]:
        """An item with one account's watched state (none: never viewed, or marked unplayed)."""
        v = views.get(str(item["ratingKey"]))
        return item if v is None else {**item, "viewCount": v[0], "lastViewedAt": v[1]}

    async def notify_timeline(self, rating_key: str) -> None:
        """The server tells its clients an item changed (a ``timeline`` entry, as for a metadata change)."""
        item = self.library[rating_key]
        message = {"NotificationContainer": {"type": "timeline", "size": 1, "TimelineEntry": [{
            "identifier": "com.plexapp.plugins.library", "sectionID": item["librarySectionID"],
            "itemID": rating_key, "type": 4 if item["type"] == "episode" else 1, "title": item["title"],
            "state": 5, "updatedAt": int(time.time())}]}}
        for ws in list(self.sockets):
            if not ws.closed:
                await ws.send_json(message)

    async def _library_root(self, request: web.Request) -> web.Response:
        if refused := await self._guard(request):
            return refused
        return web.Response(content_type=XML, text=(
            '<MediaContainer size="3" allowSync="0" identifier="com.plexapp.plugins.library" title1="Plex Library">'
            '<Directory key="sections" title="Library Sections"/>'
            '<Directory key="recentlyAdded" title="Recently Added"/><Directory key="onDeck" title="On Deck"/>'
            '</MediaContainer>'))

    async def _sections(self, request: web.Request) -> web.Response:
        if refused := await self._guard(request):
            return refused
        if self.sections_broken:
            return web.Response(status=500, text="<html><head><title>Internal Server Error</title></head></html>",
                                content_type="text/html")
        agents = {"show": ("tv.plex.agents.series", "Plex TV Series"), "movie": ("tv.plex.agents.movie", "Plex Movie")}
        rows = "".join(
            f'<Directory {_attrs(allowSync=1, key=k, type=t, title=title, agent=agents[t][0], scanner=agents[t][1])} '
            f'{_attrs(language="en-US", uuid=f"{self.uuid[:8]}-{k}", refreshing=0, content=1, directory=1)}>'
            f'<Location id="{k}" path="/data/{title}"/></Directory>' for k, (t, title) in self.sections.items())
        return web.Response(content_type=XML, text=(
            f'<MediaContainer size="{len(self.sections)}" allowSync="0" title1="Plex Library">{rows}</MediaContainer>'))

    async def _section_items(self, request: web.Request) -> web.Response:
        """A section's items of one ``type`` (4 episodes, 1 movies), with the filters a real
        server applies (``lastViewedAt>>=``: viewed after), ``sort``, paged by the container headers."""
        if refused := await self._guard(request):
            return refused
        key = request.match_info["key"]
        if key not in self.sections:
            return web.Response(status=404, text="<html><head><title>Not Found</title></head></html>",
                                content_type="text/html")
        kind = {"4": "episode", "1": "movie", "2": "show"}.get(request.query.get("type", ""), "")
        views = self.views.get(self._account_of(request), {})  # each account sees its own watched state
        rows = [self._seen(i, views) for i in self.library.values()
                if i["librarySectionID"] == key and i["type"] == kind]
        if (after := request.query.get("lastViewedAt>>")) is not None:
            rows = [i for i in rows if "lastViewedAt" in i and int(i["lastViewedAt"]) > int(after)]  # type: ignore[call-overload]
        if request.query.get("sort") in ("lastViewedAt", "lastViewedAt:asc", "lastViewedAt:desc"):
            rows.sort(key=lambda i: int(i.get("lastViewedAt", 0)),  # type: ignore[call-overload]
                      reverse=request.query["sort"].endswith(":desc"))
        start = 0 if self.library_repeats else int(request.headers.get("X-Plex-Container-Start", 0))
        size = int(request.headers.get("X-Plex-Container-Size", 50))
        page = rows[start:start + size]
        guids = request.query.get("includeGuids") == "1"
        body = "".join(
            f'<Video {_attrs(**{k: v for k, v in i.items() if not k.startswith("_")})}>'
            + ("".join(f'<Guid id="{s}://{v}"/>' for s, v in i.get("_guids", {}).items()) if guids else "")  # type: ignore[attr-defined]
            + "</Video>" for i in page)
        title = self.sections[key][1]
        return web.Response(content_type=XML, text=(
            f'<MediaContainer size="{len(page)}" totalSize="{len(rows)}" offset="{start}" librarySectionID="{key}" '
            f'librarySectionTitle={quoteattr(title)} allowSync="1">{body}</MediaContainer>'))

    def _endless_page(self, start: int, size: int) -> str:
        now = int(time.time())
        rows = [{"type": "episode", "ratingKey": str(10_000_000 + n), "grandparentTitle": "Endless",
                 "grandparentKey": "/library/metadata/77", "title": f"Episode {n}", "parentIndex": 1, "index": n,
                 "accountID": 1, "viewedAt": now - n, "historyKey": f"/status/sessions/history/{n}"}
                for n in range(start + 1, start + size + 1)]
        body = "".join(f"<Video {_attrs(**h)}/>" for h in rows)
        return f'<MediaContainer size="{size}" totalSize="{start + 2 * size}" offset="{start}">{body}</MediaContainer>'

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        """A history answer of ``history_bytes``, streamed (chunked) as it is made."""
        out = web.StreamResponse(headers={"Content-Type": XML})
        await out.prepare(request)
        row = (f'<Video type="episode" ratingKey="1" grandparentTitle="{"x" * 200}" viewedAt="{int(time.time())}" '
               'accountID="1" parentIndex="1" index="1"/>').encode()
        chunk = row * (65536 // len(row))
        try:
            await out.write(b'<MediaContainer size="1" totalSize="1">')
            self.sent_bytes = 0
            while self.sent_bytes < self.history_bytes:
                await out.write(chunk)
                self.sent_bytes += len(chunk)
            await out.write(b"</MediaContainer>")
        except ConnectionError:
            pass
        return out

    async def _history(self, request: web.Request) -> web.StreamResponse:
        """Newest first, ``viewedAt>`` and ``accountID`` filters, paged by the container headers."""
        if refused := await self._guard(request):
            return refused
        start = int(request.headers.get("X-Plex-Container-Start", 0))
        size = int(request.headers.get("X-Plex-Container-Size", 100))
        if self.history_bytes:
            return await self._huge(request)
        if self.history_endless:
            return web.Response(content_type=XML, text=self._endless_page(start, size))
        if self.history_repeats:
            start = 0
        rows = sorted(self.history, key=lambda h: -int(h["viewedAt"]))  # type: ignore[call-overload]
        if "viewedAt>" in request.query and not self.history_unfiltered:
            rows = [h for h in rows if int(h["viewedAt"]) > int(request.query["viewedAt>"])]  # type: ignore[call-overload]
        if "accountID" in request.query:
            rows = [h for h in rows if str(h["accountID"]) == request.query["accountID"]]
        page = rows[start:start + size]
        total = 10 ** 9 if self.history_repeats else len(rows)
        body = "".join(f"<Video {_attrs(**h)}/>" for h in page)  # type: ignore[arg-type]
        return web.Response(content_type=XML, text=(
            f'<MediaContainer size="{len(page)}" totalSize="{total}" offset="{start}">{body}</MediaContainer>'))

    # -- live sessions ---------------------------------------------------------------------
    def start_session(self, session_key: str, rating_key: str, show: FakeShow, season: int, episode: int,
                      account_id: int = 1, account: str = "alice", duration: int = 3_000_000) -> None:
        self.sessions[session_key] = {"sessionKey": session_key, "ratingKey": rating_key, "type": "episode",
                                      "grandparentKey": f"/library/metadata/{show.rating_key}",
                                      "grandparentTitle": show.title, "title": f"Episode {episode}",
                                      "parentIndex": season, "index": episode, "duration": duration,
                                      "viewOffset": 0, "_user": (account_id, account)}

    def start_movie_session(self, session_key: str, rating_key: str, title: str, year: int, guid: str,
                            account_id: int = 1, account: str = "alice", duration: int = 6_000_000) -> None:
        """A movie playing: the session list carries its full metadata (guid and year)."""
        self.sessions[session_key] = {"sessionKey": session_key, "ratingKey": rating_key, "type": "movie",
                                      "key": f"/library/metadata/{rating_key}", "guid": guid, "title": title,
                                      "year": year, "duration": duration, "viewOffset": 0,
                                      "_user": (account_id, account)}

    async def notify(self, session_key: str, offset: int, state: str = "playing") -> None:
        """The player reports its position: every open socket hears it, as a real server sends it."""
        session = self.sessions[session_key]
        session["viewOffset"] = offset
        message = {"NotificationContainer": {"type": "playing", "size": 1, "PlaySessionStateNotification": [{
            "sessionKey": session_key, "clientIdentifier": "player-1", "guid": "", "ratingKey": session["ratingKey"],
            "url": "", "key": f"/library/metadata/{session['ratingKey']}", "viewOffset": offset,
            "playQueueItemID": 1, "state": state}]}}
        if state == "stopped":
            self.sessions.pop(session_key)
        for ws in list(self.sockets):
            if not ws.closed:
                await ws.send_json(message)

    async def __aexit__(self, *exc: object) -> None:
        await self.drop_sockets()
        await super().__aexit__(*exc)

    async def drop_sockets(self) -> None:
        """The connection breaks (a network blip, a server restart)."""
        for ws in list(self.sockets):
            await ws.close()
        self.sockets.clear()

    async def _notifications(self, request: web.Request) -> web.StreamResponse:
        if refused := await self._guard(request):
            return refused
        if not self.websocket:
            return web.Response(status=404, text="<html><head><title>Not Found</title></head></html>",
                                content_type="text/html")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        async for _ in ws:  # the server only talks; it waits for the client to go
            pass
        return ws

    async def _sessions(self, request: web.Request) -> web.Response:
        if refused := await self._guard(request):
            return refused
        rows = []
        for session in self.sessions.values():
            account_id, name = session["_user"]  # type: ignore[misc]
            attrs = _attrs(**{k: v for k, v in session.items() if not k.startswith("_")})
            rows.append(f'<Video {attrs}><User id="{account_id}" title={quoteattr(str(name))}/></Video>')
        return web.Response(content_type=XML,
                            text=f'<MediaContainer size="{len(rows)}">{"".join(rows)}</MediaContainer>')

    def _authorised(self, request: web.Request) -> bool:
        token = request.headers.get("X-Plex-Token") or request.query.get("X-Plex-Token")
        return token == self.token or token in self.user_tokens

    def _account_of(self, request: web.Request) -> int:
        token = request.headers.get("X-Plex-Token") or request.query.get("X-Plex-Token") or ""
        return self.user_tokens.get(token, 1)

    async def _guard(self, request: web.Request) -> web.Response | None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self._authorised(request):
            return web.Response(status=401, text="<html><head><title>Unauthorized</title></head></html>",
                                content_type="text/html")
        return None

    async def _identity(self, request: web.Request) -> web.Response:
        if refused := await self._guard(request):
            return refused
        attrs = _attrs(size=0, friendlyName=self.name, machineIdentifier=self.uuid, version="1.41.3.9314", myPlex=1,
                       myPlexUsername=self.owner, platform="Linux")
        return web.Response(text=f'<MediaContainer {attrs}/>', content_type=XML)

    async def _metadata(self, request: web.Request) -> web.Response:
        if refused := await self._guard(request):
            return refused
        key = request.match_info["key"]
        if "," in key or key in self.library:  # library items (several at once: "1,2,3"), as this account sees them
            views = self.views.get(self._account_of(request), {})
            found = [self._seen(self.library[k], views) for k in key.split(",") if k in self.library]
            body = "".join(f'<Video {_attrs(**{k: v for k, v in i.items() if not k.startswith("_")})}/>' for i in found)
            return web.Response(text=f'<MediaContainer size="{len(found)}">{body}</MediaContainer>', content_type=XML)
        if key in self.episodes:
            attrs = _attrs(ratingKey=key, key=f"/library/metadata/{key}", type="episode",
                           **self.episodes[key])  # type: ignore[arg-type]
            return web.Response(text=f'<MediaContainer size="1"><Video {attrs}/></MediaContainer>',
                                content_type=XML)
        if (movie := self.movies.get(key)) is not None:
            guids = ""
            if request.query.get("includeGuids") == "1":  # as the real server: only when asked
                guids = "".join(f'<Guid id="{k}://{v}"/>' for k, v in movie.ids.items())
            attrs = _attrs(ratingKey=key, key=f"/library/metadata/{key}", guid=movie.guid, type="movie",
                           title=movie.title, year=movie.year, librarySectionID=1, librarySectionTitle="Movies")
            return web.Response(text=f'<MediaContainer size="1"><Video {attrs}>{guids}</Video></MediaContainer>',
                                content_type=XML)
        show = self.shows.get(key)
        if show is None:
            return web.Response(status=404, text="<html><head><title>Not Found</title></head></html>",
                                content_type="text/html")
        guids = ""
        if request.query.get("includeGuids") == "1":  # as the real server: only when asked
            guids = "".join(f'<Guid id="{k}://{v}"/>' for k, v in show.ids.items())
        attrs = _attrs(ratingKey=show.rating_key, key=f"/library/metadata/{show.rating_key}/children",
                       guid=show.guid, type="show", title=show.title, year=show.year,
                       originallyAvailableAt=f"{show.year}-01-20" if show.year else None,
                       librarySectionID=2, librarySectionTitle="TV Shows")
        return web.Response(text=f'<MediaContainer size="1"><Directory {attrs}>{guids}</Directory></MediaContainer>',
                            content_type=XML)

    async def _accounts(self, request: web.Request) -> web.Response:
        if refused := await self._guard(request):
            return refused
        rows = '<Account id="0" key="/accounts/0" name="" defaultAudioLanguage="en"/>' + "".join(
            f'<Account {_attrs(id=i, key=f"/accounts/{i}", name=n)}/>' for i, n in self.accounts.items())
        return web.Response(text=f'<MediaContainer size="{len(self.accounts) + 1}">{rows}</MediaContainer>',
                            content_type=XML)


@dataclass
class FakeUser:
    id: int
    username: str
    plex_pass: bool = True
    webhooks: list[str] = field(default_factory=list)


@dataclass
class FakePin:
    id: int
    code: str
    created: float
    token: str | None = None


class FakePlexTv(_Served):
    """plex.tv: PINs, the account, its webhooks, its servers."""

    PIN_LIFETIME = 900.0  # seconds, as plex.tv's expiresIn

    def __init__(self) -> None:
        super().__init__()
        self.users: dict[str, FakeUser] = {}  # token -> user
        self.pins: dict[int, FakePin] = {}
        self.servers: list[FakePms] = []
        self._ids = itertools.count(1001)
        r = self.app.router
        r.add_post("/api/v2/pins", self._new_pin)
        r.add_get("/api/v2/pins/{id}", self._pin)
        r.add_get("/api/v2/user", self._user)
        r.add_get("/api/v2/user/webhooks", self._webhooks)
        r.add_post("/api/v2/user/webhooks", self._set_webhooks)
        r.add_get("/api/v2/resources", self._resources)
        r.add_get("/api/users/", self._users)
        r.add_get("/api/servers/{machine}/shared_servers", self._shared_servers)
        self.others: dict[str, list[tuple[FakeUser, bool]]] = {}  # owner token -> (user, home): Home, friends

    def add_other(self, owner_token: str, pms: FakePms, username: str, *, home: bool = True,
                  token_given: bool = True) -> FakeUser:
        """Another account with access to an owner's server (a Plex Home user, a friend); with
        ``token_given`` plex.tv lists its access token for that server."""
        user = FakeUser(next(self._ids), username)
        self.others.setdefault(owner_token, []).append((user, home))
        if token_given:
            pms.user_tokens[f"shared-{user.id}-{secrets.token_hex(4)}"] = user.id
        pms.accounts[user.id] = username
        return user

    async def _users(self, request: web.Request) -> web.Response:
        """The account's other users, as python-plexapi's ``MyPlexAccount.users()`` reads them."""
        if self._account(request) is None:
            return _error(401, 1001, "User could not be authenticated")
        token = request.headers.get("X-Plex-Token") or request.query.get("X-Plex-Token") or ""
        rows = "".join(f'<User {_attrs(id=u.id, title=u.username, username=u.username, home=int(home))} '
                       f'email="{u.username}@example.org" restricted="0" protected="0"/>'
                       for u, home in self.others.get(token, []))
        return web.Response(content_type=XML, text=(
            f'<MediaContainer friendlyName="myPlex" identifier="com.plexapp.plugins.myplex" '
            f'size="{len(self.others.get(token, []))}">{rows}</MediaContainer>'))

    async def _shared_servers(self, request: web.Request) -> web.Response:
        """Each other account's access token for one server (what ``MyPlexUser.get_token`` reads)."""
        if self._account(request) is None:
            return _error(401, 1001, "User could not be authenticated")
        machine = request.match_info["machine"]
        pms = next((p for p in self.servers if p.uuid == machine), None)
        if pms is None:
            return _error(404, 1002, "Server not found")
        names = {u.id: u.username for users in self.others.values() for u, _ in users}
        rows = "".join(f'<SharedServer {_attrs(id=i + 1, username=names.get(uid, "?"), userID=uid, accessToken=tok)} '
                       f'{_attrs(name=pms.name, machineIdentifier=machine)} owned="0" allLibraries="1"/>'
                       for i, (tok, uid) in enumerate(pms.user_tokens.items()))
        return web.Response(content_type=XML,
                            text=f'<MediaContainer size="{len(pms.user_tokens)}">{rows}</MediaContainer>')

    def add_user(self, username: str = "alice", *, plex_pass: bool = True, webhooks: list[str] | None = None,
                 token: str | None = None) -> tuple[str, FakeUser]:
        token = token or f"tok-{secrets.token_hex(8)}"
        user = FakeUser(next(self._ids), username, plex_pass, list(webhooks or []))
        self.users[token] = user
        return token, user

    def approve(self, token: str, pin: FakePin | None = None) -> None:
        """The user signs in on Plex's page: the (latest) PIN gets the account's token."""
        (pin or self.latest_pin()).token = token

    def latest_pin(self) -> FakePin:
        return self.pins[max(self.pins)]

    def expire_pins(self) -> None:
        for pin in self.pins.values():
            pin.created -= self.PIN_LIFETIME + 1

    def revoke(self, token: str) -> None:
        self.users.pop(token, None)

    def _account(self, request: web.Request) -> FakeUser | None:
        return self.users.get(request.headers.get("X-Plex-Token") or request.query.get("X-Plex-Token", ""))

    @staticmethod
    def _pin_xml(pin: FakePin, status: int = 200) -> web.Response:
        left = int(FakePlexTv.PIN_LIFETIME - (time.time() - pin.created))
        attrs = _attrs(id=pin.id, code=pin.code, product="Scrobble Tray", trusted=0, expiresIn=left,
                       authToken=pin.token or "")
        return web.Response(status=status, content_type=XML, text=f'<pin {attrs}/>')

    async def _new_pin(self, request: web.Request) -> web.Response:
        if not request.headers.get("X-Plex-Client-Identifier"):
            return _error(400, 1000, "X-Plex-Client-Identifier is missing")
        strong = request.query.get("strong", "").lower() in ("true", "1")
        code = secrets.token_hex(12) if strong else secrets.token_hex(2).upper()
        pin = FakePin(next(self._ids), code, time.time())
        self.pins[pin.id] = pin
        return self._pin_xml(pin, 201)

    async def _pin(self, request: web.Request) -> web.Response:
        pin = self.pins.get(int(request.match_info["id"]))
        if pin is None or time.time() - pin.created > self.PIN_LIFETIME:
            return _error(404, 1020, "Code not found or expired")
        return self._pin_xml(pin)

    async def _user(self, request: web.Request) -> web.Response:
        user = self._account(request)
        if user is None:
            return _error(401, 1001, "User could not be authenticated")
        token = request.headers.get("X-Plex-Token") or request.query.get("X-Plex-Token")
        sub = _attrs(active=int(user.plex_pass), status="Active" if user.plex_pass else "Inactive",
                     plan="lifetime" if user.plex_pass else None, subscribedAt="")
        attrs = _attrs(id=user.id, uuid=f"u{user.id:016x}", username=user.username, title=user.username,
                       email=f"{user.username}@example.org", authToken=token, scrobbleTypes="", home=0)
        return web.Response(content_type=XML, text=(
            f'<user {attrs}><subscription {sub}><features/></subscription><profile autoSelectAudio="1"/></user>'))

    def _webhook_user(self, request: web.Request) -> FakeUser | web.Response:
        """The account, or plex.tv's refusal: 401 without a good token, 403 without Plex Pass."""
        user = self._account(request)
        if user is None:
            return _error(401, 1001, "User could not be authenticated")
        if not user.plex_pass:
            return _error(403, 1043, "This action is not available for this user")
        return user

    async def _webhooks(self, request: web.Request) -> web.Response:
        user = self._webhook_user(request)
        return user if isinstance(user, web.Response) else self._webhook_list(user)

    @staticmethod
    def _webhook_list(user: FakeUser) -> web.Response:
        rows = "".join(f"<webhook {_attrs(url=u)}/>" for u in user.webhooks)
        return web.Response(content_type=XML, text=f"<webhooks>{rows}</webhooks>")

    async def _set_webhooks(self, request: web.Request) -> web.Response:
        user = self._webhook_user(request)
        if isinstance(user, web.Response):
            return user
        form = await request.post()
        user.webhooks = [str(u) for u in form.getall("urls[]", []) if str(u)]  # the whole list, replaced
        return self._webhook_list(user)

    async def _resources(self, request: web.Request) -> web.Response:
        user = self._account(request)
        if user is None:
            return _error(401, 1001, "User could not be authenticated")
        rows = []
        for pms in self.servers:
            conn = _attrs(protocol="http", address="127.0.0.1", port=pms.port, uri=pms.url, local=1,
                          relay=0, IPv6=0)
            attrs = _attrs(name=pms.name, product="Plex Media Server", productVersion="1.41.3", platform="Linux",
                           device="PC", clientIdentifier=pms.uuid, createdAt="2024-01-01T00:00:00Z",
                           lastSeenAt="2026-12-01T00:00:00Z", provides="server", owned=int(pms.owner == user.username),
                           accessToken=pms.token, presence=1, httpsRequired=0, relay=1)
            rows.append(f'<resource {attrs}><connections><connection {conn}/></connections></resource>')
        return web.Response(content_type=XML, text=f"<resources>{''.join(rows)}</resources>")
