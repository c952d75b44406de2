"""How requests reach plex.tv and Plex servers: our identity, timeouts, errors in words."""

from __future__ import annotations

import logging
import os
import platform
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app import __version__
from app.core.errors import AppError

if TYPE_CHECKING:  # requests is imported when Plex is first talked to, not at start-up
    import requests

PLEX_TV_ENV = "SCROBBLETRAY_PLEX_TV_URL"
_PLEX_TV_HOSTS = ("https://plex.tv", "https://clients.plex.tv")
PRODUCT = "Scrobble Tray"


class PlexError(AppError):
    """Something Plex said or did not say, in words, with what the user can do."""


class SignInAgain(PlexError):
    """plex.tv no longer accepts the saved token (revoked, or signed out elsewhere)."""

    def __init__(self) -> None:
        super().__init__("Plex no longer accepts this app's sign-in (it was revoked or signed out)",
                         "Sign in to Plex again (Settings > Plex, or 'scrobbletray plex login').")


class NoPlexPass(PlexError):
    def __init__(self, username: str | None = None) -> None:
        who = f"The Plex account {username}" if username else "This Plex account"
        super().__init__(f"{who} has no Plex Pass, and Plex sends webhooks only for Plex Pass accounts",
                         "Subscribe to Plex Pass, or sign in with the account that has it.")


def plex_tv_url(configured: str | None = None) -> str | None:
    """The stand-in for plex.tv, if one is set (the setting, else the environment)."""
    url = (configured or os.environ.get(PLEX_TV_ENV) or "").strip().rstrip("/")
    return url or None


def session(plex_tv: str | None) -> requests.Session:
    """A requests session for plexapi; with ``plex_tv``, plex.tv's URLs lead there."""
    import requests
    from requests.adapters import HTTPAdapter

    class Rebase(HTTPAdapter):
        """Sends what python-plexapi addresses to plex.tv to ``plex_tv`` instead."""

        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
            url = request.url or ""
            for host in _PLEX_TV_HOSTS:
                if url == host or url.startswith(host + "/"):
                    request.url = f"{plex_tv}{url[len(host):]}"
            return super().send(request, *args, **kwargs)

    s = requests.Session()
    s.headers["User-Agent"] = f"ScrobbleTray/{__version__}"
    if plex_tv:
        for host in _PLEX_TV_HOSTS:
            s.mount(host, Rebase())
    return s


@dataclass(frozen=True)
class Identity:
    """Who we are to Plex: the device the user sees under Authorized Devices."""

    client_id: str

    def apply(self) -> None:
        """plexapi reads its headers from one module-level dict; set ours in it. Its log
        (an ERROR per address a server did not answer at) is left out: we say it once."""
        import plexapi

        logging.getLogger("plexapi").setLevel(logging.CRITICAL)
        plexapi.BASE_HEADERS.update({
            "X-Plex-Product": PRODUCT, "X-Plex-Version": __version__,
            "X-Plex-Client-Identifier": self.client_id,
            "X-Plex-Device-Name": f"{PRODUCT} on {platform.node() or 'this computer'}",
            "X-Plex-Provides": "controller"})


def translate(exc: Exception, what: str) -> PlexError:
    """plexapi's and requests' exceptions as a :class:`PlexError` (never with the token)."""
    import requests
    from plexapi.exceptions import BadRequest, NotFound, Unauthorized

    if isinstance(exc, PlexError):
        return exc
    if isinstance(exc, Unauthorized):
        return SignInAgain()
    if isinstance(exc, BadRequest) and "(403)" in str(exc) and "1043" in str(exc):
        return NoPlexPass()
    if isinstance(exc, NotFound):
        return PlexError(f"{what}: Plex does not know it (404)")
    if isinstance(exc, requests.Timeout):
        return PlexError(f"{what}: no answer in time", "Check the network; it is tried again later.")
    if isinstance(exc, requests.ConnectionError):
        return PlexError(f"{what}: could not connect", "Check the network; it is tried again later.")
    status = str(exc).split(")", 1)[0].lstrip("(") if str(exc).startswith("(") else None
    return PlexError(f"{what}: Plex answered {status}" if status else f"{what}: {type(exc).__name__}")
