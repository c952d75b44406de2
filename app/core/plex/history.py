"""A Plex server's play history as inbox events: what catch-up adds for plays whose
webhook never came (the app closed, the laptop asleep, the tunnel down).

A play becomes the payload of a ``media.scrobble`` webhook, in the shape Plex sends, so
it takes the same way: filters, de-duplication, matching, destinations. What marks it as
history is ``Scrobbletray.origin``; Plex's own fields are never invented beyond that.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

PAGE = 500  # history entries a request
MAX_PAGES = 100  # pages read from one server in one catch-up (50,000 entries)
EARLIEST = 946_684_800  # 2000-01-01 UTC: a play dated before is a wrong clock or a bad field
SLACK = 86_400  # seconds: a play dated further ahead than this is a wrong clock
COUNTED = ("episode", "movie")  # what a play may be (music, clips and photos are not tracked)


@dataclass(frozen=True)
class HistoryPlay:
    """One entry of a server's history: an episode or a movie watched by an account (a
    movie has no show, season or number; its title is in ``episode_title``)."""

    server_uuid: str
    server_name: str
    viewed_at: int  # unix time
    account_id: int | None
    rating_key: str | None
    show_key: str | None
    show_title: str | None
    episode_title: str | None
    season: int | None
    episode: int | None
    year: int | None
    media_type: str = "episode"  # or movie
    guid: str | None = None  # a movie's, where the server gives it (its mapping's key)

    @property
    def viewed(self) -> datetime:
        """The time of the play, as naive UTC (the inbox's convention)."""
        return datetime.fromtimestamp(self.viewed_at, UTC).replace(tzinfo=None)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def play_of(item: Any, server_uuid: str, server_name: str, viewed_at: int, account_id: int | None) -> HistoryPlay:
    """An episode or movie element (of the history, or of the session list) as a play."""
    if item.get("type") == "movie":
        year = _int(item.get("year")) or _int((item.get("originallyAvailableAt") or "")[:4])
        return HistoryPlay(server_uuid, server_name, viewed_at, account_id, item.get("ratingKey"), None, None,
                           item.get("title"), None, None, year, "movie", item.get("guid"))
    show_key = (item.get("grandparentKey") or "").rstrip("/").rsplit("/", 1)[-1] or None
    return HistoryPlay(server_uuid, server_name, viewed_at, account_id, item.get("ratingKey"),
                       item.get("grandparentRatingKey") or show_key, item.get("grandparentTitle"), item.get("title"),
                       _int(item.get("parentIndex")), _int(item.get("index")), _int(item.get("year")))


def plays(page: Any, server_uuid: str, server_name: str) -> Iterator[HistoryPlay]:
    """The episodes and movies of one page of ``/status/sessions/history/all`` (other media skipped)."""
    for item in page:
        if item.get("type") not in COUNTED or _int(item.get("viewedAt")) is None:
            continue
        yield play_of(item, server_uuid, server_name, int(item.get("viewedAt")), _int(item.get("accountID")))


def plausible(viewed_at: int, now: float | None = None) -> bool:
    """Whether a play time can be true: from 2000 on, and not ahead of now (beyond SLACK)."""
    return EARLIEST <= viewed_at <= (time.time() if now is None else now) + SLACK


@dataclass
class Reading:
    """One server's history in one catch-up: the entries seen, the plays it gave, and
    what stopped it early (a limit, or an answer that makes no sense), in words."""

    server_name: str
    since: int  # unix time: only plays after it are wanted
    until: float  # time.monotonic() by which the catch-up stops reading
    pages: int = 0
    misdated: int = 0  # plays dated in the future or before 2000: left out
    stopped: str | None = None
    told: set[tuple[Any, ...]] = field(default_factory=set)  # misdated plays said before: not again
    _keys: set[Any] = field(default_factory=set)

    def more(self) -> bool:
        """Whether another page may be asked for (False, with :attr:`stopped` said, at a limit)."""
        if self.stopped is None and self.pages >= MAX_PAGES:
            self.stopped = (f"{self.server_name}: reading stopped after {self.pages} pages of history "
                            f"({self.pages * PAGE:,} entries); older plays were not read")
        elif self.stopped is None and time.monotonic() > self.until:
            self.stopped = (f"{self.server_name}: reading stopped after {self.pages} pages of history, "
                            "the time a catch-up may take; older plays were not read")
        return self.stopped is None

    def take(self, page: Any, server_uuid: str) -> list[HistoryPlay]:
        """The plays of one page worth importing: entries not seen on an earlier page, dated
        after :attr:`since` and plausibly. A page of nothing new stops the reading."""
        self.pages += 1
        fresh = []
        for item in page:
            key = item.get("historyKey") or (item.get("viewedAt"), item.get("ratingKey"), item.get("accountID"))
            if key not in self._keys:
                self._keys.add(key)
                fresh.append(item)
        if not fresh:
            self.stopped = (f"{self.server_name}: the server sent history entries it had sent already; "
                            "reading stopped there")
            return []
        now, out = time.time(), []
        for play in plays(fresh, server_uuid, self.server_name):
            if not plausible(play.viewed_at, now):
                if (said := (server_uuid, play.rating_key, play.viewed_at)) not in self.told:
                    self.told.add(said)
                    self.misdated += 1
            elif play.viewed_at > self.since:  # (a server that ignores the time filter)
                out.append(play)
        return out

    def notes(self) -> list[str]:
        """What to tell the user about this reading (nothing when all went as it should)."""
        said = [self.stopped] if self.stopped else []
        if self.misdated:
            said.append(f"{self.server_name}: {self.misdated} play(s) dated in the future or before 2000 "
                        "were left out (is the server's clock right?)")
        return said


def payload(play: HistoryPlay, account_title: str | None, owned: bool, origin: str = "history") -> str:
    """The play as a ``media.scrobble`` webhook's JSON. On a server of one's own, account 1
    is the owner: the signed-in account, as a webhook's ``user``."""
    if play.media_type == "movie":
        metadata = {"type": "movie", "librarySectionType": "movie", "ratingKey": play.rating_key,
                    "guid": play.guid, "title": play.episode_title, "year": play.year,
                    "lastViewedAt": play.viewed_at}
    else:
        metadata = {"type": "episode", "librarySectionType": "show", "ratingKey": play.rating_key,
                    "grandparentRatingKey": play.show_key, "grandparentTitle": play.show_title,
                    "title": play.episode_title, "parentIndex": play.season, "index": play.episode,
                    "year": play.year, "lastViewedAt": play.viewed_at}
    return json.dumps({
        "event": "media.scrobble", "user": owned and play.account_id == 1, "owner": owned,
        "Account": {"id": play.account_id, "title": account_title},
        "Server": {"title": play.server_name, "uuid": play.server_uuid},
        "Metadata": {k: v for k, v in metadata.items() if v is not None},
        "Scrobbletray": {"origin": origin},
    }, ensure_ascii=False)
