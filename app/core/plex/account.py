"""The signed-in Plex account, blocking (python-plexapi): who, Plex Pass, webhooks, servers.

Every method may take seconds; :mod:`.service` calls them on a thread. Errors come out as
:class:`~app.core.plex.http.PlexError`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.core.plex.history import PAGE, HistoryPlay, Reading
from app.core.plex.http import NoPlexPass, PlexError, session, translate
from app.core.plex.watched import SECTION_TYPES, Look, Viewed
from app.core.types import ShowFacts

CONNECT_TIMEOUT = 4.0  # seconds per connection tried to a server; they are tried at once
REQUEST_TIMEOUT = 8.0
WATCHED_NEAR = 600  # seconds: a "watched" the server recorded this close to a stop is that stop's


def _number(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


@dataclass(frozen=True)
class PlexServerInfo:
    name: str
    uuid: str  # the server's machine identifier: Server.uuid in a webhook
    owned: bool


@dataclass(frozen=True)
class PlexAccountInfo:
    """What the windows show about the account."""

    id: int | None
    username: str
    plex_pass: bool
    servers: tuple[PlexServerInfo, ...] = ()


@dataclass(frozen=True)
class PlexUser:
    """An account that may play on a server: its plex.tv id, and its id on the server."""

    name: str
    plex_id: int | None
    server_id: int | None = None  # the owner is 1 on their own server
    owner: bool = False


class PlexAccount:
    """One signed-in account (its token), and connections to its servers, reused."""

    def __init__(self, token: str, plex_tv: str | None = None) -> None:
        self.token = token
        self._session = session(plex_tv)
        self._account: Any = None
        self._servers: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _myplex(self) -> Any:
        from plexapi.myplex import MyPlexAccount

        if self._account is None:
            try:
                self._account = MyPlexAccount(token=self.token, session=self._session,
                                              timeout=REQUEST_TIMEOUT)
            except Exception as exc:
                raise translate(exc, "Reading the Plex account") from None
        return self._account

    def info(self) -> PlexAccountInfo:
        """The account afresh from plex.tv (its Plex Pass may have changed)."""
        self._account = None
        account = self._myplex()
        try:
            resources = account.resources()
        except Exception as exc:
            raise translate(exc, "Listing the account's servers") from None
        servers = tuple(PlexServerInfo(r.name, r.clientIdentifier, bool(r.owned))
                        for r in resources if "server" in (r.provides or ""))
        return PlexAccountInfo(account.id, account.username or account.title or "?",
                               bool(account.subscriptionActive), servers)

    def webhooks(self) -> list[str]:
        account = self._myplex()
        if not account.subscriptionActive:
            raise NoPlexPass(account.username)
        try:
            return list(account.webhooks())
        except Exception as exc:
            raise translate(exc, "Reading the account's webhooks") from None

    def set_webhooks(self, urls: list[str]) -> list[str]:
        """Replace the whole list (plex.tv has no add): only after reading it."""
        try:
            return list(self._myplex().setWebhooks(urls))
        except Exception as exc:
            raise translate(exc, "Saving the account's webhooks") from None

    def _server(self, uuid: str) -> Any:
        from plexapi.exceptions import NotFound

        with self._lock:
            if uuid in self._servers:
                return self._servers[uuid]
        account = self._myplex()
        resource = None
        try:
            resource = next((r for r in account.resources() if r.clientIdentifier == uuid), None)
            if resource is None:
                raise PlexError("That Plex server is not one of this account's servers")
            server = resource.connect(timeout=CONNECT_TIMEOUT)  # the first that answers, best first
        except PlexError:
            raise
        except NotFound:  # plexapi's word for "none of its addresses answered"
            name = resource.name if resource is not None else uuid  # (resources() itself: NotFound)
            raise PlexError(f"The Plex server {name} did not answer at any of its addresses",
                            "Is it on and online? Show ids are asked again later.") from None
        except Exception as exc:
            raise translate(exc, "Connecting to the Plex server") from None
        with self._lock:
            self._servers[uuid] = server
        return server

    def connection(self, uuid: str) -> tuple[str, str]:
        """The server's best address that answers, and the token for it."""
        server = self._server(uuid)
        return server._baseurl, server._token  # plexapi keeps no public name for them

    def forget_server(self, uuid: str) -> None:
        """Connect afresh next time (its address may have changed)."""
        with self._lock:
            self._servers.pop(uuid, None)

    def _item(self, server_uuid: str, path: str, what: str) -> Any:
        """The first element of a server's answer (one plain request: plexapi's objects
        would reload themselves without the Guids), or None."""
        server = self._server(server_uuid)
        try:
            data = server.query(path)
        except Exception as exc:
            self.forget_server(server_uuid)
            raise translate(exc, f"Reading the {what} from the Plex server") from None
        return next(iter(data), None) if data is not None else None

    def show_facts(self, server_uuid: str, show_key: str) -> ShowFacts:
        """The show's ids and first year, from the server the play happened on."""
        show = self._item(server_uuid, f"/library/metadata/{int(show_key)}?includeGuids=1", "show")
        if show is None:
            raise PlexError("The Plex server has no such show any more")
        ids = {}
        for guid in show.iter("Guid"):
            scheme, _, value = (guid.get("id") or "").partition("://")
            if scheme in ("tmdb", "tvdb", "imdb") and value:
                ids[scheme] = value
        year = show.get("year")
        return ShowFacts(ids, int(year) if year and year.isdigit() else None, show.get("title"))

    def progress(self, server_uuid: str, rating_key: str, played_at: datetime) -> float | None:
        """How far the episode's last play went: its resume point, or 1.0 when the server
        counted it watched around ``played_at`` (naive UTC); None when it cannot say."""
        item = self._item(server_uuid, f"/library/metadata/{int(rating_key)}", "episode")
        if item is None:
            return None
        offset, duration = _number(item.get("viewOffset")), _number(item.get("duration"))
        if offset and duration:
            return min(1.0, offset / duration)
        viewed = _number(item.get("lastViewedAt"))
        played = played_at.replace(tzinfo=UTC).timestamp()
        if _number(item.get("viewCount")) and viewed and viewed >= played - WATCHED_NEAR:
            return 1.0
        return None

    def history(self, server_uuid: str, reading: Reading) -> Iterator[list[HistoryPlay]]:
        """The server's episode plays after ``reading.since``, newest first, a page at a time,
        within the reading's limits (see :class:`~app.core.plex.history.Reading`)."""
        server = self._server(server_uuid)
        key = f"/status/sessions/history/all?sort=viewedAt:desc&viewedAt%3E={int(reading.since)}"
        start = 0
        while reading.more():
            try:
                page = server.query(key, headers={"X-Plex-Container-Start": str(start),
                                                  "X-Plex-Container-Size": str(PAGE)})
            except Exception as exc:
                self.forget_server(server_uuid)
                raise translate(exc, "Reading the Plex server's play history") from None
            if page is None or not len(page):
                return
            yield reading.take(page, server_uuid)
            start += len(page)
            total = _number(page.get("totalSize"))  # without it: until a page comes back empty
            if reading.stopped or (total is not None and start >= total):
                return

    def viewed(self, server_uuid: str, look: Look, token: str | None = None) -> Iterator[list[Viewed]]:
        """The episodes and movies an account viewed since ``look.since``, section by section,
        a page at a time, within the look's limits. ``token``: another account's token for
        this server (a Plex Home user); None: the signed-in account's."""
        server = self._server(server_uuid)
        headers = {"X-Plex-Token": token} if token else {}
        try:
            sections = server.query("/library/sections", headers=headers)
        except Exception as exc:
            self.forget_server(server_uuid)
            raise translate(exc, "Reading the Plex server's libraries") from None
        for section in sections if sections is not None else ():
            kind = SECTION_TYPES.get(section.get("type") or "")
            if kind is None or not (section.get("key") or "").isdigit():
                continue
            since = look.begin(section.get("key") or "")
            key = (f"/library/sections/{section.get('key')}/all?type={kind}&includeGuids=1"
                   f"&sort=lastViewedAt&lastViewedAt%3E%3E={since - 1}")
            start = 0
            while look.more():
                try:
                    page = server.query(key, headers={**headers, "X-Plex-Container-Start": str(start),
                                                      "X-Plex-Container-Size": str(PAGE)})
                except Exception as exc:
                    self.forget_server(server_uuid)
                    raise translate(exc, "Reading what was viewed on the Plex server") from None
                if page is None or not len(page):
                    break
                yield look.take(page, server_uuid)
                start += len(page)
                total = _number(page.get("totalSize"))
                if look.stopped or (total is not None and start >= total):
                    break
            if look.stopped:
                return

    def view_counts(self, server_uuid: str, rating_keys: list[str], token: str | None = None) -> dict[str, int]:
        """rating key -> viewCount (0: unplayed) of items, 100 a request; an item gone is left out."""
        server = self._server(server_uuid)
        headers = {"X-Plex-Token": token} if token else {}
        out: dict[str, int] = {}
        keys = [k for k in rating_keys if k.isdigit()]
        for i in range(0, len(keys), 100):
            try:
                data = server.query(f"/library/metadata/{','.join(keys[i:i + 100])}", headers=headers)
            except Exception as exc:
                self.forget_server(server_uuid)
                raise translate(exc, "Reading what is still marked viewed on the Plex server") from None
            for item in data if data is not None else ():
                if item.get("ratingKey"):
                    out[item.get("ratingKey")] = _number(item.get("viewCount")) or 0
        return out

    def other_tokens(self, server_uuid: str) -> dict[int, tuple[str, str]]:
        """plex.tv id -> (name, token) of the other accounts (Plex Home, friends) that Plex
        gives a token for on one of the account's servers: the list python-plexapi's
        ``MyPlexUser.get_token`` reads (once for all, and its errors as sentences)."""
        account = self._myplex()
        try:
            names = {u.id: u.title or u.username for u in account.users()}
            shared = account.query(account.FRIENDINVITE.format(machineId=server_uuid))
        except Exception as exc:
            raise translate(exc, "Reading the other accounts' access to the Plex server") from None
        out = {}
        for item in shared if shared is not None else ():
            user_id, token = _number(item.get("userID")), item.get("accessToken")
            if user_id is not None and token:
                out[user_id] = (names.get(user_id) or item.get("username") or str(user_id), token)
        return out

    def users(self, server_uuid: str) -> list[PlexUser]:
        """The accounts that can play on a server: its own list, with plex.tv ids."""
        server = self._server(server_uuid)
        try:
            accounts = server.systemAccounts()
        except Exception as exc:
            raise translate(exc, "Listing the Plex server's accounts") from None
        owner = self._myplex().id
        out = []
        for a in accounts:
            if not a.name or a.id == 0:  # 0 is the server's own local account
                continue
            out.append(PlexUser(a.name, owner if a.id == 1 else a.id, a.id, a.id == 1))
        return out
