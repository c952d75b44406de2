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
from datetime import UTC, datetime, timedelta
from typing import Any

from app.core import config
from app.core.config import Paths, Settings
from app.core.payload import parse_payload
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
        are tried again with it). Returns the result with the marks counted, and the inbox
        rows added."""
        account = self.plex.account
        if account is None:
            return result, []
        # server uuid -> {"at": the newest lastViewedAt seen, "keys": the rating keys viewed then}
        seen: dict[str, dict[str, Any]] = {
            k: v for k, v in ((await asyncio.to_thread(config.load_state, self.paths))
                              .get(StateKey.PLEX_MARKS_SEEN) or {}).items() if isinstance(v, dict)}
        store = self._store()
        window = timedelta(hours=store.settings.dedup_window_hours)
        knows = self.plex.knows()
        owner = self.plex.status.username
        ids: list[int] = []
        now = int(time.time())
        for server in servers:
            if server.name in result.failed or time.monotonic() > until:
                continue  # tried again with the history; (out of time: the history's note says so)
            kept = seen.get(server.uuid)
            if since is None and kept is None:  # a server new to us: from now on
                seen[server.uuid] = {"at": now, "keys": []}
                continue
            if since is not None:
                look = Look(server.name, int(since.replace(tzinfo=since.tzinfo or UTC).timestamp()), until,
                            told=self._misdated)
            elif kept is not None and plausible(int(kept["at"]), now):
                look = Look(server.name, int(kept["at"]), until, frozenset(kept.get("keys") or ()),
                            told=self._misdated)
            else:  # kept by an older run from a wrong clock: the last day
                look = Look(server.name, now - SLACK, until, told=self._misdated)
            newest, keys = look.since, set(look.taken)
            pages = account.viewed(server.uuid, look)
            try:
                while (page := await on_plex_thread(next, pages, None)) is not None:
                    for item in page:
                        if item.viewed_at > newest:
                            newest, keys = item.viewed_at, set()
                        if item.viewed_at == newest:
                            keys.add(item.attrs.get("ratingKey") or "")
                    wanted = await asyncio.to_thread(_counting, page, owner, store.settings, knows)
                    added = await self._in_db(store.ingest_history, wanted, window, HANDMARK)
                    ids += added
                    result = dataclasses.replace(result, marks_read=result.marks_read + len(page),
                                                 marks_added=result.marks_added + len(added))
            except PlexError as exc:
                if server.uuid not in self._failing:  # said once; tried again with every retry
                    self._failing.add(server.uuid)
                    log.warning("Could not read what was marked viewed on %s: %s (tried again in 5 minutes)",
                                server.name, exc)
                result = dataclasses.replace(result, failed=(*result.failed, server.name))
                continue
            if server.uuid in self._failing:
                self._failing.discard(server.uuid)
                log.info("What was marked viewed on %s can be read again", server.name)
            for note in look.notes():
                log.warning("Marks made by hand: %s", note)
                result = dataclasses.replace(result, notes=(*result.notes, note))
            if kept is None or newest >= int(kept["at"]) or not plausible(int(kept["at"]), now):
                seen[server.uuid] = {"at": newest, "keys": sorted(keys)}  # (only plausible items reach here)
            await asyncio.to_thread(config.save_state, self.paths, **{StateKey.PLEX_MARKS_SEEN: seen})
        await asyncio.to_thread(config.save_state, self.paths, **{StateKey.PLEX_MARKS_SEEN: seen})
        result = dataclasses.replace(result, marks_accounts=(owner,) if owner else ())
        if ids:
            log.info("Found %d episode(s) or movie(s) marked viewed by hand in Plex", len(ids))
        return result, ids


def _counting(page: list[Viewed], owner: str | None, settings: Settings,
              knows: PlexKnows) -> list[tuple[HistoryPlay, str]]:
    """The marks of a page that would count (accounts, media), as webhook payloads."""
    out = []
    for item in page:
        text = item.payload(OWNER_ID, owner, True)
        if filter_reason(parse_payload(text), settings, plex=knows) is None:
            out.append((item.play(OWNER_ID), text))
    return out
