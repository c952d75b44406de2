"""Plex webhook payload parsing: JSON in, a plain :class:`PlexEvent` out."""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from app.core.guids import GuidError, parse_guid, show_ids_from_guids


class PayloadError(ValueError):
    """The payload is not a Plex webhook payload; the message says why."""


@dataclass(frozen=True)
class PlexEvent:
    """The parts of a webhook the pipeline uses; every field may be missing (None)."""

    event: str
    user: bool = False
    owner: bool = False
    account_id: str | None = None
    account_title: str | None = None
    server_uuid: str | None = None
    server_title: str | None = None
    media_type: str | None = None  # episode, movie, track...
    library_type: str | None = None  # show, movie, artist...
    rating_key: str | None = None
    grandparent_rating_key: str | None = None
    guid: str | None = None
    grandparent_guid: str | None = None
    show_title: str | None = None
    episode_title: str | None = None  # the movie's title for a movie
    season: int | None = None
    episode: int | None = None
    year: int | None = None  # the episode's year for an episode
    view_offset: int | None = None  # milliseconds
    duration: int | None = None  # milliseconds
    episode_ids: dict[str, str] = field(default_factory=dict)  # new-agent Guid list
    show_ids: dict[str, str] = field(default_factory=dict)  # from legacy/HAMA guids
    numbering: str | None = None

    @property
    def is_episode(self) -> bool:
        return self.media_type == "episode"

    @property
    def is_movie(self) -> bool:
        return self.media_type == "movie"

    @property
    def movie_ids(self) -> dict[str, str]:
        """A movie's own ids: its new-agent ``Guid`` list, else its legacy GUID's id."""
        ids = dict(self.episode_ids)  # (for a movie, the Guid list holds the movie's ids)
        for name, value in self.show_ids.items():
            ids.setdefault(name, value)
        return ids

    @property
    def movie_key(self) -> str | None:
        """A stable key for the Plex movie, used to remember its mapping."""
        g = self.guid
        if g and not g.startswith("local://"):
            return g.split("?", 1)[0][:300]
        if self.rating_key:
            return f"{self.server_uuid or '?'}/{self.rating_key}"[:300]
        if self.episode_title:
            return f"title:{self.episode_title} ({self.year or '?'})"[:300]
        return None

    @property
    def progress(self) -> float | None:
        if self.view_offset is None or not self.duration:
            return None
        return self.view_offset / self.duration

    @property
    def plex_key(self) -> str | None:
        """A stable key for the Plex show, used to remember its mapping."""
        g = self.grandparent_guid
        if g and not g.startswith("local://"):
            return g.split("?", 1)[0][:300]
        if self.grandparent_rating_key:
            return f"{self.server_uuid or '?'}/{self.grandparent_rating_key}"[:300]
        if self.show_title:
            return f"title:{self.show_title}"[:300]
        return None

    def guid_summary(self) -> dict[str, Any]:
        """GUIDs and ids for showing to the user."""
        return {
            "grandparent_guid": self.grandparent_guid,
            "guid": self.guid,
            "show_ids": dict(self.show_ids),
            "episode_ids": dict(self.episode_ids),
        }


_INTEGER = re.compile(r"-?[0-9]{1,18}")


MAX_SEASON = 3000  # beyond any show's numbering (some use the year: 2024)
MAX_EPISODE = 20000  # daily shows reach the thousands


def _str(value: Any, limit: int = 500) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        value = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if not isinstance(value, str) or value == "":
        return None
    # JSON may carry lone surrogates (\ud800): not text any database can store.
    return value[:limit].encode("utf-8", "replace").decode("utf-8")


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -(2**62) < value < 2**62 else None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**62:
        return int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def load_payload(raw: str | bytes | bytearray) -> dict[str, Any]:
    """Decode a payload and check its shape (an object with an ``event``); raises PayloadError.

    Anything that passes can be parsed by :func:`event_from_dict` without error.
    """
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(f"payload is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError(f"payload must be a JSON object, not {type(data).__name__}")
    event = data.get("event")
    if not isinstance(event, str) or not event.strip():
        raise PayloadError("payload has no 'event' (a text like 'media.scrobble')")
    return data


def parse_payload(raw: str | bytes | bytearray) -> PlexEvent:
    """Parse a webhook ``payload``; raises :class:`PayloadError` for anything unusable."""
    return event_from_dict(load_payload(raw))


def event_from_dict(data: Any) -> PlexEvent:
    """Build a :class:`PlexEvent` from decoded JSON; raises :class:`PayloadError`."""
    if not isinstance(data, dict):
        raise PayloadError(f"payload must be a JSON object, not {type(data).__name__}")
    event = data.get("event")
    if not isinstance(event, str) or not event.strip():
        raise PayloadError("payload has no 'event' (a text like 'media.scrobble')")
    event = event.strip()[:64]
    account = _dict(data.get("Account"))
    server = _dict(data.get("Server"))
    meta = _dict(data.get("Metadata"))
    guid = _str(meta.get("guid"), 2000)
    grandparent_guid = _str(meta.get("grandparentGuid"), 2000)

    episode_ids: dict[str, str] = {}
    guid_list = meta.get("Guid")
    if isinstance(guid_list, list):
        for entry in guid_list[:50]:
            try:
                parsed = parse_guid(_dict(entry).get("id"))
            except GuidError:
                continue
            if parsed.kind == "external":
                for name, value in parsed.ids.items():
                    episode_ids.setdefault(name, value)

    numbering = None
    if guid:
        with contextlib.suppress(GuidError):
            numbering = parse_guid(guid).numbering

    return PlexEvent(
        event=event,
        user=data.get("user") is True,
        owner=data.get("owner") is True,
        account_id=_str(account.get("id"), 64),
        account_title=_str(account.get("title"), 200),
        server_uuid=_str(server.get("uuid"), 100),
        server_title=_str(server.get("title"), 200),
        media_type=_str(meta.get("type"), 32),
        library_type=_str(meta.get("librarySectionType"), 32),
        rating_key=_str(meta.get("ratingKey"), 64),
        grandparent_rating_key=_str(meta.get("grandparentRatingKey"), 64),
        guid=guid,
        grandparent_guid=grandparent_guid,
        show_title=_str(meta.get("grandparentTitle")),
        episode_title=_str(meta.get("title")),
        season=_int(meta.get("parentIndex")),
        episode=_int(meta.get("index")),
        year=_int(meta.get("year")),
        view_offset=_int(meta.get("viewOffset")),
        duration=_int(meta.get("duration")),
        episode_ids=episode_ids,
        # New-agent Guid ids are the episode's: only legacy/HAMA guids give show ids.
        show_ids=show_ids_from_guids(grandparent_guid, guid),
        numbering=numbering,
    )
