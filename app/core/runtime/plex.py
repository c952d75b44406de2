"""The runtime's side of Plex: the account's state in the status, catch-up results, and
following live sessions when webhooks cannot be had."""

from __future__ import annotations

import functools
import logging

from app.core.logs import add_secret
from app.core.plex.http import PlexError
from app.core.plex.live import LiveSessions
from app.core.plex.threads import on_plex_thread
from app.core.runtime.parts import Parts
from app.core.types import CatchUpResult, PlexStatus

log = logging.getLogger(__name__)


class PlexSide(Parts):
    """A part of :class:`app.core.runtime.Runtime`."""

    async def plex_signed_in(self, token: str) -> str:
        """Keep a sign-in's token, read the account, catch up, and register the webhook URL
        when the user lets it happen by itself. Returns where the token was kept."""
        where = await self.plex.signed_in(token)
        await self._plex_refresh()
        self.catch_up.soon()
        if self.settings.plex_auto_register and self.public_webhook_url:
            await self._register_automatically()
        return where

    def _plex_changed(self, st: PlexStatus) -> None:
        self._set_status(plex=st)
        if not st.signed_in and self._live.following:
            self._later(self._follow_live())  # signed out, or the token revoked: stop following

    async def _caught_up(self, result: CatchUpResult, ids: list[int]) -> None:
        self.plex.caught_up(result)
        if ids and self._worker is not None:
            self._worker.wake()

    async def _plex_refresh(self) -> None:
        """The account afresh, and its servers' accounts (accepted accounts by any id)."""
        await self.plex.refresh(self.public_webhook_url)
        await self.plex.users()
        await self._follow_live()

    def live_wanted(self) -> bool:
        """Follow live sessions: when chosen, or (unset) when the account has no Plex Pass."""
        chosen = self.settings.plex_live
        return self.plex.connected and (self.status.plex.plex_pass is False if chosen is None else chosen)

    async def _follow_live(self) -> None:
        """Start or stop following the owned servers' live sessions, as wanted; signed in,
        their notifications are listened to all the same (a change there: look for marks made
        by hand at once)."""
        account = self.plex.account
        if account is None or self._inbox is None:
            await self._live.stop()
            self.plex.following(())
            return
        inbox, plays = self._inbox, self.live_wanted()
        for server in await self.plex.own_servers():
            current = self._live.get(server.uuid)
            if current is not None and current.plays == plays:
                continue
            await self._live.stop_one(server.uuid)
            try:
                base, token = await on_plex_thread(account.connection, server.uuid)
            except PlexError as exc:
                log.warning("Cannot follow %s on %s: %s", "live sessions" if plays else "the notifications",
                            server.name, exc)
                continue
            add_secret(token)
            self._live.start(LiveSessions(base, token, server.uuid, server.name,
                                          lambda: self.settings.stop_threshold,
                                          functools.partial(self._put, inbox), self.catch_up.soon, plays))
        self.plex.following(tuple(live.server_name for live in self._live.following if live.plays))
