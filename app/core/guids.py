"""Plex GUID parsing: which external ids a GUID carries, and at which level.

Three worlds (see PLEX.md): new-agent ``plex://`` GUIDs with an episode-level ``Guid``
list, legacy agent GUIDs that hold the show id, and HAMA GUIDs for anime. A movie's GUIDs
are read the same way: a legacy ``imdb``/``themoviedb`` GUID holds the movie's id, a
new-agent movie's ``Guid`` list its own ids, and a ``local://`` one none (title and year only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_GUID_LENGTH = 2000


class GuidError(ValueError):
    """The value is not a GUID at all."""


@dataclass(frozen=True)
class ParsedGuid:
    """What a GUID says.

    ``kind`` is one of ``legacy`` (show id inside), ``hama`` (anime, show id inside),
    ``plex`` (new agent, no external id), ``external`` (``tmdb://``-style id from a
    ``Guid`` list: the item's own id, episode-level for an episode), ``local``
    (unmatched item) or ``unknown``.
    """

    kind: str
    ids: dict[str, str] = field(default_factory=dict)
    season: int | None = None
    episode: int | None = None
    numbering: str | None = None  # aired, dvd, absolute, alternative
    plex_type: str | None = None  # for plex:// GUIDs: show, season, episode, movie...

    @property
    def show_ids(self) -> dict[str, str]:
        """Show-level ids, which only legacy and HAMA GUIDs carry."""
        return dict(self.ids) if self.kind in ("legacy", "hama") else {}


_LEGACY = re.compile(r"^com\.plexapp\.agents\.([a-z0-9_]+)://([^?#]*)", re.I)
_EXTERNAL = re.compile(r"^(imdb|tmdb|tvdb|anidb)://([^/?#]+)$", re.I)
_PLEX = re.compile(r"^plex://([a-z]+)/([0-9a-z]+)", re.I)
_HAMA_ID = re.compile(r"^(anidb|tvdb|tvdb[2-6]|tmdb|imdb)-([0-9a-z]+)$", re.I)

# legacy agent name -> (id name, numbering)
_LEGACY_AGENTS = {
    "thetvdb": ("tvdb", "aired"),
    "thetvdbdvdorder": ("tvdb", "dvd"),
    "themoviedb": ("tmdb", "aired"),
    "imdb": ("imdb", None),
}


def _int_or_none(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def _clean_id(name: str, value: str) -> str | None:
    """A normalised id, or None when the value is not a plausible id of that kind."""
    value = value.strip().lower()
    if name == "imdb":
        return value if re.fullmatch(r"tt\d{5,10}", value) else None
    return str(int(value)) if value.isascii() and value.isdigit() and 0 < len(value) < 12 else None


def parse_guid(value: object) -> ParsedGuid:
    """Parse one GUID string; raises :class:`GuidError` for a value that is not one."""
    if not isinstance(value, str):
        raise GuidError(f"a GUID is a string, not {type(value).__name__}")
    guid = value.strip()
    if not guid:
        raise GuidError("empty GUID")
    if len(guid) > MAX_GUID_LENGTH:
        raise GuidError("GUID too long")

    if m := _PLEX.match(guid):
        return ParsedGuid("plex", plex_type=m.group(1).lower())
    if guid.lower().startswith("local://"):
        return ParsedGuid("local")
    if m := _EXTERNAL.match(guid):
        name = m.group(1).lower()
        clean = _clean_id(name, m.group(2))
        return ParsedGuid("external", {name: clean} if clean else {})
    if m := _LEGACY.match(guid):
        return _parse_legacy(m.group(1).lower(), m.group(2))
    return ParsedGuid("unknown")


def _parse_legacy(agent: str, rest: str) -> ParsedGuid:
    parts = rest.split("/")
    first = parts[0]
    season = _int_or_none(parts[1]) if len(parts) > 1 else None
    episode = _int_or_none(parts[2]) if len(parts) > 2 else None
    if agent == "hama":
        m = _HAMA_ID.match(first)
        if not m:
            return ParsedGuid("unknown", season=season, episode=episode)
        source = m.group(1).lower()
        name = "tvdb" if source.startswith("tvdb") else source
        numbering: str | None = "alternative" if source not in ("anidb", "tvdb", "tmdb", "imdb") else (
            "absolute" if source == "anidb" else "aired"
        )
        clean = _clean_id(name, m.group(2))
        return ParsedGuid(
            "hama", {name: clean} if clean else {}, season, episode, numbering
        )
    if agent in _LEGACY_AGENTS:
        name, numbering = _LEGACY_AGENTS[agent]
        clean = _clean_id(name, first)
        return ParsedGuid(
            "legacy", {name: clean} if clean else {}, season, episode, numbering
        )
    return ParsedGuid("unknown", season=season, episode=episode)


def show_ids_from_guids(*guids: object) -> dict[str, str]:
    """Show ids carried by any of ``guids`` (legacy and HAMA only); bad values are skipped."""
    ids: dict[str, str] = {}
    for guid in guids:
        try:
            parsed = parse_guid(guid)
        except GuidError:
            continue
        for name, value in parsed.show_ids.items():
            ids.setdefault(name, value)
    return ids
