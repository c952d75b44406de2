"""What a Plex server says was viewed: marks made by hand, as inbox events.

Since Plex Media Server 1.40, "Mark as played" sends no webhook and writes no history
entry; the only trace is on the item itself (``viewCount``, ``lastViewedAt``), per
account. A look asks each library section for the episodes and movies viewed since the
last look (``/library/sections/<id>/all?type=4&lastViewedAt>>=<unix time>``, the URL
python-plexapi's ``section.search(filters={"lastViewedAt>>": ...})`` builds) and turns
each into the payload of a ``media.scrobble`` webhook from "handmark", at the time Plex
gives. A look is bounded like a history reading (pages, repeats, time, misdated items).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from app.core.plex.history import MAX_PAGES, PAGE, HistoryPlay, plausible

HANDMARK = "handmark"  # the source of an inbox row made from a mark made by hand
SECTION_TYPES = {"show": 4, "movie": 1}  # library section type -> the item type looked at (episode, movie)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Viewed:
    """One item a server says an account viewed: its own attributes, as the server gave them."""

    server_uuid: str
    server_name: str
    attrs: dict[str, str]
    guids: tuple[str, ...] = ()

    @property
    def viewed_at(self) -> int:
        return _int(self.attrs.get("lastViewedAt")) or 0

    @property
    def is_movie(self) -> bool:
        return self.attrs.get("type") == "movie"

    def play(self, account_id: int | None) -> HistoryPlay:
        """As a play (for de-duplication against the inbox)."""
        a = self.attrs
        show_key = (a.get("grandparentKey") or "").rstrip("/").rsplit("/", 1)[-1] or None
        return HistoryPlay(self.server_uuid, self.server_name, self.viewed_at, account_id, a.get("ratingKey"),
                           a.get("grandparentRatingKey") or show_key,
                           a.get("title") if self.is_movie else a.get("grandparentTitle"),
                           a.get("title"), _int(a.get("parentIndex")), _int(a.get("index")), _int(a.get("year")),
                           "movie" if self.is_movie else "episode")

    def payload(self, account_id: int | None, account_title: str | None, owner_account: bool) -> str:
        """The mark as a ``media.scrobble`` webhook's JSON (an episode's or a movie's), from
        Plex's own fields; ``owner_account``: the server's owner marked it (a webhook's ``user``)."""
        a = self.attrs
        keep: tuple[str, ...] = ("ratingKey", "key", "guid", "title", "year", "type", "lastViewedAt", "viewCount",
                                 "duration", "originallyAvailableAt", "librarySectionID", "librarySectionTitle")
        if not self.is_movie:
            keep += ("parentRatingKey", "grandparentRatingKey", "parentGuid", "grandparentGuid", "grandparentTitle",
                     "grandparentKey", "parentIndex", "index")
        metadata: dict[str, Any] = {k: a[k] for k in keep if a.get(k) not in (None, "")}
        for k in ("year", "lastViewedAt", "viewCount", "duration", "parentIndex", "index", "librarySectionID"):
            if k in metadata and (n := _int(metadata[k])) is not None:
                metadata[k] = n
        metadata["librarySectionType"] = "movie" if self.is_movie else "show"
        if self.guids:
            metadata["Guid"] = [{"id": g} for g in self.guids]
        return json.dumps({
            "event": "media.scrobble", "user": owner_account, "owner": True,
            "Account": {"id": account_id, "title": account_title},
            "Server": {"title": self.server_name, "uuid": self.server_uuid},
            "Metadata": metadata, "Scrobbletray": {"origin": HANDMARK},
        }, ensure_ascii=False)


def items(page: Any, server_uuid: str, server_name: str) -> list[Viewed]:
    """The episodes and movies of one page of a section's items (an XML MediaContainer)."""
    out = []
    for item in page:
        if item.get("type") not in ("episode", "movie"):
            continue
        guids = tuple(g.get("id") for g in item.iter("Guid") if g.get("id"))
        out.append(Viewed(server_uuid, server_name, dict(item.attrib), guids))
    return out


@dataclass
class Look:
    """One look at one server's watched state (for one account): the pages read, the items
    it gave, and what stopped it early, in words (see :class:`~app.core.plex.history.Reading`)."""

    server_name: str
    since: int  # unix time: items viewed at or after it are wanted, in a section not looked at before
    until: float  # time.monotonic() by which the look stops reading
    # section key -> where the last look got to in it: (unix time, the rating keys viewed then,
    # taken already); items viewed at or after that time are wanted (a mark in the same second too)
    sections: dict[str, tuple[int, frozenset[str]]] = field(default_factory=dict)
    reached: dict[str, tuple[int, set[str]]] = field(default_factory=dict)  # where this look got to
    current: str = ""  # the section being read
    pages: int = 0
    misdated: int = 0
    stopped: str | None = None
    told: set[tuple[Any, ...]] = field(default_factory=set)  # misdated items said before: not again
    _keys: set[Any] = field(default_factory=set)

    def more(self) -> bool:
        """Whether another page may be asked for (False, with :attr:`stopped` said, at a limit)."""
        if self.stopped is None and self.pages >= MAX_PAGES:
            self.stopped = (f"{self.server_name}: looking at what was viewed stopped after {self.pages} pages "
                            f"({self.pages * PAGE:,} items); the rest is read at the next look")
        elif self.stopped is None and time.monotonic() > self.until:
            self.stopped = (f"{self.server_name}: looking at what was viewed stopped after {self.pages} pages, "
                            "the time a catch-up may take; the rest is read at the next look")
        return self.stopped is None

    def begin(self, section: str) -> int:
        """Start reading a section (its items oldest first, so a look stopped early goes on
        from there next time); returns the time from which its items are wanted."""
        self.current = section
        since, taken = self.sections.get(section, (self.since, frozenset()))
        self.reached[section] = (since, set(taken))
        return since

    def take(self, page: Any, server_uuid: str) -> list[Viewed]:
        """The items of a page worth importing: not seen on an earlier page, viewed since where
        the last look got to in the section, plausibly dated. A page of nothing new stops the look."""
        self.pages += 1
        fresh = []
        for item in items(page, server_uuid, self.server_name):
            key = (item.attrs.get("ratingKey"), item.viewed_at)
            if key not in self._keys:
                self._keys.add(key)
                fresh.append(item)
        if not fresh:
            self.stopped = (f"{self.server_name}: the server sent items it had sent already; "
                            "looking at what was viewed stopped there")
            return []
        now, out = time.time(), []
        since, taken = self.sections.get(self.current, (self.since, frozenset()))
        at, keys = self.reached.setdefault(self.current, (since, set(taken)))
        for item in fresh:
            rk = item.attrs.get("ratingKey") or ""
            if not plausible(item.viewed_at, now):
                if (said := (server_uuid, rk, item.viewed_at)) not in self.told:
                    self.told.add(said)
                    self.misdated += 1
            elif item.viewed_at > since or (item.viewed_at == since and rk not in taken):
                out.append(item)  # (a server that ignores the filter sends older ones too)
                if item.viewed_at > at:
                    at, keys = item.viewed_at, set()
                if item.viewed_at == at:
                    keys.add(rk)
        self.reached[self.current] = (at, keys)
        return out

    def notes(self) -> list[str]:
        said = [self.stopped] if self.stopped else []
        if self.misdated:
            said.append(f"{self.server_name}: {self.misdated} item(s) marked viewed in the future or before 2000 "
                        "were left out (is the server's clock right?)")
        return said
