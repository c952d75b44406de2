"""Sign in with Plex without a password: the PIN flow (python-plexapi's MyPlexPinLogin).

The browser opens Plex's own sign-in page (or, headless, the user types a short code at
plex.tv/link); the app polls the PIN until plex.tv hands over a token.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from app.core.plex.http import PlexError, session, translate
from app.core.plex.threads import on_plex_thread

LINK_PAGE = "https://plex.tv/link"
WAIT = 600.0  # seconds the user has to sign in
POLL = 1.0


class SignIn:
    """One sign-in attempt. ``await start()``, show :attr:`url` (or :attr:`code` at
    plex.tv/link), then ``await token()``; cancel the task to give up."""

    def __init__(self, plex_tv: str | None = None, *, browser: bool = True) -> None:
        from plexapi.myplex import MyPlexPinLogin

        self._login: Any = MyPlexPinLogin(session=session(plex_tv), oauth=browser)
        self.browser = browser
        self.url = ""  # the page to open
        self.code = ""  # the code to type at plex.tv/link (when not in a browser)

    async def start(self) -> None:
        def ask() -> None:
            if self.browser:
                self.url = self._login.oauthUrl()
            else:
                self.code, self.url = self._login.pin, LINK_PAGE
        try:
            await on_plex_thread(ask)
        except Exception as exc:
            raise translate(exc, "Asking plex.tv for a sign-in code") from None
        if not self.url:
            raise PlexError("plex.tv gave no sign-in code", "Try again in a moment.")

    async def token(self, wait: float = WAIT, poll: float = POLL) -> str:
        """The account's token once the user has signed in; PlexError when the code expired."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if await on_plex_thread(self._login.checkLogin):
                return str(self._login.token)
            if self._login.expired:
                break
            await asyncio.sleep(poll)
        raise PlexError("The sign-in code expired before Plex confirmed it", "Start the sign-in again.")
