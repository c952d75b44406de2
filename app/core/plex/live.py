"""Live sessions: plays followed on the server itself, for accounts without Plex Pass.

A Plex server tells its clients what is playing over a websocket
(``/:/websockets/notifications``): ``PlaySessionStateNotification`` entries with the
session, the item, the position and the state, but not who plays it, which
``/status/sessions`` says. Each session's progress is followed; when an episode (or a movie) passes the
stop threshold it becomes one ``media.scrobble`` event in the inbox (from "live"), and a
pause, a seek back or a stop before that makes none. A dropped socket or a restarting
server is reconnected with back-off, and the sessions are read again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.lazy import lazy
from app.core.plex.history import COUNTED, HistoryPlay, payload, play_of
from app.core.plex.http import ANSWER_CAP, ANSWER_WAIT
from app.core.types import Check, CheckStatus

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = lazy("aiohttp")  # (loaded when first used: see app.core.lazy)

log = logging.getLogger(__name__)
BACKOFF = (1.0, 2.0, 5.0, 15.0, 60.0)  # seconds before reconnecting, by failures in a row
POLL = 10.0  # seconds between looks at the session list, where the websocket is refused
LIVE = "live"  # the source of an inbox row made from a live session


@dataclass
class _Session:
    rating_key: str
    duration: int  # ms
    play: HistoryPlay  # what is played, by whom (viewed_at set when it counts)
    account_title: str | None
    counted: bool = False


class LiveSessions:
    """Follows one server's playback; ``put(payload, source)`` adds a scrobble to the inbox."""

    def __init__(self, base_url: str, token: str, server_uuid: str, server_name: str,
                 threshold: Callable[[], float], put: Callable[[str, str], Awaitable[int]],
                 changed: Callable[[], None] = lambda: None, plays: bool = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.server_uuid, self.server_name = server_uuid, server_name
        self.threshold = threshold
        self.put = put
        self.changed = changed  # an episode or movie changed (its view state, maybe): look soon
        self.plays = plays  # False: only listens for changes (marks made by hand), follows no play
        self.sessions: dict[str, _Session] = {}
        self.connected = False
        self.counted = 0

    def check(self) -> Check:
        """Its row in Diagnostics."""
        if not self.plays:
            if self.connected:
                return Check(f"Notifications from {self.server_name}", CheckStatus.PASS,
                             "followed: marks made by hand in Plex are looked at within seconds")
            return Check(f"Notifications from {self.server_name}", CheckStatus.PASS,
                         "not followed now: marks made by hand are found at the next look (at least hourly)")
        if self.connected:
            return Check(f"Live sessions on {self.server_name}", CheckStatus.PASS,
                         f"followed: {self.counted} play(s) counted since start")
        return Check(f"Live sessions on {self.server_name}", CheckStatus.WARN,
                     "reconnecting to the server's notifications", "Is the server on? It reconnects by itself.")

    async def run(self) -> None:
        """Follow the server until cancelled, reconnecting after a drop."""
        failures = 0
        async with aiohttp.ClientSession(headers={"X-Plex-Token": self.token, "Accept": "application/json"},
                                         timeout=aiohttp.ClientTimeout(total=None, sock_connect=5)) as http:
            while True:
                try:
                    async with asyncio.timeout(ANSWER_WAIT):  # a handshake that never finishes
                        ws = await http.ws_connect(f"{self.base_url}/:/websockets/notifications", heartbeat=30)
                    async with ws:
                        self.connected, failures = True, 0
                        if self.plays:
                            log.info("Following live sessions on %s", self.server_name)
                            await self._read_sessions(http)
                        async for message in ws:
                            if message.type == aiohttp.WSMsgType.TEXT:
                                await self._notified(http, message.data)
                except aiohttp.WSServerHandshakeError as exc:  # answered, but no websocket here
                    if not self.plays:  # marks made by hand are found at each look all the same
                        log.info("%s sends no notifications (HTTP %d): marks made by hand are found at "
                                 "each look", self.server_name, exc.status)
                        self.connected = False
                        return
                    log.info("Live sessions on %s: no websocket (HTTP %d): reading the session list "
                             "every %.0f s instead", self.server_name, exc.status, POLL)
                    await self._poll(http)
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    if failures == 0:
                        log.warning("Live sessions on %s: %s; reconnecting", self.server_name,
                                    type(exc).__name__)
                self.connected = False
                await asyncio.sleep(BACKOFF[min(failures, len(BACKOFF) - 1)])
                failures += 1

    async def _poll(self, http: aiohttp.ClientSession) -> None:
        """The fallback: the session list now and then; a session gone from it has stopped."""
        while True:
            root = await self._read_sessions(http)
            if root is None:
                raise aiohttp.ClientError("the session list did not answer")
            self.connected = True
            playing = set()
            for item in root:
                if key := item.get("sessionKey"):
                    playing.add(key)
                    await self._progress(http, {"sessionKey": key, "ratingKey": item.get("ratingKey"),
                                                "viewOffset": item.get("viewOffset"), "state": "playing"})
            for gone in set(self.sessions) - playing:
                self.sessions.pop(gone, None)
            await asyncio.sleep(POLL)

    async def _read_sessions(self, http: aiohttp.ClientSession) -> ET.Element | None:
        """Who plays what: ``/status/sessions`` (the notifications do not say)."""
        async with http.get(f"{self.base_url}/status/sessions", headers={"Accept": "application/xml"},
                            timeout=aiohttp.ClientTimeout(total=ANSWER_WAIT)) as r:
            if r.status != 200:
                return None
            body = await _capped(r)
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            log.warning("Live sessions on %s: the session list is not XML", self.server_name)
            return None
        for item in root:
            key, rating_key = item.get("sessionKey"), item.get("ratingKey")
            if item.get("type") not in COUNTED or not key or not rating_key:
                continue
            known = self.sessions.get(key)
            if known is not None and known.rating_key == rating_key:
                continue  # the same play: keep whether it counted
            user = item.find("User")
            play = play_of(item, self.server_uuid, self.server_name, 0,
                           _int(user.get("id")) if user is not None else None)
            self.sessions[key] = _Session(rating_key, _int(item.get("duration")) or 0, play,
                                          user.get("title") if user is not None else None)
        return root

    async def _notified(self, http: aiohttp.ClientSession, text: str) -> None:
        try:
            container = json.loads(text).get("NotificationContainer") or {}
        except (ValueError, AttributeError):
            return
        if container.get("type") == "timeline":  # (whether a view-state change sends one is not documented)
            if any(str(e.get("type")) in ("1", "4") and str(e.get("state")) == "5"
                   for e in container.get("TimelineEntry") or [] if isinstance(e, dict)):
                self.changed()
            return
        if container.get("type") != "playing" or not self.plays:
            return
        for n in container.get("PlaySessionStateNotification") or []:
            await self._progress(http, n)

    async def _progress(self, http: aiohttp.ClientSession, n: dict[str, Any]) -> None:
        key, rating_key = str(n.get("sessionKey") or ""), str(n.get("ratingKey") or "")
        if not key:
            return
        session = self.sessions.get(key)
        if session is None or session.rating_key != rating_key:
            await self._read_sessions(http)  # a new play (or the next episode in the session)
            session = self.sessions.get(key)
            if session is None:
                return
        offset = _int(str(n.get("viewOffset"))) or 0
        if not session.counted and session.duration and offset / session.duration >= self.threshold():
            session.counted = True
            play = session.play
            play = HistoryPlay(**{**play.__dict__, "viewed_at": int(time.time())})
            await self.put(payload(play, session.account_title, True, origin=LIVE), LIVE)
            self.counted += 1
        if n.get("state") == "stopped":
            self.sessions.pop(key, None)


async def _capped(r: aiohttp.ClientResponse) -> bytes:
    """The body, up to ANSWER_CAP (the whole answer's time is the request's timeout)."""
    body = bytearray()
    async for chunk in r.content.iter_chunked(65536):
        body += chunk
        if len(body) > ANSWER_CAP:
            raise aiohttp.ClientPayloadError(f"the session list is over {ANSWER_CAP // 1048576} MB")
    return bytes(body)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "", "None") else None
    except ValueError:
        return None


class LiveFollower:
    """The live followers of a core: one task per owned server while live mode is on."""

    def __init__(self) -> None:
        self._tasks: dict[str, tuple[LiveSessions, asyncio.Task[None]]] = {}

    @property
    def following(self) -> list[LiveSessions]:
        return [live for live, _ in self._tasks.values()]

    def follows(self, server_uuid: str) -> bool:
        return server_uuid in self._tasks

    def get(self, server_uuid: str) -> LiveSessions | None:
        found = self._tasks.get(server_uuid)
        return found[0] if found else None

    async def stop_one(self, server_uuid: str) -> None:
        found = self._tasks.pop(server_uuid, None)
        if found is not None:
            found[1].cancel()
            await asyncio.gather(found[1], return_exceptions=True)

    def start(self, live: LiveSessions) -> None:
        if live.server_uuid not in self._tasks:
            self._tasks[live.server_uuid] = (live, asyncio.create_task(live.run(), name=f"live-{live.server_name}"))

    async def stop(self) -> None:
        tasks = [t for _, t in self._tasks.values()]
        self._tasks.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
