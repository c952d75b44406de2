"""A Plex server's play history as inbox events: what catch-up adds for plays whose
webhook never came (the app closed, the laptop asleep, the tunnel down).

A play becomes the payload of a ``media.scrobble`` webhook, in the shape Plex sends, so
it takes the same way: filters, de-duplication, matching, destinations. What marks it as
history is ``Scrobbletray.origin``; Plex's own fields are never invented beyond that.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

PAGE = 500  # history entries a request


@dataclass(frozen=True)
class HistoryPlay:
    """One entry of a server's history: an episode watched by an account."""

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

    @property
    def viewed(self) -> datetime:
        """The time of the play, as naive UTC (the inbox's convention)."""
        return datetime.fromtimestamp(self.viewed_at, UTC).replace(tzinfo=None)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def plays(page: Any, server_uuid: str, server_name: str) -> Iterator[HistoryPlay]:
    """The episodes of one page of ``/status/sessions/history/all`` (other media skipped)."""
    for item in page:
        if item.get("type") != "episode" or _int(item.get("viewedAt")) is None:
            continue
        show_key = (item.get("grandparentKey") or "").rstrip("/").rsplit("/", 1)[-1] or None
        yield HistoryPlay(server_uuid, server_name, int(item.get("viewedAt")), _int(item.get("accountID")),
                          item.get("ratingKey"), item.get("grandparentRatingKey") or show_key,
                          item.get("grandparentTitle"), item.get("title"), _int(item.get("parentIndex")),
                          _int(item.get("index")), _int(item.get("year")))


def payload(play: HistoryPlay, account_title: str | None, owned: bool, origin: str = "history") -> str:
    """The play as a ``media.scrobble`` webhook's JSON. On a server of one's own, account 1
    is the owner: the signed-in account, as a webhook's ``user``."""
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
