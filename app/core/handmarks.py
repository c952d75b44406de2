"""Marks made by hand in Plex: items an account viewed with no webhook, history or live
play for them, found by looking at each owned server's watched state.

A look runs with every catch-up (start, tunnel back, wake, hourly, and soon after a
server's notifications tell of a change), after the history, so a play that came any
other way is in the inbox already and the mark counts once (the same episode by the same
account within the de-duplication window). For each server the newest ``lastViewedAt``
seen is kept; the first look at a server records now and imports nothing older unasked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.core import config
from app.core.config import Paths, Settings
from app.core.logs import add_secret
from app.core.payload import PlexEvent, parse_payload
from app.core.pipeline import PlexKnows, filter_reason
from app.core.plex.account import PlexServerInfo
from app.core.plex.history import SLACK, HistoryPlay, plausible
from app.core.plex.http import PlexError
from app.core.plex.service import PlexLink
from app.core.plex.threads import on_plex_thread
from app.core.plex.watched import HANDMARK, Look, Viewed
from app.core.state_keys import StateKey
from app.core.store import Store
from app.core.types import CatchUpResult

log = logging.getLogger(__name__)
OWNER_ID = 1  # the owner's account id on their own server
RECENT = 200  # items seen viewed (the newest) checked at each look for "marked unplayed"


class HandMarks:
    """Looks at the owned servers' watched state for a :class:`~app.core.catchup.CatchUp`."""

    def __init__(self, paths: Paths, plex: PlexLink, store: Callable[[], Store],
                 in_db: Callable[..., Awaitable[Any]]) -> None:
        self.paths = paths
        self.plex = plex
        self._store = store
        self._in_db = in_db
        self._misdated: set[tuple[Any, ...]] = set()  # items with a wrong date, said once
        self._failing: set[str] = set()  # servers whose failure was said (said again only after a success)

    async def look(self, servers: list[PlexServerInfo], since: datetime | None, result: CatchUpResult,
                   until: float) -> tuple[CatchUpResult, list[int]]:
        """One look at each server (not at those whose history could not be read now: they
        are tried again with it), for the signed-in account and each accepted account Plex
        gives a token for. Returns the result with the marks counted, and the inbox rows added."""
        account = self.plex.account
        if account is None:
            return result, []
        # server uuid (":" plex.tv id, for another account) -> {"at": the newest lastViewedAt
        # seen, "keys": the rating keys viewed then}
        kept = (await asyncio.to_thread(config.load_state, self.paths)).get(StateKey.PLEX_MARKS_SEEN)
        seen = {k: v for k, v in (kept.items() if isinstance(kept, dict) else ()) if _sound(v)}
        store = self._store()
        owner = self.plex.status.username
        covered: list[str] = [owner] if owner else []
        ids: list[int] = []
        for server in servers:
            if server.name in result.failed or time.monotonic() > until:
                continue  # tried again with the history; (out of time: the history's note says so)
            whose = [_Whose(server.uuid, None, OWNER_ID, owner, True)]
            try:
                whose += await self._others(server, store.settings)
            except PlexError as exc:
                result = dataclasses.replace(result, notes=(
                    *result.notes, f"{server.name}: other accounts' marks made by hand could not be read ({exc})"))
            for who in whose:
                result, added = await self._look_one(server, who, since, seen, result, until)
                if added is None:
                    break  # the server failed: said, and tried again with the history
                ids += added
                if who.name and who.name not in covered:
                    covered.append(who.name)
            await asyncio.to_thread(config.save_state, self.paths, **{StateKey.PLEX_MARKS_SEEN: seen})
        await asyncio.to_thread(config.save_state, self.paths, **{StateKey.PLEX_MARKS_SEEN: seen})
        knows = self.plex.knows()
        seen_names = {alias for name in covered for alias in knows.aliases.get(name.casefold(), {name.casefold()})}
        missing = tuple(str(a) for a in store.settings.accepted_accounts
                        if str(a).strip().casefold() not in seen_names)
        result = dataclasses.replace(result, marks_accounts=tuple(covered), marks_not_covered=missing)
        if ids:
            log.info("Found %d episode(s) or movie(s) marked viewed by hand in Plex", len(ids))
        return result, ids

    async def _others(self, server: PlexServerInfo, settings: Settings) -> list[_Whose]:
        """The accepted accounts (besides the owner) that Plex gives a token for on this server."""
        account = self.plex.account
        if account is None or not settings.accepted_accounts:
            return []
        knows = self.plex.knows()
        out = []
        for plex_id, (name, token) in (await on_plex_thread(account.other_tokens, server.uuid)).items():
            probe = PlexEvent("media.scrobble", media_type="episode", account_id=str(plex_id), account_title=name)
            if filter_reason(probe, settings, plex=knows) is None:
                add_secret(token)
                out.append(_Whose(f"{server.uuid}:{plex_id}", token, plex_id, name, False))
        return out

    async def _look_one(self, server: PlexServerInfo, who: _Whose, since: datetime | None,
                        seen: dict[str, dict[str, Any]], result: CatchUpResult,
                        until: float) -> tuple[CatchUpResult, list[int] | None]:
        """One account's marks on one server; None for the rows when the server failed."""
        account = self.plex.account
        assert account is not None
        store = self._store()
        window = timedelta(hours=store.settings.dedup_window_hours)
        knows = self.plex.knows()
        now = int(time.time())
        kept = seen.get(who.key)
        if since is None and kept is None:  # new to us: from now on
            seen[who.key] = {"at": now, "sections": {}, "recent": []}
            return result, []
        done = {k: (int(v["at"]), frozenset(v.get("keys") or ()))
                for k, v in ((kept or {}).get("sections") or {}).items()}
        if since is not None:  # an import from then on, in every section
            look = Look(server.name, int(since.replace(tzinfo=since.tzinfo or UTC).timestamp()), until,
                        told=self._misdated)
        else:  # where the last look got to in each section (kept by a wrong clock: the last day)
            assert kept is not None
            look = Look(server.name, int(kept["at"]) if plausible(int(kept["at"]), now) else now - SLACK, until,
                        {k: v if plausible(v[0], now) else (now - SLACK, frozenset()) for k, v in done.items()},
                        told=self._misdated)
        pages = account.viewed(server.uuid, look, who.token)
        ids: list[int] = []
        recent = {r["k"]: r for r in (kept or {}).get("recent") or () if isinstance(r, dict) and r.get("k")}
        try:
            if recent:  # before this look's items join them: one just viewed again is not "unplayed"
                result = await self._unmarked(server, who, recent, result)
            while (page := await on_plex_thread(next, pages, None)) is not None:
                for item in page:
                    recent[item.attrs.get("ratingKey") or ""] = _remembered(item)
                if len(recent) > 2 * RECENT:  # (a long import: the newest only, as it goes)
                    recent = dict(sorted(recent.items(), key=lambda kv: -int(kv[1].get("at") or 0))[:RECENT])
                wanted = await asyncio.to_thread(_counting, page, who, store.settings, knows)
                added = await self._in_db(store.ingest_history, wanted, window, HANDMARK)
                ids += added
                result = dataclasses.replace(result, marks_read=result.marks_read + len(page),
                                             marks_added=result.marks_added + len(added))
        except PlexError as exc:
            if server.uuid not in self._failing:  # said once; tried again with every retry
                self._failing.add(server.uuid)
                log.warning("Could not read what was marked viewed on %s: %s (tried again in 5 minutes)",
                            server.name, exc)
            return dataclasses.replace(result, failed=(*result.failed, server.name)), None
        if server.uuid in self._failing:
            self._failing.discard(server.uuid)
            log.info("What was marked viewed on %s can be read again", server.name)
        for note in look.notes():
            log.warning("Marks made by hand: %s", note)
            result = dataclasses.replace(result, notes=(*result.notes, note))
        for section, (at, keys) in look.reached.items():  # (only plausible items reach here)
            if section not in done or at >= done[section][0] or not plausible(done[section][0], now):
                done[section] = (at, frozenset(keys))  # (an import of older ones leaves it as it was)
        seen[who.key] = {"at": int((kept or {}).get("at") or now),
                         "sections": {k: {"at": at, "keys": sorted(keys)} for k, (at, keys) in done.items()},
                         "recent": sorted(recent.values(), key=lambda r: -int(r.get("at") or 0))[:RECENT]}
        return result, ids

    async def _unmarked(self, server: PlexServerInfo, who: _Whose, recent: dict[str, dict[str, Any]],
                        result: CatchUpResult) -> CatchUpResult:
        """Items seen viewed that are now marked unplayed: said, taken out of ``recent``, and
        their watch taken back in the built-in tracker when the user chose so."""
        account = self.plex.account
        assert account is not None
        counts = await on_plex_thread(account.view_counts, server.uuid, list(recent), who.token)
        store = self._store()
        for key in [k for k in recent if counts.get(k, 0) == 0]:
            r = recent.pop(key)
            if key not in counts:
                continue  # gone from the library
            what = (f"{r.get('t')} S{r['s']:02d}E{r['e']:02d}" if r.get("s") is not None and r.get("e") is not None
                    else str(r.get("t") or key))
            said = f"{what} was marked unplayed in Plex on {server.name}" + (f" by {who.name}" if who.name else "")
            if store.settings.plex_undo_unmarked and r.get("s") is not None and r.get("e") is not None:
                undone = await self._in_db(store.undo_unmarked, str(who.account_id), str(r.get("t")), r["s"], r["e"])
                said += ("; its watch was taken back in the built-in tracker" if undone is not None
                         else "; the built-in tracker had no watch of it to take back")
            else:
                said += "; the tracker keeps it"
            log.info("%s", said)
            result = dataclasses.replace(result, unmarked=(*result.unmarked, said))
        return result


def _sound(kept: Any) -> bool:
    """Whether a server's entry in the state file is as this version writes it (one that is
    not, edited or damaged, counts as a server new to us: from now on)."""
    if not isinstance(kept, dict) or type(kept.get("at")) is not int or not isinstance(kept.get("sections", {}), dict):
        return False
    if not all(isinstance(v, dict) and type(v.get("at")) is int and isinstance(v.get("keys", []), list)
               for v in kept.get("sections", {}).values()):
        return False
    recent = kept.get("recent", [])
    return isinstance(recent, list) and all(
        isinstance(r, dict) and isinstance(r.get("k"), str) and type(r.get("at", 0)) is int
        and all(r.get(n) is None or type(r.get(n)) is int for n in ("s", "e")) for r in recent)


def _remembered(item: Viewed) -> dict[str, Any]:
    """What is kept of an item seen viewed, to say it was marked unplayed later."""
    play = item.play(None)
    return {"k": play.rating_key, "t": play.show_title, "s": play.season, "e": play.episode, "at": item.viewed_at}


@dataclass(frozen=True)
class _Whose:
    """An account whose marks are looked at on a server."""

    key: str  # in the state: the server's uuid, and ":" the account's plex.tv id for another account
    token: str | None  # None: the signed-in account's
    account_id: int  # as a webhook names it: 1 for the owner on their own server
    name: str | None
    owner: bool


def _counting(page: list[Viewed], who: _Whose, settings: Settings,
              knows: PlexKnows) -> list[tuple[HistoryPlay, str]]:
    """The marks of a page that would count (accounts, media), as webhook payloads."""
    out = []
    for item in page:
        text = item.payload(who.account_id, who.name, who.owner)
        if filter_reason(parse_payload(text), settings, plex=knows) is None:
            out.append((item.play(who.account_id), text))
    return out
